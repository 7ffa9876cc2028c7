#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# bench/ops/history.sh: `signet history` with a short and a long audit log.
#
#   BUILDDIR=/tmp/build-bench bench/ops/history.sh [RUNS]      (RUNS=20)
#
# In the rig of rig.sh (a private session bus, its own XDG directories),
# signetd's database is filled with sqlite3 to 10 audit rows, then to 10,000
# (one token of 10 rows among 50 tokens), and hyperfine times, RUNS runs
# each after 3 warm-ups, against the same running agent:
#   short      signet history              10 rows
#   long       signet history              10,000 rows
#   print      cat of long's output        the printing itself: the bytes
#                                          of 10,000 rows to a pipe
#   one-token  signet history TOKEN        10 of the 10,000 rows
#   page       signet history --limit 20   the newest 20 of the 10,000
# Each command's output goes to a pipe (| cat >/dev/null), as a holder's
# pager would read it. Figures are medians. The goal (issue 16):
#   long < 2 x short + print              (ratio long / (2 x short + print))
#   one-token and page within 1.5 x short (filtered and limited in SQL)
# shellcheck source=rig.sh
. "$(dirname "$0")/rig.sh"
ops_enter history

RUNS=${1:-20}
command -v hyperfine >/dev/null || die "hyperfine not found (apt-get install hyperfine)"
command -v sqlite3 >/dev/null || die "sqlite3 not found (apt-get install sqlite3)"
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$BENCH_OUT/history-$STAMP
mkdir -p "$OUT"
DB=$XDG_STATE_HOME/signet/signet.db

# fill N: the audit log holds N rows (a minute apart, newest now), over 50
# tokens; token "bench-07" has 10 of them whatever N (N >= 10).
fill() {
  agent_stop
  sqlite3 "$DB" "DELETE FROM audit;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $1)
INSERT INTO audit (time, token_serial, token_label, operation, outcome, detail)
SELECT strftime('%s', 'now') - 60 * i,
       printf('%016x', CASE WHEN i <= 10 THEN 7 ELSE 8 + i % 43 END),
       printf('bench-%02d', CASE WHEN i <= 10 THEN 7 ELSE 8 + i % 43 END),
       CASE i % 4 WHEN 0 THEN 'renew' WHEN 1 THEN 'change-pin' WHEN 2 THEN 'activate'
         ELSE 'import' END,
       CASE i % 3 WHEN 0 THEN 'failed' ELSE 'ok' END,
       CASE i % 3 WHEN 0 THEN 'Wrong PIN for token (2 tries left)' ELSE '' END
FROM c;" || die "sqlite3 could not fill the audit log"
  agent_start
}

# time NAME COMMAND: hyperfine's median of COMMAND, in seconds, into $OUT.
time_it() {
  hyperfine --style none --warmup 3 --runs "$RUNS" --export-json "$OUT/$1.json" "$2" \
    >"$OUT/$1.txt" 2>&1 || die "hyperfine failed on $1 (see $OUT/$1.txt)"
  "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' \
    "$OUT/$1.json"
}

agent_start
"$SIGNET" list >/dev/null || die "signet list failed"
fill 10
[ "$("$SIGNET" history | wc -l)" -eq 11 ] || die "history does not show 10 rows"
short=$(time_it short "'$SIGNET' history | cat >/dev/null")
fill 10000
"$SIGNET" history >"$OUT/long-output.txt"
[ "$(wc -l <"$OUT/long-output.txt")" -eq 10001 ] || die "history does not show 10,000 rows"
long=$(time_it long "'$SIGNET' history | cat >/dev/null")
print=$(time_it print "cat '$OUT/long-output.txt' | cat >/dev/null")
one=$(time_it one-token "'$SIGNET' history bench-07 | cat >/dev/null")
page=$(time_it page "'$SIGNET' history --limit 20 2>/dev/null | cat >/dev/null")
rm -f "$OUT/long-output.txt"

"$PYTHON" - "$short" "$long" "$print" "$one" "$page" <<'EOF' | tee "$OUT/summary.txt"
import sys
short, long_, print_, one, page = map(float, sys.argv[1:])
ms = lambda s: "%.1f ms" % (s * 1000)
print("signet history, medians:")
print("  short (10 rows)           %s" % ms(short))
print("  long (10,000 rows)        %s" % ms(long_))
print("  print (cat of long's)     %s" % ms(print_))
print("  one token (10 of 10,000)  %s   %.2f x short" % (ms(one), one / short))
print("  --limit 20 of 10,000      %s   %.2f x short" % (ms(page), page / short))
print("  long / (2 x short + print) = %.2f   (goal < 1)" % (long_ / (2 * short + print_)))
EOF
describe_build | tee -a "$OUT/summary.txt"
echo
echo "results in $OUT"
