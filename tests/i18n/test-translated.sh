#!/bin/sh
# tests/i18n/test-translated.sh: the CLI speaks Romanian, Polish and French
# from the build tree's catalogs (po/locale, made by make): signet --help and
# an error (signet status against a bus where no agent runs) print the
# catalog's translation, read back with gettext(1) from the same .mo, not a
# string written here; without LANGUAGE (C locale) the output is English.
# The environment that translates: LANGUAGE=LL with LC_ALL=C.UTF-8 (glibc
# ignores LANGUAGE only in the plain C locale), SIGNET_LOCALEDIR=po/locale
# (docs/internals/i18n.md).
. "$top_srcdir/tests/lib.sh"

SIGNET=$top_builddir/cli/signet
LOCALEDIR=$top_builddir/po/locale
command -v gettext >/dev/null 2>&1 ||
  { echo "Bail out! gettext(1) not found (apt-get install gettext-base)"; exit 1; }
[ -n "${DBUS_DAEMON:-}" ] || { echo "Bail out! no dbus-daemon"; exit 1; }
RIG=$(mktemp -d)
BUS_PID=
trap '[ -n "$BUS_PID" ] && kill "$BUS_PID" 2>/dev/null; rm -rf "$RIG"' EXIT
bus_start # a bus with no agent and nothing to start one

# tr LANG MSGID: the catalog's translation (gettext prints MSGID if none).
tr() { LANGUAGE=$1 LC_ALL=C.UTF-8 TEXTDOMAINDIR=$LOCALEDIR gettext -d signet -- "$2"; }
run() { lang=$1; shift; env LANGUAGE="$lang" LC_ALL=C.UTF-8 SIGNET_LOCALEDIR="$LOCALEDIR" "$SIGNET" "$@"; }

LC_ALL=C "$SIGNET" --help >"$RIG/help.C"
check_eq "C locale: signet --help in English" "Usage:" "$(head -n 1 "$RIG/help.C")"

for lang in $(sed -e 's/#.*//' "$top_srcdir/po/LINGUAS"); do
  check "$lang: po/locale/$lang/LC_MESSAGES/signet.mo was built" \
    test -s "$LOCALEDIR/$lang/LC_MESSAGES/signet.mo"
  usage=$(tr "$lang" "Usage:")
  summary=$(tr "$lang" "List the tokens present.")
  codes=$(tr "$lang" "TOKEN is a PKCS#11 URI, a serial number or a label.")
  check "$lang: the catalog translates (\"$usage\")" test "$usage" != "Usage:"
  run "$lang" --help >"$RIG/help.$lang"
  check_eq "$lang: signet --help starts with the translation of Usage:" "$usage" \
    "$(head -n 1 "$RIG/help.$lang")"
  check "$lang: … names the list command with its translated summary" \
    grep -qF "  list                   $summary" "$RIG/help.$lang"
  check "$lang: … and says what TOKEN is in $lang" grep -qxF "$codes" "$RIG/help.$lang"
  check "$lang: … the command words stay English" grep -q '^  pin unblock TOKEN ' "$RIG/help.$lang"

  # An error: no agent on the bus (the message's part before the bus's own
  # words, which GLib writes).
  run "$lang" status no-such-token >"$RIG/out.$lang" 2>"$RIG/err.$lang"
  rc=$?
  check_eq "$lang: signet status without an agent fails (exit 1)" 1 "$rc"
  prefix=$(tr "$lang" "Could not reach the Signet agent (signetd) on the session bus: %s")
  prefix=${prefix%%%s*}
  check "$lang: … with the catalog's message (\"$prefix…\")" \
    grep -qF "signet: $prefix" "$RIG/err.$lang"
  check "$lang: … not the English one" \
    sh -c "! grep -q 'Could not reach the Signet agent' '$RIG/err.$lang'"
  # A usage error: the catalog's format with the word given.
  run "$lang" frobnicate 2>"$RIG/usage.$lang"
  unknown=$(tr "$lang" "Unknown command '%s' (see signet --help)")
  # shellcheck disable=SC2059 # the catalog's format, as the CLI uses it
  check_eq "$lang: an unknown command is reported in $lang" \
    "signet: $(printf "$unknown" frobnicate)" "$(cat "$RIG/usage.$lang")"
done

tap_done
