#!/bin/sh
# An issued chain must end at a root the holder already trusts for that CA
# (docs/internals/trust.md), never at a root that came in the same answer.
# Through the EST test CA's modes forged-root (the answer carries a chain up
# to a forged root of the same name as the CA's) and other-root (/cacerts
# too: a CA that moved to another root), on a fresh token behind the test
# shim:
#   - activation refuses a forged chain, leaves nothing on the token, and
#     the code is still good for the next try; the roots it used are recorded;
#   - renewal refuses a forged chain (the new key deleted again, the token as
#     it was), also for a certificate with no recorded roots (the CA's
#     /cacerts is asked, and the roots recorded then); a CA that changed its
#     root is refused before the PIN is sent, and the CA's updated profile
#     (ca-roots) lets the renewal through;
#   - a profile's ca-roots is what activation trusts, not /cacerts;
#   - import: a chain to a root that is only in the file is "not verified",
#     with the root named and what to do; --anchor (or the system's store)
#     makes it verified; a bad --anchor file costs no PIN.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
command -v sqlite3 >/dev/null || skip_all "sqlite3 (the command) is not installed"
rig_setup
est_ca_start
DB="$XDG_STATE_HOME/signet/signet.db"
PROFILES="$XDG_CONFIG_HOME/signet/profiles.d"

objects() { p11_objects all; }
# last_json: the last line of a --json run (the result or the error), its
# error message shown in the log as a TAP comment.
last_json() {
  tail -n 1 "$RIG/out" >"$RIG/last.json"
  "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
if "error" in d:
    print("# said: " + d["error"]["message"])' "$RIG/last.json" 2>/dev/null
}
# steps: the progress steps of the last --json run, in order.
steps() {
  "$PYTHON" -c '
import json, sys
print(" ".join(json.loads(l)["step"] for l in open(sys.argv[1]) if json.loads(l).get("event") == "progress"))' "$RIG/out"
}
renew() {
  run signet renew "$TOKEN_LABEL" --pin-fd 4 "$@" 4<<EOF
$PIN
EOF
}
# fingerprint FILE: SHA-256 as the agent prints it ("AB:CD:…").
fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^.*=//'; }
# roots_of SERIAL: the roots recorded for the certificate of that serial, "SHA256 SOURCE" a line.
roots_of() {
  sqlite3 "file:$DB?mode=ro" "select root_sha256 || ' ' || source from certificate_roots
    where token_serial = '$SERIAL' and ltrim(serial, '0') = ltrim(lower('$1'), '0') order by root_sha256"
}
# leaf_state: the token's certificates and keys, to compare before and after.
leaf_state() {
  "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
    --list-objects 2>/dev/null | grep -E '^(Private Key|Public Key|Certificate) Object|ID:' | tr -s ' '
}
last_renew_state() {
  sqlite3 "file:$DB?mode=ro" "select state from operations where kind='renew' order by id desc limit 1"
}

FP_REAL=$(fingerprint "$ESTCA_DIR/root.pem")
FP_FORGED=$(fingerprint "$ESTCA_DIR/forged-root.pem")
check "the test CA's forged root has the real root's name and another fingerprint" \
  test "$(openssl x509 -in "$ESTCA_DIR/forged-root.pem" -noout -subject)" = \
  "$(openssl x509 -in "$ESTCA_DIR/root.pem" -noout -subject)" -a "$FP_REAL" != "$FP_FORGED"

# --- activation: the answer carries its own (forged) root -------------------------
before=$(objects)
est_code --subject "CN=Ewa Trust,O=Example,C=PL"
estca mode forged-root >/dev/null
activate --json
check_rc "activation: a certificate whose chain ends at a root that came in the answer is refused" 1
last_json
jcheck "… as io.signet.Error.CertificateMismatch, naming the root the CA used and the root trusted, and what to do" "$RIG/last.json" \
  "d['error']['name'] == 'io.signet.Error.CertificateMismatch' and 'does not chain to a root you trust' in d['error']['message'] and '$FP_FORGED' in d['error']['message'] and '$FP_REAL' in d['error']['message'] and 'Nothing was written to the token' in d['error']['message'] and 'Contact your CA' in d['error']['message']"
check_eq "… and nothing is left on the token (the new key deleted again)" "$before" "$(objects)"
run signet status "$TOKEN_LABEL" --json
jcheck "… nor in the state directory" "$RIG/out" 'd["activations"] == []'
check_eq "… nor is a root recorded for the forged certificate" 0 \
  "$(sqlite3 "file:$DB?mode=ro" "select count(*) from certificate_roots where root_sha256 = '$FP_FORGED'")"

estca mode normal >/dev/null
activate --json
check_rc "the same code then activates the token (a forged answer spends nothing)" 0
last_json
serial1=$(jq_ "$RIG/last.json" 'd["certificate"]["serial"]')
check_eq "activation recorded the root it trusted: the CA's, from /cacerts" "$FP_REAL cacerts" "$(roots_of "$serial1")"

# --- renewal: the answer carries its own (forged) root ----------------------------
before=$(leaf_state)
estca mode forged-root >/dev/null
renew --json
check_rc "renewal: a new certificate whose chain ends at a forged root is refused" 1
last_json
jcheck "… as io.signet.Error.CertificateMismatch, naming the forged root and the recorded one, and what to do" "$RIG/last.json" \
  "d['error']['name'] == 'io.signet.Error.CertificateMismatch' and '$FP_FORGED' in d['error']['message'] and '$FP_REAL' in d['error']['message'] and 'recorded for the certificate renewed' in d['error']['message'] and 'install its updated profile' in d['error']['message'] and 'the current certificate stays' in d['error']['message']"
check_eq "… the token is as it was (the new key deleted again)" "$before" "$(leaf_state)"
check_eq "… and the journal entry is rolled back" rolled-back "$(last_renew_state)"

# A certificate with no recorded roots (activated before Signet recorded
# them): the CA's /cacerts over verified TLS stands in, as at activation.
sqlite3 "$DB" "delete from certificate_roots"
renew --json
check_rc "renewal of a certificate with no recorded roots: the forged chain is refused all the same" 1
last_json
jcheck "… against the roots of the CA's /cacerts" "$RIG/last.json" \
  "d['error']['name'] == 'io.signet.Error.CertificateMismatch' and 'from the CA\\'s /cacerts' in d['error']['message']"
check_eq "… the token is as it was" "$before" "$(leaf_state)"
estca mode normal >/dev/null
renew --json
check_rc "with the CA's real answer the renewal succeeds" 0
last_json
serial2=$(jq_ "$RIG/last.json" 'd["certificate"]["serial"]')
check_eq "… and the roots it trusted are recorded for the new certificate" "$FP_REAL cacerts" "$(roots_of "$serial2")"

# --- the CA changed its root: refused before the token is touched -----------------
before=$(leaf_state)
estca mode other-root >/dev/null
renew --json
check_rc "renewal from a CA whose /cacerts now leads to another root is refused" 1
last_json
jcheck "… as io.signet.Error.CaNotTrusted, naming the new root, saying nothing changed and to install the CA's updated profile" "$RIG/last.json" \
  "d['error']['name'] == 'io.signet.Error.CaNotTrusted' and 'now issues under another root' in d['error']['message'] and '$FP_FORGED' in d['error']['message'] and 'Nothing was changed on the token' in d['error']['message'] and 'install its updated profile' in d['error']['message']"
check_eq "… before the PIN is sent: no step after ca-certificates" "check-certificate ca-certificates" "$(steps)"
check_eq "… and the token is as it was" "$before" "$(leaf_state)"

# --- a profile's ca-roots: what activation trusts, not /cacerts ---------------------
# with_ca_roots FILE: the test CA's profile with ca-roots = FILE.
with_ca_roots() { sed "s|^trust-anchors=.*|&\nca-roots=$1|" "$ESTCA_DIR/profile.conf"; }
with_ca_roots "$ESTCA_DIR/root.pem" >"$PROFILES/pinned.conf"
check "the pinned profile names ca-roots" grep -q "^ca-roots=$ESTCA_DIR/root.pem" "$PROFILES/pinned.conf"
before=$(objects)
est_code
PROFILE=pinned activate --json
check_rc "activation through a profile whose ca-roots the CA's /cacerts does not lead to is refused" 1
last_json
jcheck "… as io.signet.Error.CaNotTrusted, with what to do" "$RIG/last.json" \
  "d['error']['name'] == 'io.signet.Error.CaNotTrusted' and '$FP_FORGED' in d['error']['message'] and 'from the profile\\'s ca-roots' in d['error']['message'] and 'install its updated profile' in d['error']['message']"
check_eq "… before the PIN and before any key: no step after ca-certificates" "check-token ca-certificates" "$(steps)"
check_eq "… and nothing is left on the token" "$before" "$(objects)"
estca mode forged-root >/dev/null
PROFILE=pinned activate --json
check_rc "… and a forged answer through it is refused at verify" 1
last_json
jcheck "… naming the root of ca-roots as the trusted one" "$RIG/last.json" \
  "d['error']['name'] == 'io.signet.Error.CertificateMismatch' and '$FP_REAL' in d['error']['message'] and 'from the profile\\'s ca-roots' in d['error']['message']"
check_eq "… and nothing is left on the token" "$before" "$(objects)"
rm -f "$PROFILES/pinned.conf"

# The CA's updated profile names its new root: the renewal goes through, and
# the new certificate chains to that root.
with_ca_roots "$ESTCA_DIR/forged-root.pem" >"$PROFILES/signet-test.conf"
estca mode other-root >/dev/null
renew --json
check_rc "with the CA's updated profile (its new root in ca-roots) the renewal succeeds" 0
last_json
serial3=$(jq_ "$RIG/last.json" 'd["certificate"]["serial"]')
id3=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
"$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --read-object --type cert \
  --id "$id3" -o "$RIG/new.der" >/dev/null 2>&1
check "… the new certificate chains to the new root (openssl)" \
  sh -c "openssl verify -CAfile '$ESTCA_DIR/forged-root.pem' -untrusted '$ESTCA_DIR/forged-issuing.pem' '$RIG/new.der' >/dev/null"
check_eq "… and both roots are recorded for it: the new one from ca-roots, the one recorded before" \
  "$(printf '%s\n' "$FP_FORGED ca-roots" "$FP_REAL cacerts" | LC_ALL=C sort)" "$(roots_of "$serial3")"
estca mode normal >/dev/null
cp "$ESTCA_DIR/profile.conf" "$PROFILES/signet-test.conf"

# --- import: a chain to a root that only came in the file ----------------------------
run signet csr "$TOKEN_LABEL" --subject "CN=Portal Trust,O=Example,C=PL" --type ec:p256 \
  --out "$RIG/portal.csr" --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "csr for the import" 0
estca issue --csr "$RIG/portal.csr" --format pem-chain --out "$RIG/portal.pem"
do_import() {
  run signet import "$TOKEN_LABEL" "$RIG/portal.pem" --pin-fd 3 "$@" 3<<EOF
$PIN
EOF
}
do_import --json
check_rc "import of a chain whose root is only in the file succeeds (the certificate is stored)" 0
jcheck "… but the chain is not verified: the root is named, with its fingerprint, and --anchor is advised" "$RIG/out" \
  "d['chain_verified'] == False and 'the chain ends at the root CN=Signet Test Root CA,O=Signet Test (SHA-256 $FP_REAL)' in d['chain_error'] and 'not among the system' in d['chain_error'] and 'signet import --anchor ROOT-FILE TOKEN FILE' in d['chain_error']"
do_import
check "… in words: NOT verified, and why" grep -q "The chain was NOT verified: the chain ends at the root CN=Signet Test Root CA" "$RIG/out"
serial4=$(openssl x509 -in "$RIG/portal.pem" -noout -serial | sed 's/^serial=//')
check_eq "… and no root is recorded for it" "" "$(roots_of "$serial4")"

do_import --anchor "$ESTCA_DIR/forged-root.pem" --json
jcheck "--anchor with another root of the same name: still not verified, the file's root named" "$RIG/out" \
  "d['chain_verified'] == False and '$FP_REAL' in d['chain_error'] and 'nor in the anchor file given' in d['chain_error']"

do_import --anchor "$ESTCA_DIR/root.pem" --json
check_rc "import with --anchor naming the CA's root" 0
jcheck "… verified, to that root, from the anchor file" "$RIG/out" \
  "d['chain_verified'] == True and d['chain_anchor'] == 'anchor' and d['chain_root'] == 'CN=Signet Test Root CA,O=Signet Test (SHA-256 $FP_REAL)' and 'chain_error' not in d"
do_import --anchor "$ESTCA_DIR/root.pem"
check "… in words" grep -qF "The chain verifies to CN=Signet Test Root CA,O=Signet Test (SHA-256 $FP_REAL), a root from the --anchor file." "$RIG/out"
check_eq "… and the root is recorded for the certificate (its renewal ends there)" "$FP_REAL anchor" "$(roots_of "$serial4")"

openssl x509 -in "$RIG/portal.pem" >"$RIG/holder-only.pem"
do_import --anchor "$RIG/holder-only.pem" --json
check_rc "an --anchor file with no CA certificate is refused" 1
jcheck "… as BadInput, saying what to give" "$RIG/out" \
  "d['error']['name'] == 'io.signet.Error.BadInput' and 'holds no CA certificate' in d['error']['message'] and 'root certificate of the CA' in d['error']['message']"
printf 'not a certificate\n' >"$RIG/junk.pem"
do_import --anchor "$RIG/junk.pem" --json
check_rc "an --anchor file that is no certificate file is refused" 1
jcheck "… as BadInput" "$RIG/out" \
  "d['error']['name'] == 'io.signet.Error.BadInput' and 'anchor file is not a certificate file' in d['error']['message']"

# The system's trusted certificates count (SSL_CERT_FILE, as OpenSSL reads it).
agent_stop
export SSL_CERT_FILE="$ESTCA_DIR/root.pem"
agent_start
do_import --json
check_rc "import with the CA's root among the system's trusted certificates" 0
jcheck "… verified, to the system's root" "$RIG/out" \
  "d['chain_verified'] == True and d['chain_anchor'] == 'system' and '$FP_REAL' in d['chain_root']"
do_import
check "… in words" grep -q "a root the system trusts." "$RIG/out"

check "the agent is still running" agent_alive
tap_done
