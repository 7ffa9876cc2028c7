#!/bin/sh
# signet batch activate --wait (issue 15) with a token pulled in the middle
# of its activation and put back, through real PC/SC: the shim's card model
# in a vicc reader of a private pcscd (as test-pulled.sh), the EST test CA.
# The batch's first login is held by the shim while the card leaves the
# reader; the key generation then meets the pulled token. The row waits for
# its token (it is given to no other), the batch keeps running; put back,
# the agent announces the card (TokenAdded), the batch takes the row up on
# the same token and the activation completes: one key pair and one
# certificate on the token, one certificate issued by the CA for the row,
# and the only PIN tries the card saw are right ones, from the one
# transport PIN the batch was given.
# No sleeps as assertions: every wait is on a signal, a log line or a file.
READER_NAME="Signet Test Reader"
. "${top_srcdir:?}/tests/hotplug/hotplug-lib.sh"
hp_enter "$@"
hp_setup_card_model
. "$top_srcdir/tests/estca-lib.sh"
FAULT=$SIGNET_SHIM_STATE/fault
PIN=123456
signals_start
card_insert
agent_start
wait_until 15 signal_seen TokenChanged 1
est_ca_start

# objects CLASS: objects of CLASS on the token (pkcs11-tool, SoftHSM2 directly).
objects() {
  "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
    --list-objects --type "$1" 2>/dev/null | grep -c "^$2 Object"
}
# events KIND [STATUS]: the batch's JSON lines of event KIND (and row STATUS).
events() {
  "$PYTHON" -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    try: d = json.loads(l)
    except ValueError: continue
    if d.get("event") == sys.argv[2] and (len(sys.argv) < 4 or d.get("status") == sys.argv[3]):
        n += 1
print(n)' "$RIG/out" "$@"
}
serial=$("$SIGNET" status "$TOKEN_LABEL" --json 2>/dev/null |
  "$PYTHON" -c 'import json, sys; d = json.load(sys.stdin); print((d[0] if isinstance(d, list) else d)["serial"])')
check "the token is the card model, with a serial" test -n "$serial"
keys_before=$(objects privkey 'Private Key')

est_code --subject "CN=Wait Holder,O=Signet Test,C=PL"
printf 'reference,code,name,email\n%s,%s,Wait Holder,wait@example.org\n' "$REF" "$CODE" \
  >"$RIG/wait.csv"

# The batch's first login waits in the shim while the card is pulled.
echo 'C_Login hold' >"$FAULT"
"$SIGNET" batch activate "$RIG/wait.csv" --profile signet-test --wait --json \
  --report "$RIG/report.json" --pin-fd 4 >"$RIG/out" 2>"$RIG/err" 4<<EOF &
$PIN
EOF
batch_pid=$!
wait_until 30 test -f "$SIGNET_SHIM_STATE/held"
check "the batch's activation is under way (its login held)" grep -qx C_Login "$SIGNET_SHIM_STATE/held"
card_remove
wait_until 15 signal_seen TokenRemoved 1
check_count "PC/SC saw the card go: one TokenRemoved" TokenRemoved 1
echo 'C_GenerateKeyPair remove' >"$FAULT"
row_waits() { [ "$(events row waiting)" -ge 1 ]; }
wait_until 30 row_waits
check "the row waits for its token to come back" \
  grep -q '"status" *: *"waiting".*went away' "$RIG/out"
check "… and the batch goes on waiting (--wait)" kill -0 "$batch_pid"
check_eq "… with nothing made on the token" "$keys_before" "$(objects privkey 'Private Key')"

# Put back: the agent announces it, the batch takes the row up again.
rm -f "$FAULT"
card_insert
batch_done() { ! kill -0 "$batch_pid" 2>/dev/null; }
if wait_until 60 batch_done; then
  wait "$batch_pid"
  check_eq "put back: the batch completes (exit 0)" 0 "$?"
else
  kill -TERM "$batch_pid" 2>/dev/null
  not_ok "put back: the batch completes (exit 0): still running 60 s after the card came back"
fi
check_count "… after the agent announced the card again" TokenAdded 2
check_eq "… one row activated, on the token it was given first" "1 $serial" \
  "$("$PYTHON" -c '
import json, sys
rows = [r for r in json.load(open(sys.argv[1]))["rows"] if r.get("line")]
print(sum(1 for r in rows if r["status"] == "activated"), " ".join(r["token_serial"] for r in rows))' \
    "$RIG/report.json")"
check_eq "one key pair more on the token" "$((keys_before + 1))" "$(objects privkey 'Private Key')"
check_eq "the CA issued one certificate for the row (its code spent once)" 1 \
  "$(estca issued | awk -v r="ref:$REF" '$2 == r { n++ } END { print n + 0 }')"
check "the batch reported the row waiting, then activated" sh -c \
  "[ \"\$(grep -n '\"status\" *: *\"waiting\"' '$RIG/out' | head -n 1 | cut -d: -f1)\" -lt \
     \"\$(grep -n '\"status\" *: *\"activated\"' '$RIG/out' | head -n 1 | cut -d: -f1)\" ]"
check "the PIN tries the card saw are right ones only" sh -c \
  "grep -q ' pin ok ' '$SIGNET_SHIM_STATE/tries' && ! grep -v ' pin ok ' '$SIGNET_SHIM_STATE/tries' | grep -q ."
est_ca_stop
tap_done
