#!/bin/bash
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
# After 5 s to settle, two windows of SECONDS each:
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
. "$(dirname "$0")/rig.sh"
bench_enter idle "$@"

S=${1:-60}
[ "$S" -lt 590 ] || die "keep the window under the agent's 600 s idle exit"
bench_setup "$OPENSC_MODULE"
for t in perf strace; do command -v "$t" >/dev/null || die "$t not found"; done
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing ||
  die "cannot mount tracefs (perf needs it for raw_syscalls:sys_enter)"

"$BENCH_BIN/pcsc-wait" watch "$READER0" >"$RIG/ref.log" 2>&1 &
REF_PID=$!
sleep $((2 * S + 60)) &
SLEEP_PID=$!
BENCH_PIDS="$REF_PID $SLEEP_PID"
agent_start
list_readers >"$RIG/readers" || die "ListReaders failed"
grep -qF "$READER0" "$RIG/readers" || die "the agent does not list the reader"
sleep 5

NAMES="signetd pcsc-wait sleep pcscd"
pid_of() {
  case $1 in
    signetd) echo "$AGENT_PID" ;;
    pcsc-wait) echo "$REF_PID" ;;
    sleep) echo "$SLEEP_PID" ;;
    pcscd) echo "$PCSCD_PID" ;;
  esac
}

# counters PID: "threads vol nonvol run_ns timeslices ticks"
counters() {
  local pid=$1 t vol=0 nonvol=0 run=0 slices=0 n=0 v s r
  for t in /proc/"$pid"/task/*; do
    v=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status")
    s=$(awk '/^nonvoluntary_ctxt_switches/ { print $2 }' "$t/status")
    read -r r _ sl <"$t/schedstat"
    vol=$((vol + v))
    nonvol=$((nonvol + s))
    run=$((run + r))
    slices=$((slices + sl))
    n=$((n + 1))
  done
  # utime and stime: fields 14 and 15, after the ")" that ends the name.
  ticks=$(sed 's/^.*) //' /proc/"$pid"/stat | awk '{ print $12 + $13 }')
  echo "$n $vol $nonvol $run $slices $ticks"
}

OUT=$BENCH_OUT/idle-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
{
  echo "# idle.sh: ${S} s windows, reader \"$READER0\" empty, OpenSC module"
  echo "# signetd threads: $(for t in /proc/$AGENT_PID/task/*; do cat "$t/comm"; done | sort | uniq -c | tr -s ' \n' ' ')"
  echo "# signetd $(git -C "$TOP_SRC" describe --always --dirty 2>/dev/null), $(nproc) CPUs, $(uname -r)"
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
for name in signetd pcsc-wait sleep; do
  timeout -s INT "$S" strace -c -f -p "$(pid_of "$name")" -o "$OUT/strace.$name.txt" 2>/dev/null &
  STRACE_PIDS="${STRACE_PIDS:-} $!"
done
for p in $STRACE_PIDS; do wait "$p"; done

# perf -x, lines: value,unit,event,... ("<not counted>" when it never ran).
perf_value() {
  local v
  v=$(grep ",$2," "$OUT/perf.$1.csv" | head -n 1 | cut -d, -f1)
  case $v in
    "<not counted>" | "") echo 0 ;;
    *) echo "$v" ;;
  esac
}
# strace -c: the "total" line's calls column (empty table: 0).
strace_calls() {
  local f=$OUT/strace.$1.txt
  [ -f "$f" ] || { echo "-"; return; }
  awk '$NF == "total" { print ($4 ~ /^[0-9]+$/) ? $4 : $3; found = 1 } END { if (!found) print 0 }' "$f"
}
strace_names() {
  local f=$OUT/strace.$1.txt
  [ -f "$f" ] || return
  awk '/^[ ]*[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ && $NF != "total" { printf "%s%s×%s", sep, $NF, $4; sep = " " }' "$f"
}

{
  printf '%-10s %7s %8s %8s %10s %6s %10s %10s %10s %8s\n' process threads ctxsw/vol ctxsw/inv \
    cpu_us ticks perf_cs perf_sys perf_ms strace
  for name in $NAMES; do
    read -r n0 v0 s0 r0 _ k0 <"$RIG/before.$name"
    read -r n1 v1 s1 r1 _ k1 <"$RIG/after.$name"
    printf '%-10s %7s %8d %8d %10.1f %6d %10s %10s %10s %8s\n' "$name" "$n0/$n1" $((v1 - v0)) \
      $((s1 - s0)) "$(echo "($r1 - $r0) / 1000" | bc -l)" $((k1 - k0)) \
      "$(perf_value "$name" context-switches)" "$(perf_value "$name" raw_syscalls:sys_enter)" \
      "$(perf_value "$name" task-clock)" "$(if [ "$name" = pcscd ]; then echo -; else strace_calls "$name"; fi)"
  done
  echo "# window 1 (${S} s, unperturbed): ctxsw = context switches summed over the threads"
  echo "#   (every wakeup is one), cpu_us from schedstat, ticks = utime+stime at $(getconf CLK_TCK) Hz,"
  echo "#   perf_* = perf stat over the same window (context switches, syscalls, task-clock ms)"
  echo "# window 2 (${S} s): strace = syscalls counted by strace -c -f -p (attach/detach included)"
  for name in signetd pcsc-wait sleep; do
    echo "#   strace $name: $(strace_names "$name")"
  done
} | tee -a "$OUT/summary.txt"
agent_stop
echo "# results in $OUT"
