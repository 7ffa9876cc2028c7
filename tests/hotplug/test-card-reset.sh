#!/bin/sh
# A card stays PIN-verified after OpenSC's C_Logout when its driver has no
# logout command (seen with OpenSC 0.24 on a MyEID card): another program
# could sign without a PIN. So after every operation on an OpenSC token the
# agent resets the card in its reader (agent/signet-card.h). Here the token
# is the shim's OpenSC card model, whose slot is named after a real reader
# of a private pcscd with a vicc card in it; vicc logs every reset the card
# receives, which is what ends a real card's PIN verification.
READER_NAME="Signet Test Reader"
. "${top_srcdir:?}/tests/hotplug/hotplug-lib.sh"
hp_enter "$@"
hp_setup_card_model
signals_start
card_insert -vvv
agent_start
wait_until 15 signal_seen TokenChanged 1

resets() { grep -c 'Reset$' "$RIG/vicc.log"; }
keygen() {
  "$SIGNET" keygen "$TOKEN_LABEL" --type ec:p256 --pin-fd 3 >"$RIG/out" 2>"$RIG/err" 3<<EOF2
$1
EOF2
}

"$SIGNET" status "$TOKEN_LABEL" --json >"$RIG/status.json" 2>"$RIG/err"
check "the token is the card model, in reader '$READER0'" \
  grep -q "\"slot\" : \"$READER0\"" "$RIG/status.json"
r0=$(resets)
check_eq "status (it never logs in) resets nothing" "$r0" "$(resets)"

keygen 123456
check "a key generated with the right PIN" test $? -eq 0
check_eq "… and afterwards the card was reset once" "$((r0 + 1))" "$(resets)"
check "the agent says why" grep -q "reset the card in reader '$READER0'" "$RIG/agent.log"

keygen 000000
check "a wrong PIN fails (exit 3)" test $? -eq 3
check_eq "… and the card was reset after that operation too" "$((r0 + 2))" "$(resets)"

"$SIGNET" status "$TOKEN_LABEL" >/dev/null 2>&1
check_eq "status still resets nothing" "$((r0 + 2))" "$(resets)"
check_count "no reset looked like a removal: one TokenAdded" TokenAdded 1
check_count "… and no TokenRemoved" TokenRemoved 0
check "the card is still there for the agent" "$SIGNET" status "$TOKEN_LABEL"

tap_done
