#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119
# bench/hotplug/rss.sh: memory of signetd idle with OpenSC's module loaded.
#
#   BUILDDIR=/tmp/build-bench bench/hotplug/rss.sh [RUNS]   (root; RUNS=5)
#
# In a private PC/SC world (rig.sh), with signet.conf
#   [pkcs11]
#   module=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
# RUNS times: start signetd, ListReaders, 3 s to settle, then VmRSS, VmHWM,
# RssAnon, RssFile and Threads from /proc/PID/status and Pss from
# /proc/PID/smaps_rollup (shared library pages divided among their users) ("idle"); then a
# virtual card is inserted, read by the agent (TokenChanged) and removed
# (TokenRemoved), 2 s, and the same again ("after a card"); signetd stops.
# Then RUNS times with SoftHSM2's module and one token: start, ListTokens,
# 3 s, the same readings ("idle, SoftHSM2").
# References in the same run and world, RUNS times each, peak RSS from
# `/usr/bin/time -v` ("Maximum resident set size"):
#   - pkcs11-tool --module opensc-pkcs11.so --list-slots, no card and card in
#     (OpenSC loaded and used once, nothing else);
#   - signal-stamp's VmRSS: a GLib/GIO process on the same bus doing nothing
#     (the floor any GLib D-Bus service starts from).
# Printed: the median of each (kB, MB = 1024 kB) and signetd's ratios to
# the references; target: signetd's VmRSS idle under 15 MB.
# shellcheck source=rig.sh
. "$(dirname "$0")/rig.sh"
bench_enter rss "$@"

RUNS=${1:-5}
bench_setup "$OPENSC_MODULE"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
command -v pkcs11-tool >/dev/null || die "pkcs11-tool not found (apt-get install opensc)"

: >"$RIG/signals.log"
"$BENCH_BIN/signal-stamp" >"$RIG/signals.log" 2>>"$RIG/signals.err" &
STAMP_PID=$!
BENCH_PIDS=$STAMP_PID
wait_until 10 grep -q '^ready' "$RIG/signals.log" || die "signal-stamp did not start"

count() { grep -c "$1" "$RIG/signals.log"; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' /proc/"$1"/status; }
pss_kb() { awk '$1 == "Pss:" { print $2 }' /proc/"$1"/smaps_rollup; }
snapshot() {
  echo "$1 $(status_kb "$2" VmRSS) $(status_kb "$2" VmHWM) $(status_kb "$2" RssAnon)" \
    "$(status_kb "$2" RssFile) $(status_kb "$2" Threads) $(pss_kb "$2")" >>"$RIG/rss"
}
peak_kb() {
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ { print $2 + 0 }'
}

: >"$RIG/rss"
echo "# $(nproc) CPUs, $(uname -r), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$RUNS"); do
  agent_start
  list_readers >/dev/null || die "ListReaders failed"
  sleep 3
  snapshot idle "$AGENT_PID"
  snapshot glib-dbus-client "$STAMP_PID"
  echo "ref-nocard $(peak_kb pkcs11-tool --module "$OPENSC_MODULE" --list-slots) - - - 1 -" >>"$RIG/rss"
  card_insert
  wait_until 30 at_least "^TokenChanged .* $READER0\$" "$i" || die "run $i: the agent did not read the card"
  echo "ref-card $(peak_kb pkcs11-tool --module "$OPENSC_MODULE" --list-slots) - - - 1 -" >>"$RIG/rss"
  card_remove
  wait_until 10 at_least "^TokenRemoved .* $READER0\$" "$i" || die "run $i: no TokenRemoved"
  sleep 2
  snapshot after-card "$AGENT_PID"
  agent_stop
  printf '.'
done

# The same idle with SoftHSM2's module instead (issue 16: under 15 MB with
# both): a token in a directory of the rig, listed once (ListTokens), 3 s.
SOFTHSM2_MODULE=/usr/lib/softhsm/libsofthsm2.so
mkdir -p "$RIG/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$RIG/tokens" >"$RIG/softhsm2.conf"
export SOFTHSM2_CONF="$RIG/softhsm2.conf"
softhsm2-util --init-token --free --label bench --pin 123456 --so-pin 12345678 >/dev/null ||
  die "softhsm2-util could not make a token"
printf '[pkcs11]\nmodule=%s\n' "$SOFTHSM2_MODULE" >"$RIG/config/signet/signet.conf"
for i in $(seq 1 "$RUNS"); do
  agent_start
  gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
    --method io.signet.Agent1.ListTokens | grep -q bench || die "run $i: SoftHSM2's token not listed"
  sleep 3
  snapshot idle-softhsm "$AGENT_PID"
  echo "ref-softhsm $(peak_kb pkcs11-tool --module "$SOFTHSM2_MODULE" --list-slots) - - - 1 -" \
    >>"$RIG/rss"
  agent_stop
  printf '.'
done
echo

OUT=$BENCH_OUT/rss-$(date +%Y%m%d-%H%M%S).txt
cp "$RIG/rss" "${OUT%.txt}.raw"
"$PYTHON" - "$RIG/rss" "$RUNS" "$(git -C "$TOP_SRC" describe --always --dirty 2>/dev/null)" <<'EOF' | tee "$OUT"
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def med(kind, col):
    xs = [int(r[col]) for r in rows if r[0] == kind and r[col] != "-"]
    return statistics.median(xs) if xs else None
print(f"# rss.sh: {sys.argv[2]} runs, OpenSC's module, then SoftHSM2's, signetd {sys.argv[3]}; medians in kB")
print("%-46s %9s %9s %9s %9s %7s %9s" % ("", "VmRSS", "VmHWM", "RssAnon", "RssFile", "threads", "Pss"))
for kind, name in (("idle", "signetd idle (no card)"),
                   ("after-card", "signetd idle after a card came and went"),
                   ("idle-softhsm", "signetd idle, SoftHSM2 (a token listed)"),
                   ("glib-dbus-client", "reference: bare GLib D-Bus client (signal-stamp)")):
    print("%-46s %9s %9s %9s %9s %7s %9s" % (name, *(("%d" % med(kind, c)) for c in range(1, 7))))
for kind, name in (("ref-nocard", "reference: pkcs11-tool --list-slots, no card"),
                   ("ref-card", "reference: pkcs11-tool --list-slots, card in"),
                   ("ref-softhsm", "reference: pkcs11-tool --list-slots, SoftHSM2")):
    print("%-46s %9s %9d" % (name, "-", med(kind, 1)))
idle, hwm = med("idle", 1), med("idle", 2)
print("signetd VmRSS idle: %.1f MB; VmHWM %.1f MB; after a card %.1f MB (VmHWM %.1f MB)" % (
    idle / 1024, hwm / 1024, med("after-card", 1) / 1024, med("after-card", 2) / 1024))
print("ratio signetd VmRSS idle / pkcs11-tool peak (no card): %.2f; / bare GLib D-Bus client: %.2f" % (
    idle / med("ref-nocard", 1), idle / med("glib-dbus-client", 1)))
soft = med("idle-softhsm", 1)
print("signetd VmRSS idle with SoftHSM2: %.1f MB; / pkcs11-tool peak with SoftHSM2: %.2f" % (
    soft / 1024, soft / med("ref-softhsm", 1)))
print("target: VmRSS idle under 15 MB: OpenSC %s, SoftHSM2 %s" % (
    "MET" if idle < 15 * 1024 else "NOT MET", "MET" if soft < 15 * 1024 else "NOT MET"))
EOF
echo "# results in $OUT"
