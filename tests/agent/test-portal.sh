#!/bin/sh
# The manual portal flow with the files real CA portals hand out: `signet
# csr` on a fresh SoftHSM2 token → signed by the EST test CA's by-hand signer
# (`signet-test-ca issue`, the "web portal") → the answer saved as a portal
# saves it → `signet import` → `signet status --json` and pkcs11-tool.
#
# Forms: a DER .cer; a PEM .crt saved on Windows (UTF-8 byte order mark,
# CRLF); a .crt with text around the PEM block; base64 without armour; a DER
# PKCS#7 .p7b with the chain; a PEM PKCS#7 .p7c; a PEM bundle leaf first and
# root first; Microsoft AD CS's base64 chain (PKCS#7 armoured as
# CERTIFICATE); PEM pasted from a page as one line; and a bundle holding the
# chain only (refused, nothing written).
# Each leaf lands once, under its key; the chain (issuing CA, root) lands
# once, as separate objects, however many files bring it again.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"

TEST_CA="$top_srcdir/tests/ca/signet-test-ca"
rig_require
[ -x "$TEST_CA" ] || skip_all "tests/ca/signet-test-ca not found"
"$PYTHON" -c 'import cryptography' 2>/dev/null ||
  skip_all "python3-cryptography not found (apt-get install python3-cryptography)"
rig_setup
CA_DIR="$RIG/testca"

# csr_for NAME TYPE: a request made on the token; sets $key_id.
csr_for() {
  run signet csr "$TOKEN_LABEL" --subject "CN=$1,O=Portal Test,C=PL" --type "$2" \
    --out "$RIG/$1.csr" --json --pin-fd 3 3<<EOF
$PIN
EOF
  check_rc "csr for $1 ($2)" 0
  key_id=$(jq_ "$RIG/out" 'd["key"]["id"]')
}

# issue NAME FORMAT OUT: the portal signs NAME's request.
issue() {
  if "$TEST_CA" issue --dir "$CA_DIR" --csr "$RIG/$1.csr" --format "$2" --out "$3" 2>"$RIG/ca.err"; then
    return 0
  fi
  echo "Bail out! signet-test-ca issue failed: $(cat "$RIG/ca.err")"
  exit 1
}

# import_json FILE [OPTION…]
import_json() {
  f=$1
  shift
  run signet import "$TOKEN_LABEL" "$f" --json --pin-fd 3 "$@" 3<<EOF
$PIN
EOF
}

certs() { p11_objects cert; }

# pkcs11-tool: the IDs of the certificate objects, one per line.
cert_ids() {
  "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
    --list-objects --type cert 2>/dev/null | awk '/^[[:space:]]*ID:/ { print $2 }'
}

# imported NAME FILE CHAIN_STORED [OPTION…]: `signet import FILE` stored
# NAME's certificate under its key, once, with CHAIN_STORED new CA
# certificates; status shows it; pkcs11-tool counts the objects.
imported() {
  certs_before=$(certs)
  n=$1 f=$2 c=$3
  shift 3
  import_json "$f" "$@"
  set -- "$n" "$f" "$c"
  cp "$RIG/out" "$RIG/import.json"
  check_rc "$1: import $(basename "$2") succeeds" 0
  [ "$rc" -eq 0 ] || return 0
  jcheck "$1: stored under the request's key, $3 CA certificate(s) added" "$RIG/import.json" \
    '(d["id"] == "'"$key_id"'" and "CN='"$1"'" in d["subject"] and d["already_present"] == False and d["chain_stored"] == '"$3"')'
  check "$1: pkcs11-tool sees $((1 + $3)) more certificate object(s)" \
    test "$(certs)" -eq $((certs_before + 1 + $3))
  check "$1: exactly one certificate object has the key's ID" \
    test "$(cert_ids | grep -cx "$key_id")" -eq 1
  run signet status "$TOKEN_LABEL" --json
  jcheck "$1: status shows the certificate with its key" "$RIG/out" \
    '[c for c in d["certificates"] if c["id"] == "'"$key_id"'" and c["has_key"] and not c["authority"] and "CN='"$1"'" in c["subject"] and "Signet Test" in c["issuer"]]'
}

# Windows: a UTF-8 byte order mark and CRLF line ends.
windows() { printf '\357\273\277'; sed 's/$/\r/' "$1"; }

# --- a .cer that is DER (Certum, certSIGN) --------------------------------------
csr_for der-cer ec:p256
issue der-cer der "$RIG/der-cer.cer"
check "der-cer: the portal's .cer is DER" sh -c "openssl x509 -inform DER -in '$RIG/der-cer.cer' -noout"
imported der-cer "$RIG/der-cer.cer" 0
jcheck "der-cer: a leaf alone is reported as not verified" "$RIG/import.json" \
  '(d["chain_verified"] == False and len(d["chain_error"]) > 0)'
jcheck "der-cer: no CA certificate on the token yet" "$RIG/out" \
  '[c for c in d["certificates"] if c["authority"]] == []'

# --- a .crt: base64 PEM saved on Windows, byte order mark and CRLF --------------
csr_for win-crt ec:p256
issue win-crt pem "$RIG/win-crt.pem"
windows "$RIG/win-crt.pem" >"$RIG/win-crt.crt"
check "win-crt: the file starts with a byte order mark and has CRLF" \
  sh -c "head -c 3 '$RIG/win-crt.crt' | od -An -tx1 | grep -q 'ef bb bf' && grep -q \"\$(printf '\\r')\" '$RIG/win-crt.crt'"
imported win-crt "$RIG/win-crt.crt" 0

# --- a .crt with text before and after the block (openssl x509 -text, notes) -----
csr_for text-crt rsa:2048
issue text-crt pem "$RIG/text-crt.pem"
{
  openssl x509 -in "$RIG/text-crt.pem" -text
  printf '\nThank you for choosing Example CA. Keep this file.\n'
} >"$RIG/text-crt.crt"
imported text-crt "$RIG/text-crt.crt" 0

# --- base64 DER without armour, CRLF (what some portals show to copy) -------------
csr_for bare-b64 ec:p384
issue bare-b64 der "$RIG/bare-b64.der"
openssl base64 -in "$RIG/bare-b64.der" | sed 's/$/\r/' >"$RIG/bare-b64.cer"
imported bare-b64 "$RIG/bare-b64.cer" 0

# --- a .p7b: DER PKCS#7, leaf + issuing CA + root (Entrust, certSIGN) ------------
csr_for p7b ec:p256
issue p7b p7b "$RIG/p7b.p7b"
check "p7b: the portal's .p7b is DER PKCS#7 with three certificates" \
  test "$(openssl pkcs7 -inform DER -in "$RIG/p7b.p7b" -print_certs 2>/dev/null | grep -c '^subject=')" -eq 3
imported p7b "$RIG/p7b.p7b" 2
# The portal's root came in the file only: not trusted for that.
jcheck "p7b: the chain ends at a root the system does not trust: not verified, and the agent says how to name it" "$RIG/import.json" \
  '(d["chain_verified"] == False and "the chain ends at the root CN=Signet Test Root CA" in d["chain_error"] and "--anchor" in d["chain_error"])'
run signet status "$TOKEN_LABEL" --json
jcheck "p7b: status shows the issuing CA and the root as CA certificates" "$RIG/out" \
  'sorted("Root" in c["subject"] for c in d["certificates"] if c["authority"]) == [False, True] and all("Signet Test" in c["subject"] for c in d["certificates"] if c["authority"])'

# --- a .p7c: PKCS#7 in PEM armour -------------------------------------------------
csr_for p7c ec:p256
issue p7c p7b-pem "$RIG/p7c.p7c"
check "p7c: the portal's .p7c is a PEM PKCS7 block" grep -q -- '-----BEGIN PKCS7-----' "$RIG/p7c.p7c"
imported p7c "$RIG/p7c.p7c" 0 --anchor "$CA_DIR/root.pem"
jcheck "p7c: the chain was there already, and verifies to the --anchor root" "$RIG/import.json" \
  '(d["chain_present"] == 2 and d["chain_verified"] == True and d["chain_anchor"] == "anchor")'

# --- a PEM bundle: leaf, issuing CA, root -----------------------------------------
csr_for bundle rsa:2048
issue bundle pem-chain "$RIG/bundle.pem"
imported bundle "$RIG/bundle.pem" 0

# --- a PEM bundle root first (and saved on Windows) --------------------------------
csr_for reversed ec:p256
issue reversed pem-chain "$RIG/reversed-chain.pem"
awk '/-----BEGIN/ { n++ } { block[n] = block[n] $0 "\n" }
     END { for (i = n; i >= 1; i--) printf "%s", block[i] }' "$RIG/reversed-chain.pem" >"$RIG/reversed-unix.pem"
windows "$RIG/reversed-unix.pem" >"$RIG/reversed.pem"
check "reversed: the bundle starts with the root" \
  sh -c "openssl x509 -in '$RIG/reversed-unix.pem' -noout -subject | grep -q 'Root'"
imported reversed "$RIG/reversed.pem" 0 --anchor "$CA_DIR/root.pem"
jcheck "reversed: verified (the root named with --anchor)" "$RIG/import.json" '(d["chain_verified"] == True)'

# --- Microsoft AD CS "Base 64 encoded" chain: PKCS#7 armoured as CERTIFICATE --------
csr_for adcs rsa:2048
issue adcs p7b "$RIG/adcs.der"
{
  printf -- '-----BEGIN CERTIFICATE-----\r\n'
  openssl base64 -in "$RIG/adcs.der" | sed 's/$/\r/'
  printf -- '-----END CERTIFICATE-----\r\n'
} >"$RIG/adcs.p7b"
imported adcs "$RIG/adcs.p7b" 0 --anchor "$CA_DIR/root.pem"
jcheck "adcs: the chain came with it, and verifies (the root named with --anchor)" "$RIG/import.json" \
  '(d["chain_present"] == 2 and d["chain_verified"] == True)'

# --- copied from the portal's page: the line breaks lost ---------------------------
csr_for pasted ec:p256
issue pasted pem "$RIG/pasted.pem"
{
  printf 'Your certificate:\n-----BEGIN CERTIFICATE-----'
  grep -v -- '-----' "$RIG/pasted.pem" | tr -d '\n'
  printf -- '-----END CERTIFICATE-----'
} >"$RIG/pasted.crt"
imported pasted "$RIG/pasted.crt" 0

# --- the same chain once more, and the same file twice ------------------------------
before=$(certs)
import_json "$RIG/p7b.p7b"
check_rc "the .p7b imported again succeeds" 0
jcheck "… says the certificate and the chain were there" "$RIG/out" \
  '(d["already_present"] == True and d["chain_stored"] == 0 and d["chain_present"] == 2)'
check "… and writes nothing (pkcs11-tool)" test "$(certs)" -eq "$before"

# --- the chain only: no certificate for any key on the token ------------------------
awk '/-----BEGIN/ { n++ } n > 1' "$RIG/bundle.pem" >"$RIG/chain-only.pem"
check "chain-only: the file holds two CA certificates" \
  test "$(grep -c -- '-----BEGIN CERTIFICATE-----' "$RIG/chain-only.pem")" -eq 2
before_all=$(p11_objects all)
import_json "$RIG/chain-only.pem"
check_rc "chain-only: refused (exit 1)" 1
check "chain-only: as NoMatchingKey" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.NoMatchingKey
check_err "chain-only: says nothing was written" "nothing was written"
check_err "chain-only: says the file holds only CA certificates" "holds only CA certificates \\(2\\)"
check "chain-only: nothing was written (pkcs11-tool)" test "$(p11_objects all)" -eq "$before_all"

# --- in the end -----------------------------------------------------------------------
run signet status "$TOKEN_LABEL" --json
check_rc "status at the end" 0
check "status: ten leaves, each once, and the two CA certificates once" \
  test "$(jq_ "$RIG/out" '[sum(1 for c in d["certificates"] if not c["authority"]), sum(1 for c in d["certificates"] if c["authority"]), len(set(c["id"] for c in d["certificates"] if not c["authority"]))]')" = '[10, 2, 10]'
check "pkcs11-tool: twelve certificate objects" test "$(certs)" -eq 12

tap_done
