#!/bin/sh
# Activation through the EST test CA (tests/ca/signet-test-ca), on a fresh
# SoftHSM2 token behind the test shim: profiles listed and shown, one
# command from a fresh token to a verified certificate with its chain, and
# each failure leaving the token as it was (objects counted with
# pkcs11-tool) with a message that says what to do next: a code used twice,
# an expired code, a certificate for another key, CA errors and timeouts, a
# wrong trust anchor, the CA down. A 202 answer keeps key and request until
# the next try; a certificate that could not be written is kept and written
# by the next try without the code.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup
est_ca_start
PROFILES="$XDG_CONFIG_HOME/signet/profiles.d"

objects() { p11_objects all; }
# A JSON-lines output: the last line is the result or the error.
last_json() { tail -n 1 "$RIG/out" >"$RIG/last.json"; }

# --- profiles -----------------------------------------------------------------
printf '[profile]\nprotocol = est\nurl = http://insecure.example/est\n' >"$PROFILES/broken.conf"
run signet profile list
check_rc "profile list succeeds although one profile file is broken" 0
check "profile list shows the test CA's profile" grep -q '^signet-test .*Signet Test CA' "$RIG/out"
check_err "the broken profile is reported with its file and line" 'broken\.conf:3: .*url'
run signet profile list --json
jcheck "profile list --json: profiles and problems" "$RIG/out" \
  '[p["name"] for p in d["profiles"]] == ["signet-test"] and any(p["line"] == 3 and p["file"].endswith("/broken.conf") and p["message"].startswith("url:") for p in d["problems"])'
run signet profile show signet-test --json
jcheck "profile show --json: the settings" "$RIG/out" \
  'd["protocol"] == "est" and d["key_type"] == "ec:p256" and d["subject_from_ca"] and d["url"].startswith("https://127.0.0.1:")'
run signet profile show signet-test
check "profile show: text" grep -q '^Subject: *asked from the CA' "$RIG/out"
run signet profile show nosuch
check_rc "profile show of an unknown profile fails" 1
check_err "… and says where profiles go" "no CA profile named 'nosuch'.*profiles\.d"
rm -f "$PROFILES/broken.conf"

# --- the main job -------------------------------------------------------------
# libcurl (and the twenty libraries it brings) is opened at the first
# request to a CA, not when the agent starts (enroll/signet-curl.h).
curl_mapped() { grep -q 'libcurl\.so' "/proc/$AGENT_PID/maps"; }
check "before any request to a CA the agent has not loaded libcurl" sh -c "! grep -q 'libcurl\.so' /proc/$AGENT_PID/maps"
before=$(objects)
est_code --subject "CN=Jan Kowalski,O=Example,C=PL"
activate --json
check_rc "activate with a fresh code succeeds" 0
check "… and the agent loaded libcurl for it" curl_mapped
last_json
jcheck "activate --json: the certificate issued" "$RIG/last.json" \
  'd["event"] == "activated" and d["certificate"]["subject"] == "CN=Jan Kowalski,O=Example,C=PL" and d["certificate"]["issuer"].startswith("CN=Signet Test Issuing CA") and d["certificate"]["chain_stored"] == 2 and d["certificate"]["days_left"] >= 364'
steps=$("$PYTHON" -c '
import json, sys
print(" ".join(json.loads(l)["step"] for l in open(sys.argv[1]) if json.loads(l).get("event") == "progress"))' "$RIG/out")
check_eq "activate --json: a progress event per step, in order" \
  "check-token ca-certificates subject login generate-key request enroll verify store done" "$steps"
check_eq "the token holds the new key pair, the certificate and the chain (and on the card a public key beside each CA certificate)" \
  "$((before + 5 + $(companion_keys 2)))" "$(objects)"
id=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
"$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --read-object --type cert \
  --id "$id" -o "$RIG/leaf.der" >/dev/null 2>&1
check "the certificate on the token verifies to the CA's root (openssl)" \
  sh -c "openssl verify -CAfile '$ESTCA_DIR/root.pem' -untrusted '$ESTCA_DIR/issuing.pem' '$RIG/leaf.der' >/dev/null"
run signet status "$TOKEN_LABEL" --json
jcheck "status: the certificate with its key, nothing left unfinished" "$RIG/out" \
  'any(c["subject"] == "CN=Jan Kowalski,O=Example,C=PL" and c["has_key"] for c in d["certificates"]) and d["activations"] == []'

# --- failures leave the token as it was ----------------------------------------
before=$(objects)
activate
check_rc "the same code again is refused" 1
check_err "… as unknown or already used" 'unknown or already used'
check_eq "… and nothing is left on the token" "$before" "$(objects)"
run signet status "$TOKEN_LABEL" --json
jcheck "… nor in the state directory" "$RIG/out" 'd["activations"] == []'

est_code
estca clock +16d >/dev/null
activate
check_rc "an expired code is refused" 1
check_err "… saying to ask the CA for a new one" 'expired.*[Aa]sk your CA for a new one'
check_eq "… and nothing is written" "$before" "$(objects)"
estca clock now >/dev/null

est_code
estca mode wrong-key >/dev/null
activate
check_rc "a certificate for another key is refused" 1
check_err "… as such" 'another key'
check_eq "… and nothing is written (the new key is deleted again)" "$before" "$(objects)"

for m in http-500:CaUnavailable:8 http-503:CaUnavailable:8 http-403:CaRefused:1; do
  mode=${m%%:*} rest=${m#*:}
  name=${rest%%:*} code=${rest#*:}
  est_code
  estca mode "$mode" >/dev/null
  activate --json
  check_rc "CA answer $mode: exit $code" "$code"
  last_json
  jcheck "… io.signet.Error.$name" "$RIG/last.json" "d['error']['name'] == 'io.signet.Error.$name'"
  check_eq "… and nothing is written" "$before" "$(objects)"
done
estca mode normal >/dev/null

# --- the request reached the CA, its answer did not come back --------------------
# An answer cut short: the CA may have issued (this one did not: a fault
# mode spends no code). The key and the request stay; the next activation
# sends the same request, never a new one.
est_code
estca mode truncated >/dev/null
activate --json
check_rc "an answer cut short: exit 1" 1
last_json
jcheck "… io.signet.Error.CaResponse, saying the answer did not arrive and to run it again with the same code" "$RIG/last.json" \
  "d['error']['name'] == 'io.signet.Error.CaResponse' and 'answer did not arrive' in d['error']['message'] and 'same reference number and activation code' in d['error']['message']"
check_eq "… the new key pair stays on the token" "$((before + 2))" "$(objects)"
run signet status "$TOKEN_LABEL" --json
jcheck "… status: the request was sent, with its reference, time, fingerprint and why" "$RIG/out" \
  "len(d['activations']) == 1 and d['activations'][0]['stage'] == 'sent' and d['activations'][0]['reference'] == '$REF' and len(d['activations'][0]['request_sha256']) == 95 and d['activations'][0]['sent_at'] and d['activations'][0]['answer_lost']"
kept_id=$(jq_ "$RIG/out" 'd["activations"][0]["id"]')
run signet status "$TOKEN_LABEL"
check "… status in words: what happened and what to run" \
  grep -q "To do: run \`signet activate $TOKEN_LABEL --profile signet-test\` with the same activation code" "$RIG/out"
estca mode normal >/dev/null
run signet activate "$TOKEN_LABEL" --profile signet-test --code-fd 3 --pin-fd 4 3<<EOF 4<<EOF2
$CODE
EOF
$PIN
EOF2
check_rc "the next activation (no --reference: the one it was sent with) completes" 0
check "… saying it sends the same request again" grep -q 'sending the same request again' "$RIG/out"
run signet status "$TOKEN_LABEL" --json
jcheck "… the certificate is for the kept key, and nothing is left unfinished" "$RIG/out" \
  "d['activations'] == [] and any(c['id'] == '$kept_id' and c['has_key'] for c in d['certificates'])"

# A CA that does not answer in time (the profile allows 2 s; the CA issues
# after 3 s, and so spends the code, when nobody listens any more).
before=$(objects)
sed 's/^\[labels\]/[network]\nconnect-timeout = 2\ntimeout = 2\n\n[labels]/' "$ESTCA_DIR/profile.conf" >"$PROFILES/slow.conf"
est_code
estca mode slow:3 >/dev/null
start=$(date +%s)
PROFILE=slow activate
took=$(($(date +%s) - start))
check_rc "a CA that does not answer in time: exit 8 (try later)" 8
check_err "… says the CA did not answer, and that it may have issued the certificate" 'did not answer.*may have issued the certificate'
check "… within the profile's timeout (took ${took}s)" test "$took" -lt 10
check_eq "… and the new key pair stays for the request sent" "$((before + 2))" "$(objects)"
estca mode normal >/dev/null
# The CA issues once its 3 s are over: wait for that, not for a time.
i=0
until estca issued | grep -q " ref:$REF "; do
  [ $i -lt 300 ] || break
  sleep 0.1
  i=$((i + 1))
done
issued=$(estca issued | awk -v r="ref:$REF" '$2 == r { print $1 }')
check "the slow CA issued the certificate (and spent the code) after the agent gave up" test -n "$issued"
PROFILE=slow activate
check_rc "a CA that refuses the used code when the same request comes again: exit 1" 1
check_err "… says the CA may have issued the certificate, and what to tell it" \
  "may have issued your certificate already.*Tell your CA: reference number $REF, request sent on .* UTC, request fingerprint SHA-256 [0-9A-F:]{95}"
check_err "… and how to import it or use a new code" "signet import .* FILE.*new activation code"
check_eq "… the key stays for that certificate" "$((before + 2))" "$(objects)"
run signet history "$TOKEN_LABEL" --json
jcheck "… and the history has both attempts, failed" "$RIG/out" \
  "[e['outcome'] for e in d[:2]] == ['failed', 'failed'] and 'may have issued your certificate' in d[0]['detail']"
estca replay on >/dev/null
PROFILE=slow activate
check_rc "a CA that answers the same request again: the activation completes" 0
run signet status "$TOKEN_LABEL" --json
jcheck "… with the very certificate the CA issued first (serial $issued)" "$RIG/out" \
  "any(c['serial'].lstrip('0') == '$issued'.lstrip('0') and c['has_key'] for c in d['certificates']) and d['activations'] == []"
check_eq "… and the CA issued nothing new" "$issued 1" "$(estca issued | awk -v r="ref:$REF" '$2 == r { print $1, $4 }')"
estca replay off >/dev/null
rm -f "$PROFILES/slow.conf"
before=$(objects)

# TLS verified against the profile's trust anchors only.
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$RIG/other.key" \
  -out "$RIG/other.pem" -days 30 -subj "/CN=Some Other Root" 2>/dev/null
sed "s|^trust-anchors *=.*|trust-anchors = $RIG/other.pem|" "$ESTCA_DIR/profile.conf" >"$PROFILES/wrongroot.conf"
est_code
PROFILE=wrongroot activate --json
check_rc "a server the trust anchors do not vouch for is refused" 1
last_json
jcheck "… as io.signet.Error.CaNotTrusted" "$RIG/last.json" \
  'd["error"]["name"] == "io.signet.Error.CaNotTrusted"'
check_eq "… before anything is written" "$before" "$(objects)"
rm -f "$PROFILES/wrongroot.conf"

# --- 202 Accepted: the key and the request wait for the next try ---------------
est_code
estca mode deferred:2 >/dev/null
activate
check_rc "a deferred answer: exit 7 (the CA issues later)" 7
check_err "… saying when to run it again" 'will issue the certificate later: run the same activation again after'
check_eq "… the new key pair stays on the token" "$((before + 2))" "$(objects)"
run signet status "$TOKEN_LABEL" --json
jcheck "… and status shows the activation pending" "$RIG/out" \
  'len(d["activations"]) == 1 and d["activations"][0]["stage"] == "pending" and d["activations"][0]["retry_at"]'
# Past the time the CA gave, on its settable clock (its certificates start
# 5 minutes back: one a minute ahead is valid here now).
estca clock +60s >/dev/null
activate
check_rc "after the time the CA gave, the same activation completes" 0
estca clock now >/dev/null
check "… saying it sent the same request again" grep -q 'sending the same request again' "$RIG/out"
check_eq "… with one key pair, its certificate (the chain was there)" "$((before + 3))" "$(objects)"
run signet status "$TOKEN_LABEL" --json
jcheck "… and nothing left unfinished" "$RIG/out" 'd["activations"] == []'
estca mode normal >/dev/null

# --- the certificate could not be written: kept, written on the next try -------
before=$(objects)
est_code
echo 'C_CreateObject error CKR_DEVICE_MEMORY' >"$SIGNET_SHIM_STATE/fault"
activate
check_rc "the token refuses to store the certificate: the activation fails" 1
check_err "… saying the certificate is kept and how to finish" 'could not be written to the token.*Signet keeps it; run the same activation again'
run signet status "$TOKEN_LABEL" --json
jcheck "… status shows it issued, waiting to be written" "$RIG/out" \
  'len(d["activations"]) == 1 and d["activations"][0]["stage"] == "issued"'
CODE=not-needed-any-more
activate
check_rc "the next activation writes the kept certificate, without the code" 0
check "… saying so" grep -q 'no activation code needed' "$RIG/out"
check_eq "… the key pair and its certificate are on the token" "$((before + 3))" "$(objects)"
run signet status "$TOKEN_LABEL" --json
jcheck "… and nothing is left unfinished" "$RIG/out" 'd["activations"] == []'

# --- what /csrattrs asks for: held against the profile, then given ------------
# The test CA refuses (400) a request without the key, hash and
# challengePassword its /csrattrs asked for (tests/ca/README.md).
progress_steps() {
  "$PYTHON" -c '
import json, sys
print(" ".join(json.loads(l)["step"] for l in open(sys.argv[1]) if json.loads(l).get("event") == "progress"))' "$RIG/out"
}
before=$(objects)
est_code
estca csrattrs ec-p384 >/dev/null
activate --json
check_rc "the CA asks for an EC P-384 key, the profile makes P-256: refused" 1
last_json
jcheck "… naming both key types and what to do" "$RIG/last.json" \
  '"EC P-384" in d["error"]["message"] and "ec:p256" in d["error"]["message"] and "updated profile" in d["error"]["message"]'
check_eq "… before the token is logged in to (no PIN sent)" \
  "check-token ca-certificates subject" "$(progress_steps)"
check_eq "… and nothing is written" "$before" "$(objects)"
run signet status "$TOKEN_LABEL" --json
jcheck "… nor left unfinished" "$RIG/out" 'd["activations"] == []'

sed 's/^key-type=.*/key-type=ec:p384/' "$PROFILES/signet-test.conf" >"$PROFILES/p384.conf"
PROFILE=p384 activate --json
check_rc "with a P-384 profile the same code activates" 0
last_json
jcheck "… the certificate issued (the CA checked the P-384 key, SHA-384 and the challengePassword)" \
  "$RIG/last.json" 'd["event"] == "activated"'
id=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
"$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --read-object --type cert \
  --id "$id" -o "$RIG/p384.der" >/dev/null 2>&1
check "… for a P-384 key" sh -c "openssl x509 -inform DER -in '$RIG/p384.der' -noout -text | grep -q 'NIST CURVE: P-384'"
run signet history "$TOKEN_LABEL" --json
check "… and the history does not show the code" sh -c "! grep -qF '$CODE' '$RIG/out'"
# The request sent held the code as its challengePassword, base64 in the
# journal's PEM: look for the code's base64 at each of the three offsets.
check "… nor the state database and its WAL, as text or in a request's base64" "$PYTHON" -c '
import base64, glob, sys
code = sys.argv[1].encode()
needles = [code]
for shift in range(3):
    enc = base64.b64encode(b"\0" * shift + code)
    start = (shift * 4 + 2) // 3 + (1 if shift else 0)
    needles.append(enc[start:len(enc) - 4])
data = b"".join(open(f, "rb").read() for f in glob.glob(sys.argv[2] + "*")).replace(b"\n", b"")
sys.exit(1 if any(n and n in data for n in needles) else 0)' "$CODE" "$XDG_STATE_HOME/signet/signet.db"

est_code
estca csrattrs rsa-3072 >/dev/null
before=$(objects)
PROFILE=p384 activate
check_rc "the CA asks for an RSA 3072 key, the profile makes EC P-384: refused" 1
check_err "… naming both" 'RSA 3072-bit.*ec:p384'
check_eq "… and nothing is written" "$before" "$(objects)"

estca csrattrs garbage >/dev/null
activate --json
check_rc "a /csrattrs answer that is no CsrAttrs: refused" 1
last_json
jcheck "… as a bad answer from the CA, before the token is touched" "$RIG/last.json" \
  'd["error"]["name"] == "io.signet.Error.CaResponse"'
check_eq "… and nothing is written" "$before" "$(objects)"

estca csrattrs with-trailing-nul >/dev/null
activate
check_rc "a /csrattrs answer with a NUL after it is read" 0
check_eq "… and the key pair and its certificate are written" "$((before + 3))" "$(objects)"
estca csrattrs subject >/dev/null
rm -f "$PROFILES/p384.conf"

# --- the CA is down --------------------------------------------------------------
est_code
est_ca_stop
before=$(objects)
activate
check_rc "the CA is down: exit 8 (try later)" 8
check_err "… says the CA could not be reached" '[Cc]ould not connect|cannot connect|connection|reach'
check_eq "… and nothing is written" "$before" "$(objects)"
check "the agent is still running" agent_alive

tap_done
