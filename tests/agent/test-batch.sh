#!/bin/sh
# signet batch activate (issue 15): a group activation from a CSV of
# holders on several SoftHSM2 tokens through the EST test CA.
#  - a bad CSV is refused before anything starts, every problem with its line;
#  - a batch pairs tokens and rows (the serial column, else file order), skips
#    a token that already holds a certificate of the profile, fails only the
#    row of a used or an expired code, and reports every row (CSV and JSON);
#  - the same CSV again is refused without --resume;
#  - kill -9 of the CLI mid-batch, then --resume: every row done exactly once
#    (certificates counted with pkcs11-tool, codes spent at the CA);
#  - every activation is in the agent's audit history.
# No sleeps: the CA's settable clock and wait_until.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup
est_ca_start

# tokens_init LABEL…: fresh tokens (the agent sees them after a restart).
tokens_init() {
  for l in "$@"; do token_init "$l"; done
}
serial_of() { token_serial "$1"; }
# certs LABEL: certificate objects on a token (pkcs11-tool, SoftHSM2 directly).
certs() {
  "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$1" --list-objects --type cert \
    2>/dev/null | grep -c '^Certificate Object'
}
# keys LABEL: private keys on a token.
keys() {
  "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$1" --login --pin "$PIN" \
    --list-objects --type privkey 2>/dev/null | grep -c '^Private Key Object'
}
# total_certs, total_keys: over every token the batches may use (rows
# without a serial go to whichever free token comes first).
ALL_LABELS="b1 b2 b3 b4 b5 b6 b7 b8"
total_certs() {
  local n=0 l
  for l in $ALL_LABELS; do n=$((n + $(certs "$l"))); done
  echo "$n"
}
total_keys() {
  local n=0 l
  for l in $ALL_LABELS; do n=$((n + $(keys "$l"))); done
  echo "$n"
}
# code_used REF…: how many of these codes the CA has used.
code_used() {
  "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1] + "/state.json"))
print(sum(1 for r in sys.argv[2:] if d["codes"].get(r, {}).get("used")))' "$ESTCA_DIR" "$@"
}
new_row() { # new_row VAR SUBJECT: a fresh code; sets VAR_REF, VAR_CODE
  est_code --subject "$2"
  eval "${1}_REF=\$REF ${1}_CODE=\$CODE"
}
# batch ARGS…: signet batch activate with the transport PIN on fd 4.
batch() {
  run signet batch activate "$@" --pin-fd 4 4<<EOF
$PIN
EOF
}

# --- a bad CSV: refused before anything starts ----------------------------------
cat >"$RIG/bad.csv" <<'EOF'
Reference;Code;Name;E-mail;Serial
R1;C1;Jan Kowalski;jan@example.org;
R1;C2;Ewa Nowak;ewa@example.org;
R3;;Ola Lis;ola@example.org;
R4;C4;Iza Wrona;iza.example.org;
EOF
batch "$RIG/bad.csv" --profile signet-test
check_rc "a bad CSV is refused" 1
check_err "… naming the duplicate reference with both lines" "line 3: reference 'R1' is also on line 2"
check_err "… the missing code" "line 4: the code is missing"
check_err "… and the malformed e-mail" "line 5: 'iza.example.org' is not an e-mail address"
check "… and nothing started: no state file" sh -c "! ls '$XDG_STATE_HOME/signet/'batch-*.state 2>/dev/null"
check "… and no PIN try, no token touched" sh -c "! grep -q 'Activate: token' '$RIG/agent.log'"

# --- the tokens -----------------------------------------------------------------
# The rig's token is activated on its own first, with the code U: the batch
# must skip it; U comes back in the CSV for another row, which fails.
est_code --subject "CN=Already Active,O=Signet Test,C=PL"
U_REF=$REF U_CODE=$CODE
activate
check_rc "the rig's token is activated on its own first" 0
tokens_init b1 b2 b3 b4 b5 b6 b7 b8
agent_stop
agent_start
T0=$SERIAL
B2=$(serial_of b2)
B5=$(serial_of b5)

new_row A "CN=Holder A,O=Signet Test,C=PL"
new_row B "CN=Holder B,O=Signet Test,C=PL"
new_row D "CN=Holder D,O=Signet Test,C=PL"
new_row F "CN=Holder F,O=Signet Test,C=PL"
new_row G "CN=Holder G,O=Signet Test,C=PL"
new_row H "CN=Holder H,O=Signet Test,C=PL"
# E: a code made 16 days ago by the CA's clock (codes last 15 days).
estca clock -16d >/dev/null
new_row E "CN=Holder E,O=Signet Test,C=PL"
estca clock now >/dev/null

# CRLF, a quoted name, an unknown column, serials for rows A (b5), D (the
# active token) and H (b2).
printf '%s\r\n' \
  "name,reference,code,email,serial,department" \
  "Holder A,$A_REF,$A_CODE,a@example.org,$B5,\"Sales, North\"" \
  "Holder B,$B_REF,$B_CODE,b@example.org,,IT" \
  "\"Holder \"\"C\"\"\",REF-USED,$U_CODE,c@example.org,,IT" \
  "Holder D,$D_REF,$D_CODE,d@example.org,$T0,IT" \
  "Holder E,$E_REF,$E_CODE,e@example.org,,IT" \
  "Holder F,$F_REF,$F_CODE,f@example.org,,IT" \
  "Holder G,$G_REF,$G_CODE,g@example.org,,IT" \
  "Holder H,$H_REF,$H_CODE,h@example.org,$B2,IT" >"$RIG/holders.csv"
# REF-USED is no reference of the CA: use the real one of the used code.
sed -i "s/REF-USED/$U_REF/" "$RIG/holders.csv"

# The tokens that rows without a serial get, in the agent's order.
signet list --json >"$RIG/list.json"
FREE=$("$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
ts = d if isinstance(d, list) else d.get("tokens", d)
print(" ".join(t["serial"] for t in ts if t["serial"] not in sys.argv[2:]))' "$RIG/list.json" "$T0" "$B2" "$B5")

batch "$RIG/holders.csv" --profile signet-test --report "$RIG/report.csv" --json
check_rc "the batch ends with failures (two rows): exit 1" 1
grep '"event": *"summary"' "$RIG/out" | tail -n 1 >"$RIG/summary.json"
jcheck "summary: 8 rows, 5 activated, 1 skipped, 2 failed, none waiting" "$RIG/summary.json" \
  'd["rows"] == 8 and d["activated"] == 5 and d["skipped"] == 1 and d["failed"] == 2 and d["waiting"] == 0'
check "progress lines carry each row's steps (enroll of line 2)" \
  grep -q '"line": *2,.*"step": *"enroll"' "$RIG/out"

"$PYTHON" - "$RIG/report.csv" "$B5" "$B2" "$T0" $FREE >"$RIG/pairing" <<'EOF'
import csv, sys
rows = {int(r["line"]): r for r in csv.DictReader(open(sys.argv[1], newline="")) if r["line"]}
b5, b2, t0, free = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
bad = []
def want(line, token, status):
    r = rows[line]
    if r["token_serial"] != token or r["status"] != status:
        bad.append("line %d: %s %s, want %s %s" % (line, r["token_serial"], r["status"], token, status))
want(2, b5, "activated")
want(9, b2, "activated")
want(5, t0, "skipped")
# rows without a serial, in file order, on the free tokens in the agent's order
for line, token in zip([3, 4, 6, 7, 8], free):
    want(line, token, {4: "failed", 6: "failed"}.get(line, "activated"))
if "used" not in rows[4]["reason"]: bad.append("line 4 reason: " + rows[4]["reason"])
if "expired" not in rows[6]["reason"]: bad.append("line 6 reason: " + rows[6]["reason"])
if rows[2]["department"] != "Sales, North": bad.append("unknown column not copied")
if rows[2]["subject"] != "CN=Holder A,O=Signet Test,C=PL": bad.append("subject " + rows[2]["subject"])
if not rows[2]["certificate_serial"] or not rows[2]["not_after"]: bad.append("no certificate in report")
print("\n".join(bad) if bad else "ok")
EOF
check_eq "pairing: serial column first, then file order; statuses and reasons in the report" ok "$(cat "$RIG/pairing")"

n=0
for l in b1 b2 b3 b4 b5 b6 b7 b8; do n=$((n + $(certs "$l"))); done
check_eq "5 tokens hold a certificate and its chain (3 certificates each), the others none" 15 "$n"
check_eq "the skipped token still has its one certificate and chain" 3 "$(certs "$TOKEN_LABEL")"
check_eq "codes spent at the CA: the 5 activated rows and the earlier one (U)" 6 \
  "$(code_used "$A_REF" "$B_REF" "$D_REF" "$E_REF" "$F_REF" "$G_REF" "$H_REF" "$U_REF")"
check_eq "… not the skipped row's code, not the expired one" 0 "$(code_used "$D_REF" "$E_REF")"
! grep -q -- "$A_CODE\|$PIN\b" "$XDG_STATE_HOME"/signet/batch-*.state
check "the state file holds neither a code nor the PIN" [ $? -eq 0 ]
check "the report holds no code" sh -c "! grep -q -- '$A_CODE' '$RIG/report.csv'"

run signet history --json
jcheck "every activated row is in the agent's audit history" "$RIG/out" \
  'sum(1 for e in d if e["operation"] == "activate" and e["outcome"] == "ok") >= 6'
jcheck "… and so are the failed ones" "$RIG/out" \
  'sum(1 for e in d if e["operation"] == "activate" and e["outcome"] != "ok") >= 2'

batch "$RIG/holders.csv" --profile signet-test
check_rc "the same CSV again without --resume is refused" 2
check_err "… with a message naming --resume" "--resume"

# --- kill -9 of the CLI mid-batch, then --resume --------------------------------
# Labels that are no prefix of one another: pkcs11-tool --token-label
# matches a prefix.
C_TOKENS="c01 c02 c03 c04 c05 c06 c07 c08 c09 c10 c11 c12"
ALL_LABELS="$ALL_LABELS $C_TOKENS"
# shellcheck disable=SC2086
tokens_init $C_TOKENS
agent_stop
agent_start
printf 'reference,code,name,email\n' >"$RIG/second.csv"
REFS=
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
  est_code --subject "CN=Second $i,O=Signet Test,C=PL"
  printf '%s,%s,Second %s,s%s@example.org\n' "$REF" "$CODE" "$i" "$i" >>"$RIG/second.csv"
  REFS="$REFS $REF"
done
# The CA holds each enrollment until released: the CLI is killed while
# activations are in flight.
before_hist=$(signet history --json | "$PYTHON" -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if e["operation"] == "activate"))')
estca mode slow:2 >/dev/null
log_from=$(awk 'END { print NR }' "$RIG/agent.log")
signet batch activate "$RIG/second.csv" --profile signet-test --json --pin-fd 4 \
  >"$RIG/second.out" 2>&1 4<<EOF &
$PIN
EOF
CLI_PID=$!
in_flight() { grep -q '"step": *"enroll"' "$RIG/second.out"; }
wait_until 60 in_flight
if in_flight; then ok "the second batch reached a CA enrollment"; else
  not_ok "the second batch reached a CA enrollment"
  awk '{ print "#   " $0 }' "$RIG/second.out"
  tap_done
  exit 1
fi
kill -9 "$CLI_PID"
wait "$CLI_PID" 2>/dev/null
estca mode normal >/dev/null
# The agent finishes what it started without the CLI: wait for its audit.
finished() {
  signet history --json >"$RIG/h.json" 2>/dev/null
  [ "$("$PYTHON" -c '
import json, sys
print(sum(1 for e in json.load(open(sys.argv[1])) if e["operation"] == "activate"))' "$RIG/h.json")" -ge "$1" ]
}
n_started=$(awk -v from="$log_from" 'NR > from && /Activate: token .* is now busy/ { n++ }
  END { print n + 0 }' "$RIG/agent.log")
wait_until 120 finished "$((before_hist + n_started))"
# Parallel: while the CA held the first request (slow:2), others reached it.
overlap=$(awk -v from="$log_from" 'NR > from && /activate: enroll:/ { n++ }
  NR > from && /activate: verify:/ { print n; exit }' "$RIG/agent.log")
check "activations run in parallel: several requests at the CA at once ($overlap)" \
  [ "${overlap:-0}" -ge 2 ]

batch "$RIG/second.csv" --profile signet-test --resume --report "$RIG/second.json"
check_rc "--resume finishes the batch" 0
# The rows go to the free tokens: the three b tokens the first batch left
# fresh, then c tokens. The others are reported as skipped.
jcheck "every row activated, each on its own token; the tokens done before skipped" \
  "$RIG/second.json" \
  'len([r for r in d["rows"] if r["line"]]) == 12 and all(r["status"] == "activated" for r in d["rows"] if r["line"]) and len({r["token_serial"] for r in d["rows"] if r["line"]}) == 12 and all(r["status"] == "skipped" for r in d["rows"] if not r["line"])'
all_certs() {
  local n=0
  for l in b1 b2 b3 b4 b5 b6 b7 b8 $C_TOKENS; do n=$((n + $(certs "$l"))); done
  echo "$n"
}
k=0
for l in b1 b2 b3 b4 b5 b6 b7 b8 $C_TOKENS; do k=$((k + $(keys "$l"))); done
check_eq "exactly one certificate (and chain) per activated token: 17 tokens, none activated twice" \
  51 "$(all_certs)"
check_eq "exactly one key pair per activated token" 17 "$k"
# shellcheck disable=SC2086
check_eq "each code spent once" 12 "$(code_used $REFS)"
batch "$RIG/second.csv" --profile signet-test --resume
check_rc "--resume of a finished batch changes nothing" 0
check_eq "… no certificate more" 51 "$(all_certs)"

# --- a CA answer lost: the rows fail, --resume finishes them on the same tokens --
# The CA issues (and spends the code) but its answer is cut short: the agent
# keeps key and request (stage "sent"). --resume sends the same request
# again on the same token; the CA (replay on) gives the same certificate.
tokens_init d01 d02
ALL_LABELS="$ALL_LABELS d01 d02"
certs_before=$(total_certs)
keys_before=$(total_keys)
agent_stop
agent_start
printf 'reference;code;name;email\n' >"$RIG/third.csv"
D_REFS=
for i in 1 2; do
  est_code --subject "CN=Third $i,O=Signet Test,C=PL"
  printf '%s;%s;Third %s;t%s@example.org\n' "$REF" "$CODE" "$i" "$i" >>"$RIG/third.csv"
  D_REFS="$D_REFS $REF"
done
estca mode truncated >/dev/null
batch "$RIG/third.csv" --profile signet-test --report "$RIG/third-1.json"
check_rc "answers cut short: the rows fail" 1
jcheck "… both rows failed, each bound to a token" "$RIG/third-1.json" \
  'sum(1 for r in d["rows"] if r["line"] and r["status"] == "failed" and r["token_serial"]) == 2'
estca mode normal >/dev/null
estca replay on >/dev/null
batch "$RIG/third.csv" --profile signet-test --resume --report "$RIG/third-2.json"
check_rc "--resume finishes them" 0
"$PYTHON" -c '
import json, sys
a = {r["line"]: r["token_serial"] for r in json.load(open(sys.argv[1]))["rows"] if r["line"]}
b = {r["line"]: (r["token_serial"], r["status"]) for r in json.load(open(sys.argv[2]))["rows"] if r["line"]}
print("ok" if all(b[l] == (a[l], "activated") for l in a) and len(a) == 2 else (a, b))' \
  "$RIG/third-1.json" "$RIG/third-2.json" >"$RIG/third.check"
check_eq "… each row on the token it was given first, never another" ok "$(cat "$RIG/third.check")"
check_eq "… one certificate and chain on each" $((certs_before + 6)) "$(total_certs)"
check_eq "… one key pair on each (the kept one)" $((keys_before + 2)) "$(total_keys)"
issued_third() {
  "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1] + "/state.json"))
print(sum(1 for c in d["issued"].values() if "Third" in json.dumps(c)))' "$ESTCA_DIR"
}
check_eq "… and the CA issued each once (codes spent once)" 2 "$(issued_third)"

# --- a wrong transport PIN: one try on one token, then the batch stops ----------
tokens_init e01 e02 e03
ALL_LABELS="$ALL_LABELS e01 e02 e03"
certs_before=$(total_certs)
agent_stop
agent_start
printf 'reference,code,name,email\n' >"$RIG/fourth.csv"
for i in 1 2 3; do
  est_code --subject "CN=Fourth $i,O=Signet Test,C=PL"
  printf '%s,%s,Fourth %s,f%s@example.org\n' "$REF" "$CODE" "$i" "$i" >>"$RIG/fourth.csv"
done
check_tries "the PIN tries so far"
run signet batch activate "$RIG/fourth.csv" --profile signet-test --pin-fd 4 4<<EOF
654321
EOF
check_rc "a wrong transport PIN stops the batch" 1
check_err "… saying so and naming --resume" "transport PIN was refused.*--resume"
expect_try pin wrong 1
check_tries "… after one wrong try on one token only"
batch "$RIG/fourth.csv" --profile signet-test --resume
check_rc "--resume with the right PIN does the rows" 0
check_eq "… each token one certificate and chain" $((certs_before + 9)) "$(total_certs)"

# --- twenty holders on twenty tokens ---------------------------------------------
# The issue's batch: 20 rows, four of them naming their token's serial (in
# an order of their own), the sixteen others in file order on the free
# tokens (those without a certificate: twenty new ones, and those the
# failed rows above left), in the agent's order. Every row activated on its
# token, one key and one certificate with its chain each, twenty codes
# spent once, the report's certificates the CA's.
T_TOKENS="t01 t02 t03 t04 t05 t06 t07 t08 t09 t10 t11 t12 t13 t14 t15 t16 t17 t18 t19 t20"
ALL_LABELS="$ALL_LABELS $T_TOKENS"
# shellcheck disable=SC2086
tokens_init $T_TOKENS
agent_stop
agent_start
PINNED="t20 t05 t17 t11"
FREE_LABELS=
for l in $ALL_LABELS; do [ "$(certs "$l")" -eq 0 ] && FREE_LABELS="$FREE_LABELS $l"; done
printf 'reference;code;name;email;serial\n' >"$RIG/twenty.csv"
T_REFS=
i=0
for l in $PINNED - - - - - - - - - - - - - - - -; do
  i=$((i + 1))
  est_code --subject "CN=Twenty $i,O=Signet Test,C=PL"
  serial=
  [ "$l" = - ] || serial=$(serial_of "$l")
  printf '%s;%s;Twenty %s;t%s@example.org;%s\n' "$REF" "$CODE" "$i" "$i" "$serial" >>"$RIG/twenty.csv"
  T_REFS="$T_REFS $REF"
done
signet list --json >"$RIG/list.json"
# The rows' tokens, "SERIAL=LABEL" in line order: those named, then the
# first sixteen free ones in the agent's order.
WANT=$("$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
ts = d if isinstance(d, list) else d.get("tokens", d)
by_label = {t["label"]: t["serial"] for t in ts}
pinned, free = sys.argv[2].split(), sys.argv[3].split()
rest = [t["label"] for t in ts if t["label"] in free and t["label"] not in pinned][:16]
print(" ".join("%s=%s" % (by_label[l], l) for l in pinned + rest))' "$RIG/list.json" "$PINNED" "$FREE_LABELS")
WANT_SERIALS=$(echo "$WANT" | tr ' ' '\n' | cut -d= -f1 | tr '\n' ' ')
WANT_LABELS=$(echo "$WANT" | tr ' ' '\n' | cut -d= -f2 | tr '\n' ' ')
check_eq "twenty tokens free for the twenty rows" 20 "$(echo "$WANT_LABELS" | wc -w)"
batch "$RIG/twenty.csv" --profile signet-test --report "$RIG/twenty.json"
check_rc "a batch of twenty holders succeeds" 0
jcheck "… twenty rows activated, each on the token the serial column or file order gives it" \
  "$RIG/twenty.json" \
  '[r["token_serial"] for r in sorted((r for r in d["rows"] if r["line"]), key=lambda r: r["line"])] == "'"$WANT_SERIALS"'".split() and all(r["status"] == "activated" for r in d["rows"] if r["line"])'
per_token=
for l in $WANT_LABELS; do per_token="$per_token $(keys "$l"):$(certs "$l")"; done
check_eq "… one key and one certificate with its chain (3) on each of those tokens" \
  "$(for l in $WANT_LABELS; do printf ' 1:3'; done)" "$per_token"
# shellcheck disable=SC2086
check_eq "… twenty codes spent at the CA" 20 "$(code_used $T_REFS)"
check "… the report's certificates are the CA's, one per reference" "$PYTHON" -c '
import json, sys
rep = json.load(open(sys.argv[1]))
ca = json.load(open(sys.argv[2] + "/state.json"))["issued"]
got = sorted(r["certificate_serial"].lower().lstrip("0") for r in rep["rows"] if r["line"])
want = sorted(s.lower().lstrip("0") for s, c in ca.items() if "Twenty" in json.dumps(c))
sys.exit(0 if got == want and len(got) == 20 else 1)' "$RIG/twenty.json" "$ESTCA_DIR"

# --- Ctrl-C, then --resume ---------------------------------------------------------
# The first row's login is held in the shim (until the PIN is proven the
# batch starts one row), the CLI gets SIGINT: it starts nothing more, waits
# for the row running, says how to go on; --resume does the other rows.
I_TOKENS="i01 i02 i03 i04"
ALL_LABELS="$ALL_LABELS $I_TOKENS"
# shellcheck disable=SC2086
tokens_init $I_TOKENS
agent_stop
agent_start
printf 'reference,code,name,email\n' >"$RIG/ctrlc.csv"
I_REFS=
for i in 1 2 3 4; do
  est_code --subject "CN=Interrupted $i,O=Signet Test,C=PL"
  printf '%s,%s,Interrupted %s,i%s@example.org\n' "$REF" "$CODE" "$i" "$i" >>"$RIG/ctrlc.csv"
  I_REFS="$I_REFS $REF"
done
certs_before=$(total_certs)
echo 'C_Login hold' >"$SIGNET_SHIM_STATE/fault"
# The binary itself, not the shell function around it, so that $! is its
# pid (it takes SIGINT with its own handler, though started in background).
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$SIGNET" batch activate "$RIG/ctrlc.csv" \
  --profile signet-test --json --pin-fd 4 >"$RIG/ctrlc-1.out" 2>"$RIG/ctrlc-1.err" 4<<EOF &
$PIN
EOF
CLI_PID=$!
wait_until 60 test -f "$SIGNET_SHIM_STATE/held"
check "the batch's first activation is under way (its login held)" \
  grep -qx C_Login "$SIGNET_SHIM_STATE/held"
kill -INT "$CLI_PID"
wait_until 30 grep -q 'Stopping: waiting for the 1 activation running' "$RIG/ctrlc-1.err"
check "Ctrl-C: the CLI waits for the one activation running" \
  grep -q 'Stopping: waiting for the 1 activation running' "$RIG/ctrlc-1.err"
rm -f "$SIGNET_SHIM_STATE/fault"
wait "$CLI_PID"
cli_rc=$?
check "… then ends unfinished (exit $cli_rc)" [ "$cli_rc" -ne 0 ]
check_eq "… saying no new activation was started and naming --resume" 1 \
  "$(grep -c 'Interrupted: no new activation was started. Continue with --resume' "$RIG/ctrlc-1.err")"
grep '"event": *"summary"' "$RIG/ctrlc-1.out" | tail -n 1 >"$RIG/ctrlc-summary.json"
jcheck "… one row activated, the three others not started" "$RIG/ctrlc-summary.json" \
  'd["rows"] == 4 and d["activated"] == 1 and d["failed"] == 0'
# shellcheck disable=SC2086
check_eq "… one code spent" 1 "$(code_used $I_REFS)"
batch "$RIG/ctrlc.csv" --profile signet-test --resume --report "$RIG/ctrlc.json"
check_rc "--resume after Ctrl-C does the rest" 0
jcheck "… every row activated, each on a token of its own" "$RIG/ctrlc.json" \
  'len([r for r in d["rows"] if r["line"]]) == 4 and all(r["status"] == "activated" for r in d["rows"] if r["line"]) and len({r["token_serial"] for r in d["rows"] if r["line"]}) == 4'
check_eq "… four certificates with their chains more, no row twice" $((certs_before + 12)) \
  "$(total_certs)"
# shellcheck disable=SC2086
check_eq "… four codes spent, each once" 4 "$(code_used $I_REFS)"

tap_done
