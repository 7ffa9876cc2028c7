#!/bin/sh
# In-place renewal through the EST test CA on a SoftHSM2 token behind the
# card shim: a certificate activated with Signet is renewed on the same
# token (new key, /simplereenroll authenticated with the current
# certificate), verified with openssl, the old certificate and key removed;
# renewal with the key kept; an expired certificate refused; a renewal the
# CA issues later (202) completed by the agent's poll after a restart; the
# journal and the audit log read back with sqlite3.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
command -v sqlite3 >/dev/null || skip_all "sqlite3 (the command) is not installed"
"$SIGNETD" --version | grep -q 'fault injection: yes' ||
  skip_all "signetd was built without --enable-fault-injection (the test builds have it)"
rig_setup
est_ca_start
DB="$XDG_STATE_HOME/signet/signet.db"
CLOCK="$RIG/now"
# The agent's clock is this file (a test build's hook): restart it reading it.
date +%s >"$CLOCK"
export SIGNET_FAKE_NOW="$CLOCK"
agent_stop
agent_start

renew() {
  run signet renew "$TOKEN_LABEL" --pin-fd 4 "$@" 4<<EOF
$PIN
EOF
}
last_json() { tail -n 1 "$RIG/out" >"$RIG/last.json"; }
# leaf_ids: the CKA_IDs of the certificates that are not a CA's (pkcs11-tool).
leaf_ids() {
  "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
    --list-objects --type cert 2>/dev/null | awk '/^Certificate Object/ { c = 1 } c && /ID:/ { print $2; c = 0 }' |
    while read -r id; do
      "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --read-object \
        --type cert --id "$id" -o "$RIG/c.der" >/dev/null 2>&1 &&
        openssl x509 -inform der -in "$RIG/c.der" -noout -ext basicConstraints 2>/dev/null |
        grep -q 'CA:TRUE' || echo "$id"
    done | sort -u
}
# private_ids: the CKA_IDs of the private keys.
private_ids() {
  "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
    --list-objects --type privkey 2>/dev/null | awk '/ID:/ { print $2 }' | sort -u
}
open_ops() { sqlite3 "file:$DB?mode=ro" "select count(*) from operations where state in ('running','issued','pending')"; }

# --- a token with a certificate from the CA, valid 100 days --------------------
date +%s >"$CLOCK"
est_code --subject "CN=Anna Nowak,O=Example,C=PL" --validity-days 100
activate --json
check_rc "activation with a 100-day certificate" 0
last_json
old=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
check_eq "one leaf certificate, with its private key" "$old $old" "$(leaf_ids) $(private_ids)"

# --- renewal in place -------------------------------------------------------------
renew --json
check_rc "signet renew succeeds" 0
last_json
new=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
steps=$("$PYTHON" -c '
import json, sys
print(" ".join(json.loads(l)["step"] for l in open(sys.argv[1]) if json.loads(l).get("event") == "progress"))' "$RIG/out")
check_eq "renew --json: a progress event per step, in order" \
  "check-certificate ca-certificates login ask-ca check-room generate-key request reenroll verify store test-signature remove-old done" "$steps"
check "the renewal has a new key id" test -n "$new" -a "$new" != "$old"
check_eq "the token holds the new certificate and key only: the old ones are gone" \
  "$new $new" "$(leaf_ids) $(private_ids)"
"$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --read-object --type cert \
  --id "$new" -o "$RIG/new.der" >/dev/null 2>&1
check "the new certificate verifies to the CA's root (openssl)" \
  sh -c "openssl verify -CAfile '$ESTCA_DIR/root.pem' -untrusted '$ESTCA_DIR/issuing.pem' '$RIG/new.der' >/dev/null"
check_eq "same subject as before" "subject=C = PL, O = Example, CN = Anna Nowak" \
  "$(openssl x509 -inform der -in "$RIG/new.der" -noout -subject)"
check_eq "the journal has nothing open" 0 "$(open_ops)"
check_eq "the journal entry finished" "finished" \
  "$(sqlite3 "file:$DB?mode=ro" "select state from operations where kind='renew' order by id desc limit 1")"
run signet history "$TOKEN_LABEL" --json
check "history shows the renewal" grep -q '"renew"' "$RIG/out"
check "the PIN is in neither the history nor the database" \
  sh -c "! grep -q '$PIN' '$RIG/out' && ! grep -aq '$PIN' '$DB'"

# --- keep the key (renewal-key=same) -----------------------------------------------
sed -e 's/^renewal-key *=.*$/renewal-key = same/' \
  "$XDG_CONFIG_HOME/signet/profiles.d/signet-test.conf" >"$XDG_CONFIG_HOME/signet/profiles.d/signet-same.conf"
renew --profile signet-same --json
check_rc "renewal keeping the key succeeds" 0
last_json
check_eq "the key is the same and carries one certificate" "$new $new" "$(leaf_ids) $(private_ids)"
"$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --read-object --type cert \
  --id "$new" -o "$RIG/same.der" >/dev/null 2>&1
check "… and it is a new certificate" sh -c "! cmp -s '$RIG/new.der' '$RIG/same.der'"

# --- what /csrattrs asks for: held against the key the renewal sends ---------------
# The agent asks /csrattrs with the current certificate after the login, and
# the test CA refuses (400) a re-enrollment without the key and hash it asked
# for (tests/ca/README.md): a P-384 key, signed with SHA-384.
PROFILES="$XDG_CONFIG_HOME/signet/profiles.d"
progress_steps() {
  "$PYTHON" -c '
import json, sys
print(" ".join(json.loads(l)["step"] for l in open(sys.argv[1]) if json.loads(l).get("event") == "progress"))' "$RIG/out"
}
estca csrattrs ec-p384 >/dev/null
renew --profile signet-test --json
check_rc "the CA asks for an EC P-384 key, the profile makes P-256: refused" 1
last_json
jcheck "… naming both key types and what to do" "$RIG/last.json" \
  '"EC P-384" in d["error"]["message"] and "ec:p256" in d["error"]["message"] and "updated profile" in d["error"]["message"]'
check_eq "… after asking the CA, before any key is made" \
  "check-certificate ca-certificates login ask-ca" "$(progress_steps)"
check_eq "… and the token is unchanged" "$new $new" "$(leaf_ids) $(private_ids)"
check_eq "… and nothing is left open" 0 "$(open_ops)"
renew --profile signet-same
check_rc "keeping the P-256 key: refused as well" 1
check_err "… saying the CA no longer accepts the current key" 'keeps the current key.*EC P-384'
check_eq "… and the token is unchanged" "$new $new" "$(leaf_ids) $(private_ids)"
sed 's/^key-type *=.*/key-type=ec:p384/' "$PROFILES/signet-test.conf" >"$PROFILES/p384.conf"
renew --profile p384 --json
check_rc "a profile that makes P-384 keys renews (the CA checked the key and SHA-384)" 0
last_json
new=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
"$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --read-object --type cert \
  --id "$new" -o "$RIG/p384.der" >/dev/null 2>&1
check "… for a new P-384 key" \
  sh -c "openssl x509 -inform DER -in '$RIG/p384.der' -noout -text | grep -q 'NIST CURVE: P-384'"
sed -e 's/^renewal-key *=.*$/renewal-key = same/' "$PROFILES/p384.conf" >"$PROFILES/p384-same.conf"
renew --profile p384-same --json
check_rc "… and keeping that P-384 key renews too (signed with SHA-384)" 0
check_eq "… under the same key" "$new $new" "$(leaf_ids) $(private_ids)"
estca csrattrs subject >/dev/null

# --- an expired certificate: refused -------------------------------------------------
echo $(($(date +%s) + 200 * 86400)) >"$CLOCK"
renew
check_rc "renewal of an expired certificate is refused (exit 9)" 9
check_err "… saying it expired and what to do" 'expired on .*[Rr]equest a new certificate from your CA'
check_eq "… and the token is unchanged" "$new $new" "$(leaf_ids) $(private_ids)"
# Back to the real clock: the poll below waits for real time to pass.
rm -f "$CLOCK"

# --- pending at the CA, issued on a later poll after a restart ----------------------
estca mode deferred:3 >/dev/null
renew
check_rc "a renewal the CA issues later: exit 7" 7
check_err "… saying the agent asks again" 'asks the CA again'
check_eq "the journal holds the pending renewal" "pending" \
  "$(sqlite3 "file:$DB?mode=ro" "select state from operations where kind='renew' order by id desc limit 1")"
check_eq "the current certificate stays" "$new" "$(leaf_ids)"
agent_stop
estca mode normal >/dev/null
agent_start
wait_until 10 grep -q 'wrote the renewed certificate' "$RIG/agent.log"
check "after a restart the agent polled the CA and wrote the certificate without a PIN" \
  grep -q 'wrote the renewed certificate' "$RIG/agent.log"
check_eq "the journal holds the issued renewal until the PIN finishes it" "issued" \
  "$(sqlite3 "file:$DB?mode=ro" "select state from operations where kind='renew' order by id desc limit 1")"
renew --json
check_rc "signet renew then finishes it" 0
last_json
jcheck "… as a resumed renewal" "$RIG/last.json" 'd["event"] == "renewed" and d["certificate"]["resumed"]'
fin=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
check_eq "one certificate with its key: the renewed one" "$fin $fin" "$(leaf_ids) $(private_ids)"
check_eq "nothing open in the journal" 0 "$(open_ops)"

# --- a strict CA answers a poll only with the client certificate ---------------------
# (RFC 7030 4.2.3; signet-test-ca poll-auth on). The agent's poll has no PIN:
# refused, it stops asking and status tells the holder to renew with the PIN.
estca poll-auth on >/dev/null
estca mode deferred:1 >/dev/null
renew
check_rc "a renewal a strict CA issues later: exit 7" 7
agent_stop
estca mode normal >/dev/null
agent_start
wait_until 10 grep -q 'the holder renews again with the PIN' "$RIG/agent.log"
check "the agent's poll without the PIN is refused by the strict CA" \
  grep -q 'the holder renews again with the PIN' "$RIG/agent.log"
check_eq "the entry stays pending, waiting for the holder" "pending wait-holder" \
  "$(sqlite3 "file:$DB?mode=ro" "select state || ' ' || step from operations where kind='renew' order by id desc limit 1")"
run signet status "$TOKEN_LABEL"
check_rc "signet status" 0
check "… says the CA answers only when asked with the current certificate" \
  grep -q 'answers only when asked with your current certificate' "$RIG/out"
check "… and to renew with the PIN, as a command that works when pasted" \
  grep -Eq "To do: run .signet renew [^ ]+( --cert [0-9a-f]+)?. to finish \(it needs your PIN\)" "$RIG/out"
# The CA's time past the one it gave (its settable clock; its certificates
# start 5 minutes back, so one a minute ahead is valid here now).
estca clock +60s >/dev/null
renew --json
check_rc "signet renew with the PIN asks the CA with the certificate and finishes" 0
estca clock now >/dev/null
last_json
jcheck "… as a resumed renewal" "$RIG/last.json" 'd["event"] == "renewed" and d["certificate"]["resumed"]'
fin=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
check_eq "one certificate with its key: the renewed one" "$fin $fin" "$(leaf_ids) $(private_ids)"
check_eq "nothing open in the journal" 0 "$(open_ops)"
estca poll-auth off >/dev/null

# --- a pending renewal keeps the idle agent until its poll ---------------------------
# An idle time (1 s) shorter than the wait the CA asked for (6 s): without
# the rule the agent would exit idle and the poll never happen.
estca mode deferred:6 >/dev/null
renew
check_rc "another renewal the CA issues later: exit 7" 7
agent_stop
estca mode normal >/dev/null
wrote=$(grep -c 'wrote the renewed certificate' "$RIG/agent.log")
agent_start --idle-timeout 1
wrote_more() { [ "$(grep -c 'wrote the renewed certificate' "$RIG/agent.log")" -gt "$wrote" ]; }
wait_until 20 wrote_more
check "an agent with a 1 s idle time polled the CA at its time and wrote the certificate" wrote_more
grep -q 'idle: a renewal is pending' "$RIG/agent.log" ||
  echo "# the CA's time had passed at the restart: the poll came before the idle time"
tap_done
