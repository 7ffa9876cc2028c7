#!/bin/sh
# Activation and renewal over SCEP (RFC 8894) end to end: signetd, the SCEP
# connector and a real SCEP CA, Debian's scepserver (package scep), on a
# fresh token behind the test shim. scepserver speaks plain HTTP on every
# interface and cannot bind loopback, so the whole script runs in a network
# namespace of its own that has only loopback (unshare -n, root: as CI
# runs), and a TLS relay (tests/ca/tls-relay.py) fronts it, since the
# product speaks https only.
#
# A PKCSReq whose challengePassword is the activation code, signed on the
# token, gives an RSA certificate that verifies to scepserver's CA (its
# answer, DES-enveloped to the token key, decrypted on the token); a wrong,
# a used and an expired code (one-time, expiring codes through scepserver's
# -csrverifierexec) are refused in words and leave the token as it was; an
# answer lost as the agent died (one-time codes) is fetched with a new code
# by a new request for the same key; an EC profile is refused before
# anything is made or sent, and so is a token whose keys cannot decrypt
# (the answer is encrypted to the key); a RenewalReq signed with the
# current certificate's key renews in place; the CA down is "try later".
# A CA that answers PENDING (tests/ca/signet-test-scep-ca: scepserver never
# does) gets a CertPoll, not a second request, from the same activation or
# renewal run again after the agent was killed (-9) and started again.
# What scepserver forces (DES, SHA-1) is kept with each certificate it
# issued and shown by `signet status`, and only for those: an EST
# certificate on the same token has no such note.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"

if [ -z "${SIGNET_SCEP_NETNS:-}" ]; then
  command -v scepserver >/dev/null || skip_all "scepserver not found (apt-get install scep)"
  command -v unshare >/dev/null || skip_all "unshare not found (apt-get install util-linux)"
  [ "$(id -u)" -eq 0 ] ||
    skip_all "scepserver listens on every interface: the test needs root for a loopback-only network namespace"
  unshare -n true 2>/dev/null || skip_all "unshare -n is not permitted here"
  SIGNET_SCEP_NETNS=1 exec unshare -n /bin/sh "$0" "$@"
fi
ip link set lo up || { echo "Bail out! cannot bring up loopback in the namespace"; exit 1; }

rig_setup
PROFILE=signet-scep
export PROFILE
SCEP_PORT=18080 # the namespace is ours: any port is free

objects() { p11_objects all; }
last_json() { tail -n 1 "$RIG/out" >"$RIG/last.json"; }
cert_der() {
  "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --read-object \
    --type cert --id "$1" -o "$2" >/dev/null 2>&1
}
verifies() {
  openssl x509 -inform DER -in "$1" -out "$1.pem" 2>/dev/null &&
    openssl verify -CAfile "$RIG/depot/ca.pem" "$1.pem" >/dev/null 2>&1
}
pkioperations() { grep -c 'PKIOperation' "$RIG/scep.log" 2>/dev/null || true; }

# scep_start ARGS…: scepserver on the rig's depot, until it answers.
scep_start() {
  scepserver -depot "$RIG/depot" -port "$SCEP_PORT" -debug "$@" >>"$RIG/scep.log" 2>&1 &
  SCEP_PID=$!
  wait_until 20 curl -sf -o /dev/null "http://127.0.0.1:$SCEP_PORT/scep?operation=GetCACaps" ||
    { echo "Bail out! scepserver did not start"; awk '{ print "# " $0 }' "$RIG/scep.log"; exit 1; }
}
scep_stop() {
  [ -n "${SCEP_PID:-}" ] || return 0
  kill -TERM "$SCEP_PID" 2>/dev/null
  wait "$SCEP_PID" 2>/dev/null
  SCEP_PID=
}
relay_stop() {
  [ -n "${RELAY_PID:-}" ] || return 0
  kill -TERM "$RELAY_PID" 2>/dev/null
  wait "$RELAY_PID" 2>/dev/null
  RELAY_PID=
}
trap 'st=$?; scep_stop; relay_stop; (exit $st); rig_teardown' EXIT

# --- the CA: scepserver's own, and a TLS root for the relay --------------------
scepserver ca -init -depot "$RIG/depot" -keySize 2048 >/dev/null 2>&1 ||
  { echo "Bail out! scepserver ca -init failed"; exit 1; }
ca_init || { echo "Bail out! no TLS test CA"; exit 1; }
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$RIG/tls.key" \
  -out "$RIG/tls.csr" -subj "/CN=127.0.0.1" 2>/dev/null &&
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$RIG/tls.ext" &&
  openssl x509 -req -in "$RIG/tls.csr" -CA "$RIG/ca/root.pem" -CAkey "$RIG/ca/root.key" \
    -CAcreateserial -days 2 -extfile "$RIG/tls.ext" -out "$RIG/tls.pem" 2>/dev/null ||
  { echo "Bail out! no TLS certificate"; exit 1; }
cp "$RIG/ca/root.pem" "$RIG/anchors.pem" # TLS only; the SCEP CA is ca-roots

# One-time, expiring codes through scepserver's -csrverifierexec: the
# verifier gets the request (DER) on stdin, reads its challengePassword and
# accepts (exit 0) a code of $RIG/codes ("CODE EXPIRY", Unix time) that has
# not expired, once: a code is struck out as soon as it is presented.
# (tests/enroll/test-scep.c covers the static -challenge.)
CODE=K7Q2-ZP4M-SCEP
EXPIRED=EXPD-ZP4M-SCEP
REF=SCEP-4711
now=$(date +%s)
printf '%s %s\n%s %s\n' "$CODE" "$((now + 3600))" "$EXPIRED" "$((now - 60))" >"$RIG/codes"
cat >"$RIG/verify-code" <<EOF
#!/bin/sh
code=\$(openssl req -inform DER -noout -text 2>/dev/null |
  sed -n 's/^ *challengePassword *://p' | tr -d ' ')
[ -n "\$code" ] || exit 1
line=\$(grep -F "\$code " "$RIG/codes" | head -n 1)
[ -n "\$line" ] || exit 1
sed -i "/^\$code /d" "$RIG/codes"
[ "\${line#* }" -gt "\$(date +%s)" ]
EOF
chmod +x "$RIG/verify-code"
scep_start -csrverifierexec "$RIG/verify-code" -allowrenew 0
"$PYTHON" "$top_srcdir/tests/ca/tls-relay.py" --cert "$RIG/tls.pem" --key "$RIG/tls.key" \
  ${SIGNET_SCEP_DUMP:+--dump "$SIGNET_SCEP_DUMP"} \
  --target "$SCEP_PORT" >"$RIG/relay.out" 2>>"$RIG/relay.log" &
RELAY_PID=$!
wait_until 20 grep -q '^listening on' "$RIG/relay.out" || { echo "Bail out! relay did not start"; exit 1; }
RELAY_PORT=$(sed -n 's/^listening on //p' "$RIG/relay.out")

mkdir -p "$XDG_CONFIG_HOME/signet/profiles.d"
write_profile() { # NAME KEY-TYPE
  cat >"$XDG_CONFIG_HOME/signet/profiles.d/$1.conf" <<EOF
[profile]
display-name=Signet Test SCEP CA
protocol=scep
url=https://127.0.0.1:$RELAY_PORT/scep
trust-anchors=$RIG/anchors.pem
ca-roots=$RIG/depot/ca.pem
key-type=$2
subject=CN=\${reference},O=Signet Test
renewal-key=new

[labels]
key=Signet test signature
certificate=Signet test signature
chain=Signet Test SCEP CA
EOF
}
write_profile signet-scep rsa:2048
write_profile signet-scep-ec ec:p256

# --- the profile -----------------------------------------------------------------
run signet profile show signet-scep
check_rc "the SCEP profile loads" 0
check "… and names its protocol" grep -qi 'scep' "$RIG/out"

# --- an EC profile: refused before anything is made or sent -------------------------
before=$(objects)
ops=$(pkioperations)
run signet activate "$TOKEN_LABEL" --profile signet-scep-ec --reference "$REF" \
  --code-fd 3 --pin-fd 4 3<<EOF 4<<EOF2
$CODE
EOF
$PIN
EOF2
check "an EC profile over SCEP is refused" test "$rc" -ne 0
check_err "… saying SCEP needs an RSA key" 'SCEP needs an RSA key'
check_eq "… nothing is made on the token" "$before" "$(objects)"
check_eq "… and nothing reached the CA" "$ops" "$(pkioperations)"

# --- a card whose keys only sign: refused before the PIN -----------------------------
# SCEP's CA encrypts its answer to the key: a token whose RSA mechanism does
# not decrypt (the shim's "sign-only": many qualified-signature cards) is
# refused before the PIN is sent, a key made or the CA asked. The agent
# keeps what it read of a token's mechanisms: it starts again around this.
tries_sent() { awk 'END { print NR }' "$SIGNET_SHIM_STATE/tries" 2>/dev/null || echo 0; }
sign_only() {
  agent_stop
  if [ "$1" = on ]; then echo 'C_GetMechanismInfo sign-only' >"$SIGNET_SHIM_STATE/fault"
  else rm -f "$SIGNET_SHIM_STATE/fault"; fi
  agent_start
}
sign_only on
sent=$(tries_sent)
activate --json
check_rc "a token whose keys cannot decrypt: a SCEP activation is refused" 1
last_json
jcheck "… saying why and what to do" "$RIG/last.json" \
  '"cannot decrypt" in d["error"]["message"] and "SCEP needs" in d["error"]["message"] and "another protocol" in d["error"]["message"]'
check_eq "… before the PIN is sent" "$sent" "$(tries_sent)"
check_eq "… nothing is made on the token" "$before" "$(objects)"
check_eq "… and nothing reached the CA" "$ops" "$(pkioperations)"
run signet status "$TOKEN_LABEL" --json
jcheck "… nor is anything left unfinished" "$RIG/out" "d['activations'] == []"
sign_only off

# --- a wrong code: refused in words, the token as it was ---------------------------
good=$CODE
CODE=WRNG-CODE-ABCD
activate
check_rc "a wrong challenge is refused (exit 1)" 1
check_err "… saying the CA did not accept the activation code" 'activation code'
check_eq "… and nothing is left on the token" "$before" "$(objects)"
check "… and the code is in no log" sh -c "! grep -qF '$CODE' '$RIG/agent.log'"
CODE=$good

# --- activation: PKCSReq with the code as challengePassword --------------------------
activate --json
check_rc "signet activate through scepserver" 0
last_json
jcheck "… the certificate is the holder's" "$RIG/last.json" \
  'd["event"] == "activated" and "SCEP-4711" in d["certificate"]["subject"]'
jcheck "… with scepserver's one CA certificate counted once (in its answer and GetCACert)" \
  "$RIG/last.json" 'd["certificate"]["chain_stored"] + d["certificate"]["chain_present"] == 1'
id=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
cert_der "$id" "$RIG/first.der"
check "… it verifies to scepserver's CA (openssl)" verifies "$RIG/first.der"
check "… for an RSA key made on the token" sh -c \
  "openssl x509 -in '$RIG/first.der.pem' -noout -text | grep -q 'rsaEncryption'"
check "… for the key pair made on the token" test "$(objects)" -gt "$((before + 2))"
check "… the code is in no log" sh -c "! grep -qF '$CODE' '$RIG/agent.log'"
check "… and it says the CA enveloped its answer with a legacy algorithm (scepserver: DES)" \
  grep -q '"step":"enroll".*legacy algorithm' "$RIG/out"
run signet history "$TOKEN_LABEL" --json
jcheck "… the history has the activation" "$RIG/out" \
  'd[0]["operation"] == "activate" and d[0]["outcome"] == "ok"'

# --- status: the legacy algorithms scepserver forced, kept with the certificate ------
# After a restart of the agent: from the state database, not from memory.
agent_stop
agent_start
run signet status "$TOKEN_LABEL" --json
check_rc "signet status after the agent restarted" 0
jcheck "… the SCEP certificate names what the CA forced: DES and SHA-1, and AES and SHA-256 instead" \
  "$RIG/out" "any(c['id'] == '$id' and not c['authority'] and c.get('legacy_algorithms') == ['DES', 'SHA-1']
  and 'AES and SHA-256' in c['legacy_note'] for c in d['certificates'])"
jcheck "… the CA's own certificate has no such note" "$RIG/out" \
  "[c for c in d['certificates'] if c['authority'] and 'legacy_algorithms' in c] == []"
run signet status "$TOKEN_LABEL"
check "… and in words: signet status says which, and what the CA should offer" \
  grep -q 'note.*forced legacy algorithms (DES, SHA-1).*AES and SHA-256' "$RIG/out"

# --- codes the CA refuses: used, expired -------------------------------------------
after=$(objects)
activate
check_rc "the same code again is refused (exit 1)" 1
check_err "… as wrong, expired or already used" 'wrong, expired or already used'
check_eq "… and nothing is written" "$after" "$(objects)"
CODE=$EXPIRED
activate
check_rc "an expired code is refused (exit 1)" 1
check_err "… in words" 'activation code'
check_eq "… and nothing is written" "$after" "$(objects)"

# --- an answer lost with one-time codes -------------------------------------------
# The agent dies as the CA answers (answered:crash): scepserver issued, and
# the code in the request (its challengePassword) is spent. The journal
# keeps the request at stage sent. The holder's next activation with a new
# code makes a new request for the same key with it (the kept one carries
# the spent code); with the same code, the same request goes again and the
# CA refuses it.
privkeys() { p11_objects privkey; }
codes_add() { for c in "$@"; do printf '%s %s\n' "$c" "$(($(date +%s) + 3600))" >>"$RIG/codes"; done; }
spent() { ! grep -q "^$1 " "$RIG/codes"; }
pubkey_of() { # ID FILE: the token's public key ID, as PEM
  "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --read-object \
    --type pubkey --id "$1" -o "$2.der" >/dev/null 2>&1 &&
    openssl pkey -pubin -inform DER -in "$2.der" -out "$2" 2>/dev/null
}
# crash_as_answered: signet activate ($REF, $CODE) with the agent killed as
# the CA's answer arrives, then the agent again.
crash_as_answered() {
  agent_stop >/dev/null 2>&1 || true
  export SIGNET_FAULT=answered:crash
  agent_start
  unset SIGNET_FAULT
  activate
  check "the agent killed as scepserver answers: the activation fails" test "$rc" -ne 0
  agent_stop >/dev/null 2>&1 || true
  agent_start
}
saved_code=$CODE saved_ref=$REF
LOST_A=LOST-AAAA-SCEP LOST_B=LOST-BBBB-SCEP LOST_C=LOST-CCCC-SCEP LOST_D=LOST-DDDD-SCEP
codes_add "$LOST_A" "$LOST_B" "$LOST_C" "$LOST_D"
keys_before=$(privkeys)
REF=SCEP-LOST-1 CODE=$LOST_A
crash_as_answered
check "… scepserver spent the code" spent "$LOST_A"
run signet status "$TOKEN_LABEL" --json
cp "$RIG/out" "$RIG/status.json"
jcheck "status: the request was sent, with its reference, the key kept" "$RIG/status.json" \
  "len(d['activations']) == 1 and d['activations'][0]['stage'] == 'sent' and d['activations'][0]['reference'] == '$REF'"
lost_id=$(jq_ "$RIG/status.json" 'd["activations"][0]["id"]')
lost_sha=$(jq_ "$RIG/status.json" 'd["activations"][0]["request_sha256"]')
check_eq "… one new key on the token" "$((keys_before + 1))" "$(privkeys)"
CODE=$LOST_B
activate --json
check_rc "the next activation with a new code completes" 0
check "… saying it makes a new request for the kept key, the code having changed" \
  grep -q '"step":"request".*new request for the key kept on the token.*activation code has changed' "$RIG/out"
check "… and not that it sends the same request again" sh -c "! grep -q 'Sending the same request again' '$RIG/out'"
last_json
new_id=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
check_eq "… the certificate is for the kept key (its id)" "$lost_id" "$new_id"
cert_der "$new_id" "$RIG/lost.der"
check "… and it verifies to scepserver's CA" verifies "$RIG/lost.der"
pubkey_of "$lost_id" "$RIG/lost-key.pem"
check_eq "… with the kept key's public key" "$(cat "$RIG/lost-key.pem")" \
  "$(openssl x509 -in "$RIG/lost.der.pem" -noout -pubkey)"
check "… with the subject of the kept request" sh -c \
  "openssl x509 -in '$RIG/lost.der.pem' -noout -subject | grep -q 'CN *= *SCEP-LOST-1'"
check_eq "… no second key was made" "$((keys_before + 1))" "$(privkeys)"
check "… scepserver took the new code (struck out)" spent "$LOST_B"
run signet status "$TOKEN_LABEL" --json
jcheck "… and nothing is left unfinished" "$RIG/out" "d['activations'] == []"
check "… neither code is in the agent's log" sh -c \
  "! grep -qF -e '$LOST_A' -e '$LOST_B' '$RIG/agent.log'"
run signet history "$TOKEN_LABEL" --json
jcheck "… the history has the killed attempt, with the first request's fingerprint, then the activation" \
  "$RIG/out" "([(e['operation'], e['outcome']) for e in d[:2]] == [('activate', 'ok'), ('activate', 'interrupted')]
  and '$lost_sha' in d[1]['detail'] and 'SCEP-LOST-1' in d[1]['detail'])"

# The same code after the crash: the same request goes again; scepserver
# refuses it (the code is spent). The message names the reference the
# request was sent with, not the one given this time.
keys_before=$(privkeys)
REF=SCEP-LOST-2 CODE=$LOST_C
crash_as_answered
run signet status "$TOKEN_LABEL" --json
lost_id=$(jq_ "$RIG/out" 'd["activations"][0]["id"]')
REF=SCEP-LOST-2-OTHER
activate
check_rc "the same code again after the crash: the CA refuses the same request (exit 1)" 1
check_err "… saying it may have issued the certificate already" \
  'the CA now refuses the same request, so it may have issued your certificate already'
check_err "… naming the reference the request was sent with" 'Tell your CA: reference number SCEP-LOST-2,'
check_err "… and that a new code makes a new request for the same key" \
  'new activation code, run the activation again with it: a new request for the same key is made with it'
check_eq "… the key stays for that certificate" "$((keys_before + 1))" "$(privkeys)"
REF=SCEP-LOST-2 CODE=$LOST_D
activate --json
check_rc "… then a new code: the activation completes" 0
last_json
check_eq "… for the kept key" "$lost_id" "$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')"
check_eq "… no second key was made" "$((keys_before + 1))" "$(privkeys)"
run signet status "$TOKEN_LABEL" --json
jcheck "… and nothing is left unfinished" "$RIG/out" "d['activations'] == []"
CODE=$saved_code REF=$saved_ref

# --- renewal: RenewalReq signed with the current certificate's key -------------------
# scepserver checks its -challenge on every message, RenewalReq included,
# which RFC 8894 3.3.1.2 does not ask (a renewal is authenticated by the
# current certificate): it runs without one for the renewal.
scep_stop
scep_start -allowrenew 0
sign_only on
before=$(objects)
ops=$(pkioperations)
sent=$(tries_sent)
run signet renew "$TOKEN_LABEL" --cert "$id" --json --pin-fd 4 4<<EOF
$PIN
EOF
check_rc "a token whose keys cannot decrypt: a SCEP renewal is refused" 1
last_json
jcheck "… saying why" "$RIG/last.json" '"cannot decrypt" in d["error"]["message"]'
check_eq "… before the PIN is sent, a key is made or the CA is asked" \
  "$sent $before $ops" "$(tries_sent) $(objects) $(pkioperations)"
run signet status "$TOKEN_LABEL" --json
jcheck "… the certificate stays, nothing is left unfinished" "$RIG/out" \
  "any(c['id'] == '$id' for c in d['certificates']) and d['operations'] == []"
sign_only off
run signet renew "$TOKEN_LABEL" --cert "$id" --json --pin-fd 4 4<<EOF
$PIN
EOF
check_rc "signet renew over SCEP (RenewalReq)" 0
last_json
new=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
check "… under a new key" test -n "$new" -a "$new" != "$id"
cert_der "$new" "$RIG/renewed.der"
check "… the new certificate verifies to scepserver's CA" verifies "$RIG/renewed.der"
check_eq "… with the same subject" \
  "$(openssl x509 -inform DER -in "$RIG/first.der" -noout -subject)" \
  "$(openssl x509 -inform DER -in "$RIG/renewed.der" -noout -subject)"
cert_der "$id" "$RIG/old.der"
check "… and the old certificate is gone" test ! -s "$RIG/old.der"
check "… scepserver saw a RenewalReq" grep -q 'RenewalReq\|msg_type=17\|message_type=17' "$RIG/scep.log"
run signet status "$TOKEN_LABEL" --json
jcheck "… status: the renewed certificate has the note too (scepserver answered with DES, SHA-1)" \
  "$RIG/out" "any(c['id'] == '$new' and c.get('legacy_algorithms') == ['DES', 'SHA-1'] for c in d['certificates'])"

# --- an EST certificate on the same token: no note --------------------------------
est_ca_start
est_code --subject "CN=Ewa Modern,O=Signet Test,C=PL"
PROFILE=signet-test
activate --json
PROFILE=signet-scep
check_rc "an EST activation on the same token (a second credential)" 0
last_json
est_id=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
run signet status "$TOKEN_LABEL" --json
jcheck "… status: the EST certificate has no legacy-algorithm note" "$RIG/out" \
  "[c for c in d['certificates'] if c['id'] == '$est_id' and not c['authority']
  and 'legacy_algorithms' not in c and 'legacy_note' not in c] != []"
jcheck "… while the SCEP one keeps its own" "$RIG/out" \
  "any(c['id'] == '$new' and c.get('legacy_algorithms') == ['DES', 'SHA-1'] for c in d['certificates'])"
run signet status "$TOKEN_LABEL"
check_eq "… in words, one note for each SCEP certificate (the renewed one and the two of the lost answers)" \
  3 "$(grep -c 'forced legacy algorithms' "$RIG/out")"
est_ca_stop

# --- the CA down -------------------------------------------------------------------
scep_stop
relay_stop
before=$(objects)
activate
check_rc "the SCEP CA down: exit 8 (try later)" 8
check_eq "… and nothing is written" "$before" "$(objects)"

# --- PENDING, then the CertPoll after the agent was killed ---------------------------
# scepserver never answers PENDING; tests/ca/signet-test-scep-ca does, with
# scepserver's CA (its depot's certificate and key): PENDING to the PKCSReq
# and the RenewalReq, the certificate on the CertPoll that follows. It keeps
# the request in memory while the agent is killed and started again, and
# logs a line per message (type, name, transactionID, answer). The agent
# asks again as soon as the holder runs the command: it does not hold a
# pending activation or renewal to its retry_at (SCEP gives no time: now +
# 5 minutes), so no clock is moved. Its own relay and profile; SCEP_PID and
# RELAY_PID are this CA's now, stopped as scepserver's were.
PEND_CODE=PEND-ZP4M-SCEP
serve_ca signet-test-scep-ca "$RIG/pend-ca.out" "$RIG/pend-ca.err" \
  "$top_builddir/tests/ca/signet-test-scep-ca" --ca-cert "$RIG/depot/ca.pem" \
  --ca-key "$RIG/depot/ca.key" --mode pending --challenge "$PEND_CODE" --log "$RIG/pend-ca.log"
SCEP_PID=$SERVED_PID
serve_ca tls-relay "$RIG/pend-relay.out" "$RIG/pend-relay.log" \
  "$PYTHON" "$top_srcdir/tests/ca/tls-relay.py" --cert "$RIG/tls.pem" --key "$RIG/tls.key" \
  --target "$(sed -n 's/^listening on //p' "$RIG/pend-ca.out")"
RELAY_PID=$SERVED_PID
RELAY_PORT=$(sed -n 's/^listening on //p' "$RIG/pend-relay.out")
write_profile signet-scep-pending rsa:2048
ca_saw() { grep -c "^$1 " "$RIG/pend-ca.log" 2>/dev/null || true; } # 19 PKCSReq, 17 RenewalReq, 20 CertPoll
certs() { p11_objects cert; }
agent_kill() {
  kill -9 "$AGENT_PID"
  wait "$AGENT_PID" 2>/dev/null
  AGENT_PID=
}

PROFILE=signet-scep-pending REF=SCEP-PEND-1 CODE=$PEND_CODE
keys_before=$(privkeys) certs_before=$(certs)
activate
check_rc "a SCEP CA that answers PENDING: signet activate exits 7" 7
check_err "… saying the CA will issue the certificate later" \
  'will issue the certificate later: run the same activation again after'
check_eq "… the CA got one PKCSReq, answered PENDING" "1 1" \
  "$(ca_saw 19) $(grep -c '^19 PKCSReq .* PENDING$' "$RIG/pend-ca.log")"
run signet status "$TOKEN_LABEL" --json
jcheck "… status: the activation pending, with its reference and a retry_at" "$RIG/out" \
  "(len(d['activations']) == 1 and d['activations'][0]['stage'] == 'pending'
  and d['activations'][0]['retry_at'] and d['activations'][0]['reference'] == '$REF')"
pend_id=$(jq_ "$RIG/out" 'd["activations"][0]["id"]')
check_eq "… the new key pair stays on the token" "$((keys_before + 1))" "$(privkeys)"
check_eq "… with no certificate yet" "$certs_before" "$(certs)"
agent_kill
agent_start
activate --json
check_rc "the agent killed (-9) and started again: the same activation completes" 0
check_eq "… the CA got one CertPoll and no second PKCSReq" "1 1" "$(ca_saw 20) $(ca_saw 19)"
check "… saying it asks about the request the CA accepted" \
  grep -q '"step":"enroll".*about the request it accepted earlier' "$RIG/out"
last_json
new_id=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
check_eq "… the certificate is for the kept key (its id)" "$pend_id" "$new_id"
cert_der "$new_id" "$RIG/pend.der"
check "… and verifies to the CA (openssl)" verifies "$RIG/pend.der"
pubkey_of "$pend_id" "$RIG/pend-key.pem"
check_eq "… with the kept key's public key" "$(cat "$RIG/pend-key.pem")" \
  "$(openssl x509 -in "$RIG/pend.der.pem" -noout -pubkey)"
check_eq "… one new key pair and its certificate on the token" \
  "$((keys_before + 1)) $((certs_before + 1))" "$(privkeys) $(certs)"
run signet status "$TOKEN_LABEL" --json
jcheck "… and nothing is left unfinished" "$RIG/out" "d['activations'] == [] and d['operations'] == []"

# The renewal of that certificate: PENDING to the RenewalReq. A SCEP CA is
# asked about a renewal only in a message signed with the current
# certificate's key, which needs the PIN: the agent cannot ask by itself,
# so the renewal waits for the holder from the start, and says so. Killed
# and started again with its clock past the retry_at (its test hook,
# SIGNET_FAKE_NOW), the agent keeps it so; `signet renew` again then sends
# the CertPoll.
run signet renew "$TOKEN_LABEL" --cert "$new_id" --json --pin-fd 4 4<<EOF
$PIN
EOF
check_rc "a renewal the SCEP CA answers PENDING: exit 7" 7
check_err "… telling the holder to run it again, with the PIN (the agent cannot ask by itself)" \
  'Signet cannot ask it by itself: run this renewal again after that time \(it needs your PIN\)'
check_eq "… the CA got one RenewalReq, answered PENDING" "1 1" \
  "$(ca_saw 17) $(grep -c '^17 RenewalReq .* PENDING$' "$RIG/pend-ca.log")"
run signet status "$TOKEN_LABEL" --json
jcheck "… status: the renewal pending, the holder to ask again, with the PIN" "$RIG/out" \
  "[(o['kind'], o['state'], o['resume'], o['needs_pin']) for o in d['operations']] == [('renew', 'pending', 'ask-again', True)]"
retry_at=$(jq_ "$RIG/out" 'd["operations"][0]["retry_at"]')
cert_der "$new_id" "$RIG/pend-current.der"
check "… the current certificate stays meanwhile" cmp -s "$RIG/pend.der" "$RIG/pend-current.der"
check_eq "… the renewal's new key pair is on the token, no certificate yet" \
  "$((keys_before + 2)) $((certs_before + 1))" "$(privkeys) $(certs)"
agent_kill
export SIGNET_FAKE_NOW="$RIG/pend-now"
echo $((retry_at + 1)) >"$SIGNET_FAKE_NOW"
agent_start
run signet status "$TOKEN_LABEL" --json
jcheck "the agent killed and started after the retry_at: still pending, for the holder with the PIN" \
  "$RIG/out" \
  "[(o['state'], o['resume'], o['needs_pin']) for o in d['operations']] == [('pending', 'ask-again', True)]"
run signet renew "$TOKEN_LABEL" --cert "$new_id" --json --pin-fd 4 4<<EOF
$PIN
EOF
rm -f "$SIGNET_FAKE_NOW"
check_rc "then signet renew again, with the PIN: the renewal completes" 0
check_eq "… the CA got a CertPoll (its second) and no second RenewalReq" "2 1" "$(ca_saw 20) $(ca_saw 17)"
last_json
renewed_id=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
check "… under a new key" test -n "$renewed_id" -a "$renewed_id" != "$new_id"
cert_der "$renewed_id" "$RIG/pend-renewed.der"
check "… the renewed certificate verifies to the CA" verifies "$RIG/pend-renewed.der"
check_eq "… with the same subject" \
  "$(openssl x509 -inform DER -in "$RIG/pend.der" -noout -subject)" \
  "$(openssl x509 -inform DER -in "$RIG/pend-renewed.der" -noout -subject)"
cert_der "$new_id" "$RIG/pend-old.der"
check "… the old certificate is gone" test ! -s "$RIG/pend-old.der"
check_eq "… one key pair and one certificate for it: the renewed ones" \
  "$((keys_before + 1)) $((certs_before + 1))" "$(privkeys) $(certs)"
run signet status "$TOKEN_LABEL" --json
jcheck "… and nothing is left unfinished" "$RIG/out" "d['activations'] == [] and d['operations'] == []"
check_eq "… all told, the CA got one PKCSReq, one RenewalReq and two CertPolls" "1 1 2" \
  "$(ca_saw 19) $(ca_saw 17) $(ca_saw 20)"
PROFILE=signet-scep CODE=$saved_code REF=$saved_ref

tap_done
