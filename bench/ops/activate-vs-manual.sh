#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119
# bench/ops/activate-vs-manual.sh: wall time of `signet activate` against
# the same work done by hand with the usual tools, in the same run, on
# SoftHSM2 and the EST test CA.
#
#   BUILDDIR=/tmp/build-bench bench/ops/activate-vs-manual.sh [N]   (N=10)
#
# In the rig of rig.sh. N rounds; in each, both ways on a fresh token
# (softhsm2-util --init-token) with a fresh activation code, the order
# alternating from round to round:
#   signet  signetd started for the token (SoftHSM2 shows the tokens there
#           were at C_Initialize) and `signet list` (the agent has read the
#           token, as after an insertion), untimed; then timed:
#           `signet activate TOKEN --profile signet-test --reference REF
#           --code-fd 3 --pin-fd 4`; then, also timed, `signet renew TOKEN
#           --pin-fd 4` (no manual counterpart: a figure of its own).
#   manual  timed, step by step:
#           keygen  pkcs11-tool --keypairgen --key-type EC:prime256v1
#           csr     openssl req -engine pkcs11 -keyform engine (libp11's
#                   engine, libengine-pkcs11-openssl, MODULE_PATH SoftHSM2)
#           enroll  curl to /simpleenroll with the reference and code
#                   (from a config on stdin), the PKCS#7 answer turned into
#                   DER with openssl pkcs7 | openssl x509
#           write   pkcs11-tool --write-object --type cert
# Each round checks that both tokens end with a certificate for their key
# (untimed). Times: date +%s%N around each command. Printed: medians (ms)
# and the ratio signet activate / manual total; raw times in
# $BENCH_OUT/activate-vs-manual-DATE.tsv. The manual way does less than
# `signet activate` (no /cacerts, no /csrattrs, no chain check, no CA
# certificates written, nothing read back): see bench/README.md.
# shellcheck source=rig.sh
. "$(dirname "$0")/rig.sh"
ops_enter activate-vs-manual

N=${1:-10}
ENGINE=/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so
[ -f "$ENGINE" ] || die "no $ENGINE: apt-get install libengine-pkcs11-openssl"
SUBJECT="CN=Bench Holder,O=Signet Test,C=PL"
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$BENCH_OUT/activate-vs-manual-$STAMP
ID=01

cat >"$RIG/openssl-pkcs11.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE
MODULE_PATH = $SOFTHSM2_MODULE
init = 0
[req]
distinguished_name = req_dn
[req_dn]
EOF

p11() { pkcs11-tool --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" "$@"; }

# The manual way; prints "keygen csr enroll write" times in ns.
manual() {
  local t0 t1 t2 t3 t4 url=$EST_URL
  t0=$(now_ns)
  p11 --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --id "$ID" \
    --label "Signet test signature" >"$RIG/m.keygen" 2>&1 || return 1
  t1=$(now_ns)
  OPENSSL_CONF=$RIG/openssl-pkcs11.cnf openssl req -new -engine pkcs11 -keyform engine \
    -key "pkcs11:token=$TOKEN_LABEL;id=%$ID;type=private;pin-value=$PIN" -sha256 \
    -subj "/C=PL/O=Signet Test/CN=Bench Holder" -outform DER -out "$RIG/m.csr" \
    >"$RIG/m.req" 2>&1 || return 1
  t2=$(now_ns)
  base64 "$RIG/m.csr" >"$RIG/m.csr.b64"
  printf 'user = "%s:%s"\n' "$REF" "$CODE" |
    curl -sS --fail -K - --cacert "$ESTCA_DIR/root.pem" -H 'Content-Type: application/pkcs10' \
      --data-binary "@$RIG/m.csr.b64" -o "$RIG/m.p7.b64" "$url/simpleenroll" 2>"$RIG/m.curl" ||
    return 1
  base64 -d "$RIG/m.p7.b64" | openssl pkcs7 -inform DER -print_certs |
    openssl x509 -outform DER -out "$RIG/m.cert.der" 2>>"$RIG/m.curl" || return 1
  t3=$(now_ns)
  p11 --login --pin "$PIN" --write-object "$RIG/m.cert.der" --type cert --id "$ID" \
    --label "Signet test signature" >"$RIG/m.write" 2>&1 || return 1
  t4=$(now_ns)
  echo "$((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $((t4 - t3))"
}

# cert_matches_key: a certificate on the token is for the public key with
# its CKA_ID.
cert_matches_key() {
  local id
  for id in $(p11 --list-objects --type cert 2>/dev/null | awk '/ID:/ { print $2 }'); do
    p11 --read-object --type cert --id "$id" -o "$RIG/c.der" >/dev/null 2>&1 &&
      p11 --read-object --type pubkey --id "$id" -o "$RIG/p.der" >/dev/null 2>&1 &&
      [ "$(openssl x509 -inform DER -in "$RIG/c.der" -noout -pubkey)" = \
        "$(openssl pkey -pubin -inform DER -in "$RIG/p.der")" ] && return 0
  done
  return 1
}

round_signet() {
  local t0 t1 t2
  token_fresh
  est_code --subject "$SUBJECT" --validity-days 100
  agent_start
  "$SIGNET" list >/dev/null || die "signet list failed"
  t0=$(now_ns)
  signet_activate >"$RIG/s.out" 2>&1 || { cat "$RIG/s.out" >&2; die "signet activate failed"; }
  t1=$(now_ns)
  signet_renew >"$RIG/r.out" 2>&1 || { cat "$RIG/r.out" >&2; die "signet renew failed"; }
  t2=$(now_ns)
  agent_stop
  cert_matches_key || die "round $1: the token has no certificate for its key after signet"
  SIGNET_NS="$((t1 - t0)) $((t2 - t1))"
}

round_manual() {
  token_fresh
  est_code --subject "$SUBJECT" --validity-days 100
  MANUAL_NS=$(manual) || {
    cat "$RIG"/m.* >&2 2>/dev/null
    die "round $1: the manual way failed"
  }
  cert_matches_key || die "round $1: the token has no certificate for its key after the manual way"
}

echo "# $N rounds; SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null), OpenSC $(dpkg-query -W -f='${Version}' opensc 2>/dev/null), libp11 engine $(dpkg-query -W -f='${Version}' libengine-pkcs11-openssl 2>/dev/null), $(describe_build)"
echo "# $(nproc) CPUs, $(uname -r), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'round\tfirst\tsignet_activate\tsignet_renew\tkeygen\tcsr\tenroll\twrite\n' >"$OUT.tsv"
for i in $(seq 1 "$N"); do
  if [ $((i % 2)) = 1 ]; then
    round_signet "$i"
    round_manual "$i"
    first=signet
  else
    round_manual "$i"
    round_signet "$i"
    first=manual
  fi
  # shellcheck disable=SC2086 # two and four numbers
  printf '%s\t%s\t%s\t%s\n' "$i" "$first" "$(printf '%s\t' $SIGNET_NS | sed 's/\t$//')" \
    "$(printf '%s\t' $MANUAL_NS | sed 's/\t$//')" >>"$OUT.tsv"
  printf '.'
done
echo

"$PYTHON" - "$OUT" <<'EOF'
import csv, statistics, sys

out = sys.argv[1]
with open(out + ".tsv") as f:
    rows = list(csv.DictReader(f, delimiter="\t"))
ms = lambda key: [int(r[key]) / 1e6 for r in rows]
manual = [sum(int(r[k]) for k in ("keygen", "csr", "enroll", "write")) / 1e6 for r in rows]
signet = ms("signet_activate")
# Per round: the two ways on the same machine a few seconds apart.
per_round = [s / m for s, m in zip(signet, manual)]
q = lambda xs, p: sorted(xs)[min(len(xs) - 1, max(0, round(p * (len(xs) - 1))))]
line = lambda name, xs: "| %s | %.1f | %.1f | %.1f |" % (name, statistics.median(xs), min(xs), max(xs))
lines = [f"rounds: {len(rows)}", "", "| ms | median | min | max |", "|---|---|---|---|",
         line("manual: pkcs11-tool --keypairgen", ms("keygen")),
         line("manual: openssl req (libp11 engine)", ms("csr")),
         line("manual: curl /simpleenroll (+ openssl pkcs7, x509)", ms("enroll")),
         line("manual: pkcs11-tool --write-object", ms("write")),
         line("**manual, total**", manual),
         line("**signet activate**", signet),
         line("signet renew (no manual counterpart)", ms("signet_renew")),
         "",
         "ratio of the medians, signet activate / manual: %.3f" % (
             statistics.median(signet) / statistics.median(manual)),
         "per-round ratio: median %.3f, min %.3f, max %.3f" % (
             statistics.median(per_round), min(per_round), max(per_round))]
with open(out + ".txt", "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
print(f"# raw times (ns): {out}.tsv")
EOF
