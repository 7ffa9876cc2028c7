#!/bin/sh
# Hotplug end to end with a real pcscd, the vpcd virtual reader and a vicc
# virtual card, the agent loading every p11-kit module (OpenSC included, which
# finds the virtual card unsupported; SoftHSM2, whose token is always there):
# readers listed; insertion and removal each give exactly one signal with the
# reader and the ATR; `signet monitor --json` prints them once PC/SC has
# seen them; pcscd stopped and restarted mid-run, and the next insertion is
# still seen; the agent stops at once while waiting (not after PC/SC's wait),
# and the monitor says the agent went away.
. "${top_srcdir:?}/tests/hotplug/hotplug-lib.sh"
hp_enter "$@"
hp_setup ""
signals_start
agent_start

list_readers >"$RIG/readers" 2>&1
check "ListReaders lists both virtual readers" \
  sh -c "grep -qF \"'reader': <'$READER0'>\" '$RIG/readers' && grep -qF \"'reader': <'$READER1'>\" '$RIG/readers'"
check "ListReaders: no card yet" grep -qF "'state': <'empty'>" "$RIG/readers"
wait_until 10 signal_seen ReaderAdded 2
check "both readers were announced (ReaderAdded)" signal_seen ReaderAdded 2
check_count "the SoftHSM2 token is no hotplug event" TokenAdded 0

"$SIGNET" monitor --json >"$RIG/monitor.out" 2>"$RIG/monitor.err" &
MONITOR_PID=$!
wait_until 10 sh -c "grep -q 'WatchTokens\|watches tokens' '$RIG/agent.log'"

# Insertion: PC/SC's own view (the helper) against the agent's signal.
# The agent and this PC/SC helper wait on the same pcscd: either may see an
# event first (on a loaded machine the helper can be scheduled late), so an
# event belongs to this change when it comes after the test made the change
# ("before": the clock read just before, less the monitor's millisecond)
# and within the rig's wait bound WAIT of the helper's time. How soon after
# is a benchmark (bench/hotplug/latency.sh), not a test.
WAIT=10
# now: the wall clock in seconds, as the monitor's "time" is read by t().
now() { date +%s.%N; }
"$PCSC_HELPER" wait "$READER0" present 15000 >"$RIG/t-insert" &
helper=$!
before=$(now)
card_insert
wait "$helper"
check "PC/SC sees the virtual card" test -s "$RIG/t-insert"
wait_until 10 signal_seen TokenAdded 1
sleep 1
check_count "one insertion, exactly one TokenAdded" TokenAdded 1
atr=$(grep "Agent1.TokenAdded " "$RIG/signals.log" | sed -n "s/.*'atr': <'\([0-9A-F]*\)'>.*/\1/p")
check "TokenAdded names the reader" grep -qF "'reader': <'$READER0'>" "$RIG/signals.log"
check "TokenAdded carries the ATR (3B…)" sh -c "echo '$atr' | grep -q '^3B[0-9A-F]*$'"
check_count "no TokenRemoved yet" TokenRemoved 0
check "TokenAdded comes before the token is read (pkcs11: reading)" \
  signal_has TokenAdded "'pkcs11': <'reading'>"
# OpenSC does not know the virtual card: the read ends with "none".
wait_until 20 signal_seen TokenChanged 1
check_count "the read's result: exactly one TokenChanged" TokenChanged 1
check "TokenChanged: no module knows the virtual card (pkcs11: none)" \
  signal_has TokenChanged "'pkcs11': <'none'>" "'reader': <'$READER0'>"
list_readers >"$RIG/readers" 2>&1
check "ListReaders: the card is present with its ATR" grep -qF "'atr': <'$atr'>" "$RIG/readers"
jcheck_lines "signet monitor --json: token-added with reader and ATR, after PC/SC saw it" \
  "$RIG/monitor.out" "
[e for e in L if e['event'] == 'token-added' and e['reader'] == '$READER0'
 and e['atr'] == '$atr' and e['card_present'] and $before - 0.001 <= t(e) < $(cat "$RIG/t-insert") + $WAIT]"

# Removal.
"$PCSC_HELPER" wait "$READER0" absent 15000 >"$RIG/t-remove" &
helper=$!
before=$(now)
card_remove
wait "$helper"
wait_until 10 signal_seen TokenRemoved 1
sleep 1
check_count "one removal, exactly one TokenRemoved" TokenRemoved 1
check_count "still exactly one TokenAdded" TokenAdded 1
check "TokenRemoved: the reader is empty, the ATR of the card that went" \
  signal_has TokenRemoved "'state': <'empty'>" "'card_present': <false>" "'atr': <'$atr'>"
jcheck_lines "signet monitor --json: token-removed after PC/SC saw it" "$RIG/monitor.out" "
[e for e in L if e['event'] == 'token-removed' and e['reader'] == '$READER0'
 and $before - 0.001 <= t(e) < $(cat "$RIG/t-remove") + $WAIT]"

# pcscd stopped and started again while the agent runs. Once its first
# attempts (about 6 s) are over, the agent waits for pcscd's socket with
# inotify: no timer, and pcscd is seen as soon as it creates the socket.
pcscd_stop
wait_until 10 signal_seen ReaderRemoved 2
check_count "pcscd stopped: both readers removed" ReaderRemoved 2
waiting() { grep -q 'pcscd does not answer; waiting for pcscd.comm to appear' "$RIG/agent.log"; }
wait_until 20 waiting
check "… after a few attempts the agent waits for pcscd's socket, not a timer" waiting
pcscd_start
wait_until 15 signal_seen ReaderAdded 4
check_count "pcscd back: both readers added again" ReaderAdded 4
# Between the wait's start and the socket's appearance, no timed attempt.
# After it, pcscd may not listen yet (it binds, then listens): a refused
# first attempt and the short back-off that follows are fine.
timed_while_waiting() {
  awk '/waiting for pcscd.comm to appear/ { w = 1; n = 0; next }
       /pcscd.comm appeared in/ { if (w) { print n; exit } }
       w && /connecting again in/ { n++ }' "$RIG/agent.log"
}
check_eq "… seen through the socket's appearance, with no timed attempt meanwhile" \
  0 "$(timed_while_waiting)"
"$PCSC_HELPER" wait "$READER0" present 15000 >"$RIG/t-insert2" &
helper=$!
before=$(now)
card_insert
wait "$helper"
wait_until 10 signal_seen TokenAdded 2
check_count "after the restart the next insertion is seen" TokenAdded 2
jcheck_lines "signet monitor --json: token-added after the restart, after PC/SC saw it" \
  "$RIG/monitor.out" "
[e for e in L if e['event'] == 'token-added' and $before - 0.001 <= t(e) < $(cat "$RIG/t-insert2") + $WAIT]"
jcheck_lines "signet monitor --json: one JSON object per event, in order" "$RIG/monitor.out" "
[e['event'] for e in L if e['event'] in ('token-added', 'token-removed')]
 == ['token-added', 'token-removed', 'token-added']"
card_remove
wait_until 10 signal_seen TokenRemoved 2

# The agent, waiting in SCardGetStatusChange, stops at once.
t0=$(date +%s%N)
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
status=$?
t1=$(date +%s%N)
AGENT_PID=
check "signetd exits 0 on SIGTERM" test "$status" -eq 0
# The bound only tells "at once" from "after a PC/SC wait" on a loaded
# machine; how fast is bench/hotplug's business.
check "signetd stops at once ($(((t1 - t0) / 1000000)) ms, under 5 s)" test $((t1 - t0)) -lt 5000000000
wait_until 5 sh -c "! kill -0 $MONITOR_PID 2>/dev/null"
wait "$MONITOR_PID"
status=$?
MONITOR_PID=
check "signet monitor exits 1 when the agent goes away" test "$status" -eq 1
check "signet monitor says the agent went away" grep -q "went away" "$RIG/monitor.err"
tap_done
