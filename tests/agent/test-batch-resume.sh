#!/bin/sh
# signet batch activate (issue 15) interrupted where the CLI cannot help:
#  - kill -9 of the agent while requests are held at the CA (some of them
#    issued, their codes spent, while no agent listens), then a new agent and
#    --resume: every row done exactly once, on the token it was given first
#    (keys and certificates counted per token with pkcs11-tool, certificates
#    issued and codes spent counted at the CA);
#  - every token pulled mid-activation (the shim's `remove` at the first
#    certificate written): the rows are reported waiting for their tokens,
#    stay bound to them (a token that comes with the resume gets none), and
#    once the tokens are back the agent's journal finishes or rolls back each
#    as for a single activation: one key and one certificate per token.
# No sleeps as assertions: every wait is on a log line or a file.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup
est_ca_start

tokens_init() {
  for l in "$@"; do token_init "$l"; done
}
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
# per_token LABEL…: "LABEL:KEYS:CERTS" for each token, one per line.
per_token() {
  for l in "$@"; do echo "$l:$(keys "$l"):$(certs "$l")"; done
}
# code_used REF…: how many of these codes the CA has spent.
code_used() {
  "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1] + "/state.json"))
print(sum(1 for r in sys.argv[2:] if d["codes"].get(r, {}).get("used")))' "$ESTCA_DIR" "$@"
}
# issued_per_ref REF…: the number of certificates the CA issued for each
# reference, space separated ("1 1 1" when each got exactly one).
issued_per_ref() {
  "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1] + "/state.json"))
print(" ".join(str(sum(1 for c in d["issued"].values() if c.get("reference") == r))
               for r in sys.argv[2:]))' "$ESTCA_DIR" "$@"
}
# replayed: how many times the CA answered a request again (replay on).
replayed() {
  "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1] + "/state.json"))
print(sum(c.get("replayed", 0) for c in d["issued"].values()))' "$ESTCA_DIR"
}
# bindings STATE: "LINE=TOKEN" for every row the state file binds, sorted.
bindings() {
  "$PYTHON" -c '
import configparser, sys
c = configparser.ConfigParser(interpolation=None)
c.read(sys.argv[1])
print(" ".join(sorted("%s=%s" % (s[5:], c[s]["token"]) for s in c.sections()
                      if s.startswith("line ") and c[s].get("token"))))' "$1"
}
# report_bindings REPORT.json: the same from a JSON report, with each row's
# status: "LINE=TOKEN:STATUS".
report_bindings() {
  "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(sorted("%d=%s:%s" % (r["line"], r["token_serial"], r["status"])
                      for r in d["rows"] if r["line"])))' "$1"
}
# report_certs REPORT.json: "REFERENCE=CERTIFICATE-SERIAL" of the activated rows.
report_certs() {
  "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(sorted("%s=%s" % (r["reference"], r["certificate_serial"].lower().lstrip("0"))
                      for r in d["rows"] if r["line"] and r["status"] == "activated")))' "$1"
}
# ca_certs REF…: the same from the CA's records.
ca_certs() {
  "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1] + "/state.json"))
print(" ".join(sorted("%s=%s" % (c["reference"], s.lower().lstrip("0"))
                      for s, c in d["issued"].items() if c.get("reference") in sys.argv[2:])))' \
    "$ESTCA_DIR" "$@"
}
# batch ARGS…: signet batch activate with the transport PIN on fd 4.
batch() {
  run signet batch activate "$@" --pin-fd 4 4<<EOF
$PIN
EOF
}
# new_state_file KNOWN…: the batch state file that is none of KNOWN.
new_state_file() {
  for sf in "$XDG_STATE_HOME"/signet/batch-*.state; do
    case " $* " in *" $sf "*) ;; *) [ -e "$sf" ] && echo "$sf" ;; esac
  done
}

# The rig's own token is activated on its own first: the batches skip it.
est_code --subject "CN=Rig Token,O=Signet Test,C=PL"
activate
check_rc "the rig's token is activated on its own first" 0

# --- kill -9 of the agent while requests are held at the CA ---------------------
K_TOKENS="k1 k2 k3 k4 k5 k6"
# shellcheck disable=SC2086
tokens_init $K_TOKENS
agent_stop
agent_start
printf 'reference,code,name,email\n' >"$RIG/kill.csv"
K_REFS=
for i in 1 2 3 4 5 6; do
  est_code --subject "CN=Kill $i,O=Signet Test,C=PL"
  printf '%s,%s,Kill %s,k%s@example.org\n' "$REF" "$CODE" "$i" "$i" >>"$RIG/kill.csv"
  K_REFS="$K_REFS $REF"
done
# The CA holds every request 8 s before it answers (and spends the code):
# the agent is killed once three requests are held there, so those are
# issued while no agent listens, and once no key is being generated: a
# kill in the middle of SoftHSM2's C_GenerateKeyPair can leave an object
# file half written, which no journal can clean up (a card makes its key
# inside the chip).
estca mode slow:8 >/dev/null
ca_from=$(awk 'END { print NR }' "$RIG/estca.log")
agent_from=$(awk 'END { print NR }' "$RIG/agent.log")
# keygens_done: every key generation the agent started has ended (its
# request step announced), and there were six.
keygens_done() {
  awk -v from="$agent_from" 'NR > from && /activate: generate-key:/ { g++ }
    NR > from && /activate: request:/ { r++ } END { exit !(g == 6 && r == g) }' "$RIG/agent.log"
}
held() {
  awk -v from="$ca_from" 'NR > from && /simpleenroll: held/ { n++ } END { print n + 0 }' "$RIG/estca.log"
}
# answered: the held requests the CA has finished with (answered, or found
# the client gone).
answered() {
  awk -v from="$ca_from" 'NR > from && (/simpleenroll [0-9][0-9][0-9]$/ || /simpleenroll: connection lost/) { n++ }
    END { print n + 0 }' "$RIG/estca.log"
}
three_held() { [ "$(held)" -ge 3 ] && keygens_done; }
signet batch activate "$RIG/kill.csv" --profile signet-test --json --pin-fd 4 \
  >"$RIG/kill-1.out" 2>"$RIG/kill-1.err" 4<<EOF &
$PIN
EOF
CLI_PID=$!
if wait_until 120 three_held; then ok "three requests of the batch are held at the CA, no key being generated"; else
  not_ok "three requests of the batch are held at the CA, no key being generated"
  awk '{ print "#   " $0 }' "$RIG/kill-1.out" "$RIG/kill-1.err" | tail -n 20
  tap_done
  exit 1
fi
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=
wait "$CLI_PID"
cli_rc=$?
check "the CLI ends when the agent is gone, not in success (exit $cli_rc)" [ "$cli_rc" -ne 0 ]
check_eq "… saying the agent stopped and how to go on: --resume" 1 \
  "$(grep -c 'agent (signetd) stopped in the middle of the batch.*--resume' "$RIG/kill-1.err")"
grep '"event": *"summary"' "$RIG/kill-1.out" | tail -n 1 >"$RIG/kill-summary.json"
jcheck "… no row failed: those in flight wait for their tokens" "$RIG/kill-summary.json" \
  'd["rows"] == 6 and d["failed"] == 0 and d["waiting"] + d["activated"] == 6 and d["waiting"] >= 3'
check "… each row in flight reported as staying with its token" \
  [ "$(grep -c '"event": *"row".*"status": *"waiting".*agent stopped' "$RIG/kill-1.out")" -ge 3 ]
n_held=$(held)
all_answered() { [ "$(answered)" -ge "$n_held" ]; }
wait_until 60 all_answered
seen_activated=$(grep -c '"event": *"row".*"status": *"activated"' "$RIG/kill-1.out")
# shellcheck disable=SC2086
spent=$(code_used $K_REFS)
check "the CA spent codes whose answers no agent saw ($spent spent, $seen_activated seen)" \
  [ "$spent" -gt "$seen_activated" ]
KSTATE=$(new_state_file)
bound_before=$(bindings "$KSTATE")
check "the state file binds each row started to its token ($bound_before)" \
  [ "$(echo "$bound_before" | wc -w)" -ge 3 ]

# A new agent; the CA answers at once and answers a request it has issued
# for again with the same certificate (replay), as a CA that keeps its
# requests does.
agent_start
estca mode normal >/dev/null
estca replay on >/dev/null
log_from=$(awk 'END { print NR }' "$RIG/agent.log")
batch "$RIG/kill.csv" --profile signet-test --resume --json --report "$RIG/kill.json"
check_rc "--resume after the agent's kill finishes the batch" 0
jcheck "… every row activated, each on a token of its own" "$RIG/kill.json" \
  'len([r for r in d["rows"] if r["line"]]) == 6 and all(r["status"] == "activated" for r in d["rows"] if r["line"]) and len({r["token_serial"] for r in d["rows"] if r["line"]}) == 6'
after=$(report_bindings "$RIG/kill.json")
moved=
for b in $bound_before; do
  case " $after " in *" $b:activated "*) ;; *) moved="$moved $b" ;; esac
done
check_eq "… each row bound before the kill on that same token" "" "$moved"
# shellcheck disable=SC2086
check_eq "one key and one certificate with its chain (3) on every token" \
  "$(for l in $K_TOKENS; do echo "$l:1:3"; done)" "$(per_token $K_TOKENS)"
# shellcheck disable=SC2086
check_eq "the CA issued one certificate per row, never two" "1 1 1 1 1 1" "$(issued_per_ref $K_REFS)"
# shellcheck disable=SC2086
check_eq "… and every code is spent" 6 "$(code_used $K_REFS)"
# shellcheck disable=SC2086
check_eq "the certificates on the tokens are the ones the CA issued" \
  "$(ca_certs $K_REFS)" "$(report_certs "$RIG/kill.json")"
check "the requests issued while the agent was dead were sent again, not made anew (replayed: $(replayed))" \
  [ "$(replayed)" -ge "$((spent - seen_activated))" ]
check "… the new agent resent them from its journal (step resend)" \
  awk -v from="$log_from" 'NR > from && /resend/ { f = 1 } END { exit !f }' "$RIG/agent.log"
run signet history --json
jcheck "the cut-short attempts are in the audit history as interrupted" "$RIG/out" \
  'sum(1 for e in d if e["operation"] == "activate" and e["outcome"] == "interrupted") >= 1'
batch "$RIG/kill.csv" --profile signet-test --resume
check_rc "--resume once more changes nothing" 0
# shellcheck disable=SC2086
check_eq "… no key or certificate more" \
  "$(for l in $K_TOKENS; do echo "$l:1:3"; done)" "$(per_token $K_TOKENS)"
estca replay off >/dev/null

# --- the tokens pulled mid-activation -------------------------------------------
# Four fresh tokens, three rows: one token is left without a row. The shim
# pulls the tokens (all of them: it has one removal state) at the first
# certificate written to a token, i.e. in the store step of the first
# activation, after the CA issued. The CA holds each request 3 s (slow:3),
# so the other rows are waiting for it then and meet the pull at their
# store step too. (Not in key generation: a pull there makes the shim
# close SoftHSM2's sessions while SoftHSM2 generates, which leaves a key
# object without CKA_ID or label that no rollback can tell from another.)
P_TOKENS="p1 p2 p3 p4"
# shellcheck disable=SC2086
tokens_init $P_TOKENS
agent_stop
agent_start
printf 'reference;code;name;email\n' >"$RIG/pull.csv"
P_REFS=
for i in 1 2 3; do
  est_code --subject "CN=Pull $i,O=Signet Test,C=PL"
  printf '%s;%s;Pull %s;p%s@example.org\n' "$REF" "$CODE" "$i" "$i" >>"$RIG/pull.csv"
  P_REFS="$P_REFS $REF"
done
echo 'C_CreateObject remove' >"$SIGNET_SHIM_STATE/fault"
estca mode slow:3 >/dev/null
batch "$RIG/pull.csv" --profile signet-test --json --report "$RIG/pull-1.json"
check_rc "the tokens pulled mid-batch: the batch ends unfinished (exit 1)" 1
check "… the shim pulled them (at the store step)" [ -e "$SIGNET_SHIM_STATE/removed" ]
grep '"event": *"summary"' "$RIG/out" | tail -n 1 >"$RIG/pull-summary.json"
jcheck "… summary: 3 rows, all waiting for their tokens, none failed or activated" \
  "$RIG/pull-summary.json" \
  'd["rows"] == 3 and d["waiting"] == 3 and d["failed"] == 0 and d["activated"] == 0'
check_eq "… each row reported as waiting for its token to come back" 3 \
  "$(grep -c '"event": *"row".*"status": *"waiting".*went away' "$RIG/out")"
check_err "… and the way on named: --resume" "3 rows wait for a token.*--resume"
jcheck "… the report shows each row bound to a token, waiting" "$RIG/pull-1.json" \
  'all(r["status"] == "waiting" and r["token_serial"] for r in d["rows"] if r["line"])'
PSTATE=$(new_state_file "$KSTATE")
pull_bound=$(bindings "$PSTATE")
check_eq "… and so does the state file (3 rows, 3 tokens)" "3 3" \
  "$(echo "$pull_bound" | wc -w) $(echo "$pull_bound" | tr ' ' '\n' | cut -d= -f2 | sort -u | wc -l)"
# shellcheck disable=SC2086
check_eq "the CA issued for every row before the pull (codes spent)" 3 "$(code_used $P_REFS)"
estca mode normal >/dev/null

# The tokens come back (the fault is gone) and the agent sees them again.
rm -f "$SIGNET_SHIM_STATE/fault"
p_back() {
  signet list --json >"$RIG/list.json" 2>/dev/null &&
    [ "$("$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
ts = d if isinstance(d, list) else d.get("tokens", d)
print(sum(1 for t in ts if t.get("label", "").startswith("p")))' "$RIG/list.json")" -eq 4 ]
}
if wait_until 60 p_back; then ok "the tokens are back in the agent's list"; else
  not_ok "the tokens are back in the agent's list"
fi
open_activations=0
for b in $pull_bound; do
  s=${b#*=}
  signet status "$s" --json >"$RIG/st.json" 2>/dev/null
  n=$("$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
d = d[0] if isinstance(d, list) else d
print(sum(1 for a in d.get("activations", []) if a.get("profile") == "signet-test"))' "$RIG/st.json" 2>/dev/null)
  open_activations=$((open_activations + ${n:-0}))
done
check_eq "each row's token shows the half-done activation the agent kept for it" 3 "$open_activations"
log_from=$(awk 'END { print NR }' "$RIG/agent.log")
batch "$RIG/pull.csv" --profile signet-test --resume --json --report "$RIG/pull-2.json"
check_rc "--resume with the tokens back finishes the batch" 0
after=$(report_bindings "$RIG/pull-2.json")
want=$(for b in $pull_bound; do printf '%s:activated ' "$b"; done | sed 's/ $//')
check_eq "… every row on the token it was given first" "$want" "$after"
# The token without a row: bound to no row, and nothing written to it.
left=
for l in $P_TOKENS; do
  s=$(token_serial "$l")
  case " $pull_bound " in *"=$s "*) ;; *) left="$left $l" ;; esac
done
left=${left# }
check_eq "one token had no row" 1 "$(echo "$left" | wc -w)"
check_eq "… and got none at the resume either: no key, no certificate" "$left:0:0" "$(per_token "$left")"
bound_labels=$(for l in $P_TOKENS; do [ "$l" = "$left" ] || echo "$l"; done)
# shellcheck disable=SC2086
check_eq "one key and one certificate with its chain (3) on each token of a row" \
  "$(for l in $bound_labels; do echo "$l:1:3"; done)" "$(per_token $bound_labels)"
# shellcheck disable=SC2086
check_eq "the CA issued one certificate per row (no code sent twice)" "1 1 1" \
  "$(issued_per_ref $P_REFS)"
# shellcheck disable=SC2086
check_eq "the certificates on the tokens are the ones the CA issued" \
  "$(ca_certs $P_REFS)" "$(report_certs "$RIG/pull-2.json")"
check_eq "the agent wrote the certificates it had kept (stage issued), without the CA" 3 \
  "$(awk -v from="$log_from" 'NR > from && /Using the certificate the CA issued earlier/ { n++ }
    END { print n + 0 }' "$RIG/agent.log")"

# --- a pull the module reports as a lost session ----------------------------------
# A module that closed the sessions on removal answers the call in flight
# CKR_SESSION_HANDLE_INVALID, not CKR_DEVICE_REMOVED (the shim: the token
# pulled and that answer, at the key generation). The agent sees the token
# gone and says TokenRemoved: the row waits for its token, it is not failed.
# The one token of this section alone: the shim closes every session of
# SoftHSM2 when it pulls, and a read of another token in flight in another
# thread at that moment crashed SoftHSM2 (once in five runs).
agent_stop
for l in "$TOKEN_LABEL" $K_TOKENS $P_TOKENS; do
  "$SOFTHSM2_UTIL" --delete-token --token "$l" >/dev/null 2>&1 ||
    { echo "Bail out! softhsm2-util could not delete token $l"; exit 1; }
done
tokens_init q1
agent_start
est_code --subject "CN=Lost Session,O=Signet Test,C=PL"
printf 'reference,code,name,email\n%s,%s,Lost Session,q@example.org\n' "$REF" "$CODE" >"$RIG/lost.csv"
printf 'C_GenerateKeyPair remove\nC_GenerateKeyPair error CKR_SESSION_HANDLE_INVALID\n' \
  >"$SIGNET_SHIM_STATE/fault"
batch "$RIG/lost.csv" --profile signet-test --json
check_rc "a session lost to a pull: the batch ends unfinished (exit 1)" 1
grep '"event": *"summary"' "$RIG/out" | tail -n 1 >"$RIG/lost-summary.json"
jcheck "… its row waits for the token, it is not failed" "$RIG/lost-summary.json" \
  'd["rows"] == 1 and d["waiting"] == 1 and d["failed"] == 0'
check "… the agent said the token was removed, naming the module's answer" \
  grep -q 'TokenRemoved: Could not generate the key pair on the token (CKR_SESSION_HANDLE_INVALID). The token is no longer in its slot' "$RIG/agent.log"
rm -f "$SIGNET_SHIM_STATE/fault"
q_back() { signet status "$(token_serial q1)" >/dev/null 2>&1; }
wait_until 60 q_back
batch "$RIG/lost.csv" --profile signet-test --resume
check_rc "… back, --resume activates it" 0
check_eq "… one key and one certificate with its chain" "q1:1:3" "$(per_token q1)"

tap_done
