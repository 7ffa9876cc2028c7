#!/bin/sh
# signet export and ExportCertificate: the holder certificate and its CA
# chain as the token holds them (CA and e-government portals ask for the
# holder's and the intermediate certificate), by serial, fingerprint or key
# id; PEM with or without the chain, DER alone. Public objects only: no PIN
# is asked or sent.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup
est_ca_start

# --- a token with no certificate of its own -------------------------------------
run signet export "$TOKEN_LABEL" -o "$RIG/none.pem"
check_rc "a token without a certificate: exit 2" 2
check_err "… saying it holds none of its own" "no certificate of its own"
check "… and no file was written" test ! -e "$RIG/none.pem"

est_code --subject "CN=Olek Export,O=Example,C=PL"
activate
check_rc "activate succeeds" 0
run signet status "$TOKEN_LABEL" --json
cp "$RIG/out" "$RIG/status.json"
serial=$(jq_ "$RIG/status.json" '[c for c in d["certificates"] if not c["authority"]][0]["serial"]')
# The serial as the checks below print it: upper case, no leading zeros.
SERIAL_UC=$(echo "$serial" | tr 'a-f' 'A-F' | sed 's/^0*//')
key_id=$(jq_ "$RIG/status.json" '[c for c in d["certificates"] if not c["authority"]][0]["id"]')
n_ca=$(jq_ "$RIG/status.json" 'len([c for c in d["certificates"] if c["authority"]])')
check "the token holds CA certificates to export" test "$n_ca" -ge 1
# Every try the shim saw so far; exporting must add none, not even a good PIN.
tries_before=$(awk 'END { print NR }' "$SIGNET_SHIM_STATE/tries" 2>/dev/null)

# pem_subjects FILE: "subject|issuer" per certificate of a PEM file, in order.
pem_subjects() {
  "$PYTHON" - "$1" <<'PY'
import sys
from cryptography import x509
data = open(sys.argv[1], "rb").read().decode()
end = "-----END CERTIFICATE-----"
for block in data.split(end)[:-1]:
    c = x509.load_pem_x509_certificate((block.strip() + "\n" + end + "\n").encode())
    print(c.subject.rfc4514_string() + "|" + c.issuer.rfc4514_string() + "|%X" % c.serial_number)
PY
}

# --- PEM with the chain (the default) ---------------------------------------------
run signet export "$TOKEN_LABEL" -o "$RIG/chain.pem"
check_rc "export -o FILE: exit 0" 0
check "… says it wrote the certificate and its chain" grep -q "certificate and its CA chain" "$RIG/out"
pem_subjects "$RIG/chain.pem" >"$RIG/chain.txt"
check_eq "… the holder's certificate and every CA certificate on the token" \
  "$((n_ca + 1))" "$(wc -l <"$RIG/chain.txt" | tr -d ' ')"
check "… the holder's first (its serial)" sh -c "head -n 1 '$RIG/chain.txt' | grep -q '|$SERIAL_UC\$'"
check "… each certificate followed by its issuer" "$PYTHON" -c '
import sys
rows = [l.rstrip("\n").split("|") for l in open(sys.argv[1])]
sys.exit(0 if all(rows[i][1] == rows[i + 1][0] for i in range(len(rows) - 1)) else 1)' "$RIG/chain.txt"
check "… and the chain verifies the holder's certificate" "$PYTHON" -c '
import sys
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, ec
end = "-----END CERTIFICATE-----"
cs = [x509.load_pem_x509_certificate((b.strip() + "\n" + end + "\n").encode())
      for b in open(sys.argv[1]).read().split(end)[:-1]]
for c, issuer in zip(cs, cs[1:]):
    k = issuer.public_key()
    if isinstance(k, ec.EllipticCurvePublicKey):
        k.verify(c.signature, c.tbs_certificate_bytes, ec.ECDSA(c.signature_hash_algorithm))
    else:
        k.verify(c.signature, c.tbs_certificate_bytes, padding.PKCS1v15(), c.signature_hash_algorithm)
' "$RIG/chain.pem"

# --- to standard output, holder only, DER ----------------------------------------
run signet export "$TOKEN_LABEL" --no-chain
check_rc "export --no-chain to standard output: exit 0" 0
pem_subjects "$RIG/out" >"$RIG/one.txt"
check_eq "… one certificate, the holder's" "$(head -n 1 "$RIG/chain.txt")" "$(cat "$RIG/one.txt")"
run signet export "$TOKEN_LABEL" --der -o "$RIG/holder.der"
check_rc "export --der -o FILE: exit 0" 0
check_eq "… DER of the holder's certificate (the serial)" "$SERIAL_UC" \
  "$("$PYTHON" -c '
import sys
from cryptography import x509
print("%X" % x509.load_der_x509_certificate(open(sys.argv[1], "rb").read()).serial_number)' "$RIG/holder.der")"

# --- naming the certificate ---------------------------------------------------------
run signet export "$TOKEN_LABEL" --cert "$serial" --no-chain
check_rc "--cert SERIAL: exit 0" 0
check_eq "… that certificate" "$(cat "$RIG/one.txt")" "$(pem_subjects "$RIG/out")"
run signet export "$TOKEN_LABEL" --cert "$key_id" --no-chain
check_rc "--cert KEY-ID: exit 0" 0
run signet export "$TOKEN_LABEL" --cert 0BADC0DE -o "$RIG/bad.pem"
check_rc "--cert that names nothing: exit 2" 2
check_err "… saying so" "has no certificate '0BADC0DE'"
check "… and no file was written" test ! -e "$RIG/bad.pem"
run signet export no-such-token
check_rc "an unknown token: exit 5" 5

# --- JSON, and D-Bus ------------------------------------------------------------------
run signet export "$TOKEN_LABEL" --json
check_rc "--json: exit 0" 0
jcheck "… the PEM and the count" "$RIG/out" "d['count'] == $((n_ca + 1)) and d['pem'].count('BEGIN CERTIFICATE') == $((n_ca + 1))"
run gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
  --method io.signet.Agent1.ExportCertificate "$TOKEN_LABEL" "" "{'chain': <'yes'>}"
check "ExportCertificate with a non-boolean chain option: refused" \
  grep -q "InvalidArgs" "$RIG/err"

check_eq "exporting sent no PIN at all (not even a right one)" "${tries_before:-0}" \
  "$(awk 'END { print NR }' "$SIGNET_SHIM_STATE/tries" 2>/dev/null)"
est_ca_stop
tap_done
