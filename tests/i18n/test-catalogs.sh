#!/bin/sh
# tests/i18n/test-catalogs.sh: the translations are complete and in step
# with the sources (docs/internals/i18n.md). For each language of
# po/LINGUAS: msgfmt --check passes (format strings, headers, plural forms),
# no entry is untranslated or fuzzy, and every message of the sources is
# translated; po/signet.pot holds exactly the messages xgettext finds in the
# sources today (regenerated here into a temporary directory); po/POTFILES.in
# lists every file of cli/, libsignet/ and ui-gtk/ with a translatable
# string, and only files that exist.
. "$top_srcdir/tests/lib.sh"

for tool in msgfmt msgmerge msgcmp xgettext; do
  command -v "$tool" >/dev/null 2>&1 ||
    { echo "Bail out! $tool not found (apt-get install gettext)"; exit 1; }
done
PO=$top_srcdir/po
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The .pot, made now from the sources with the options po/Makefile uses.
# A make of its own: under make check -j2 the inherited MAKEFLAGS make the
# child print "make[5]: warning: …" lines on stdout, which became file names.
OPTIONS=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory \
  -C "$top_builddir/po" xgettext-options 2>/dev/null)
# shellcheck disable=SC2086 # the options are words
xgettext --default-domain=signet --directory="$top_srcdir" --add-comments=TRANSLATORS: \
  --files-from="$PO/POTFILES.in" --output="$TMP/fresh.pot" $OPTIONS 2>"$TMP/xgettext.err"
check "xgettext reads every file of POTFILES.in" test -s "$TMP/fresh.pot"
[ -s "$TMP/xgettext.err" ] && sed 's/^/# /' "$TMP/xgettext.err"
check "po/signet.pot has every message of the sources (else: make update-po)" \
  msgcmp --use-untranslated "$PO/signet.pot" "$TMP/fresh.pot"
check "po/signet.pot has no message the sources dropped (else: make update-po)" \
  msgcmp --use-untranslated "$TMP/fresh.pot" "$PO/signet.pot"

LINGUAS=$(sed -e 's/#.*//' "$PO/LINGUAS")
check "po/LINGUAS names ro, pl and fr" \
  sh -c "echo '$LINGUAS' | grep -qw ro && echo '$LINGUAS' | grep -qw pl && echo '$LINGUAS' | grep -qw fr"
for lang in $LINGUAS; do
  po=$PO/$lang.po
  check "$lang: msgfmt --check (format strings, header, plural forms)" \
    msgfmt --check --output-file=/dev/null "$po"
  check "$lang: a Plural-Forms header" grep -q '^"Plural-Forms: nplurals=' "$po"
  check "$lang: the Language header says $lang" grep -q "^\"Language: $lang\\\\n\"" "$po"
  # "N translated messages." and nothing else: no fuzzy, no untranslated.
  stats=$(LC_ALL=C msgfmt --statistics --output-file=/dev/null "$po" 2>&1)
  check "$lang: no untranslated entry ($stats)" sh -c "! echo '$stats' | grep -q untranslated"
  check "$lang: no fuzzy entry ($stats)" sh -c "! echo '$stats' | grep -q fuzzy"
  check "$lang: every message of the sources is translated" msgcmp "$po" "$TMP/fresh.pot"
  # The catalog as the sources would use it today: formats checked again.
  check "$lang: msgfmt --check with today's messages" \
    sh -c "msgmerge --quiet --no-fuzzy-matching '$po' '$TMP/fresh.pot' -o '$TMP/$lang.po' &&
           msgfmt --check --output-file=/dev/null '$TMP/$lang.po'"
done

# POTFILES.in: every source file with a translatable string, and only files
# that exist (a missing one breaks make update-po and make dist).
grep -v '^[[:space:]]*#' "$PO/POTFILES.in" | sed '/^[[:space:]]*$/d' | sort >"$TMP/listed"
missing_files=
while read -r f; do
  [ -f "$top_srcdir/$f" ] || missing_files="$missing_files $f"
done <"$TMP/listed"
check_eq "every file in po/POTFILES.in exists" "" "$missing_files"
(
  cd "$top_srcdir" || exit 1
  for f in cli/*.c libsignet/*.c ui-gtk/*.c ui-gtk/*.h; do
    [ -f "$f" ] || continue
    grep -qE '(^|[^A-Za-z0-9_])(_|N_|C_|NC_|ngettext|g_dngettext)\(' "$f" && echo "$f"
  done
  for f in ui-gtk/*.ui ui-gtk/*/*.ui; do
    [ -f "$f" ] || continue
    grep -q 'translatable="yes"' "$f" && echo "$f"
  done
  for f in ui-gtk/data/*.desktop.in ui-gtk/data/*.metainfo.xml.in; do
    [ -f "$f" ] && echo "$f"
  done
) | sort >"$TMP/needed"
unlisted=$(comm -23 "$TMP/needed" "$TMP/listed" | tr '\n' ' ')
check_eq "po/POTFILES.in lists every file with a translatable string" "" "$unlisted"

tap_done
