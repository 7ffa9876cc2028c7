#!/bin/sh
# Another program holds the reader exclusively (as scdaemon can): the agent
# reports a TokenChanged with the "in-use" state and a clear message, and
# `signet monitor` prints it; released, the token is read again. pcsc-lite
# does not wake a waiting SCardGetStatusChange when a program connects to a
# card, so the agent finds out when it touches the card: at insertion, and
# when a client calls ListReaders (docs/internals/hotplug.md). The agent
# loads SoftHSM2 only here: OpenSC would keep its own shared connection to
# the card, and the exclusive connection would then be refused.
. "${top_srcdir:?}/tests/hotplug/hotplug-lib.sh"
hp_enter "$@"
hp_setup "$SOFTHSM2_MODULE"
signals_start
agent_start

"$SIGNET" monitor >"$RIG/monitor.out" 2>"$RIG/monitor.err" &
MONITOR_PID=$!
card_insert
wait_until 15 signal_seen TokenChanged 1
check_count "the card is announced once" TokenAdded 1
check "no module knows the card: pkcs11 none, not in use" \
  signal_has TokenChanged "'pkcs11': <'none'>" "'in_use': <false>"

mkfifo "$RIG/hold.in"
"$PCSC_HELPER" hold "$READER0" <"$RIG/hold.in" >"$RIG/hold.out" 2>&1 &
holder=$!
exec 7>"$RIG/hold.in"
wait_until 10 grep -q held "$RIG/hold.out"
check "the helper holds the reader exclusively" grep -q held "$RIG/hold.out"
list_readers >"$RIG/readers" 2>&1
wait_until 10 signal_seen TokenChanged 2
check_count "held: exactly one more TokenChanged" TokenChanged 2
check "TokenChanged: state in-use, in_use true, and why" \
  signal_has TokenChanged "'state': <'in-use'>" "'in_use': <true>" \
  "'message': <'reader in use by another program'>" "'reader': <'$READER0'>"
check "ListReaders: the reader is in use" grep -qF "'state': <'in-use'>" "$RIG/readers"
wait_until 5 grep -q "in use by another program" "$RIG/monitor.out"
check "signet monitor prints it: TIME token-changed \"READER\": reader in use by another program" \
  grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[-+][0-9:]+ token-changed \"$READER0\": reader in use by another program$" \
  "$RIG/monitor.out"

exec 7>&-
wait "$holder"
list_readers >"$RIG/readers" 2>&1
check "ListReaders: released, present again" grep -qF "'state': <'present'>" "$RIG/readers"
wait_until 10 signal_seen TokenChanged 4
check "released: TokenChanged back to present, not in use" \
  signal_has TokenChanged "'state': <'present'>" "'in_use': <false>" "'pkcs11': <'reading'>"
check_count "released: one change, then the read's result" TokenChanged 4
check_count "the card never left: no TokenRemoved" TokenRemoved 0
check_count "the card never left: still one TokenAdded" TokenAdded 1

card_remove
wait_until 10 signal_seen TokenRemoved 1
check_count "removed: exactly one TokenRemoved" TokenRemoved 1
tap_done
