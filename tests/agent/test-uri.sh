#!/bin/sh
# Tokens named by PKCS#11 URI (RFC 7512) through the CLI and the agent: the
# URI signet list prints works; one that is malformed, repeats an attribute,
# has one RFC 7512 does not define, or holds a PIN is refused with exit
# status 2 (io.signet.Error.BadUri), naming the attribute, and a PIN in it is
# never repeated, in the message or in the agent's log.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup --shim

run signet list --json
check_rc "list" 0
URI=$(jq_ "$RIG/out" 'd[0]["uri"]')
run signet status "$URI" --json
check_rc "status by the URI signet list prints" 0
check_eq "… is the rig's token" "$SERIAL" "$(jq_ "$RIG/out" 'd["serial"]')"

bad_uri() { # bad_uri DESCRIPTION URI REGEX
  run signet status "$2" --json
  check_rc "$1: exit 2" 2
  check "… as io.signet.Error.BadUri" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.BadUri
  check_err "… saying what is wrong" "$3"
}
bad_uri "a malformed URI" "pkcs11:token=%zz" "not a valid PKCS#11 URI"
bad_uri "an attribute twice (token=A;token=B)" "pkcs11:token=$TOKEN_LABEL;token=Other" '"token" more than once'
bad_uri "an attribute RFC 7512 does not define" "pkcs11:token=$TOKEN_LABEL;colour=blue" 'does not know: "colour"'
bad_uri "a PIN in the URI (pin-value)" "pkcs11:token=$TOKEN_LABEL?pin-value=987654" "never takes a PIN"
check "… and the PIN is not repeated in the message" sh -c "! grep -q 987654 '$RIG/err' '$RIG/out'"

run signet keygen "pkcs11:token=$TOKEN_LABEL?pin-value=987654" --type ec:p256 --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "keygen with a PIN in the URI: exit 2, nothing done" 2
check "the agent's log never holds the PIN from the URI" sh -c "! grep -q 987654 '$RIG/agent.log'"
check "nor does the state database" sh -c "! cat '$XDG_STATE_HOME'/signet/signet.db* | grep -aq 987654"

run signet keygen "$URI" --type ec:p256 --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "keygen on the URI signet list prints" 0

# history: every command takes the URI signet list prints (issue 11, point 4).
run signet history "$URI" --json
check_rc "history by the URI signet list prints" 0
jcheck "… lists the key generated on that token" "$RIG/out" \
  '[e for e in d if e["operation"] == "generate-key" and e["token_serial"] == "'"$SERIAL"'"]'
run signet history "pkcs11:token=$TOKEN_LABEL" --json
check_rc "history by pkcs11:token=LABEL" 0
jcheck "… lists it too" "$RIG/out" '[e for e in d if e["operation"] == "generate-key"]'
run signet history "pkcs11:serial=$SERIAL"
check_rc "history by pkcs11:serial= (text)" 0
check "… no 'No operations recorded'" sh -c "! grep -q 'No operations recorded' '$RIG/out'"
run signet history "pkcs11:serial=0000000000000000" --json
check_rc "history of a serial never seen" 0
jcheck "… is empty" "$RIG/out" 'd == []'
run signet history "pkcs11:serial=$SERIAL;serial=x" --json
check_rc "history with a URI that repeats an attribute: exit 2" 2
check "… as io.signet.Error.BadUri" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.BadUri

tap_done
