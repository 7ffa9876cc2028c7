#!/bin/sh
# signet-gtk follows hotplug live, no refresh button: the shim's card model
# (OpenSC 0.23 with a MyEID-family card, tests/p11shim/README.md) in the
# slot named after the reader "Signet Test Reader 00 00" of a private pcscd
# with vsmartcard's virtual reader (tests/hotplug/hotplug-lib.sh). A card
# inserted is the vicc card connecting and the shim's token coming back; a
# card removed is vicc going and the token pulled (the shim's `remove`
# fault): what PC/SC and PKCS#11 each see of a real card. The window,
# started with no card in the reader, lists the token when the card is
# inserted and drops it when it is removed, twice.
READER_NAME="Signet Test Reader"
. "${top_srcdir:?}/tests/hotplug/hotplug-lib.sh"
. "$top_srcdir/tests/ui/ui-lib.sh"
hp_enter "$@"
ui_require
[ -f "${SIGNET_SHIM_MODULE:-}" ] || hp_skip "test shim not built ($SIGNET_SHIM_MODULE): make check builds it"
hp_setup "$SIGNET_SHIM_MODULE"
export SIGNET_SHIM_MODEL=opensc-card SIGNET_SHIM_STATE="$RIG/shim" SIGNET_SHIM_TARGET="$SOFTHSM2_MODULE"
mkdir -p "$SIGNET_SHIM_STATE"
echo '* remove' >"$SIGNET_SHIM_STATE/fault" # no card yet
signals_start
agent_start
ui_setup hp_teardown
ui_launch

insert() { rm -f "$SIGNET_SHIM_STATE/fault" && card_insert; }
remove() { echo '* remove' >"$SIGNET_SHIM_STATE/fault" && card_remove; }

ui_check "no card: the window asks for the token" wait-any "^Plug In Your Token\$"
UI_TIMEOUT=5 ui --role "list item" find "$TOKEN_LABEL"
check "… and lists none" test "$ui_rc" -eq 1
for round in 1 2; do
  insert
  wait_until 30 signal_seen TokenAdded "$round"
  ui_check "card inserted ($round): the token appears in the list" --role "list item" find "$TOKEN_LABEL"
  if [ "$round" = 1 ]; then
    ui_check "… chosen, its page" --role "list item" select "$TOKEN_LABEL"
    ui_check "… shows the reader the card is in" wait-any "^$READER0\$"
  fi
  remove
  wait_until 30 signal_seen TokenRemoved "$round"
  ui_check "card removed ($round): the token goes from the list" --role "list item" gone "$TOKEN_LABEL"
done
check "the window is still running" ui_alive
tap_done
