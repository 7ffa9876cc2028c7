#!/bin/sh
# Activation and renewal over CMP (RFC 4210) end to end: signetd, the CMP
# connector and the CMP face of the test CA (tests/ca/signet-test-cmp-ca, on
# OpenSSL's CMP server), on a fresh token behind the test shim. An ir
# MAC-protected with the reference number and the activation code, its
# proof of possession signed on the token, gives a certificate that
# verifies to the CA's root; a used, a wrong and an expired code are refused
# in words and leave the token as it was; a request the CA answers
# "waiting" keeps its key until the next try, which completes it, also
# after the agent was killed and started again; a kur
# signed with the current certificate's key on the token renews it in
# place; the CA down is "try later". The same connector seam as EST: the
# agent's engines do not know which protocol they drive.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup
est_ca_start
cmp_ca_start
PROFILE=signet-cmp
export PROFILE

objects() { p11_objects all; }
last_json() { tail -n 1 "$RIG/out" >"$RIG/last.json"; }
# cert_der ID FILE: the token's certificate with CKA_ID ID, DER.
cert_der() {
  "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --read-object \
    --type cert --id "$1" -o "$2" >/dev/null 2>&1
}
verifies() {
  openssl verify -CAfile "$ESTCA_DIR/root.pem" -untrusted "$ESTCA_DIR/issuing.pem" \
    -inform DER "$1" >/dev/null 2>&1 ||
    { openssl x509 -inform DER -in "$1" -out "$1.pem" 2>/dev/null &&
      openssl verify -CAfile "$ESTCA_DIR/root.pem" -untrusted "$ESTCA_DIR/issuing.pem" \
        "$1.pem" >/dev/null 2>&1; }
}

# --- the profile -------------------------------------------------------------
run signet profile show signet-cmp
check_rc "the CMP test CA's profile loads" 0
check "… and names its protocol" grep -qi 'cmp' "$RIG/out"

# --- activation: an ir under the reference number and the code ----------------
est_code --subject "CN=Marie Tremblay,O=Exemple,C=CA"
before=$(objects)
activate --json
check_rc "signet activate through the CMP test CA" 0
last_json
jcheck "… the certificate is the holder's, issued by the test CA" "$RIG/last.json" \
  'd["event"] == "activated" and "Marie Tremblay" in d["certificate"]["subject"]'
id=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
cert_der "$id" "$RIG/first.der"
check "… it verifies to the CA's root (openssl)" verifies "$RIG/first.der"
check "… for the key pair made on the token" test "$(objects)" -gt "$((before + 2))"
estca issued >"$RIG/issued"
check "… and the CA issued it under the reference" grep -q "ref:$REF" "$RIG/issued"
run signet history "$TOKEN_LABEL" --json
jcheck "… the history has the activation" "$RIG/out" \
  'd[0]["operation"] == "activate" and d[0]["outcome"] == "ok"'
check "… and never the code" sh -c "! grep -qF '$CODE' '$RIG/out'"

# --- codes the CA refuses: nothing is left on the token ----------------------------
before=$(objects)
activate
check_rc "the same code again is refused (exit 1)" 1
check_err "… as unknown or already used" 'unknown or already used'
check_eq "… and nothing is written" "$before" "$(objects)"

est_code
good=$CODE
CODE=WRNG-CODE-ABCD-EFGH
activate
check_rc "a wrong code is refused (exit 1)" 1
check_err "… saying the CA did not accept the code" 'activation code'
check_eq "… and nothing is written" "$before" "$(objects)"
CODE=$good

estca clock +16d >/dev/null
activate
check_rc "an expired code is refused (exit 1)" 1
check_err "… saying it expired and to ask for a new one" '[Ee]xpired.*new one'
check_eq "… and nothing is written" "$before" "$(objects)"
estca clock now >/dev/null

# --- waiting: the key and the request wait for the next try ----------------------
est_code
estca mode deferred:30 >/dev/null
activate
check_rc "a request the CA answers 'waiting': exit 7 (it issues later)" 7
check_err "… saying when to run it again" 'will issue the certificate later'
check_eq "… the new key pair stays on the token" "$((before + 2))" "$(objects)"
# The request survives the agent: killed, then started again, the same
# activation sends the journaled request again in a new ir (OpenSSL 3.0
# cannot resume a CMP transaction: docs/internals/cmp.md), for the key
# that waited on the token.
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=
agent_start
run signet status "$TOKEN_LABEL" --json
jcheck "… after kill -9 and a new agent, status shows the activation pending" "$RIG/out" \
  'len(d["activations"]) == 1 and d["activations"][0]["stage"] == "pending"'
estca clock +60s >/dev/null
activate --json
check_rc "after the time the CA gave, the same activation completes" 0
estca clock now >/dev/null
estca mode normal >/dev/null
check_eq "… the CA issued one certificate for the reference" 1 \
  "$(estca issued | awk -v r="ref:$REF" '$2 == r { n++ } END { print n + 0 }')"
check_eq "… with that key pair and its certificate" "$((before + 3))" "$(objects)"
run signet status "$TOKEN_LABEL" --json
jcheck "… and nothing is left unfinished" "$RIG/out" 'd["activations"] == []'

# --- renewal: a kur signed with the current certificate's key on the token --------
run signet renew "$TOKEN_LABEL" --cert "$id" --json --pin-fd 4 4<<EOF
$PIN
EOF
check_rc "signet renew of the first certificate over CMP" 0
last_json
new=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
check "… under a new key" test -n "$new" -a "$new" != "$id"
cert_der "$new" "$RIG/renewed.der"
check "… the new certificate verifies to the CA's root" verifies "$RIG/renewed.der"
check_eq "… with the same subject" \
  "$(openssl x509 -inform DER -in "$RIG/first.der" -noout -subject)" \
  "$(openssl x509 -inform DER -in "$RIG/renewed.der" -noout -subject)"
cert_der "$id" "$RIG/old.der"
check "… and the old certificate is gone" test ! -s "$RIG/old.der"
estca issued >"$RIG/issued"
check "… issued by the CA as a renewal" grep -q 'ref:-' "$RIG/issued"

# --- the CA down -------------------------------------------------------------------
cmp_ca_stop
est_code
before=$(objects)
activate
check_rc "the CMP CA down: exit 8 (try later)" 8
check_eq "… and nothing is written" "$before" "$(objects)"

tap_done
