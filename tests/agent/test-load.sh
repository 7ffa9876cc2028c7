#!/bin/sh
# The agent under load and under a PIN flood (issue 16), on a SoftHSM2 token
# behind the test shim. Fifty clients, each on a bus connection of its own,
# call ListTokens and GetTokenStatus in a loop while an activation and then
# a renewal run on the token: both operations finish, every client gets
# answers and no error, and the agent's anonymous memory does not grow with
# the calls. A client sending wrong PINs is slowed down: after a wrong PIN
# the next operation that sends one to the token waits 1 s, then 2, 4 …
# (the agent's clock, moved here by the test), holding the token so that a
# second caller gets Busy with the reason; the holder's right PIN after
# the wait is taken, not refused, and ends the back-off.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
"$SIGNETD" --version | grep -q 'fault injection: yes' ||
  skip_all "signetd was built without --enable-fault-injection (the test builds have it)"
[ -n "$PYTHON" ] && "$PYTHON" -c 'import gi; gi.require_version("Gio", "2.0")' 2>/dev/null ||
  skip_all "python3-gi is not installed"
rig_setup
est_ca_start
CLOCK="$RIG/now"
date +%s >"$CLOCK"
export SIGNET_FAKE_NOW="$CLOCK" SIGNET_TEST_BACKOFF=1
agent_stop
agent_start

rss_anon() { awk '/^RssAnon:/ { print $2 }' "/proc/$AGENT_PID/status"; }
renew() {
  run signet renew "$TOKEN_LABEL" --pin-fd 4 "$@" 4<<EOT
$PIN
EOT
}

# --- 50 clients while an activation and a renewal run ---------------------------
CLIENTS=${LOAD_CLIENTS:-50}
"$PYTHON" "$top_srcdir/tests/agent/load-clients.py" "$CLIENTS" "$TOKEN_LABEL" "$RIG/stop" \
  "$RIG/count" >"$RIG/clients.out" 2>"$RIG/clients.err" &
clients_pid=$!
check "$CLIENTS clients connected and calling" \
  wait_until 60 grep -q '^started' "$RIG/clients.out"
rss_start=$(rss_anon)
est_code --subject "CN=Load Test,O=Example,C=PL"
activate
check_rc "an activation under load succeeds" 0
rss_mid=$(rss_anon)
renew
check_rc "a renewal under load succeeds" 0
# Memory: the operations themselves keep a little (the journal's page
# cache, bench/README.md (g)), and the first burst of 50 callers fills the
# worker threads' malloc arenas (1 to 1.5 MB, settling over the first few
# thousand answers); from there the calls must keep nothing. Measured 6000
# answers on and again 6000 answers later.
count() { cat "$RIG/count" 2>/dev/null || echo 0; }
counted_past() { [ "$(count)" -ge "$1" ]; }
# rss_median FROM: the median of five readings 200 answers apart, from
# FROM answers on (one reading swings by ±0.4 MB with the calls in flight).
rss_median() {
  local k=0 at=$1
  while [ $k -lt 5 ]; do
    wait_until 300 counted_past "$at" || return 1
    rss_anon
    at=$((at + 200))
    k=$((k + 1))
  done | sort -n | sed -n 3p
}
rss_ops=$(rss_anon)
from=$(count)
if grep -qa __asan_init "$SIGNETD"; then
  asan=1 warm=0 span=1000 # memory is not judged there (below)
else
  asan=0 warm=${LOAD_WARM:-6000} span=${LOAD_ANSWERS:-6000}
fi
rss_warm=$(rss_median $((from + warm)))
rss_end=$(rss_median $((from + warm + span)))
check "the clients go on getting answers after the operations" \
  counted_past $((from + warm + span + 800))
touch "$RIG/stop"
wait "$clients_pid"
check "the clients ended" test $? -eq 0
answered=$(awk '/^client [0-9]+ answers/ && $4 > 0 && $6 == 0 { n++ } END { print n + 0 }' "$RIG/clients.out")
check_eq "every client got answers and no error" "$CLIENTS" "$answered"
grep ' error ' "$RIG/clients.out" | head -n 5 | sed 's/^/#   /'
total=$(awk '/^client [0-9]+ answers/ { a += $4 } END { print a + 0 }' "$RIG/clients.out")
slowest=$(awk '/^client [0-9]+ answers/ && $8 > m { m = $8 } END { print m + 0 }' "$RIG/clients.out")
echo "# $total answers to $CLIENTS clients; slowest answer $slowest ms; RssAnon (kB):" \
  "$rss_start at the start, $rss_mid after the activation, $rss_ops after the renewal," \
  "$rss_warm $warm answers later, $rss_end $span answers after that"
check "the agent is still running" agent_alive
# ASan's quarantine holds freed memory back: the bound is for the builds
# without it (the strict stage runs it); an ASan build checks instead that
# the agent exits without a leak (LeakSanitizer, at the end).
if [ $asan = 0 ]; then
  check "RssAnon grew by less than 1 MB over $span answers ($rss_warm → $rss_end kB)" \
    test $((rss_end - rss_warm)) -lt 1024
fi

# --- a PIN flood is slowed down --------------------------------------------------
keygen_with() { # keygen_with PIN [options…]
  p=$1
  shift
  signet keygen "$TOKEN_LABEL" --type ec:p256 "$@" --pin-fd 3 3<<EOT
$p
EOT
}
waits() { grep -c "token '$TOKEN_LABEL': waiting $1 s before sending the PIN" "$RIG/agent.log"; }
waited() { [ "$(waits "$1")" -eq "$2" ]; } # waited SECONDS COUNT
tries() { shim_tries | cut -d' ' -f1; }
advance() { echo $(($(cat "$CLOCK") + $1)) >"$CLOCK"; }

expect_try pin wrong
keygen_with 000000 >"$RIG/out" 2>"$RIG/err"
rc=$?
check_rc "a wrong PIN exits 3" 3
check_eq "… and no wait before the first one" "0" "$(waits 1)"

expect_try pin wrong
keygen_with 111111 >"$RIG/out2" 2>"$RIG/err2" &
flood=$!
check "the next PIN waits 1 s (the agent's clock) after the wrong one" wait_until 30 waited 1 1
check_eq "… and has not been sent while it waits" "2" "$(tries)"
run signet keygen "$TOKEN_LABEL" --type ec:p256 --pin-fd 3 3<<EOT
$PIN
EOT
check_rc "a second caller meanwhile is refused" 6
check_err "… with the reason: the token is busy" "busy with another operation"
advance 1
wait "$flood"
check_eq "after the second, the wrong PIN is sent and refused" "3" "$?"
check_eq "… one try spent" "1" "$(tries)"

keygen_with "$PIN" --confirm-final-try >"$RIG/out3" 2>"$RIG/err3" &
holder=$!
check "after two wrong PINs the next waits 2 s" wait_until 30 waited 2 1
advance 2
wait "$holder"
check_eq "the holder's right PIN after the wait is taken" "0" "$?"
check_eq "… and gives the tries back" "3" "$(tries)"
keygen_with "$PIN" >"$RIG/out" 2>"$RIG/err"
check_eq "a right PIN ends the back-off: the next operation does not wait" "0 1 1" \
  "$? $(waits 1) $(waits 2)"
check_tries "the PIN flood"

tap_done
