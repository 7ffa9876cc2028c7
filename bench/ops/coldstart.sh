#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# bench/ops/coldstart.sh: `signet list` when signetd is not running (D-Bus
# activation and the agent's start-up), against the same call to a running
# agent and against a minimal GApplication service, in the same run.
#
#   BUILDDIR=/tmp/build-bench bench/ops/coldstart.sh [RUNS]    (RUNS=20)
#
# In the rig of rig.sh (a private session bus, its own XDG directories, one
# SoftHSM2 token, signet.conf naming libsofthsm2.so), the bus's services
# directory holds io.signet.Agent.service (Exec= the build's signetd, as
# installed: no --verbose) and io.signet.BenchMinimal.service (Exec=
# bench/ops/minimal-service.c, built here with cc and pkg-config). hyperfine
# times, RUNS runs each after 3 warm-ups:
#   signet-cold    signet list, signetd stopped before each run (--prepare:
#                  SIGTERM to the name's owner, then until the name is gone)
#   signet-warm    signet list, signetd running
#   minimal-cold   gdbus call of Ping, the minimal service stopped the same way
#   minimal-warm   gdbus call of Ping, the minimal service running
# Figures are medians; the ratios are those of the medians of this run:
#   signet-cold / minimal-cold, signet-warm / minimal-warm,
#   signet-cold / signet-warm (and minimal-cold / minimal-warm).
# Then the agent's start is split (5 starts of signetd --verbose under
# strace -f -ttt): ms from exec to its milestones, up to "owns
# io.signet.Agent".
# shellcheck source=rig.sh
. "$(dirname "$0")/rig.sh"
ops_enter coldstart

RUNS=${1:-20}
command -v hyperfine >/dev/null || die "hyperfine not found (apt-get install hyperfine)"
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$BENCH_OUT/coldstart-$STAMP
mkdir -p "$OUT" "$BUILDDIR/bench/ops"
MINIMAL=$BUILDDIR/bench/ops/minimal-service
MINIMAL_NAME=io.signet.BenchMinimal
MINIMAL_PATH=/io/signet/BenchMinimal

if [ ! -x "$MINIMAL" ] || [ "$OPS_SRC/minimal-service.c" -nt "$MINIMAL" ]; then
  # shellcheck disable=SC2046
  cc -O2 -Wall -Wextra $(pkg-config --cflags gio-2.0) "$OPS_SRC/minimal-service.c" \
    $(pkg-config --libs gio-2.0) -o "$MINIMAL" || die "cannot build minimal-service"
fi

# D-Bus activation: the bus (started by ops_enter with this environment:
# XDG_* and SOFTHSM2_CONF of the rig) execs these.
printf '[D-BUS Service]\nName=io.signet.Agent\nExec=%s\n' "$SIGNETD" \
  >"$RIG/services/io.signet.Agent.service"
printf '[D-BUS Service]\nName=%s\nExec=%s %s\n' "$MINIMAL_NAME" "$MINIMAL" "$MINIMAL_NAME" \
  >"$RIG/services/$MINIMAL_NAME.service"
gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
  --method org.freedesktop.DBus.ReloadConfig >/dev/null || die "the bus did not reload"

# stop-name NAME: SIGTERM to the process owning NAME, then wait (5 ms
# steps, 10 s at most) until the name has no owner and the process is gone.
cat >"$RIG/stop-name" <<'EOF'
#!/bin/bash
name=$1
pid=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
  --method org.freedesktop.DBus.GetConnectionUnixProcessID "$name" 2>/dev/null |
  tr -dc '0-9 ' | awk '{ print $NF }')
[ -n "$pid" ] || exit 0
kill -TERM "$pid" 2>/dev/null
for _ in $(seq 2000); do
  if ! kill -0 "$pid" 2>/dev/null &&
    gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
      --method org.freedesktop.DBus.NameHasOwner "$name" | grep -q false; then
    exit 0
  fi
  sleep 0.005
done
echo "stop-name: $name (pid $pid) did not go" >&2
exit 1
EOF
chmod +x "$RIG/stop-name"

token_fresh
"$SIGNET" list >"$OUT/list.txt" || die "signet list failed (activation of signetd?)"
grep -q "$TOKEN_LABEL" "$OUT/list.txt" || die "signet list does not show $TOKEN_LABEL"
PING="gdbus call --session --dest $MINIMAL_NAME --object-path $MINIMAL_PATH --method $MINIMAL_NAME.Ping"
$PING >/dev/null || die "the minimal service did not answer"

# time_it NAME PREPARE COMMAND: hyperfine's median of COMMAND, in seconds.
time_it() {
  local prep=()
  [ -n "$2" ] && prep=(--prepare "$2")
  hyperfine --style none --warmup 3 --runs "$RUNS" "${prep[@]}" --export-json "$OUT/$1.json" \
    "$3" >"$OUT/$1.txt" 2>&1 || die "hyperfine failed on $1 (see $OUT/$1.txt)"
  "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' \
    "$OUT/$1.json"
}

LIST="'$SIGNET' list >/dev/null"
load=$(cut -d' ' -f1-3 /proc/loadavg)
s_cold=$(time_it signet-cold "'$RIG/stop-name' io.signet.Agent" "$LIST")
m_cold=$(time_it minimal-cold "'$RIG/stop-name' $MINIMAL_NAME" "$PING >/dev/null")
$PING >/dev/null || die "the minimal service did not answer after the cold runs"
"$SIGNET" list >/dev/null || die "signet list failed after the cold runs"
s_warm=$(time_it signet-warm "" "$LIST")
m_warm=$(time_it minimal-warm "" "$PING >/dev/null")

# The agent's own account of its start: signetd --verbose, 5 times, the
# monotonic time of each debug line from exec (the log's own clock is the
# wall clock: strace -ttt gives exec).
"$RIG/stop-name" io.signet.Agent
for i in 1 2 3 4 5; do
  strace -f -ttt -s 256 -e trace=execve,openat,connect,write -o "$OUT/start-$i.strace" \
    "$SIGNETD" --verbose >"$OUT/start-$i.log" 2>&1 &
  pid=$!
  gdbus wait --session --timeout 20 io.signet.Agent || die "signetd did not take its name"
  "$RIG/stop-name" io.signet.Agent
  wait "$pid"
done

"$PYTHON" - "$s_cold" "$s_warm" "$m_cold" "$m_warm" "$RUNS" "$load" <<'EOF' | tee "$OUT/summary.txt"
import sys
s_cold, s_warm, m_cold, m_warm = map(float, sys.argv[1:5])
runs, load = sys.argv[5], sys.argv[6]
ms = lambda s: "%.1f ms" % (s * 1000)
print("medians of %s runs (load average at the start: %s):" % (runs, load))
print("  %-44s %10s %10s" % ("", "cold", "warm"))
print("  %-44s %10s %10s" % ("signet list", ms(s_cold), ms(s_warm)))
print("  %-44s %10s %10s" % ("gdbus call to the minimal service", ms(m_cold), ms(m_warm)))
print("  signet list cold / minimal service cold  = %.2f" % (s_cold / m_cold))
print("  signet list warm / minimal service warm  = %.2f" % (s_warm / m_warm))
print("  signet list cold / signet list warm      = %.2f" % (s_cold / s_warm))
print("  minimal cold / minimal warm              = %.2f" % (m_cold / m_warm))
print("  start-up cost, cold - warm: signet %s, minimal %s" % (ms(s_cold - s_warm), ms(m_cold - m_warm)))
EOF

# Per start: ms from signetd's exec to each milestone, from strace's
# clock (-ttt): files opened, the bus socket's connect, and the --verbose
# lines written to stderr. strace slows every traced call: these split the
# start, the hyperfine figures above are its cost.
"$PYTHON" - "$OUT" <<'EOF' | tee -a "$OUT/summary.txt"
import glob, re, statistics, sys
marks = [("OpenSC configuration written", r'write\(2, .*OpenSC configuration for'),
         ("libsofthsm2.so opened", r'openat\(.*libsofthsm2\.so"'),
         ("softhsm2.conf read (C_Initialize)", r'openat\(.*softhsm2\.conf"'),
         ("signet.db opened", r'openat\(.*signet\.db"'),
         ("hotplug made (idle timer set)", r'write\(2, .*idle: exit in'),
         ("bus connected", r'connect\(.*bus\.socket'),
         ("owns io.signet.Agent", r'write\(2, .*owns io\.signet\.Agent')]
rows = {m: [] for m, _ in marks}
for path in sorted(glob.glob(sys.argv[1] + "/start-*.strace")):
    t0 = None
    seen = {}
    for line in open(path):
        f = line.split(None, 2)
        if len(f) < 3:
            continue
        t = float(f[1])
        if t0 is None and "execve(" in f[2]:
            t0 = t
        for m, rx in marks:
            if m not in seen and re.search(rx, f[2]):
                seen[m] = (t - t0) * 1000
    for m in seen:
        rows[m].append(seen[m])
print("signetd --verbose under strace (5 starts), ms after exec, medians:")
for m, _ in marks:
    if rows[m]:
        print("  %-36s %7.1f" % (m, statistics.median(rows[m])))
EOF
describe_build | tee -a "$OUT/summary.txt"
echo
echo "results in $OUT"
