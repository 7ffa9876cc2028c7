#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119
# bench/hotplug/idle.sh: what signetd costs while nothing happens.
#
#   BUILDDIR=/tmp/build-bench bench/hotplug/idle.sh [SECONDS]   (root; 60)
#
# In a private PC/SC world (rig.sh): pcscd with the vpcd reader and no card,
# signetd as installed by default (OpenSC's module, default idle timeout of
# 600 s, no --verbose), and in the same run the references for "noise":
#   - pcsc-wait: a bare PC/SC client blocked in SCardGetStatusChange
#     (INFINITE) on the same reader, what any hotplug watcher must do;
#   - sleep: a process that does nothing at all;
#   - pcscd itself (context: it polls the vpcd driver).
# After SETTLE seconds (default 20: GLib's thread pool keeps a worker that
# ran start-up work for 15 s before it exits, one wakeup), two windows of SECONDS each:
#   1. unperturbed: per process, the sum over its threads of the context
#      switches (/proc/PID/task/*/status) and of the CPU run time
#      (/proc/PID/task/*/schedstat, ns), utime+stime (/proc/PID/stat,
#      clock ticks), before and after; and, at the same time,
#      `perf stat -e context-switches,task-clock,raw_syscalls:sys_enter`
#      on each (perf counts syscalls without stopping the process; tracefs
#      is mounted in our own mount namespace for that);
#   2. `strace -c -f -p PID` on each for SECONDS (ptrace: attaching and
#      detaching interrupt the blocked calls, which are then restarted; those
#      few calls are the tool's own, as the references show).
# A wakeup of any kind (timer, poll timeout, futex) is a context switch: the
# target is zero context switches, zero syscalls and zero CPU time in
# window 1. Output in $BENCH_OUT/idle-DATE.txt (and the strace tables).
#
# NO_PCSCD=1: after settling, pcscd (and pcsc-wait with it) is stopped and
# the windows start 10 s later (after the agent's first reconnect attempts,
# about 6 s): the cost of an agent on a machine without pcscd, where it
# waits for pcscd's socket to appear (target: the same zero).
# shellcheck source=rig.sh
. "$(dirname "$0")/rig.sh"
bench_enter idle "$@"

S=${1:-60}
SETTLE=${SETTLE:-20}
[ "$S" -lt 590 ] || die "keep the window under the agent's 600 s idle exit"
bench_setup "$OPENSC_MODULE"
for t in perf strace; do command -v "$t" >/dev/null || die "$t not found"; done
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing ||
  die "cannot mount tracefs (perf needs it for raw_syscalls:sys_enter)"

"$BENCH_BIN/pcsc-wait" watch "$READER0" >"$RIG/ref.log" 2>&1 &
REF_PID=$!
sleep $((2 * S + SETTLE + 60)) &
SLEEP_PID=$!
BENCH_PIDS="$REF_PID $SLEEP_PID"
agent_start
list_readers >"$RIG/readers" || die "ListReaders failed"
grep -qF "$READER0" "$RIG/readers" || die "the agent does not list the reader"
sleep "$SETTLE"

NAMES="signetd pcsc-wait sleep pcscd"
if [ -n "${NO_PCSCD:-}" ]; then
  kill -TERM "$PCSCD_PID" "$REF_PID" 2>/dev/null
  wait "$PCSCD_PID" "$REF_PID" 2>/dev/null
  PCSCD_PID=
  NAMES="signetd sleep"
  sleep 10
fi
pid_of() {
  case $1 in
    signetd) echo "$AGENT_PID" ;;
    pcsc-wait) echo "$REF_PID" ;;
    sleep) echo "$SLEEP_PID" ;;
    pcscd) echo "$PCSCD_PID" ;;
  esac
}

# counters PID: one line per thread, "tid comm voluntary nonvoluntary run_ns",
# then "ticks UTIME+STIME" for the process (dead threads included).
counters() {
  local pid=$1 t
  for t in /proc/"$pid"/task/*; do
    echo "${t##*/} $(tr ' ' _ <"$t/comm")" \
      "$(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status")" \
      "$(awk '/^nonvoluntary_ctxt_switches/ { print $2 }' "$t/status")" \
      "$(cut -d' ' -f1 "$t/schedstat")"
  done
  # utime and stime: fields 14 and 15, after the ")" that ends the name.
  echo "ticks $(sed 's/^.*) //' /proc/"$pid"/stat | awk '{ print $12 + $13 }')"
}

OUT=$BENCH_OUT/idle-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
{
  if [ -n "${NO_PCSCD:-}" ]; then
    echo "# idle.sh: ${S} s windows, pcscd stopped 10 s before (NO_PCSCD=1), OpenSC module"
  else
    echo "# idle.sh: ${S} s windows after ${SETTLE} s to settle, reader \"$READER0\" empty, OpenSC module"
  fi
  echo "# signetd threads: $(for t in /proc/"$AGENT_PID"/task/*; do cat "$t/comm"; done | sort | uniq -c | tr -s ' \n' ' ')"
  echo "# signetd $(git -C "$TOP_SRC" describe --always --dirty 2>/dev/null), $(nproc) CPUs, $(uname -r), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/summary.txt"

# Window 1: /proc before/after, perf stat over the same time.
for name in $NAMES; do
  counters "$(pid_of "$name")" >"$RIG/before.$name"
  perf stat -x, -e context-switches,task-clock,raw_syscalls:sys_enter -p "$(pid_of "$name")" \
    -o "$OUT/perf.$name.csv" -- sleep "$S" &
  PERF_PIDS="${PERF_PIDS:-} $!"
done
sleep "$S"
for name in $NAMES; do
  counters "$(pid_of "$name")" >"$RIG/after.$name"
done
for p in $PERF_PIDS; do wait "$p"; done

# Window 2: strace.
for name in $NAMES; do
  [ "$name" = pcscd ] && continue
  timeout -s INT "$S" strace -c -f -p "$(pid_of "$name")" -o "$OUT/strace.$name.txt" 2>/dev/null &
  STRACE_PIDS="${STRACE_PIDS:-} $!"
done
for p in $STRACE_PIDS; do wait "$p"; done

strace_names() {
  local f=$OUT/strace.$1.txt
  [ -f "$f" ] || return
  awk '/^[ ]*[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ && $NF != "total" { printf "%s%s×%s", sep, $NF, $4; sep = " " }' "$f"
}

{
  "$PYTHON" - "$RIG" "$OUT" "$NAMES" <<'EOF'
import sys
rig, out, names = sys.argv[1], sys.argv[2], sys.argv[3].split()

def threads(path):
    t, ticks = {}, 0
    for l in open(path):
        f = l.split()
        if f[0] == "ticks":
            ticks = int(f[1])
        else:
            t[f[0]] = (f[1], int(f[2]), int(f[3]), int(f[4]))
    return t, ticks

def perf(name, event):
    for l in open(f"{out}/perf.{name}.csv"):
        f = l.strip().split(",")
        if len(f) > 2 and f[2] == event:
            return f[0] if f[0] not in ("<not counted>", "") else "0"
    return "?"

def strace_calls(name):
    try:
        for l in open(f"{out}/strace.{name}.txt"):
            f = l.split()
            if f and f[-1] == "total":
                return f[3]  # % seconds usecs/call calls [errors] total
        return "0"
    except FileNotFoundError:
        return "-"

print("%-10s %7s %9s %9s %9s %6s %8s %9s %8s %7s" % ("process", "threads", "ctxsw/vol", "ctxsw/inv",
      "cpu_us", "ticks", "perf_cs", "perf_sys", "perf_ms", "strace"))
notes = []
for name in names:
    (b, tb), (a, ta) = threads(f"{rig}/before.{name}"), threads(f"{rig}/after.{name}")
    vol = inv = run = 0
    woke = []
    for tid, (comm, v, n, r) in a.items():
        v0, n0, r0 = b[tid][1:] if tid in b else (0, 0, 0)
        vol, inv, run = vol + v - v0, inv + n - n0, run + r - r0
        if v - v0 + n - n0 > 0:
            woke.append(f"{comm}:{v - v0 + n - n0}")
    if woke and name != "pcscd":
        notes.append(f"#   {name}: context switches by thread: {' '.join(woke)}")
    gone = [b[tid][0] for tid in b if tid not in a]
    new = [a[tid][0] for tid in a if tid not in b]
    if gone or new:
        notes.append(f"#   {name}: threads exited in window 1: {' '.join(gone) or '-'};"
                     f" started: {' '.join(new) or '-'} (an exited thread's switches and CPU"
                     " are in perf_* only)")
    print("%-10s %7s %9d %9d %9.1f %6d %8s %9s %8s %7s" % (name, f"{len(b)}/{len(a)}", vol, inv,
          run / 1000, ta - tb, perf(name, "context-switches"), perf(name, "raw_syscalls:sys_enter"),
          perf(name, "task-clock"), strace_calls(name) if name != "pcscd" else "-"))
if notes:
    print("\n".join(notes))
EOF
  echo "# window 1 (${S} s, unperturbed): ctxsw = context switches summed over the threads"
  echo "#   (every wakeup is one), cpu_us from schedstat, ticks = utime+stime at $(getconf CLK_TCK) Hz,"
  echo "#   perf_* = perf stat over the same window (context switches, syscalls, task-clock ms)"
  echo "# window 2 (${S} s): strace = syscalls counted by strace -c -f -p (attach/detach included)"
  for name in $NAMES; do
    [ "$name" = pcscd ] && continue
    echo "#   strace $name: $(strace_names "$name")"
  done
} | tee -a "$OUT/summary.txt"
agent_stop
echo "# results in $OUT"
