#!/bin/sh
# docs/check-man.sh: the man pages render without warnings (groff -ww, man
# --warnings), and they document what the programs and the D-Bus interface
# have: every CLI command, option and exit status, every agent option and
# configuration key, every D-Bus method, signal and error name (also those the
# agent's error table and the CLI's exit code table hold), and the exit
# status each error gives. TAP; run by make check.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/lib.sh"

docs=$top_srcdir/docs
command -v groff >/dev/null 2>&1 || skip_all "groff is not installed (apt-get install groff-base)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-man.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# no_warnings FILE: FILE is empty, else it is shown and the check fails.
no_warnings() {
	if [ -s "$1" ]; then sed 's/^/# /' "$1"; return 1; fi
}

for page in signet.1 signetd.8 signet-gtk.1; do
	src=$docs/$page
	check "$page exists" test -s "$src"
	LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$src" >"$tmp/groff.err" 2>&1
	check "$page: groff -man -ww reports no warning" no_warnings "$tmp/groff.err"
	if command -v man >/dev/null 2>&1; then
		LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l -Tutf8 "$src" >/dev/null 2>"$tmp/man.err"
		check "$page: man --warnings reports no warning" no_warnings "$tmp/man.err"
	fi
	# Plain text for the checks below (\- renders as "-").
	LC_ALL=C groff -man -Tascii -P-c -P-b -P-u "$src" 2>/dev/null >"$tmp/$page.txt"
done

# has PAGE TEXT: the rendered PAGE mentions TEXT (a fixed string).
has() { grep -q -F -e "$2" "$tmp/$1.txt"; }

for c in "signet list" "signet status" "signet keygen" "signet csr" "signet import" \
	"signet pin change" "signet pin unblock" "signet activate" "signet renew" \
	"signet history" "signet profile list" "signet profile show" "signet monitor" \
	"signet --version" "signet --help"; do
	check "signet.1 documents \"$c\"" has signet.1 "$c"
done
for o in --json --type --label --subject --out --pin-fd --puk-fd --new-pin-fd \
	--confirm-final-try --profile --reference --code-fd --cert --limit rsa:2048 rsa:3072 \
	rsa:4096 ec:p256 ec:p384 signet.db reminders_sent reminder_days operations needs_pin; do
	check "signet.1 documents $o" has signet.1 "$o"
done
for n in 0 1 2 3 4 5 6 7 8 9; do
	check "signet.1 documents exit status $n" grep -q -E "^ {7}$n( |$)" "$tmp/signet.1.txt"
done
for o in --verbose --version --idle-timeout idle-timeout signet.conf unblock-method opensc.conf \
	OPENSC_CONF SIGTERM io.signet.Agent.service signetd.service 90-signet.rules \
	"[reminders]" "days=" "renew-command=" signet.db XDG_STATE_HOME "Pending renewals" \
	RenewalReminder; do
	check "signetd.8 documents $o" has signetd.8 "$o"
done
# Every renewal step (agent/signet-renew.h) is named in signetd.8 and in the
# D-Bus reference's table of Renew.
for step in check-certificate ca-certificates login ask-ca check-room generate-key request reenroll \
	verify store test-signature remove-old "done"; do
	check "signetd.8 names the renewal step $step" has signetd.8 "$step"
	check "dbus-api.md's Renew table has the step $step" \
		grep -q -E "^\| \`$step\` \|" "$docs/dbus-api.md"
done

# The window's page names its options.
for o in --token --renew; do
	check "signet-gtk.1 documents $o" has signet-gtk.1 "$o"
done

# Options the built programs really have (their --help) are documented.
for prog in cli/signet agent/signetd; do
	bin=$top_builddir/$prog
	[ -x "$bin" ] || continue
	case $prog in cli/*) page=signet.1 ;; *) page=signetd.8 ;; esac
	{
		"$bin" --help 2>&1
		if [ "$prog" = cli/signet ]; then
			for c in list status keygen csr import "pin change" "pin unblock" activate \
				renew history "profile list" "profile show" monitor; do
				# shellcheck disable=SC2086
				"$bin" $c --help 2>&1
			done
		fi
	} | grep -o -E -e '--[a-z][a-z0-9-]+' | sort -u >"$tmp/opts"
	while read -r o; do
		case $o in --help-*) continue ;; esac
		check "$page documents $o from $prog --help" has "$page" "$o"
	done <"$tmp/opts"
done

# The D-Bus reference names every method and error.
xml=$top_srcdir/libsignet/io.signet.Agent1.xml
api=$docs/dbus-api.md
# shellcheck disable=SC2013 # method names are single words
for m in $(sed -n 's/.*<method name="\([A-Za-z]*\)".*/\1/p' "$xml"); do
	check "dbus-api.md documents method $m" grep -q -E "^#+ .*\\b$m\\b" "$api"
done
# shellcheck disable=SC2013 # signal names are single words
for sig in $(sed -n 's/.*<signal name="\([A-Za-z]*\)".*/\1/p' "$xml"); do
	check "dbus-api.md documents signal $sig" grep -q -E "^#+ .*\\b$sig\\b" "$api"
done
# The error names: this list, and every name in the agent's error table.
errors="Failed Module NoSuchToken AmbiguousToken PinIncorrect PinLocked PinInvalid
	PukIncorrect PukLocked TokenRemoved NotSupported NoMatchingKey NoSuchObject TokenFull
	ReadOnly FinalTry Busy InvalidArgs BadInput BadSubject Pending Profile CaNotFound
	CaUnreachable CaNotTrusted CaTimeout CodeRejected CodeExpired CaRefused CaUnavailable
	CaResponse CertificateMismatch CertificateExpired"
table=$(sed -n 's/.*PREFIX "\([A-Za-z]*\)".*/\1/p' "$top_srcdir/agent/signet-errors.c")
# shellcheck disable=SC2086 # the lists are split into names on purpose
for e in $(printf '%s\n' $errors $table | sort -u); do
	check "dbus-api.md documents io.signet.Error.$e" grep -q -F "io.signet.Error.$e\`" "$api"
	check "signet.1 maps io.signet.Error.$e" has signet.1 "io.signet.Error.$e"
done
# exit_entry_names N NAME: signet.1's EXIT STATUS entry N mentions
# io.signet.Error.NAME.
exit_entry_names() {
	awk -v want="$1" '/^EXIT STATUS/ { on = 1; next } /^[A-Z]/ { on = 0 }
		on && (/^       [0-9]+ / || /^       [0-9]+$/) { n = $1 } on && n == want' \
		"$tmp/signet.1.txt" |
		grep -q -F "io.signet.Error.$2"
}
# The exit status of each error the CLI maps is the one dbus-api.md gives it
# ("[N]" in its row) and the one signet.1 gives it (its EXIT STATUS entry N
# names it): libsignet/signet-client.c maps each name to a kind, and
# cli/signet-cli-errors.c each kind to an exit status.
sed -n 's/.*{ *"\([A-Za-z]*\)", *SIGNET_CLIENT_ERROR_\([A-Z_]*\) *}.*/\2 \1/p' \
	"$top_srcdir/libsignet/signet-client.c" | sort >"$tmp/kinds"
sed -n 's/.*{ *SIGNET_CLIENT_ERROR_\([A-Z_]*\), *SIGNET_EXIT_\([A-Z_]*\) *}.*/\1 \2/p' \
	"$top_srcdir/cli/signet-cli-errors.c" | sort >"$tmp/kind-exits"
join "$tmp/kinds" "$tmp/kind-exits" | awk '{ print $2, $3 }' >"$tmp/exits"
check "libsignet's error names and cli/signet-cli-errors.c's exit code table were read" \
	test "$(wc -l <"$tmp/exits")" -ge 15
while read -r e sym; do
	n=$(sed -n "s/.*SIGNET_EXIT_$sym *= *\([0-9]*\),.*/\1/p" "$top_srcdir/cli/signet-cli-errors.h")
	check "dbus-api.md gives io.signet.Error.$e exit status ${n:-?}" \
		grep -q -E "^\| \`io\.signet\.Error\.$e\` \|.*\[${n:-?}\] \|\$" "$api"
	check "signet.1's EXIT STATUS $n names io.signet.Error.$e" exit_entry_names "$n" "$e"
done <"$tmp/exits"

tap_done
