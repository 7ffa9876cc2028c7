#!/bin/sh
# signet history: the agent's audit log through the CLI. After operations
# the agent records (a key generated on a second token, an activation
# through the EST test CA, the same code refused, a wrong PIN, a PIN
# change) `signet history` lists them newest first, filtered by token
# (label or serial), as a table or one JSON array, --limit keeps the
# newest N and --before pages back. The agent's settable clock spaces the
# operations. Neither the output nor the state database (signet.db and its
# WAL) ever holds a PIN or the activation code. Also the CLI's own checks:
# `signet renew` without TOKEN and with a --pin-fd that is not open are
# usage errors (exit 2), and renewing an expired certificate is exit 9
# without asking for the PIN (fake clock of the fault-injection build).
. "${top_srcdir:?}/tests/agent/agent-lib.sh"

rig_setup
# The agent's clock, moved by writing this file (test builds only; no file:
# the real clock). A second token, seen by an agent started after it exists.
export SIGNET_FAKE_NOW="$RIG/fake-now"
OTHER=other-token
agent_stop
token_init "$OTHER"
OTHER_SERIAL=$(token_serial "$OTHER")
agent_start
est_ca_start

# Secrets that must never show: a distinctive new PIN, a wrong PIN, the
# activation code.
NEW_PIN=Qx7PinZ41
WRONG_PIN=Wr0ngPin93
DB_DIR=$XDG_STATE_HOME/signet

# pin_change OLD NEW: signet pin change on the rig's token, secrets on fds.
pin_change() {
  run signet pin change "$TOKEN_LABEL" --pin-fd 3 --new-pin-fd 4 3<<EOF 4<<EOF2
$1
EOF
$2
EOF2
}

# --- CLI checks before any agent work -------------------------------------------
run signet renew
check_rc "signet renew without TOKEN is a usage error" 2
check_err "… that says what it takes" 'renew takes TOKEN'
run signet renew "$TOKEN_LABEL" --pin-fd 87
check_rc "signet renew --pin-fd with a descriptor that is not open: exit 2" 2
check_err "… naming the option" '^signet: --pin-fd 87: '
run signet renew "$TOKEN_LABEL" --pin-fd -4 --json
check_rc "a negative --pin-fd: exit 2" 2
jcheck "… and the JSON error says InvalidArgs" "$RIG/out" \
  'd["error"]["name"] == "io.signet.Error.InvalidArgs"'
run signet history --limit 0
check_rc "history --limit 0 is a usage error" 2
run signet history a b
check_rc "history takes at most one TOKEN" 2

run signet history --json
check_rc "history of a fresh agent succeeds" 0
jcheck "… and is an empty JSON array" "$RIG/out" 'd == []'
run signet history
check "… and the text says nothing was recorded" grep -q '^No operations recorded' "$RIG/out"

# --- operations the agent records ---------------------------------------------
# Each at its own minute of the agent's clock, except the refused activation
# and the wrong PIN, in one second (the page boundary below).
T0=$(date +%s)
echo "$T0" >"$SIGNET_FAKE_NOW"
run signet keygen "$OTHER" --type ec:p256 --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "a key generated on the second token" 0
echo $((T0 + 60)) >"$SIGNET_FAKE_NOW"
est_code --subject "CN=Jan Kowalski,O=Example,C=PL"
activate
check_rc "activation through the test CA" 0
echo $((T0 + 120)) >"$SIGNET_FAKE_NOW"
activate
check_rc "the same activation code again is refused" 1
expect_try pin wrong
pin_change "$WRONG_PIN" "$NEW_PIN"
check_rc "a PIN change with a wrong PIN fails" 3
check_tries "a PIN change with a wrong PIN: one PIN try, no PUK try"
echo $((T0 + 180)) >"$SIGNET_FAKE_NOW"
pin_change "$PIN" "$NEW_PIN"
check_rc "a PIN change with the right PIN" 0
check_tries "a PIN change with the right PIN: no PUK try"
PIN=$NEW_PIN
rm -f "$SIGNET_FAKE_NOW"

# --- the whole log --------------------------------------------------------------
run signet history --json
check_rc "history --json succeeds" 0
cp "$RIG/out" "$RIG/all.json"
check "history --json is one JSON document (python3 -m json.tool)" \
  "$PYTHON" -m json.tool "$RIG/all.json" /dev/null
jcheck "… an array of entries with the documented keys" "$RIG/all.json" \
  'isinstance(d, list) and all(set(e) >= {"time", "token_serial", "token_label", "operation", "outcome", "detail"} for e in d)'
jcheck "… newest first" "$RIG/all.json" \
  'all(d[i]["time"] >= d[i + 1]["time"] for i in range(len(d) - 1))'
got=$("$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join("%s/%s/%s" % (e["token_label"], e["operation"], e["outcome"]) for e in d))' "$RIG/all.json")
check_eq "… every operation, in order, with its outcome" \
  "signet-test/change-pin/ok signet-test/change-pin/failed signet-test/activate/failed signet-test/activate/ok other-token/generate-key/ok" \
  "$got"
jcheck "… each with its token's serial" "$RIG/all.json" \
  "all(e['token_serial'] == ('$SERIAL' if e['token_label'] == 'signet-test' else '$OTHER_SERIAL') for e in d)"
jcheck "… and a failure says why" "$RIG/all.json" \
  'd[1]["detail"] != "" and d[2]["detail"] != ""'

run signet history
check_rc "history (text) succeeds" 0
check "… a header: time, token, operation, outcome, detail" \
  grep -Eq '^TIME +TOKEN +OPERATION +OUTCOME +DETAIL$' "$RIG/out"
check_eq "… a line per entry" 6 "$(wc -l <"$RIG/out")"
check "… newest first: the PIN change on top" \
  sh -c "sed -n 2p '$RIG/out' | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} +signet-test +change-pin +ok'"
check "… the key generation last" \
  sh -c "sed -n 6p '$RIG/out' | grep -Eq ' other-token +generate-key +ok'"
t0=$(jq_ "$RIG/all.json" 'd[0]["time"]')
check_eq "… in local time" "$(date -d "@$t0" '+%Y-%m-%d %H:%M')" \
  "$(sed -n 2p "$RIG/out" | cut -c1-16)"

# --- one token ------------------------------------------------------------------
run signet history "$TOKEN_LABEL" --json
jcheck "history TOKEN (label): only that token's entries" "$RIG/out" \
  'len(d) == 4 and all(e["token_label"] == "signet-test" for e in d)'
run signet history "$OTHER_SERIAL" --json
jcheck "history TOKEN (serial): only that token's entries" "$RIG/out" \
  'len(d) == 1 and d[0]["operation"] == "generate-key"'
run signet history nosuch-token --json
check_rc "history of a token never seen succeeds" 0
jcheck "… with no entry" "$RIG/out" 'd == []'

# --- --limit --------------------------------------------------------------------
run signet history --limit 2 --json
"$PYTHON" -c '
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
sys.exit(0 if b == a[:2] else 1)' "$RIG/all.json" "$RIG/out"
check_eq "history --limit 2: the two newest entries" 0 $?
run signet history "$TOKEN_LABEL" --limit 3 --json
jcheck "history TOKEN --limit 3: the token's three newest" "$RIG/out" \
  '[e["operation"] + "/" + e["outcome"] for e in d] == ["change-pin/ok", "change-pin/failed", "activate/failed"]'
run signet history --limit 1
check_eq "history --limit 1 (text): header and one line" 2 "$(wc -l <"$RIG/out")"

# --- pages: --limit and --before -------------------------------------------------
# A full page ends at a second, so that "older than its last time" (the
# command it prints on stderr) misses nothing: the three pages of --limit 2
# are the whole log, each entry once.
at() { date -d "@$1" '+%Y-%m-%d %H:%M:%S'; }
run signet history --limit 2
check_eq "page 1 of --limit 2: one entry (the next two share a second)" 2 "$(wc -l <"$RIG/out")"
check_eq "… and the command for the older ones on stderr" \
  "Older entries: signet history --before '$(at $((T0 + 180)))'" "$(cat "$RIG/err")"
run signet history --limit 2 --before "$(at $((T0 + 180)))" --json
jcheck "page 2: the two entries of that second" "$RIG/out" \
  '[e["operation"] + "/" + e["outcome"] for e in d] == ["change-pin/failed", "activate/failed"]'
run signet history --limit 2 --before "$(at $((T0 + 180)))"
check_eq "… (text: the same two, and the next command)" \
  "Older entries: signet history --before '$(at $((T0 + 120)))'" "$(cat "$RIG/err")"
run signet history --limit 2 --before "$(at $((T0 + 120)))" --json
jcheck "page 3: the last two" "$RIG/out" \
  '[e["operation"] + "/" + e["outcome"] for e in d] == ["activate/ok", "generate-key/ok"]'
run signet history --limit 2 --before "$(at $((T0 + 120)))"
check_eq "… and no command after the last page" "" "$(cat "$RIG/err")"
run signet history "$TOKEN_LABEL" --before "@$((T0 + 120))" --json
jcheck "--before @SECONDS, for one token" "$RIG/out" \
  '[e["operation"] for e in d] == ["activate"]'
run signet history --before "$(date -d "@$T0" '+%Y-%m-%d')" --json
jcheck "--before a date: older than its midnight (none here)" "$RIG/out" 'd == []'
run signet history --before yesterday-ish
check_rc "--before that is no time: a usage error" 2
check_err "… saying what it takes" 'before takes a time such as'
run signet history "pkcs11:token=$TOKEN_LABEL;serial=$SERIAL" --limit 1 --json
jcheck "a PKCS#11 URI with --limit: the token's newest" "$RIG/out" \
  'len(d) == 1 and d[0]["operation"] == "change-pin" and d[0]["outcome"] == "ok"'

# --- no secret anywhere ---------------------------------------------------------
run signet history --json
cp "$RIG/out" "$RIG/hist.json"
run signet history
cat "$RIG/hist.json" >>"$RIG/out"
for secret in "$NEW_PIN" "$WRONG_PIN" "$CODE" 123456 12345678; do
  check "history output does not contain the secret '$secret'" \
    sh -c "! grep -a -q -F -e '$secret' '$RIG/out'"
done
check "the state database exists" test -s "$DB_DIR/signet.db"
for secret in "$NEW_PIN" "$WRONG_PIN" "$CODE" 123456 12345678; do
  check "signet.db (and its WAL) does not contain the secret '$secret'" \
    sh -c "! cat '$DB_DIR'/signet.db* | grep -a -q -F -e '$secret'"
done

# --- renewal of an expired certificate: exit 9, no PIN asked --------------------
date -u -d '+3 years' +%s >"$SIGNET_FAKE_NOW"
run signet status "$TOKEN_LABEL" --json
if "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if any(c.get("expired") for c in d["certificates"] if c.get("has_key") and not c.get("authority")) else 1)' "$RIG/out"; then
  # No --pin-fd and no terminal: were a PIN asked, this would be exit 2.
  run setsid -w "$SIGNET" renew "$TOKEN_LABEL" </dev/null
  check_rc "renewing an expired certificate: exit 9" 9
  check_err "… saying to request a new certificate from the CA" 'request a new certificate from your CA'
  run setsid -w "$SIGNET" renew "$TOKEN_LABEL" --json </dev/null
  jcheck "… --json: io.signet.Error.CertificateExpired" "$RIG/out" \
    'd["error"]["name"] == "io.signet.Error.CertificateExpired"'
else
  ok "# SKIP renewing an expired certificate: the agent has no fake clock (configure --enable-fault-injection)"
  ok "# SKIP … the message"
  ok "# SKIP … --json"
fi
rm -f "$SIGNET_FAKE_NOW"

tap_done
