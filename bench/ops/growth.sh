#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# bench/ops/growth.sh: does signetd's memory grow with the operations it
# runs?
#
#   BUILDDIR=/tmp/build-bench bench/ops/growth.sh [N]      (N=200)
#
# In the rig of rig.sh (SoftHSM2, the EST test CA, a private session bus):
# one token activated, then N operations against the same running signetd,
# each a `signet renew` (a new key on the token, /simplereenroll, the new
# certificate written, the old one removed) followed by a `signet status`
# and a `signet history --limit 5`. RssAnon, RssFile and VmRSS of signetd
# (/proc/PID/status) are read after 10, 20, 50, 100, … operations. The
# goal (issue 16): RssAnon after 200 operations within 1 MB of after 20.
# shellcheck source=rig.sh
. "$(dirname "$0")/rig.sh"
ops_enter growth

N=${1:-200}
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$BENCH_OUT/growth-$STAMP.txt

kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$AGENT_PID/status"; }

token_fresh
agent_start
"$SIGNET" list >/dev/null || die "signet list failed"
est_code --validity-days 365
signet_activate >/dev/null || die "the activation failed"
{
  echo "# growth.sh: $N renewals (each with a status and a history read) on one signetd"
  echo "# $(describe_build)"
  printf '%10s %10s %10s %10s\n' operations RssAnon_kB RssFile_kB VmRSS_kB
  printf '%10s %10s %10s %10s\n' 0 "$(kb RssAnon)" "$(kb RssFile)" "$(kb VmRSS)"
} | tee "$OUT"
for i in $(seq 1 "$N"); do
  signet_renew >/dev/null 2>"$RIG/renew.err" || die "renewal $i failed: $(cat "$RIG/renew.err")"
  "$SIGNET" status "$TOKEN_LABEL" >/dev/null || die "status $i failed"
  "$SIGNET" history --limit 5 >/dev/null 2>&1 || die "history $i failed"
  case $i in
    10 | 20 | 50 | *00 | "$N")
      printf '%10s %10s %10s %10s\n' "$i" "$(kb RssAnon)" "$(kb RssFile)" "$(kb VmRSS)" | tee -a "$OUT"
      ;;
  esac
done
"$PYTHON" - "$OUT" <<'EOF' | tee -a "$OUT"
import sys
rows = {int(l.split()[0]): int(l.split()[1]) for l in open(sys.argv[1])
        if l.strip() and not l.startswith("#") and l.split()[0].isdigit()}
last = max(rows)
if 20 in rows and last > 20:
    d = rows[last] - rows[20]
    print("RssAnon after %d operations - after 20: %+d kB (%+.2f kB per operation; goal: within 1024 kB)"
          % (last, d, d / (last - 20)))
EOF
echo "results in $OUT"
