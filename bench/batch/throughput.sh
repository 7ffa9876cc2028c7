#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# bench/batch/throughput.sh: tokens per hour of `signet batch activate`
# against the same tokens activated one after another with `signet
# activate`, in the same run (issue 15).
#
#   BUILDDIR=/tmp/build-bench bench/batch/throughput.sh [RUNS] [N…]   (3; 1 4 16)
#
# In the rig of bench/ops/rig.sh, the tokens behind the PKCS#11 test shim
# (tests/p11shim: build it with `make -C $BUILDDIR
# tests/p11shim/signet-p11shim.la`), which sleeps KEYGEN_MS (default 5000)
# before every C_GenerateKeyPair, as a card generating its key does;
# SoftHSM2 does the rest. For each run and each N, both ways, the order
# alternating from run to run:
#   serial  N fresh tokens, signetd started (SoftHSM2 shows the tokens there
#           were at C_Initialize) and `signet list`, untimed; then timed: N
#           `signet activate TOKEN --profile signet-test --reference REF
#           --code-fd 3 --pin-fd 4`, one after another (one reader: the
#           reference).
#   batch   N fresh tokens, signetd started, `signet list`, a CSV of N rows
#           written, untimed; then timed: `signet batch activate CSV
#           --profile signet-test --pin-fd 4`, which must end with every
#           row activated (exit 0).
# Then, for memory, MEM_BATCHES (3) batches of the largest N one after
# another in one signetd that sees them all (MEM_BATCHES × N fresh tokens):
# RssAnon at the start and after each batch; it must not grow per token.
# MEM_TOKENS=remote runs SoftHSM2 there in a process of its own (p11-kit
# server, the shim forwarding to p11-kit-client.so): SoftHSM2 keeps every
# object of every token it opened in its memory (a card keeps them on the
# card), which in signetd's process is about 35 kB a token activated; out of
# it, signetd's RssAnon is Signet's own.
# Times: date +%s%N around the commands. signetd's RssAnon
# (/proc/PID/status) is read after each timed part. Printed per N: medians
# of the times, tokens per hour both ways, the ratio batch / (N × the
# one-token rate of the serial runs) (goal ≥ 0.8), RssAnon; raw figures in
# $BENCH_OUT/throughput-DATE.tsv.
# shellcheck source=../ops/rig.sh
. "$(dirname "$0")/../ops/rig.sh"
ops_enter batch-throughput

RUNS=${1:-3}
shift || true
SIZES=${*:-1 4 16}
: "${KEYGEN_MS:=5000}"
SHIM=$BUILDDIR/tests/p11shim/.libs/signet-p11shim.so
P11KIT_CLIENT=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so
[ -f "$SHIM" ] || die "no $SHIM: make -C $BUILDDIR tests/p11shim/signet-p11shim.la"
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$BENCH_OUT/throughput-$STAMP

mkdir -p "$RIG/shim"
export SIGNET_SHIM_STATE=$RIG/shim SIGNET_SHIM_TARGET=$SOFTHSM2_MODULE SIGNET_SHIM_MODEL=softhsm
conf_module "$SHIM"
echo "C_GenerateKeyPair delay $KEYGEN_MS" >"$RIG/shim/fault"

# tokens_fresh N: exactly N fresh tokens, b01…bNN (the agent stopped).
tokens_fresh() {
  local i
  rm -rf "${RIG:?}/tokens" && mkdir -p "$RIG/tokens"
  : >"$RIG/shim/pins"
  for ((i = 1; i <= $1; i++)); do
    softhsm2-util --init-token --free --label "$(printf 'b%02d' "$i")" --pin "$PIN" \
      --so-pin "$SO_PIN" >/dev/null || die "softhsm2-util could not make a token"
  done
}

rss_anon() { awk '/^RssAnon:/ { print $2 }' "/proc/$AGENT_PID/status"; }

# run_serial N: prints "SECONDS_NS RSSANON_KB".
run_serial() {
  local n=$1 i t0 t1
  tokens_fresh "$n"
  for ((i = 1; i <= n; i++)); do
    est_code --subject "CN=Serial $i,O=Signet Test,C=PL"
    printf '%s %s\n' "$REF" "$CODE" >"$RIG/code-$i"
  done
  agent_start
  "$SIGNET" list >/dev/null || die "signet list failed"
  t0=$(now_ns)
  for ((i = 1; i <= n; i++)); do
    read -r REF CODE <"$RIG/code-$i"
    "$SIGNET" activate "$(printf 'b%02d' "$i")" --profile "$PROFILE" --reference "$REF" \
      --code-fd 3 --pin-fd 4 >"$RIG/s.out" 2>&1 3<<EOF 4<<EOF2 || { cat "$RIG/s.out" >&2; die "signet activate failed"; }
$CODE
EOF
$PIN
EOF2
  done
  t1=$(now_ns)
  echo "$((t1 - t0)) $(rss_anon)"
  rm -f "$RIG"/code-*
  agent_stop
}

# csv_fresh FILE N: a CSV of N rows with fresh codes.
csv_fresh() {
  local i
  printf 'reference,code,name,email\n' >"$1"
  chmod 0600 "$1"
  for ((i = 1; i <= $2; i++)); do
    est_code --subject "CN=Batch $i,O=Signet Test,C=PL"
    printf '%s,%s,Batch %s,b%s@example.org\n' "$REF" "$CODE" "$i" "$i" >>"$1"
  done
}

# batch_of CSV N: signet batch activate CSV, which must activate N rows.
batch_of() {
  "$SIGNET" batch activate "$1" --profile "$PROFILE" --pin-fd 4 \
    >"$RIG/b.out" 2>&1 4<<EOF || { cat "$RIG/b.out" >&2; die "signet batch activate failed"; }
$PIN
EOF
  grep -Eq "Batch: $2 rows?: $2 activated" "$RIG/b.out" ||
    { cat "$RIG/b.out" >&2; die "batch of $2: not all activated"; }
}

# run_batch N: prints "SECONDS_NS RSSANON_KB".
run_batch() {
  local n=$1 t0 t1
  tokens_fresh "$n"
  rm -f "$RIG"/state/signet/batch-*.state
  csv_fresh "$RIG/batch.csv" "$n"
  agent_start
  "$SIGNET" list >/dev/null || die "signet list failed"
  t0=$(now_ns)
  batch_of "$RIG/batch.csv" "$n"
  t1=$(now_ns)
  echo "$((t1 - t0)) $(rss_anon)"
  agent_stop
}

# run_memory N K: K batches of N rows, one after another, in one agent that
# sees K × N fresh tokens; prints signetd's RssAnon at the start and after
# each batch.
run_memory() {
  local n=$1 k=$2 j
  tokens_fresh $((n * k))
  rm -f "$RIG"/state/signet/batch-*.state
  if [ "${MEM_TOKENS:-}" = remote ]; then
    token_server_start
    trap token_server_stop EXIT
  fi
  agent_start
  "$SIGNET" list >/dev/null || die "signet list failed"
  rss_anon
  for ((j = 1; j <= k; j++)); do
    csv_fresh "$RIG/mem-$j.csv" "$n"
    batch_of "$RIG/mem-$j.csv" "$n"
    rss_anon
  done
  agent_stop
}

# token_server_start: SoftHSM2 behind a p11-kit server of its own (started
# after the tokens are made, so it sees them all); the shim forwards to it
# (this subshell's environment only).
token_server_start() {
  local i=0
  if ! command -v p11-kit >/dev/null || [ ! -f "$P11KIT_CLIENT" ]; then
    die "MEM_TOKENS=remote needs p11-kit and $P11KIT_CLIENT (apt-get install p11-kit)"
  fi
  rm -f "$RIG/p11kit.sock"
  p11-kit server -f -n "$RIG/p11kit.sock" --provider "$SOFTHSM2_MODULE" "pkcs11:" \
    >/dev/null 2>>"$RIG/p11kit.log" &
  P11KIT_PID=$!
  until [ -S "$RIG/p11kit.sock" ]; do
    if ! kill -0 "$P11KIT_PID" 2>/dev/null || [ $i -ge 100 ]; then die "p11-kit server did not start"; fi
    sleep 0.1
    i=$((i + 1))
  done
  export SIGNET_SHIM_TARGET=$P11KIT_CLIENT P11_KIT_SERVER_ADDRESS=unix:path=$RIG/p11kit.sock
}

token_server_stop() {
  agent_stop
  [ -n "${P11KIT_PID:-}" ] && kill -TERM "$P11KIT_PID" 2>/dev/null && wait "$P11KIT_PID" 2>/dev/null
  P11KIT_PID=
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "# $(describe_build)"
echo "# $RUNS runs, N = $SIZES, key generation delay $KEYGEN_MS ms (shim), $(nproc) CPUs"
printf 'run\tn\tway\tns\trss_anon_kb\n' >"$OUT.tsv"
for ((r = 1; r <= RUNS; r++)); do
  for n in $SIZES; do
    if ((r % 2)); then ways="serial batch"; else ways="batch serial"; fi
    for way in $ways; do
      read -r ns rss < <("run_$way" "$n")
      printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$n" "$way" "$ns" "$rss" >>"$OUT.tsv"
      printf '# run %d N=%-2d %-6s %6.1f s  RssAnon %s kB\n' "$r" "$n" "$way" \
        "$(echo "$ns" | awk '{ print $1 / 1e9 }')" "$rss"
    done
  done
done

# Memory: batches of the largest N one after another in one agent.
: "${MEM_BATCHES:=3}"
mem_n=$(echo "$SIZES" | tr ' ' '\n' | sort -n | tail -n 1)
mem=$(run_memory "$mem_n" "$MEM_BATCHES" | tr '\n' ' ')
printf 'mem\t%s\tbatches\t%s\t%s\n' "$mem_n" "$MEM_BATCHES" "$mem" >>"$OUT.tsv"

# The one-token rate: the serial runs of every N (tokens / second).
one_rate=$(awk -F'\t' 'NR > 1 && $3 == "serial" { print $2 / ($4 / 1e9) }' "$OUT.tsv" | median)
echo
printf '%-4s %12s %12s %14s %14s %10s %12s %12s\n' N "serial (s)" "batch (s)" "serial tok/h" \
  "batch tok/h" "ratio" "RssAnon ser" "RssAnon bat"
for n in $SIZES; do
  s=$(awk -F'\t' -v n="$n" 'NR > 1 && $2 == n && $3 == "serial" { print $4 / 1e9 }' "$OUT.tsv" | median)
  b=$(awk -F'\t' -v n="$n" 'NR > 1 && $2 == n && $3 == "batch" { print $4 / 1e9 }' "$OUT.tsv" | median)
  rs=$(awk -F'\t' -v n="$n" 'NR > 1 && $2 == n && $3 == "serial" { print $5 }' "$OUT.tsv" | median)
  rb=$(awk -F'\t' -v n="$n" 'NR > 1 && $2 == n && $3 == "batch" { print $5 }' "$OUT.tsv" | median)
  awk -v n="$n" -v s="$s" -v b="$b" -v one="$one_rate" -v rs="$rs" -v rb="$rb" 'BEGIN {
    printf "%-4d %12.1f %12.1f %14.0f %14.0f %10.2f %9d kB %9d kB\n",
      n, s, b, n / s * 3600, n / b * 3600, (n / b) / (n * one), rs, rb }'
done | tee "$OUT.txt"
echo "# one-token rate (median of the serial runs): $(awk -v r="$one_rate" 'BEGIN { printf "%.0f", r * 3600 }') tokens/h; ratio = batch tok/h / (N × that); goal ≥ 0.8"
if [ "${MEM_TOKENS:-}" = remote ]; then where="SoftHSM2 in a p11-kit server"; else where="SoftHSM2 in signetd"; fi
echo "# RssAnon of one signetd (kB; $where): at the start, then after each of $MEM_BATCHES batches of $mem_n tokens: $mem"
echo "# raw: $OUT.tsv"
