#!/bin/sh
# A token pulled in the middle of an operation, through real PC/SC. The
# token is the shim's OpenSC card model, whose slot is named after a reader
# of a private pcscd with a vicc card in it (as in test-card-reset.sh), so
# pulling it is both at once: vicc goes (pcscd sees the card leave the
# reader) and the shim's token counts as pulled from the key generation
# on. The key generation is under way (its login held by the shim) when
# the card goes, and goes on once PC/SC has reported it. The agent answers TokenRemoved (exit 5) with a message
# that says what to do, announces the reader empty (TokenRemoved), stays up
# and answers meanwhile (list without the token, status exit 5); put back,
# the card is announced again and the token takes the next key generation;
# nothing was half-made, and the only PIN tries are the two right ones.
READER_NAME="Signet Test Reader"
. "${top_srcdir:?}/tests/hotplug/hotplug-lib.sh"
hp_enter "$@"
hp_setup_card_model
FAULT=$SIGNET_SHIM_STATE/fault
PIN=123456
signals_start
card_insert
agent_start
wait_until 15 signal_seen TokenChanged 1

privkeys() {
  "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
    --list-objects --type privkey 2>/dev/null | grep -c '^Private Key Object'
}
agent_alive() { kill -0 "$AGENT_PID" 2>/dev/null; }

before=$(privkeys)
"$SIGNET" status "$TOKEN_LABEL" --json >"$RIG/status.json" 2>"$RIG/err"
check "the token is the card model, in reader '$READER0'" \
  grep -q "\"slot\" : \"$READER0\"" "$RIG/status.json"

# The shim holds the login (tests/p11shim/README.md, hold) while the card
# leaves the reader and PC/SC reports it; then the key generation meets
# the pulled token.
echo 'C_Login hold' >"$FAULT"
"$SIGNET" keygen "$TOKEN_LABEL" --type ec:p256 --json --pin-fd 3 >"$RIG/out" 2>"$RIG/err" 3<<EOF &
$PIN
EOF
keygen_pid=$!
wait_until 20 test -f "$SIGNET_SHIM_STATE/held"
check "the key generation is under way (its login held)" grep -qx C_Login "$SIGNET_SHIM_STATE/held"
card_remove
wait_until 15 signal_seen TokenRemoved 1
echo 'C_GenerateKeyPair remove' >"$FAULT"
wait "$keygen_pid"
check_eq "pulled mid-operation: exit 5" 5 "$?"
check "… as TokenRemoved" grep -q '"name" : "io.signet.Error.TokenRemoved"' "$RIG/out"
check "… with a message that says what to do" \
  grep -Eq '"message" : "[^"]*(removed|taken out)[^"]*(put it back|insert|plug)' "$RIG/out"
check_count "PC/SC saw the card go: one TokenRemoved" TokenRemoved 1
check "… for the reader it was in" signal_has TokenRemoved "$READER0"
check "the agent is still running" agent_alive
check "… and knows the card's PIN verification left with it (no reset to do)" \
  grep -q "no card in reader '$READER0' any more" "$RIG/agent.log"
check "… not that the card may stay PIN-verified" sh -c "! grep -q 'may stay PIN-verified' '$RIG/agent.log'"
"$SIGNET" list --json >"$RIG/list.json" 2>"$RIG/err"
check "the agent still answers: list, without the token" \
  "$PYTHON" -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])) == [] else 1)' "$RIG/list.json"
"$SIGNET" status "$TOKEN_LABEL" >/dev/null 2>&1
check_eq "status of the pulled token: exit 5" 5 "$?"

# Put back.
rm -f "$FAULT"
card_insert
wait_until 15 signal_seen TokenAdded 2
check_count "put back: the card is announced again" TokenAdded 2
"$SIGNET" keygen "$TOKEN_LABEL" --type ec:p256 --json --pin-fd 3 >"$RIG/out" 2>"$RIG/err" 3<<EOF
$PIN
EOF
check_eq "the token takes the next key generation" 0 "$?"
check_eq "nothing was half-made: one key pair more than before" "$((before + 1))" "$(privkeys)"
check_eq "PIN tries the card saw: the two logins with the right PIN" 2 "$(grep -c ' pin ok ' "$SIGNET_SHIM_STATE/tries")"
check "… and nothing else" sh -c "! grep -v ' pin ok ' '$SIGNET_SHIM_STATE/tries' | grep -q ."
tap_done
