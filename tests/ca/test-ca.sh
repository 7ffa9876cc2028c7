#!/bin/sh
# tests/ca/signet-test-ca, driven only by independent tools (curl, openssl):
# serving on a free port and its profile, cacerts, csrattrs, one-time and
# expiring activation codes, enrollment that verifies to the root, the
# deferred and fault modes (forged-root and other-root: a chain ending at a
# forged root of the same name), re-enrollment with TLS client authentication,
# pending re-enrollments (deferred, renew-window, polled without a client
# certificate, kept across a restart), `issue` in every format, and a prompt
# exit on SIGTERM.
. "${top_srcdir:?}/tests/lib.sh"

CA="$top_srcdir/tests/ca/signet-test-ca"
need() {
  if [ "${CI:-}" = true ]; then return 0; fi
  skip_all "$*"
}
command -v curl >/dev/null 2>&1 || need "curl is not installed"
command -v openssl >/dev/null 2>&1 || need "openssl is not installed"
/usr/bin/python3 -c 'import cryptography' 2>/dev/null || need "python3-cryptography is not installed"

T=$(mktemp -d "${TMPDIR:-/tmp}/signet-test-ca.XXXXXX")
D="$T/ca"
PID=
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# start: serve in the background and wait for its "listening" line.
start() {
  : >"$T/out"
  "$CA" serve --dir "$D" >"$T/out" 2>>"$T/log" &
  PID=$!
  i=0
  while ! grep -q '^listening on ' "$T/out" && [ $i -lt 100 ]; do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
  done
  PORT=$(cat "$D/port" 2>/dev/null)
  URL="https://127.0.0.1:$PORT/.well-known/est"
}

# stop: SIGTERM, and wait (at most 3 s) for the process to go.
stop() {
  kill -TERM "$PID"
  i=0
  while kill -0 "$PID" 2>/dev/null && [ $i -lt 30 ]; do
    sleep 0.1
    i=$((i + 1))
  done
}

# est OP [CURL ARGS...]: one request; headers in $T/h, body in $T/b, the
# status in $ST and curl's exit status in $RC.
est() {
  op=$1
  shift
  ST=$(curl -sS --cacert "$D/root.pem" -D "$T/h" -o "$T/b" -w '%{http_code}' "$@" \
    "$URL/$op" 2>"$T/curl-err")
  RC=$?
}
# enroll CRED CSR [CURL ARGS...]
enroll() {
  cred=$1 csr=$2
  shift 2
  est simpleenroll -u "$cred" -H 'Content-Type: application/pkcs10' --data-binary "@$csr" "$@"
}
reenroll() {
  csr=$1
  shift
  est simplereenroll -H 'Content-Type: application/pkcs10' --data-binary "@$csr" "$@"
}
new_code() { "$CA" new-code --dir "$D" "$@" | paste -sd: -; }
quiet() { "$@" >/dev/null 2>&1; }
not() { ! "$@" >/dev/null 2>&1; }
body_has() { grep -qF "$1" "$T/b"; }
header_is() { tr -d '\r' <"$T/h" | grep -qix "$1"; }
# certs FILE: the certificates of a base64 PKCS#7 response, as PEM.
certs() { base64 -d <"$T/b" | openssl pkcs7 -inform DER -print_certs >"$1" 2>/dev/null; }
count_certs() { grep -c 'BEGIN CERTIFICATE' "$1"; }
# csr NAME SUBJECT [KEY]: a base64 DER request (new EC key unless KEY given).
csr() {
  if [ $# -ge 3 ]; then
    openssl req -new -key "$3" -subj "$2" -outform DER -out "$T/$1.der" 2>/dev/null
  else
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$1.key" \
      -subj "$2" -outform DER -out "$T/$1.der" 2>/dev/null
  fi
  base64 <"$T/$1.der" >"$T/$1.b64"
}
pubkey_of_cert() { openssl x509 -in "$1" -noout -pubkey; }
pubkey_of_key() { openssl pkey -in "$1" -pubout; }
same_key() { [ "$(pubkey_of_cert "$1")" = "$(pubkey_of_key "$2")" ]; }
other_key() { ! same_key "$@"; }
# verifies CERT: it chains to the root, at the CA's clock.
verifies() {
  openssl verify -attime "$(date -d "$("$CA" clock --dir "$D")" +%s)" -CAfile "$D/root.pem" \
    -untrusted "$D/issuing.pem" "$1" >"$T/verify" 2>&1 || { sed "s/^/# /" "$T/verify"; false; }
}
subject_of() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
# retry_after: the last answer's Retry-After (empty without one).
retry_after() { tr -d '\r' <"$T/h" | sed -n 's/^[Rr]etry-[Aa]fter: *//p'; }
# between LOW HIGH VALUE
between() { [ -n "$3" ] && [ "$3" -ge "$1" ] && [ "$3" -le "$2" ]; }
# not_after_in FILE DAYS: the certificate ends DAYS days (± 10 minutes)
# after the CA's clock now.
not_after_in() {
  na=$(date -d "$(openssl x509 -in "$1" -noout -enddate | sed 's/^notAfter=//')" +%s)
  now=$(date -d "$("$CA" clock --dir "$D")" +%s)
  between $(($2 * 86400 - 600)) $(($2 * 86400 + 600)) $((na - now))
}
pending_count() { "$CA" pending --dir "$D" | grep -c "$1"; }

# --- serve ------------------------------------------------------------------
start
check "serve prints where it listens" grep -qx "listening on https://127.0.0.1:$PORT" "$T/out"
check "serve writes a port number other than 0" test "${PORT:-0}" -gt 0
check "serve creates the root and the issuing CA" test -s "$D/root.pem" -a -s "$D/issuing.pem"
check "profile.conf: url" grep -qx "url=$URL" "$D/profile.conf"
check "profile.conf: trust anchors, absolute" grep -qx "trust-anchors=$D/root.pem" "$D/profile.conf"
for line in '[profile]' 'display-name=Signet Test CA' 'protocol=est' 'key-type=ec:p256' \
  'subject=ask-ca' 'renewal-key=new' '[labels]' 'key=Signet test signature' \
  'certificate=Signet test signature' 'chain=Signet Test CA'; do
  check "profile.conf: $line" grep -qFx "$line" "$D/profile.conf"
done
check "the root is the documented self-signed CA" \
  test "$(subject_of "$D/root.pem")" = "CN=Signet Test Root CA,O=Signet Test"
check "the issuing CA has path length 0" \
  sh -c "openssl x509 -in '$D/issuing.pem' -noout -text | grep -q 'CA:TRUE, pathlen:0'"

# --- cacerts, csrattrs --------------------------------------------------------
est cacerts
check "cacerts: 200" test "$ST" = 200
check "cacerts: application/pkcs7-mime" header_is 'Content-Type: application/pkcs7-mime'
certs "$T/cacerts.pem"
check "cacerts: two certificates" test "$(count_certs "$T/cacerts.pem")" = 2
check "cacerts: the issuing CA and the root" test "$(grep '^subject=' "$T/cacerts.pem" | paste -sd'|' -)" \
  = "subject=O = Signet Test, CN = Signet Test Issuing CA|subject=O = Signet Test, CN = Signet Test Root CA"
est lbl/cacerts
check "cacerts under a label: 200" test "$ST" = 200
est nothing
check "an unknown operation: 404" test "$ST" = 404

CRED=$(new_code)
REF=${CRED%%:*}
CODE=${CRED#*:}
check "new-code: a reference number" sh -c "echo '$REF' | grep -qx 'REF-[0-9]\{8\}'"
check "new-code: a code of 4 groups of 4" \
  sh -c "echo '$CODE' | grep -qx '[A-Z2-9]\{4\}-[A-Z2-9]\{4\}-[A-Z2-9]\{4\}-[A-Z2-9]\{4\}'"
est csrattrs
check "csrattrs without credentials: 401" test "$ST" = 401
check "401 asks for Basic authentication" header_is 'WWW-Authenticate: Basic realm="signet-test"'
est csrattrs -u "$CRED"
check "csrattrs: 200" test "$ST" = 200
check "csrattrs: application/csrattrs" header_is 'Content-Type: application/csrattrs'
base64 -d <"$T/b" | openssl asn1parse -inform DER >"$T/attrs" 2>&1
check "csrattrs: parses as DER" test $? = 0
check "csrattrs: C, O, CN in DER order, then ecdsa-with-SHA256" \
  test "$(sed -n 's/.*OBJECT *:\([^ ]*\).*/\1/p' "$T/attrs" | paste -sd' ' -)" \
  = "countryName organizationName commonName ecdsa-with-SHA256"
check "csrattrs: the holder's name as UTF8String" \
  grep -q "UTF8STRING *:Test Holder $REF\$" "$T/attrs"
check "csrattrs: the country as PrintableString" grep -q 'PRINTABLESTRING *:PL$' "$T/attrs"
# Canned answers (csrattrs ANSWER); the code is checked as always.
oids_of() {
  base64 -d <"$T/b" | openssl asn1parse -inform DER 2>/dev/null \
    | sed -n 's/.*OBJECT *:\([^ ]*\).*/\1/p' | paste -sd' ' -
}
check "csrattrs: the default answer is subject" test "$("$CA" csrattrs --dir "$D")" = subject
quiet "$CA" csrattrs --dir "$D" ec-p384
est csrattrs -u "$CRED"
check "csrattrs ec-p384: RFC 7030's example after the subject" \
  test "$(oids_of)" = "countryName organizationName commonName challengePassword \
id-ecPublicKey secp384r1 Extension 1.3.6.1.1.1.1.22 ecdsa-with-SHA384"
quiet "$CA" csrattrs --dir "$D" rsa-3072
est csrattrs -u "$CRED"
check "csrattrs rsa-3072: rsaEncryption { 3072 }, sha256WithRSAEncryption" \
  sh -c "base64 -d <'$T/b' | openssl asn1parse -inform DER | grep -q 'INTEGER *:0C00\$'"
check "csrattrs rsa-3072: the OIDs" test "$(oids_of)" \
  = "countryName organizationName commonName rsaEncryption sha256WithRSAEncryption"
quiet "$CA" csrattrs --dir "$D" with-trailing-nul
est csrattrs -u "$CRED"
check "csrattrs with-trailing-nul: ends in a NUL byte" \
  test "$(tail -c 2 "$T/b" | od -An -c | tr -d ' ')" = '\n\0'
quiet "$CA" csrattrs --dir "$D" garbage
est csrattrs -u "$CRED"
check "csrattrs garbage: 200, not base64" sh -c "test '$ST' = 200 && ! base64 -d <'$T/b' >/dev/null 2>&1"
quiet "$CA" csrattrs --dir "$D" none
est csrattrs -u "$CRED"
check "csrattrs none: 204" test "$ST" = 204
check "csrattrs: an unknown answer is refused" not "$CA" csrattrs --dir "$D" bogus
quiet "$CA" csrattrs --dir "$D" subject

# --- simpleenroll -------------------------------------------------------------
csr e1 "/CN=anything"
enroll "$CRED" "$T/e1.b64"
check "simpleenroll: 200" test "$ST" = 200
check "simpleenroll: certs-only PKCS#7" \
  header_is 'Content-Type: application/pkcs7-mime; smime-type=certs-only'
certs "$T/e1.pem"
check "simpleenroll: one certificate" test "$(count_certs "$T/e1.pem")" = 1
check "simpleenroll: for the request's key" same_key "$T/e1.pem" "$T/e1.key"
check "simpleenroll: verifies to the root" verifies "$T/e1.pem"
check "simpleenroll: the subject the CA registered" \
  test "$(subject_of "$T/e1.pem")" = "CN=Test Holder $REF,O=Signet Test,C=PL"
openssl x509 -in "$T/e1.pem" -noout -text >"$T/e1.txt"
check "simpleenroll: digitalSignature and nonRepudiation" \
  grep -q 'Digital Signature, Non Repudiation' "$T/e1.txt"
check "simpleenroll: clientAuth and emailProtection" \
  grep -q 'TLS Web Client Authentication, E-mail Protection' "$T/e1.txt"
enroll "$CRED" "$T/e1.b64"
check "the same code again: 401" test "$ST" = 401
check "the same code again: already used" body_has "unknown or already used activation code"
est csrattrs -u "$CRED"
check "csrattrs with a used code: 401" test "$ST" = 401

CRED=$(new_code --subject "CN=Jan Kowalski,O=Example,C=PL" --validity-days 30)
enroll "${CRED%%:*}:AAAA-BBBB-CCCC-DDDD" "$T/e1.b64"
check "a wrong code: 401" test "$ST" = 401
check "a wrong code: unknown" body_has "unknown or already used activation code"
enroll "REF-00000000:${CRED#*:}" "$T/e1.b64"
check "an unknown reference: 401" test "$ST" = 401
echo 'not a request' >"$T/junk"
enroll "$CRED" "$T/junk"
check "a request that does not parse: 400" test "$ST" = 400
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -subj /CN=x -out "$T/rsa.csr" \
  2>/dev/null
enroll "$CRED" "$T/rsa.csr"
check "an RSA request as raw PEM: 200" test "$ST" = 200
certs "$T/rsa.pem"
check "the RSA certificate is for the request's key" same_key "$T/rsa.pem" "$T/rsa.key"
check "the RSA certificate has the registered subject" \
  test "$(subject_of "$T/rsa.pem")" = "CN=Jan Kowalski,O=Example,C=PL"
check "the RSA certificate lasts the code's 30 days" \
  quiet openssl x509 -in "$T/rsa.pem" -noout -checkend $((29 * 86400))
check "... and not 31" not openssl x509 -in "$T/rsa.pem" -noout -checkend $((31 * 86400))

# --- the clock ----------------------------------------------------------------
OLD=$(new_code)
YOUNG=$(new_code)
"$CA" clock --dir "$D" +14d >/dev/null
enroll "$YOUNG" "$T/e1.b64"
check "a code 14 days old still works" test "$ST" = 200
"$CA" clock --dir "$D" +16d >/dev/null
enroll "$OLD" "$T/e1.b64"
check "a code 16 days old: 401" test "$ST" = 401
check "a code 16 days old: expired" body_has "activation code expired"
"$CA" clock --dir "$D" now >/dev/null
check "clock without a time prints the CA's time" \
  sh -c "'$CA' clock --dir '$D' | grep -qx '[0-9-]*T[0-9:]*Z'"

# --- modes --------------------------------------------------------------------
CRED=$(new_code)
# Time passes on the CA's clock, never the wall clock: a deferral of a minute
# that the clock then skips, so a slow machine cannot make "too early" late.
"$CA" mode --dir "$D" deferred:60
check "mode prints the mode" test "$("$CA" mode --dir "$D")" = deferred:60
enroll "$CRED" "$T/e1.b64"
check "deferred: 202" test "$ST" = 202
check "deferred: Retry-After" header_is 'Retry-After: 60'
enroll "$CRED" "$T/e1.b64"
check "deferred, asked again too early: 202" test "$ST" = 202
check "... with the seconds left" between 1 60 "$(retry_after)"
"$CA" clock --dir "$D" +61s >/dev/null
enroll "$CRED" "$T/e1.b64"
check "deferred, asked again later: 200" test "$ST" = 200
certs "$T/d.pem"
check "deferred: the certificate is for the request's key" same_key "$T/d.pem" "$T/e1.key"
enroll "$CRED" "$T/e1.b64"
check "deferred: the code is used once issued" test "$ST" = 401

CRED=$(new_code)
for status in 401 403 500 503; do
  "$CA" mode --dir "$D" "http-$status"
  enroll "$CRED" "$T/e1.b64"
  check "mode http-$status: $status" test "$ST" = "$status"
done
check "mode http-503: Retry-After: 60" header_is 'Retry-After: 60'
"$CA" mode --dir "$D" truncated
enroll "$CRED" "$T/e1.b64"
check "mode truncated: curl reports a partial transfer (18)" test "$RC" = 18
"$CA" mode --dir "$D" wrong-key
enroll "$CRED" "$T/e1.b64"
check "mode wrong-key: 200" test "$ST" = 200
certs "$T/wk.pem"
check "mode wrong-key: a certificate that verifies" verifies "$T/wk.pem"
check "mode wrong-key: not for the request's key" other_key "$T/wk.pem" "$T/e1.key"
"$CA" mode --dir "$D" forged-root
enroll "$CRED" "$T/e1.b64"
check "mode forged-root: 200" test "$ST" = 200
certs "$T/fr.pem"
check "mode forged-root: the certificate comes with two CA certificates" test "$(count_certs "$T/fr.pem")" = 3
awk '/BEGIN CERT/ { n++ } n == 1' "$T/fr.pem" >"$T/fr-leaf.pem"
awk '/BEGIN CERT/ { n++ } n == 3' "$T/fr.pem" >"$T/fr-root.pem"
check "mode forged-root: for the request's key" same_key "$T/fr-leaf.pem" "$T/e1.key"
check "mode forged-root: it does not verify to the CA's root" not verifies "$T/fr-leaf.pem"
check "mode forged-root: the root sent has the real root's name" \
  test "$(subject_of "$T/fr-root.pem")" = "CN=Signet Test Root CA,O=Signet Test"
fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256; }
check "mode forged-root: ... but is another certificate (forged-root.pem)" \
  sh -c "[ '$(fingerprint "$T/fr-root.pem")' != '$(fingerprint "$D/root.pem")' ] && [ '$(fingerprint "$T/fr-root.pem")' = '$(fingerprint "$D/forged-root.pem")' ]"
check "mode forged-root: the chain sent verifies to that forged root" \
  quiet openssl verify -CAfile "$D/forged-root.pem" -untrusted "$D/forged-issuing.pem" "$T/fr-leaf.pem"
est cacerts
certs "$T/fr-cacerts.pem"
check "mode forged-root: /cacerts still gives the real chain" grep -qF "$(sed -n 2p "$D/root.pem")" "$T/fr-cacerts.pem"
"$CA" mode --dir "$D" other-root
est cacerts
certs "$T/or-cacerts.pem"
check "mode other-root: /cacerts gives the forged chain" \
  sh -c "grep -qF '$(sed -n 2p "$D/forged-root.pem")' '$T/or-cacerts.pem' && ! grep -qF '$(sed -n 2p "$D/root.pem")' '$T/or-cacerts.pem'"
enroll "$CRED" "$T/e1.b64"
check "mode other-root: 200 with the same code (forged-root did not spend it)" test "$ST" = 200
"$CA" mode --dir "$D" slow:4
enroll "$CRED" "$T/e1.b64" --max-time 1
check "mode slow: the client times out (28)" test "$RC" = 28
"$CA" mode --dir "$D" normal
CRED=$(new_code)
enroll "$CRED" "$T/e1.b64"
check "mode normal again: 200" test "$ST" = 200
check "mode rejects an unknown mode" not "$CA" mode --dir "$D" sideways

# --- simplereenroll -----------------------------------------------------------
SUBJ=$(openssl x509 -in "$T/e1.pem" -noout -subject -nameopt compat | sed 's/^subject=//')
csr r1 "$SUBJ"
reenroll "$T/r1.b64" --cert "$T/e1.pem" --key "$T/e1.key"
check "simplereenroll with the issued certificate: 200" test "$ST" = 200
certs "$T/r1.pem"
check "simplereenroll: for the new key" same_key "$T/r1.pem" "$T/r1.key"
check "simplereenroll: the same subject" test "$(subject_of "$T/r1.pem")" = "$(subject_of "$T/e1.pem")"
check "simplereenroll: a new serial" test "$(openssl x509 -in "$T/r1.pem" -noout -serial)" \
  != "$(openssl x509 -in "$T/e1.pem" -noout -serial)"
check "simplereenroll: verifies to the root" verifies "$T/r1.pem"
csr r2 "$SUBJ" "$T/r1.key"
reenroll "$T/r2.b64" --cert "$T/r1.pem" --key "$T/r1.key" --tlsv1.2 --tls-max 1.2
check "simplereenroll with the same key over TLS 1.2: 200" test "$ST" = 200
reenroll "$T/r1.b64"
check "simplereenroll without a client certificate: 401" test "$ST" = 401
check "... saying a certificate is required" body_has "a valid client certificate issued by this CA is required"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -keyout "$T/self.key" -subj "$SUBJ" -out "$T/self.pem" 2>/dev/null
reenroll "$T/r1.b64" --cert "$T/self.pem" --key "$T/self.key"
check "simplereenroll with a certificate from elsewhere: 401" test "$ST" = 401
check "... saying a certificate of this CA is required" \
  body_has "a valid client certificate issued by this CA is required"
csr r3 "/CN=Somebody Else"
reenroll "$T/r3.b64" --cert "$T/e1.pem" --key "$T/e1.key"
check "simplereenroll for another subject: 403" test "$ST" = 403
check "... saying the subject differs" body_has "subject differs from the current certificate"
"$CA" clock --dir "$D" +400d >/dev/null
reenroll "$T/r1.b64" --cert "$T/e1.pem" --key "$T/e1.key"
check "simplereenroll after notAfter: 401" test "$ST" = 401
check "... saying the certificate has expired" body_has "the current certificate has expired"
check "... and when, with what to do" body_has "request a new certificate"
"$CA" clock --dir "$D" now >/dev/null

# --- pending re-enrollment: deferred --------------------------------------------
"$CA" clock --dir "$D" now >/dev/null
"$CA" mode --dir "$D" deferred:60
csr p1 "$SUBJ"
reenroll "$T/p1.b64" --cert "$T/e1.pem" --key "$T/e1.key"
check "deferred re-enrollment: 202" test "$ST" = 202
check "deferred re-enrollment: Retry-After: 60" header_is 'Retry-After: 60'
check "pending lists it by the request's SHA-256, as a re-enrollment" \
  test "$(pending_count "^$(sha256sum <"$T/p1.der" | cut -d' ' -f1) simplereenroll cert:")" = 1
reenroll "$T/p1.b64" --cert "$T/e1.pem" --key "$T/e1.key"
check "deferred re-enrollment, asked again too early: 202" test "$ST" = 202
check "... and still one pending request" test "$(pending_count simplereenroll)" = 1
reenroll "$T/p1.b64"
check "a poll without a client certificate, too early: 202" test "$ST" = 202
check "... with the seconds left" between 1 60 "$(retry_after)"
csr p2 "$SUBJ"
reenroll "$T/p2.b64"
check "without a client certificate, a request the CA never accepted: 401" test "$ST" = 401
check "... saying a certificate is required" body_has "a valid client certificate issued by this CA is required"
check "... and nothing more pending" test "$(pending_count simplereenroll)" = 1
"$CA" clock --dir "$D" +61s >/dev/null
reenroll "$T/p1.b64"
check "a poll without a client certificate, later: 200" test "$ST" = 200
certs "$T/p1.pem"
check "... a certificate for the request's key" same_key "$T/p1.pem" "$T/p1.key"
check "... with the subject of the certificate that authorised it" \
  test "$(subject_of "$T/p1.pem")" = "$(subject_of "$T/e1.pem")"
check "... that verifies to the root" verifies "$T/p1.pem"
check "... and nothing pending any more" test "$(pending_count .)" = 0
reenroll "$T/p1.b64"
check "the same poll once issued: 401" test "$ST" = 401
# The client's re-signed request for the same key is the same request.
reenroll "$T/p2.b64" --cert "$T/e1.pem" --key "$T/e1.key"
check "deferred re-enrollment of another key: 202" test "$ST" = 202
csr p2b "$SUBJ" "$T/p2.key"
"$CA" clock --dir "$D" +122s >/dev/null
reenroll "$T/p2b.b64" --cert "$T/e1.pem" --key "$T/e1.key"
check "the same certificate and key, the request signed again, later: 200" test "$ST" = 200
check "... and nothing pending any more" test "$(pending_count .)" = 0
"$CA" clock --dir "$D" now >/dev/null

# A request accepted on /simpleenroll (code) cannot be fetched without it.
CRED=$(new_code)
enroll "$CRED" "$T/p2.b64"
check "deferred enrollment: 202" test "$ST" = 202
reenroll "$T/p2.b64"
check "... its request on /simplereenroll without a certificate: 401" test "$ST" = 401
"$CA" pending --dir "$D" --clear
check "pending --clear forgets it" test "$(pending_count .)" = 0

# --- pending re-enrollment: renew-window, across a restart ----------------------
CRED=$(new_code --validity-days 40)
"$CA" mode --dir "$D" normal
enroll "$CRED" "$T/e1.b64"
check "a code made with --validity-days 40: 200" test "$ST" = 200
certs "$T/w40.pem"
check "... a certificate that ends 40 days from now (CA clock)" not_after_in "$T/w40.pem" 40
SUBJ40=$(openssl x509 -in "$T/w40.pem" -noout -subject -nameopt compat | sed 's/^subject=//')
check "mode rejects renew-window with junk" not "$CA" mode --dir "$D" renew-window:soon
"$CA" mode --dir "$D" renew-window:3
check "mode renew-window:3" test "$("$CA" mode --dir "$D")" = renew-window:3
csr w1 "$SUBJ40"
reenroll "$T/w1.b64" --cert "$T/w40.pem" --key "$T/e1.key"
check "renew-window: 202, 37 days before the window opens" test "$ST" = 202
check "... Retry-After in seconds up to 3 days before notAfter" \
  between $((37 * 86400 - 600)) $((37 * 86400)) "$(retry_after)"
check "... exactly when the certificate has 3 days left" test "$(($(date -d "$(openssl x509 -in \
  "$T/w40.pem" -noout -enddate | sed 's/^notAfter=//')" +%s) - 3 * 86400 - $(date +%s)))" \
  -le "$(($(retry_after) + 2))"
enroll "$(new_code)" "$T/e1.b64"
check "renew-window does not defer enrollment" test "$ST" = 200
stop
wait "$PID"
PID=
start
check "after a restart of the CA, the request is still pending" \
  test "$(pending_count "^$(sha256sum <"$T/w1.der" | cut -d' ' -f1) simplereenroll")" = 1
"$CA" clock --dir "$D" +36d >/dev/null
reenroll "$T/w1.b64"
check "a poll without a certificate a day before the window: 202" test "$ST" = 202
check "... Retry-After: about a day" between $((86400 - 600)) 86400 "$(retry_after)"
"$CA" mode --dir "$D" normal
reenroll "$T/w1.b64"
check "the CA's date stands after a change of mode: 202" test "$ST" = 202
"$CA" mode --dir "$D" renew-window:3
"$CA" clock --dir "$D" +889h >/dev/null
reenroll "$T/w1.b64"
check "a poll without a certificate in the window: 200" test "$ST" = 200
certs "$T/w1.pem"
check "... for the request's key" same_key "$T/w1.pem" "$T/w1.key"
check "... the same subject" test "$(subject_of "$T/w1.pem")" = "$(subject_of "$T/w40.pem")"
check "... again for 40 days, from the CA's clock" not_after_in "$T/w1.pem" 40
check "... that verifies to the root" verifies "$T/w1.pem"
csr w2 "$SUBJ40"
reenroll "$T/w2.b64" --cert "$T/w40.pem" --key "$T/e1.key"
check "renew-window, a new request inside the window: 200 at once" test "$ST" = 200
"$CA" clock --dir "$D" +36d >/dev/null
csr w3 "$SUBJ40"
reenroll "$T/w3.b64" --cert "$T/w40.pem" --key "$T/e1.key"
check "renew-window: a third request, still before the window: 202" test "$ST" = 202
"$CA" pending --dir "$D" --release
reenroll "$T/w3.b64"
check "pending --release: the next poll issues" test "$ST" = 200
"$CA" clock --dir "$D" +41d >/dev/null
reenroll "$T/w3.b64" --cert "$T/w40.pem" --key "$T/e1.key"
check "the certificate expired on the CA's clock: 401" test "$ST" = 401
check "... saying it has expired" body_has "the current certificate has expired"
"$CA" clock --dir "$D" -1d >/dev/null
reenroll "$T/w3.b64" --cert "$T/w1.pem" --key "$T/w1.key"
check "a certificate not valid yet on the CA's clock: 401" test "$ST" = 401
check "... saying so" body_has "the current certificate is not valid yet"
"$CA" clock --dir "$D" now >/dev/null
"$CA" mode --dir "$D" normal

# --- issue --------------------------------------------------------------------
csr m "/C=PL/O=Example/CN=Portal User"
for fmt in pem der pem-chain p7b p7b-pem; do
  "$CA" issue --dir "$D" --csr "$T/m.der" --format "$fmt" --out "$T/out.$fmt"
done
check "issue --format pem: the request's subject" \
  test "$(subject_of "$T/out.pem")" = "CN=Portal User,O=Example,C=PL"
check "issue --format pem: for the request's key" same_key "$T/out.pem" "$T/m.key"
check "issue --format der" openssl x509 -inform DER -in "$T/out.der" -noout
check "issue --format pem-chain: three certificates" test "$(count_certs "$T/out.pem-chain")" = 3
check "issue --format pem-chain: the leaf verifies" verifies "$T/out.pem-chain"
openssl pkcs7 -inform DER -in "$T/out.p7b" -print_certs >"$T/p7b.pem" 2>/dev/null
check "issue --format p7b: three certificates" test "$(count_certs "$T/p7b.pem")" = 3
check "issue --format p7b-pem: PKCS7 armour" grep -q -- '-----BEGIN PKCS7-----' "$T/out.p7b-pem"
openssl pkcs7 -in "$T/out.p7b-pem" -print_certs >"$T/p7bpem.pem" 2>/dev/null
check "issue --format p7b-pem: three certificates" test "$(count_certs "$T/p7bpem.pem")" = 3
"$CA" issue --dir "$D" --csr "$T/m.b64" >"$T/stdout.pem" 2>/dev/null
check "issue: base64 DER on input, PEM on stdout" openssl x509 -in "$T/stdout.pem" -noout

# --- the log, SIGTERM, a second serve --------------------------------------------
check "one log line per request" grep -q '^signet-test-ca: POST /.well-known/est/simpleenroll 401$' "$T/log"
check "no activation code in the log" not grep -qF "$CODE" "$T/log"
cp "$D/root.pem" "$T/root-before.pem"
kill -TERM "$PID"
i=0
while kill -0 "$PID" 2>/dev/null && [ $i -lt 30 ]; do
  sleep 0.1
  i=$((i + 1))
done
check "SIGTERM stops it within 3 s" not kill -0 "$PID"
wait "$PID"
check "... with exit status 0" test $? = 0
PID=
start
check "a second serve on the same directory listens" grep -q '^listening on ' "$T/out"
check "... with the same root" cmp -s "$D/root.pem" "$T/root-before.pem"
check "... and rewrites profile.conf" grep -qx "url=$URL" "$D/profile.conf"
est cacerts
check "... and serves" test "$ST" = 200

tap_done
