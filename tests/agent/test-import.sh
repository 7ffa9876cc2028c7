#!/bin/sh
# The manual CA flow on a fresh SoftHSM2 token: csr → signed by a throwaway
# CA with `openssl x509 -req` → import as PEM, DER, PKCS#7 with the chain (its
# root named with --anchor: verified) and PEM bundle (the root only in the
# file: not verified) → status. And what must write nothing: a certificate for no key
# on the token, a file that is no certificate, an expired certificate (unless
# --allow-expired), a subject that does not parse.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup
ca_init || { echo "Bail out! could not make the test CA"; exit 1; }

# csr_for NAME TYPE: a request made on the token, signed by the CA.
csr_for() {
  run signet csr "$TOKEN_LABEL" --subject "CN=$1,O=Example,C=PL" --type "$2" \
    --out "$RIG/$1.csr" --pin-fd 3 3<<EOF
$PIN
EOF
  check_rc "csr for $1 ($2) succeeds" 0
  check "csr for $1: a valid request with that subject" \
    sh -c "openssl req -in '$RIG/$1.csr' -noout -verify -subject 2>&1 | grep -q 'CN *= *$1'"
  ca_sign "$RIG/$1.csr" "$RIG/$1.pem" || not_ok "the CA signs the request for $1"
}

objects() { p11_objects all; }

# --- PEM, alone -------------------------------------------------------------
before=$(objects)
run signet csr "$TOKEN_LABEL" --subject "/CN=Jan Kowalski/O=Example/C=PL" --json --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "csr --json (slash form, default type) succeeds" 0
jcheck "csr --json: the request and the key" \
  "$RIG/out" '(d["request_pem"].startswith("-----BEGIN CERTIFICATE REQUEST-----") and d["key"]["type"] == "rsa:2048")'
jq_ "$RIG/out" 'd["request_pem"]' >"$RIG/jan.csr"
id_jan=$(jq_ "$RIG/out" 'd["key"]["id"]')
check "csr made exactly one key pair" test "$(objects)" -eq $((before + 2))
ca_sign "$RIG/jan.csr" "$RIG/jan.pem"

run signet import "$TOKEN_LABEL" "$RIG/jan.pem" --json --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "import PEM succeeds" 0
check "import: stored under the request's key" test "$(jq_ "$RIG/out" 'd["id"]')" = "$id_jan"
jcheck "import: subject, days left, nothing of a chain" \
  "$RIG/out" '("CN=Jan Kowalski" in d["subject"] and 360 <= d["days_left"] <= 365 and d["chain_stored"] == 0 and d["already_present"] == False)'
jcheck "import: a leaf alone is reported as not verified" \
  "$RIG/out" '(d["chain_verified"] == False and len(d["chain_error"]) > 0)'

run signet import "$TOKEN_LABEL" "$RIG/jan.pem" --json --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "importing the same certificate again succeeds" 0
check "… and says it was already there" test "$(jq_ "$RIG/out" 'd["already_present"]')" = true
check "… without writing a second copy" test "$(p11_objects cert)" -eq 1

# --- DER ----------------------------------------------------------------------
csr_for der-holder ec:p256
openssl x509 -in "$RIG/der-holder.pem" -outform DER -out "$RIG/der-holder.cer"
run signet import "$TOKEN_LABEL" "$RIG/der-holder.cer" --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "import DER (.cer) succeeds" 0
check "import DER: says where it went" grep -q "Stored the certificate on token '$TOKEN_LABEL' under key" "$RIG/out"

# --- PKCS#7 with the chain (DER .p7b) -------------------------------------------
csr_for p7-holder ec:p384
openssl crl2pkcs7 -nocrl -certfile "$RIG/p7-holder.pem" -certfile "$RIG/ca/int.pem" \
  -certfile "$RIG/ca/root.pem" -outform DER -out "$RIG/p7-holder.p7b"
run signet import "$TOKEN_LABEL" "$RIG/p7-holder.p7b" --anchor "$RIG/ca/root.pem" --json --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "import PKCS#7 with the chain, its root named with --anchor, succeeds" 0
check "import PKCS#7: two CA certificates stored" test "$(jq_ "$RIG/out" 'd["chain_stored"]')" = 2
jcheck "import PKCS#7: the chain verifies to the root of the anchor file" "$RIG/out" \
  '(d["chain_verified"] == True and d["chain_anchor"] == "anchor" and d["chain_root"].startswith("O=Signet Tests,CN=Signet Test Root CA (SHA-256 "))'

# --- PEM bundle: leaf + chain already on the token --------------------------------
csr_for bundle-holder rsa:2048
cat "$RIG/bundle-holder.pem" "$RIG/ca/int.pem" "$RIG/ca/root.pem" >"$RIG/bundle.pem"
run signet import "$TOKEN_LABEL" "$RIG/bundle.pem" --json --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "import PEM bundle succeeds" 0
check "import bundle: the CA certificates were there already" \
  test "$(jq_ "$RIG/out" '[d["chain_stored"], d["chain_present"]]')" = '[0, 2]'
# The root in the file is no reason to trust it (docs/internals/trust.md).
jcheck "import bundle: the root came in the file only, so the chain is not verified, and the agent says to name the root with --anchor" "$RIG/out" \
  '(d["chain_verified"] == False and "the chain ends at the root O=Signet Tests,CN=Signet Test Root CA (SHA-256 " in d["chain_error"] and "signet import --anchor" in d["chain_error"])'

# --- status -------------------------------------------------------------------
run signet status "$TOKEN_LABEL" --json
check_rc "status after the imports" 0
check "status: four leaf certificates and two CA certificates" \
  test "$(jq_ "$RIG/out" '[sum(1 for c in d["certificates"] if not c["authority"]), sum(1 for c in d["certificates"] if c["authority"])]')" = '[4, 2]'
jcheck "status: Jan's certificate with its key, days left and dates" \
  "$RIG/out" '[c for c in d["certificates"] if c["id"] == "'"$id_jan"'" and c["has_key"] and not c["expired"] and 360 <= c["days_left"] <= 365 and c["not_after"].endswith("Z") and "Signet Test Issuing CA" in c["issuer"]]'
jcheck "status: the issuing CA is an authority" \
  "$RIG/out" '[c for c in d["certificates"] if c["authority"] and "CN=Signet Test Issuing CA" in c["subject"]]'
jcheck "status: keys show they have a certificate" \
  "$RIG/out" '[k for k in d["keys"] if k["id"] == "'"$id_jan"'" and k["has_certificate"]]'
# A key pair means a private key: OpenSC shows a public key beside every
# certificate (the card model too), and a CA certificate's is no key.
jcheck "status: no CA certificate has its key on the token" \
  "$RIG/out" 'not [c for c in d["certificates"] if c["authority"] and c["has_key"]]'
jcheck "status: the key pairs are the four leaves' keys, no CA's" \
  "$RIG/out" 'sorted(k["id"] for k in d["keys"]) == sorted(c["id"] for c in d["certificates"] if not c["authority"])'
run signet status "$TOKEN_LABEL"
check "status (text): certificates with not-after and days left" \
  grep -Eq 'not after +[0-9T:-]+Z \([0-9]+ days left\)' "$RIG/out"
check "status (text): the CA certificate" grep -q 'CA certificate: .*Signet Test Root CA' "$RIG/out"
if on_card; then
  check "status (text) on an OpenSC card says its objects are read once" \
    grep -q "reads the card's objects once" "$RIG/out"
else
  check "status (text) elsewhere says nothing of the kind" sh -c "! grep -q \"reads the card's objects once\" '$RIG/out'"
fi
check "status (text): no CA certificate says its key is on the token" \
  sh -c "! awk '/CA certificate:/ { ca = 1; next } /^  [^ ]/ { ca = 0 } ca && /its key is on the token/' '$RIG/out' | grep -q ."

# --- what must write nothing ------------------------------------------------------
# A certificate for a key that is not on the token.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$RIG/other.key" \
  -out "$RIG/other.csr" -subj "/CN=Somebody Else" 2>/dev/null
ca_sign "$RIG/other.csr" "$RIG/other.pem"
cat "$RIG/other.pem" "$RIG/ca/int.pem" >"$RIG/other-chain.pem"
before=$(objects)
run signet import "$TOKEN_LABEL" "$RIG/other-chain.pem" --json --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "a certificate for no key on the token is refused (exit 1)" 1
check "… as NoMatchingKey" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.NoMatchingKey
check_err "… saying nothing was written and what to do" "nothing was written.*Import the certificate issued for a request made on this token"
if on_card; then
  # OpenSC reads a card's objects once: a key another program made since
  # signetd started is not seen, and the message says so (issue 10, point 9).
  check_err "… and, on an OpenSC card, that a key made by another program shows after re-insertion" \
    "taken out and put back: OpenSC reads a card's objects once"
fi
check "… and nothing was written (pkcs11-tool)" test "$(objects)" -eq "$before"

printf 'this is not a certificate\n' >"$RIG/garbage.crt"
run signet import "$TOKEN_LABEL" "$RIG/garbage.crt" --json --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "a file that is no certificate is refused (exit 1)" 1
check "… as BadInput" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.BadInput
head -c 300 "$RIG/jan.pem" >"$RIG/truncated.pem"
run signet import "$TOKEN_LABEL" "$RIG/truncated.pem" --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "a truncated PEM file is refused (exit 1)" 1
check "… and nothing was written (pkcs11-tool)" test "$(objects)" -eq "$before"
run signet import "$TOKEN_LABEL" "$RIG/does-not-exist.pem" --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "a missing file is refused (exit 1)" 1
# Bounded before read: a device that never ends and a 2 GB (sparse) file
# are refused after 1 MiB, before the PIN, without being read into memory.
truncate -s 2G "$RIG/huge.p7b"
: >"$RIG/empty.pem"
for f in /dev/zero "$RIG/huge.p7b"; do
  run timeout 60 "$SIGNET" import "$TOKEN_LABEL" "$f" --pin-fd 3 3<<EOF
$PIN
EOF
  check_rc "signet import $(basename "$f") is refused at once (exit 1)" 1
  check_err "… as larger than 1 MiB, not a certificate file" 'larger than 1 MiB: not a certificate file'
done
run signet import "$TOKEN_LABEL" "$RIG/empty.pem" --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "an empty file is refused (exit 1)" 1
check_err "… saying it is empty" 'empty.pem is empty: not a certificate file'
check "… and nothing was written (pkcs11-tool)" test "$(objects)" -eq "$before"
rm -f "$RIG/huge.p7b"

# --- an expired certificate -----------------------------------------------------
# (issue 11, point 7: it imported with exit 0 and "(-371 days left)")
csr_for Expired ec:p256
"$PYTHON" - "$RIG/Expired.csr" "$RIG/ca/int.pem" "$RIG/ca/int.key" "$RIG/Expired-old.pem" <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
csr = x509.load_pem_x509_csr(open(sys.argv[1], "rb").read())
ca = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
key = serialization.load_pem_private_key(open(sys.argv[3], "rb").read(), None)
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.subject)
        .public_key(csr.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=400))
        .not_valid_after(now - datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
open(sys.argv[4], "wb").write(cert.public_bytes(serialization.Encoding.PEM))
PY
before=$(objects)
run signet import "$TOKEN_LABEL" "$RIG/Expired-old.pem" --json --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "an expired certificate is refused: exit 9" 9
check "… as CertificateExpired" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.CertificateExpired
check_err "… saying when, that nothing was written and what to do" \
  "expired 3[01] days ago.*Nothing was written.*new certificate.*--allow-expired"
check "… and nothing was written (pkcs11-tool)" test "$(objects)" -eq "$before"
run signet import "$TOKEN_LABEL" "$RIG/Expired-old.pem" --allow-expired --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "with --allow-expired it is stored (exit 0)" 0
check_err "… with a clear warning" "Warning: this certificate expired 3[01] days ago and can no longer sign"
check "… and written (pkcs11-tool)" test "$(objects)" -eq $((before + 1))
before=$(objects)

run signet csr "$TOKEN_LABEL" --subject "CN=Jan,XYZ=1" --json --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "a subject that does not parse is refused (exit 1)" 1
check "… as BadSubject" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.BadSubject
check "… before any key was generated (pkcs11-tool)" test "$(objects)" -eq "$before"

tap_done
