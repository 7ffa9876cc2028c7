#!/bin/sh
# Labels and terminals: a token label holding a newline and an escape
# sequence ($'bad\nlabel\e[31m', as anyone may set with another tool) is
# shown escaped in every text the CLI prints, and as valid JSON with --json;
# a label Signet would write with control characters is refused before
# anything is written, and so is one in a CA profile.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
ESC=$(printf '\033')
NL='
'
TOKEN_LABEL="bad${NL}label${ESC}[31m"
rig_setup
# softhsm2-util's listing cannot be parsed for a label with a newline.
signet list --json >"$RIG/list.json"
SERIAL=$(jq_ "$RIG/list.json" 'd[0]["serial"]')

# has_raw FILE: a raw escape or a C1 byte (0xC2 0x80..0x9F) in FILE.
has_raw() { LC_ALL=C grep -q "$(printf '\033')\|$(printf '\302')[$(printf '\200')-$(printf '\237')]" "$1"; }

run signet list
check_rc "list" 0
check "list (text): no raw escape reaches the terminal" sh -c "! has_raw() { :; }; ! LC_ALL=C grep -q '$ESC' '$RIG/out'"
check "… the label is shown escaped" grep -qF 'bad\x0alabel\x1b[31m' "$RIG/out"
run signet status "$SERIAL"
check_rc "status by serial" 0
check "status (text): no raw escape, no label split over two lines" \
  sh -c "! LC_ALL=C grep -q '$ESC' '$RIG/out' && grep -qF \"Token         'bad\\x0alabel\\x1b[31m'\" '$RIG/out'"
run signet status "$SERIAL" --json
check_rc "status --json" 0
check_eq "… JSON stays JSON: the label round-trips exactly" "$TOKEN_LABEL" "$(jq_ "$RIG/out" 'd["label"]')"
check "… and holds no raw escape either" sh -c "! LC_ALL=C grep -q '$ESC' '$RIG/out'"

# An error message naming the token: locked PIN (the shim's counter).
printf '%s 0 %s\n' "$SERIAL" "$(shim_tries | cut -d' ' -f2)" >"$SIGNET_SHIM_STATE/pins"
run signet keygen "$SERIAL" --type ec:p256 --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "a locked PIN: exit 4" 4
check "the error message (stderr) holds no raw escape" sh -c "! LC_ALL=C grep -q '$ESC' '$RIG/err'"
printf '%s 3 %s\n' "$SERIAL" "$(shim_tries | cut -d' ' -f2)" >"$SIGNET_SHIM_STATE/pins"

# Labels Signet writes.
before=$(p11_objects all)
run signet keygen "$SERIAL" --type ec:p256 --label "signing${ESC}[2J" --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "keygen --label with an escape: refused as usage (exit 2)" 2
check_err "… saying why" "control character"
run signet keygen "$SERIAL" --type ec:p256 --label "two${NL}lines" --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "keygen --label with a newline: exit 2" 2
c1=$(printf 'c1\302\233x')
run signet keygen "$SERIAL" --type ec:p256 --label "$c1" --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "keygen --label with a C1 control (U+009B, CSI): exit 2" 2
check_eq "… nothing was written" "$before" "$(p11_objects all)"
check_tries "… and no PIN was sent for them"
run signet keygen "$SERIAL" --type ec:p256 --label "Podpis kwalifikowany – Łódź" --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "a label with non-ASCII letters is fine" 0

# A CA profile whose labels hold a control character is refused as a whole.
mkdir -p "$XDG_CONFIG_HOME/signet/profiles.d"
cat >"$XDG_CONFIG_HOME/signet/profiles.d/esc.conf" <<EOF
[profile]
display-name=Escape CA
protocol=est
url=https://127.0.0.1:1/.well-known/est
trust-anchors=/etc/ssl/certs/ca-certificates.crt
key-type=ec:p256
[labels]
key=a\\tb
EOF
run signet profile show esc --json
check "a profile label with a control character is reported as a problem" \
  grep -q "control character" "$RIG/out" "$RIG/err"

tap_done
