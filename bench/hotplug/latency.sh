#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# bench/hotplug/latency.sh: insertion-to-signal latency of signetd, against a
# bare PC/SC client seeing the same insertions in the same run.
#
#   BUILDDIR=/tmp/build-bench bench/hotplug/latency.sh [N]     (root; N=30)
#
# In a private PC/SC world (rig.sh): pcscd with the vpcd reader, signetd
# --verbose with OpenSC's module, and two observers started before the
# first insertion:
#   - the reference, pcsc-wait: one SCardGetStatusChange(INFINITE) loop on
#     the reader, timestamping each card-present/absent transition;
#   - signal-stamp: a GDBus client on the same private session bus,
#     timestamping each TokenAdded/TokenRemoved/TokenChanged it receives
#     (wire: read off the socket; dispatch: its main-loop callback).
# Then N times: vicc connects a virtual card (vicc-stamp.py stamps its
# connect()), both observers see it, the agent's PKCS#11 read ends
# (TokenChanged), vicc is killed, both see the removal, a random pause of
# 100-400 ms. Every time is CLOCK_MONOTONIC, in µs, from one machine.
# Printed: medians (and p10/p90) of connect→reference, connect→agent, and
# agent−reference per insertion; the same difference for removals. The raw
# times go to $BENCH_OUT/latency-DATE.tsv, the summary next to it.
# shellcheck source=rig.sh
. "$(dirname "$0")/rig.sh"
bench_enter latency "$@"

N=${1:-30}
bench_setup "$OPENSC_MODULE"

# Made here: a background redirection may not have happened yet when polled.
: >"$RIG/ref.log"
: >"$RIG/signals.log"
"$BENCH_BIN/pcsc-wait" watch "$READER0" >"$RIG/ref.log" 2>>"$RIG/ref.err" &
BENCH_PIDS="$!"
"$BENCH_BIN/signal-stamp" >"$RIG/signals.log" 2>>"$RIG/signals.err" &
BENCH_PIDS="$BENCH_PIDS $!"
wait_until 10 grep -q '^ready' "$RIG/signals.log" || die "signal-stamp did not start"
wait_until 10 grep -q '^absent .* initial' "$RIG/ref.log" || die "pcsc-wait did not start"
agent_start --verbose --idle-timeout 0
wait_until 10 grep -q '^ReaderAdded' "$RIG/signals.log" || die "the agent announced no reader"

count() { if [ -f "$RIG/$1" ]; then grep -c "$2" "$RIG/$1"; else echo 0; fi; }
at_least() { [ "$(count "$1" "$2")" -ge "$3" ]; }

echo "# $N insertions, reader \"$READER0\", OpenSC module, signetd $(git -C "$TOP_SRC" describe --always --dirty 2>/dev/null)"
echo "# $(nproc) CPUs, $(uname -r), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$N"); do
  card_insert
  wait_until 20 at_least vicc.stamp . "$i" || die "insertion $i: vicc did not connect"
  wait_until 10 at_least ref.log '^present' "$i" || die "insertion $i: PC/SC did not see the card"
  wait_until 10 at_least signals.log "^TokenAdded .* $READER0\$" "$i" ||
    die "insertion $i: no TokenAdded"
  wait_until 30 at_least signals.log "^TokenChanged .* $READER0\$" "$i" ||
    die "insertion $i: the agent's read did not end (no TokenChanged)"
  card_remove
  wait_until 10 at_least ref.log '^absent [0-9]*$' "$i" || die "removal $i: PC/SC did not see it"
  wait_until 10 at_least signals.log "^TokenRemoved .* $READER0\$" "$i" ||
    die "removal $i: no TokenRemoved"
  printf '.'
  sleep "0.$((100 + RANDOM % 300))"
done
echo
agent_stop

STAMP=$(date +%Y%m%d-%H%M%S)
"$PYTHON" - "$RIG" "$READER0" "$BENCH_OUT/latency-$STAMP" <<'EOF'
import re, statistics, sys

rig, reader, out = sys.argv[1:4]

def lines(name):
    with open(f"{rig}/{name}") as f:
        return [l.rstrip("\n") for l in f]

connect = [int(l) for l in lines("vicc.stamp")]
ref_in = [int(l.split()[1]) for l in lines("ref.log") if l.startswith("present ")]
ref_out = [int(l.split()[1]) for l in lines("ref.log")
           if l.startswith("absent ") and not l.endswith("initial")]
sig = {"TokenAdded": [], "TokenRemoved": []}
for l in lines("signals.log"):
    f = l.split(" ", 3)
    if f[0] in sig and f[3] == reader:
        sig[f[0]].append((int(f[1]), int(f[2])))
# The agent's own log: when it emitted, and when its PC/SC worker saw it.
log = {"TokenAdded": [], "TokenRemoved": []}
pat = re.compile(r'hotplug: (TokenAdded|TokenRemoved) "([^"]*)".* at (\d+) us monotonic, (\d+) us after')
for l in lines("agent.log"):
    m = pat.search(l)
    if m and m.group(2) == reader:
        emitted = int(m.group(3))
        log[m.group(1)].append((emitted - int(m.group(4)), emitted))

n = len(connect)
assert len(ref_in) == n and len(sig["TokenAdded"]) == n and len(ref_out) == n \
    and len(sig["TokenRemoved"]) == n, "unpaired events"
have_log = len(log["TokenAdded"]) == n and len(log["TokenRemoved"]) == n

ms = lambda us: us / 1000.0
rows = []
for i in range(n):
    wire, disp = sig["TokenAdded"][i]
    rwire, rdisp = sig["TokenRemoved"][i]
    seen, emitted = log["TokenAdded"][i] if have_log else (0, 0)
    rows.append(dict(
        i=i + 1, connect=connect[i], ref_present=ref_in[i], agent_seen=seen, agent_emit=emitted,
        client_wire=wire, client_dispatch=disp, ref_absent=ref_out[i],
        removed_wire=rwire, removed_dispatch=rdisp))
with open(out + ".tsv", "w") as f:
    keys = list(rows[0])
    f.write("\t".join(keys) + "\n")
    for r in rows:
        f.write("\t".join(str(r[k]) for k in keys) + "\n")

def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p * (len(xs) - 1))))]

def line(name, xs):
    return "%-44s median %8.3f ms   p10 %8.3f   p90 %8.3f   min %8.3f   max %8.3f" % (
        name, statistics.median(xs), q(xs, 0.1), q(xs, 0.9), min(xs), max(xs))

ref_lat = [ms(r["ref_present"] - r["connect"]) for r in rows]
agent_lat = [ms(r["client_dispatch"] - r["connect"]) for r in rows]
diff = [ms(r["client_dispatch"] - r["ref_present"]) for r in rows]
out_lines = [
    f"insertions: {n}",
    line("connect -> reference (pcsc-wait) present", ref_lat),
    line("connect -> TokenAdded at the D-Bus client", agent_lat),
    line("TokenAdded (client) - reference, per event", diff),
    line("  of which: bus wire - reference", [ms(r["client_wire"] - r["ref_present"]) for r in rows]),
]
if have_log:
    out_lines += [
        line("  agent's PC/SC worker woke - reference", [ms(r["agent_seen"] - r["ref_present"]) for r in rows]),
        line("  worker woke -> signal emitted (agent)", [ms(r["agent_emit"] - r["agent_seen"]) for r in rows]),
        line("  emitted -> client dispatch (D-Bus)", [ms(r["client_dispatch"] - r["agent_emit"]) for r in rows]),
    ]
out_lines += [
    line("TokenRemoved (client) - reference absent", [ms(r["removed_dispatch"] - r["ref_absent"]) for r in rows]),
    "median agent/reference (connect -> event): %.4f" % (statistics.median(agent_lat) / statistics.median(ref_lat)),
    "target: TokenAdded within 5 ms of the reference at the median: %s (%.3f ms)" % (
        "MET" if statistics.median(diff) <= 5.0 else "NOT MET", statistics.median(diff)),
]
with open(out + ".txt", "w") as f:
    f.write("\n".join(out_lines) + "\n")
print("\n".join(out_lines))
print(f"# raw times: {out}.tsv")
EOF
