#!/bin/sh
# Idle exit: signetd exits by itself after the idle time when no card is in
# any reader, no client watches and no call came; not while a card is in,
# not while `signet monitor` watches; D-Bus activation (a service file for
# the build tree's signetd on the private bus) starts it again on demand.
# The idle time comes from --idle-timeout for the agent started by hand and
# from idle-timeout= in [agent] of signet.conf for the activated ones.
. "${top_srcdir:?}/tests/hotplug/hotplug-lib.sh"
hp_enter "$@"
hp_setup "$SOFTHSM2_MODULE"
IDLE=2
printf '[agent]\nidle-timeout=%s\n' "$IDLE" >>"$RIG/config/signet/signet.conf"
cat >"$RIG/services/io.signet.Agent.service" <<EOF
[D-BUS Service]
Name=io.signet.Agent
Exec=/bin/sh -c 'exec "$SIGNETD" --verbose >>"$RIG/agent.log" 2>&1'
EOF

# By hand, --idle-timeout: no card, nobody watching → it exits, status 0.
t0=$(date +%s)
agent_start --idle-timeout 1
wait_until 10 sh -c "! kill -0 $AGENT_PID 2>/dev/null"
wait "$AGENT_PID"
status=$?
AGENT_PID=
t1=$(date +%s)
check "idle with no card: signetd exits by itself, status 0" test "$status" -eq 0
check "… after about the idle time ($((t1 - t0)) s)" test $((t1 - t0)) -le 5
check "… and says why" grep -q "idle for 1 s" "$RIG/agent.log"
check "its name is free again" agent_gone

# Started again on demand: a method call activates it.
list_readers >"$RIG/readers" 2>&1
check "ListReaders activates the agent and lists the readers" grep -qF "'reader': <'$READER0'>" "$RIG/readers"
check "the agent runs after the call" agent_owned
wait_until 10 agent_gone
check "idle-timeout= from signet.conf: it exits again" agent_gone

# A card in a reader keeps it.
list_readers >/dev/null 2>&1
card_insert
wait_until 10 sh -c "grep -q 'TokenAdded \"$READER0\"' '$RIG/agent.log'"
sleep $((IDLE * 2 + 1))
check "a card in a reader: the agent stays past the idle time" agent_owned
card_remove
wait_until $((IDLE * 3)) agent_gone
check "card removed: it exits after the idle time" agent_gone

# A monitor keeps it: WatchTokens, its bus name watched until it leaves.
"$SIGNET" monitor --json >"$RIG/monitor.out" 2>"$RIG/monitor.err" &
MONITOR_PID=$!
wait_until 10 agent_owned
sleep $((IDLE * 2 + 1))
check "signet monitor (it activated the agent) keeps it past the idle time" agent_owned
check "the monitor still runs" kill -0 "$MONITOR_PID"
card_insert
wait_until 10 grep -q token-added "$RIG/monitor.out"
check "the monitor sees the insertion" grep -q '"event":"token-added"' "$RIG/monitor.out"
card_remove
kill -TERM "$MONITOR_PID"
wait "$MONITOR_PID"
status=$?
MONITOR_PID=
check "signet monitor exits 0 on SIGTERM" test "$status" -eq 0
wait_until $((IDLE * 3)) agent_gone
check "the monitor left: the agent exits after the idle time" agent_gone
check "the agent noticed the monitor leaving" grep -q "stopped watching" "$RIG/agent.log"
tap_done
