#!/bin/sh
# tests/ca/signet-test-cmp-ca, the CMP face of the test CA, driven only by
# OpenSSL's own CMP client (`openssl cmp`) and curl: serving on a free port
# and its profile, ir/cr/p10cr under a MAC made with the reference number and
# activation code, the CA's subject and validity, caPubs and extraCerts,
# certConf and implicitConfirm, persistent connections, a wrong, unknown,
# used and expired code (each with its failInfo and words), kur signed with
# the current certificate (new or same key, expired), deferred requests
# polled within the transaction and after the client gave up (the CA's
# clock moved, never waited for), http-503, bodies that are not CMP, and a
# prompt exit on SIGTERM.
. "${top_srcdir:?}/tests/lib.sh"

CA="$top_srcdir/tests/ca/signet-test-ca"
CMPCA="${top_builddir:?}/tests/ca/signet-test-cmp-ca"
need() {
  if [ "${CI:-}" = true ]; then return 0; fi
  skip_all "$*"
}
command -v openssl >/dev/null 2>&1 || need "openssl is not installed"
command -v curl >/dev/null 2>&1 || need "curl is not installed"
/usr/bin/python3 -c 'import cryptography' 2>/dev/null || need "python3-cryptography is not installed"

T=$(mktemp -d "${TMPDIR:-/tmp}/signet-test-cmp-ca.XXXXXX")
D="$T/ca"
PID=
# KEEP=1: leave $T (the CA, the log, the last client output) for a look.
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# The server said it listens, or it is gone.
listening_or_gone() { grep -q '^listening on ' "$T/out" || ! kill -0 "$PID" 2>/dev/null; }
gone() { ! kill -0 "$PID" 2>/dev/null; }

# start: serve in the background and wait for its "listening" line.
start() {
  : >"$T/out"
  "$CMPCA" serve --dir "$D" >"$T/out" 2>>"$T/log" &
  PID=$!
  wait_until 20 listening_or_gone
  PORT=$(cat "$D/cmp-port" 2>/dev/null)
  URL="https://127.0.0.1:$PORT/cmp"
}

# cmpc ARGS...: one `openssl cmp` session against the CA (TLS and CMP trust
# the CA's root; errors may come unprotected); its output in $T/cmp-out, its
# exit status in $RC.
cmpc() {
  timeout 60 openssl cmp -server "$URL" -tls_used -tls_trusted "$D/root.pem" \
    -trusted "$D/root.pem" -unprotected_errors "$@" >"$T/cmp-out" 2>&1
  RC=$?
}
said() { grep -qF -- "$1" "$T/cmp-out"; }
# refused FAILINFO TEXT: the last session was refused with that failInfo
# and statusString.
refused() {
  [ "$RC" != 0 ] && said "PKIStatus: rejection; PKIFailureInfo: $1; StatusString: \"$2" && return 0
  grep -v 'info:' "$T/cmp-out" | sed 's/^/# /'
  false
}
# new_code [ARGS...]: $REF and $CODE; every code also in $T/codes.
new_code() {
  "$CA" new-code --dir "$D" "$@" >"$T/code"
  REF=$(sed -n 1p "$T/code")
  CODE=$(sed -n 2p "$T/code")
  echo "$CODE" >>"$T/codes"
}
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$1" 2>/dev/null; }
code_state() { "$CA" cmp-check --dir "$D" --ref "$1" | sed -n 's/^code \([a-z]*\).*/\1/p'; }
not() { ! "$@" >/dev/null 2>&1; }
same_key() {
  [ "$(openssl x509 -in "$1" -noout -pubkey)" = "$(openssl pkey -in "$2" -pubout)" ]
}
# subjects_in FILE: the subjects of the certificates in a PEM file, one a line.
subjects_in() {
  openssl crl2pkcs7 -nocrl -certfile "$1" | openssl pkcs7 -print_certs -noout \
    | sed -n 's/^subject=//p'
}
# lists COMMAND PATTERN: signet-test-ca COMMAND (issued, pending) prints a
# line that matches.
lists() { "$CA" "$1" --dir "$D" >"$T/list" && grep -q -- "$2" "$T/list"; }
is_der() { openssl asn1parse -inform DER -in "$1" >/dev/null 2>&1; }
has_subject() { subjects_in "$1" | grep -qF "$2"; }
subject_of() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
serial_of() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' | tr 'A-F' 'a-f' | sed 's/^0*//'; }
verifies() {
  openssl verify -attime "$(date -d "$("$CA" clock --dir "$D")" +%s)" -CAfile "$D/root.pem" \
    -untrusted "$D/issuing.pem" "$1" >"$T/verify" 2>&1 || { sed "s/^/# /" "$T/verify"; false; }
}
between() { [ -n "$3" ] && [ "$3" -ge "$1" ] && [ "$3" -le "$2" ]; }
not_after_in() {
  na=$(date -d "$(openssl x509 -in "$1" -noout -enddate | sed 's/^notAfter=//')" +%s)
  now=$(date -d "$("$CA" clock --dir "$D")" +%s)
  between $(($2 * 86400 - 600)) $(($2 * 86400 + 600)) $((na - now))
}
log_count() { grep -c -- "$1" "$T/log"; }
# post FILE [CURL ARGS...]: FILE as the body of a POST to /cmp; the status in
# $ST, headers in $T/h.
post() {
  f=$1
  shift
  ST=$(curl -sS --cacert "$D/root.pem" -D "$T/h" -o "$T/b" -w '%{http_code}' \
    -H 'Content-Type: application/pkixcmp' --data-binary "@$f" "$@" "$URL" 2>"$T/curl-err")
}

# --- serve ------------------------------------------------------------------
start
check "serve prints where it listens" grep -qx "listening on https://127.0.0.1:$PORT/cmp" "$T/out"
check "serve writes a port number other than 0" test "${PORT:-0}" -gt 0
check "serve creates the CA (root, issuing CA)" test -s "$D/root.pem" -a -s "$D/issuing.pem"
for line in '[profile]' 'protocol=cmp' "url=$URL" "trust-anchors=$D/root.pem" \
  'subject=CN=${reference},O=Signet Test' 'key-type=ec:p256' '[labels]'; do
  check "cmp-profile.conf: $line" grep -qFx "$line" "$D/cmp-profile.conf"
done

# --- ir under a MAC ---------------------------------------------------------------
new_code --subject "CN=Jan Kowalski,O=Example,C=PL" --validity-days 40
newkey k1.pem
cmpc -cmd ir -ref "$REF" -secret "pass:$CODE" -newkey "$T/k1.pem" -subject "/CN=asked by the client" \
  -certout "$T/ir.pem" -cacertsout "$T/capubs.pem" -extracertsout "$T/extra.pem"
check "ir: openssl cmp succeeds" test "$RC" = 0
check "ir: a certificate for the new key" same_key "$T/ir.pem" "$T/k1.pem"
check "ir: the holder's subject, as the CA decides" \
  test "$(subject_of "$T/ir.pem")" = "CN=Jan Kowalski,O=Example,C=PL"
check "ir: valid for --validity-days 40 (CA clock)" not_after_in "$T/ir.pem" 40
check "ir: chains to the root" verifies "$T/ir.pem"
check "ir: caPubs is the root" cmp -s "$T/capubs.pem" "$D/root.pem"
check "ir: extraCerts hold the issuing CA" \
  test "$(subject_of "$T/extra.pem")" = "CN=Signet Test Issuing CA,O=Signet Test"
check "ir: the response's MAC verified (no unprotected warning)" not said "protection"
check "ir: certConf answered with pkiConf" grep -q 'POST /cmp 200 certConf -> pkiconf' "$T/log"
check "ir: certConf on the same connection (keep-alive)" \
  grep -q 'certConf -> pkiconf (request 2 on this connection)' "$T/log"
check "ir: the code is used" test "$(code_state "$REF")" = used
check "ir: issued lists it under the reference" \
  lists issued "^$(serial_of "$T/ir.pem") ref:$REF "
cmpc -cmd ir -ref "$REF" -secret "pass:$CODE" -subject "/CN=x" -newkey "$T/k1.pem" -certout "$T/again.pem"
check "ir with a used code: badRequest, unknown or already used" \
  refused badRequest "unknown or already used activation code"
check "... and no certificate" test ! -s "$T/again.pem"

# The same ir sent again by curl: a CMP answer (the refusal of a used code),
# 100-continue honoured, and two on one connection with keep-alive only.
new_code
cmpc -cmd ir -ref "$REF" -secret "pass:$CODE" -subject "/CN=x" -newkey "$T/k1.pem" \
  -certout "$T/ir2.pem" -reqout "$T/ir.der,$T/certconf.der"
ST=$(curl -sS -v --cacert "$D/root.pem" -H 'Content-Type: application/pkixcmp' \
  -H 'Expect: 100-continue' --data-binary "@$T/ir.der" -o "$T/b" -w '%{http_code}' "$URL" \
  2>"$T/curl-err")
check "curl, an ir: 200" test "$ST" = 200
check "curl, an ir: Expect: 100-continue answered" grep -q '< HTTP/1.1 100 Continue' "$T/curl-err"
check "curl, an ir: Content-Type: application/pkixcmp" grep -qi "< Content-Type: application/pkixcmp" "$T/curl-err"
check "curl, an ir: the answer is DER" is_der "$T/b"
check "curl, without keep-alive: Connection: close" grep -qi '< Connection: close' "$T/curl-err"
curl -sS -v --cacert "$D/root.pem" -H 'Content-Type: application/pkixcmp' \
  -H 'Connection: keep-alive' --data-binary "@$T/ir.der" -o /dev/null "$URL" \
  --next --cacert "$D/root.pem" -H 'Content-Type: application/pkixcmp' \
  -H 'Connection: keep-alive' --data-binary "@$T/ir.der" -o /dev/null "$URL" 2>"$T/curl-err"
check "curl, two with keep-alive: one connection" grep -qi 're-using existing connection' "$T/curl-err"

# --- p10cr, cr, implicitConfirm -------------------------------------------------------
new_code
newkey k2.pem
openssl req -new -key "$T/k2.pem" -subj "/CN=from the CSR" -out "$T/k2.csr" 2>/dev/null
before=$(log_count 'certConf')
cmpc -cmd p10cr -ref "$REF" -secret "pass:$CODE" -csr "$T/k2.csr" -implicit_confirm -certout "$T/p10.pem"
check "p10cr: openssl cmp succeeds" test "$RC" = 0
check "p10cr: a certificate for the CSR's key" same_key "$T/p10.pem" "$T/k2.pem"
check "p10cr: the CA's subject, not the CSR's" \
  test "$(subject_of "$T/p10.pem")" = "CN=Test Holder $REF,O=Signet Test,C=PL"
check "p10cr: implicitConfirm granted (no certConf sent)" test "$(log_count 'certConf')" = "$before"
new_code
cmpc -cmd cr -ref "$REF" -secret "pass:$CODE" -subject "/CN=x" -newkey "$T/k2.pem" -certout "$T/cr.pem"
check "cr: a certificate" same_key "$T/cr.pem" "$T/k2.pem"

# --- wrong, unknown and expired codes ----------------------------------------------
new_code
cmpc -cmd ir -ref "$REF" -secret "pass:ABCD-EFGH-JKLM-NPQR" -subject "/CN=x" -newkey "$T/k1.pem" -certout "$T/w.pem"
check "wrong code: badMessageCheck, wrong activation code" refused badMessageCheck "wrong activation code"
check "... the code stays usable" test "$(code_state "$REF")" = ok
cmpc -cmd ir -ref "REF-00000000" -secret "pass:$CODE" -subject "/CN=x" -newkey "$T/k1.pem" -certout "$T/w.pem"
check "unknown reference: badRequest" refused badRequest "unknown or already used activation code"
"$CA" clock --dir "$D" +16d >/dev/null
cmpc -cmd ir -ref "$REF" -secret "pass:$CODE" -subject "/CN=x" -newkey "$T/k1.pem" -certout "$T/w.pem"
check "expired code (CA clock +16d): badTime, activation code expired" \
  refused badTime "activation code expired"
"$CA" clock --dir "$D" now >/dev/null
cmpc -cmd ir -ref "$REF" -secret "pass:$CODE" -subject "/CN=x" -newkey "$T/k1.pem" -certout "$T/w.pem"
check "the same code with the clock back: issued" test "$RC" = 0 -a -s "$T/w.pem"

new_code
cmpc -cmd ir -unprotected_requests -subject "/CN=x" -newkey "$T/k1.pem" -certout "$T/w.pem"
check "ir without protection: wrongIntegrity, must be protected with a MAC" \
  refused wrongIntegrity "an initial enrollment (ir, cr, p10cr) must be protected with a MAC"
check "... the code stays usable" test "$(code_state "$REF")" = ok

# --- kur ------------------------------------------------------------------------------
newkey k3.pem
cmpc -cmd kur -cert "$T/ir.pem" -key "$T/k1.pem" -newkey "$T/k3.pem" -certout "$T/kur.pem" \
  -extracertsout "$T/kur-extra.pem"
check "kur: openssl cmp succeeds (the response's signature verifies to the root)" test "$RC" = 0
check "kur: a certificate for the new key" same_key "$T/kur.pem" "$T/k3.pem"
check "kur: the same subject" test "$(subject_of "$T/kur.pem")" = "$(subject_of "$T/ir.pem")"
check "kur: as long as the certificate it renews was made to (40 days)" not_after_in "$T/kur.pem" 40
check "kur: chains to the root" verifies "$T/kur.pem"
check "kur: extraCerts hold the issuing CA" has_subject "$T/kur-extra.pem" "CN = Signet Test Issuing CA"
check "kur: issued records it as a renewal" \
  lists issued "^$(serial_of "$T/kur.pem") ref:- "
cmpc -cmd kur -cert "$T/kur.pem" -key "$T/k3.pem" -newkey "$T/k3.pem" -certout "$T/kur-same.pem"
check "kur with the same key" same_key "$T/kur-same.pem" "$T/k3.pem"
cmpc -cmd kur -ref "$REF" -secret "pass:$CODE" -oldcert "$T/kur-same.pem" -newkey "$T/k3.pem" \
  -certout "$T/kur-x.pem"
check "kur under a MAC: wrongIntegrity, must be signed" \
  refused wrongIntegrity "a renewal (kur) must be signed with the current certificate's key"
"$CA" clock --dir "$D" +41d >/dev/null
cmpc -cmd kur -cert "$T/kur-same.pem" -key "$T/k3.pem" -newkey "$T/k3.pem" -certout "$T/kur-x.pem"
check "kur with an expired certificate (CA clock): badTime, the current certificate has expired" \
  refused badTime "the current certificate has expired"
"$CA" clock --dir "$D" now >/dev/null

# --- deferred: polled after the client gave up, on the CA's clock ------------------------
"$CA" mode --dir "$D" deferred:3600
new_code
newkey k4.pem
# The client polls at once, then sleeps until its total timeout (checkAfter
# is far longer) and gives up: 10 s, so that the ir and the first pollReq fit
# in it on a loaded machine (3 s did not under ASan while another build ran).
cmpc -cmd ir -ref "$REF" -secret "pass:$CODE" -subject "/CN=x" -newkey "$T/k4.pem" -certout "$T/d.pem" -total_timeout 10
check "deferred: waiting, then pollRep" grep -q 'pollReq -> pollRep' "$T/log"
after=$(sed -n 's/.*checkAfter = \([0-9]*\) seconds.*/\1/p' "$T/cmp-out" | head -n 1)
check "deferred: checkAfter is the seconds left on the CA's clock" between 3590 3600 "$after"
check "deferred: the client gave up, no certificate" test "$RC" != 0 -a ! -s "$T/d.pem"
check "deferred: pending lists the ir" lists pending " ir ref:$REF "
check "deferred: the code is not used yet" test "$(code_state "$REF")" = ok
"$CA" clock --dir "$D" +3601s >/dev/null
cmpc -cmd ir -ref "$REF" -secret "pass:$CODE" -subject "/CN=x" -newkey "$T/k4.pem" -certout "$T/d.pem"
check "deferred: a new ir for the same key, after the date, gets the certificate" \
  same_key "$T/d.pem" "$T/k4.pem"
check "deferred: nothing pending any more" test -z "$("$CA" pending --dir "$D")"
check "deferred: the code is used now" test "$(code_state "$REF")" = used
"$CA" clock --dir "$D" now >/dev/null
# A renewal accepted (renew-window: a certificate with 40 days left waits
# until it has 30), polled by a new kur after the client gave up.
"$CA" mode --dir "$D" renew-window:30
newkey k6.pem
cmpc -cmd kur -cert "$T/kur-same.pem" -key "$T/k3.pem" -newkey "$T/k6.pem" -certout "$T/rw.pem" \
  -total_timeout 10
after=$(sed -n 's/.*checkAfter = \([0-9]*\) seconds.*/\1/p' "$T/cmp-out" | head -n 1)
check "renew-window:30: the kur waits about 10 days" between 863000 864100 "$after"
check "renew-window:30: pending lists the kur" \
  lists pending " kur cert:$(serial_of "$T/kur-same.pem") "
"$CA" clock --dir "$D" +11d >/dev/null
cmpc -cmd kur -cert "$T/kur-same.pem" -key "$T/k3.pem" -newkey "$T/k6.pem" -certout "$T/rw.pem"
check "renew-window:30: a new kur for the same key, inside the window: the certificate" \
  same_key "$T/rw.pem" "$T/k6.pem"
check "renew-window:30: the same subject" \
  test "$(subject_of "$T/rw.pem")" = "$(subject_of "$T/kur-same.pem")"
"$CA" clock --dir "$D" now >/dev/null

# Within one transaction: openssl cmp sleeps checkAfter (rounded up) between
# polls, so its next poll finds the request ready on the CA's clock.
"$CA" mode --dir "$D" deferred:2
new_code
cmpc -cmd ir -ref "$REF" -secret "pass:$CODE" -subject "/CN=x" -newkey "$T/k4.pem" -certout "$T/d2.pem"
check "deferred:2: polled within the transaction, the certificate" same_key "$T/d2.pem" "$T/k4.pem"
check "deferred:2: the pollReq answered with the ip" grep -q 'pollReq -> ip' "$T/log"
"$CA" mode --dir "$D" normal

# --- http-503, and what is not CMP ------------------------------------------------------
"$CA" mode --dir "$D" http-503
new_code
cmpc -cmd ir -ref "$REF" -secret "pass:$CODE" -subject "/CN=x" -newkey "$T/k1.pem" -certout "$T/h.pem"
check "http-503: the client sees HTTP 503" said "code=503"
check "http-503: the code is not used" test "$(code_state "$REF")" = ok
head -c 100 /dev/zero >"$T/zero.bin"
post "$T/zero.bin"
check "http-503: curl sees 503" test "$ST" = 503
check "http-503: Retry-After: 60" sh -c "tr -d '\r' <'$T/h' | grep -qix 'Retry-After: 60'"
"$CA" mode --dir "$D" normal
printf 'this is not DER at all' >"$T/text.bin"
post "$T/text.bin"
check "garbage body: 400" test "$ST" = 400
printf '\060\202\377\377\002\001\002' >"$T/cut.bin"
post "$T/cut.bin"
check "a PKIMessage cut short: 400" test "$ST" = 400
post "$T/text.bin" -H 'Content-Type: text/plain'
check "another Content-Type: 415" test "$ST" = 415
ST=$(curl -sS --cacert "$D/root.pem" -o /dev/null -w '%{http_code}' "$URL" 2>/dev/null)
check "GET: 405" test "$ST" = 405
ST=$(curl -sS --cacert "$D/root.pem" -o /dev/null -w '%{http_code}' \
  -H 'Content-Type: application/pkixcmp' --data-binary "@$T/text.bin" \
  "https://127.0.0.1:$PORT/other" 2>/dev/null)
check "another path: 404" test "$ST" = 404
ST=$(curl -sS --cacert "$D/root.pem" -o /dev/null -w '%{http_code}' \
  -H 'Content-Type: application/pkixcmp' -H 'Content-Length: 100000000' -d '' "$URL" 2>/dev/null)
check "a body over the limit: 413" test "$ST" = 413
check "still serving after all that" kill -0 "$PID"
newkey k5.pem
new_code
cmpc -cmd ir -ref "$REF" -secret "pass:$CODE" -subject "/CN=x" -newkey "$T/k5.pem" -certout "$T/last.pem"
check "... and issuing" same_key "$T/last.pem" "$T/k5.pem"

# --- the log, SIGTERM ----------------------------------------------------------------
check "one log line per request" grep -q '^signet-test-cmp-ca: POST /cmp 200 ir -> ip$' "$T/log"
check "no activation code in the log" not grep -qF -f "$T/codes" "$T/log"
kill -TERM "$PID"
wait_until 3 gone
check "SIGTERM stops it within 3 s" gone
wait "$PID"
check "... with exit status 0" test $? = 0
PID=

tap_done
