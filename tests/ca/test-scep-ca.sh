#!/bin/sh
# tests/ca/signet-test-scep-ca, the SCEP test CA that answers PENDING, from
# outside with openssl and curl only: its options (a bad mode, a key that
# does not open or does not match, --key-pass), serving on a free port of
# 127.0.0.1, GetCACaps and GetCACert, what is no SCEP operation (404), and
# bodies that are no pkiMessage: an HTTP 500 with the reason, on stderr
# too, and the CA still serving (no abort). The PKIOperations themselves
# are tested through Signet's SCEP client: tests/enroll/test-scep.c (the
# same answers in a thread) and tests/agent/test-scep.sh (this program).
. "${top_srcdir:?}/tests/lib.sh"

SCEPCA="${top_builddir:?}/tests/ca/signet-test-scep-ca"
need() {
  if [ "${CI:-}" = true ]; then return 0; fi
  skip_all "$*"
}
command -v openssl >/dev/null 2>&1 || need "openssl is not installed"
command -v curl >/dev/null 2>&1 || need "curl is not installed"

T=$(mktemp -d "${TMPDIR:-/tmp}/signet-test-scep-ca.XXXXXX")
PID=
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# A CA as scepserver keeps it: RSA, the key encrypted with an empty pass;
# the same with a pass; and another key.
openssl req -x509 -newkey rsa:2048 -passout pass: -keyout "$T/ca.key" -out "$T/ca.pem" \
  -subj "/CN=Test SCEP CA" -days 2 2>/dev/null &&
  openssl pkey -in "$T/ca.key" -passin pass: -aes-128-cbc -passout pass:s3cret \
    -out "$T/ca-pass.key" 2>/dev/null &&
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.key" 2>/dev/null ||
  { echo "Bail out! openssl could not make the test CA"; exit 1; }

listening_or_gone() { grep -q '^listening on ' "$T/out" || ! kill -0 "$PID" 2>/dev/null; }
# start ARGS…: the CA in the background until it says it listens.
start() {
  : >"$T/out"
  "$SCEPCA" "$@" >"$T/out" 2>>"$T/err" &
  PID=$!
  wait_until 20 listening_or_gone
  PORT=$(sed -n 's/^listening on //p' "$T/out")
}
stop() {
  kill -TERM "$PID" 2>/dev/null
  wait "$PID" 2>/dev/null
  PID=
}
alive() { [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; }
# get PATH / post PATH FILE: the body in $T/body, the status in $CODE.
get() { CODE=$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$PORT$1"); }
post() {
  CODE=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/x-pki-message' \
    --data-binary "@$2" "http://127.0.0.1:$PORT$1")
}

# --- options --------------------------------------------------------------------
"$SCEPCA" --ca-cert "$T/ca.pem" >/dev/null 2>&1
check_eq "without --ca-key: usage, exit 2" 2 "$?"
"$SCEPCA" --ca-cert "$T/ca.pem" --ca-key "$T/ca.key" --mode later >/dev/null 2>"$T/usage"
check_eq "an unknown mode: exit 2" 2 "$?"
check "… naming it" grep -q 'no such mode: later' "$T/usage"
"$SCEPCA" --ca-cert "$T/ca.pem" --ca-key "$T/ca.key" --mode forged >/dev/null 2>&1
check_eq "mode forged (the unit test's only: no second signer here): exit 2" 2 "$?"
"$SCEPCA" --ca-cert "$T/ca.pem" --ca-key "$T/other.key" >/dev/null 2>"$T/usage"
check_eq "a key that is not the CA certificate's: exit 1" 1 "$?"
check "… saying it could not load the CA" grep -q 'could not load the CA certificate' "$T/usage"
"$SCEPCA" --ca-cert "$T/ca.pem" --ca-key "$T/ca-pass.key" >/dev/null 2>&1
check_eq "a key with a pass, not given: exit 1" 1 "$?"
"$SCEPCA" --help | grep -q '^  pending ' 2>/dev/null
check_eq "--help lists the modes" 0 "$?"

start --ca-cert "$T/ca.pem" --ca-key "$T/ca-pass.key" --key-pass s3cret --log "$T/log"
check "with --key-pass it starts and says where it listens" test -n "$PORT"
stop

# --- serving ----------------------------------------------------------------------
start --ca-cert "$T/ca.pem" --ca-key "$T/ca.key" --log "$T/log"
check "it listens on a free port (scepserver's empty pass by default)" test -n "$PORT"
get '/scep?operation=GetCACaps'
check_eq "GetCACaps: 200" 200 "$CODE"
check_eq "… POST, AES, SHA-256 and Renewal" "POSTPKIOperation AES SHA-256 Renewal" "$(tr '\n' ' ' <"$T/body" | sed 's/ $//')"
get '/scep?operation=GetCACert'
check_eq "GetCACert: 200" 200 "$CODE"
check_eq "… the CA certificate, DER" "$(openssl x509 -in "$T/ca.pem" -outform DER | od -An -tx1)" \
  "$(od -An -tx1 "$T/body")"
get '/elsewhere'
check_eq "anything else: 404" 404 "$CODE"

# --- what is no pkiMessage: 500 with the reason, and it goes on ---------------------
printf 'not a pkiMessage' >"$T/garbage"
post '/scep?operation=PKIOperation' "$T/garbage"
check_eq "a body that is no PKCS#7: 500" 500 "$CODE"
check "… with the reason" grep -q 'not a signed PKCS#7 pkiMessage' "$T/body"
check "… on stderr too" grep -q 'not a signed PKCS#7 pkiMessage' "$T/err"
# A signed PKCS#7 without SCEP's attributes.
printf 'hello' >"$T/hello"
openssl smime -sign -in "$T/hello" -signer "$T/ca.pem" -inkey "$T/ca.key" -passin pass: \
  -outform DER -binary -nodetach -out "$T/signed.der" 2>/dev/null
post '/scep?operation=PKIOperation' "$T/signed.der"
check_eq "a signed PKCS#7 that is no SCEP message: 500" 500 "$CODE"
check "… saying what it lacks" grep -q 'lacks its messageType, transactionID' "$T/body"
check "the CA is still there" alive
get '/scep?operation=GetCACaps'
check_eq "… and answers" 200 "$CODE"
check_eq "nothing it could not answer is in its log of messages" 0 "$(wc -l <"$T/log")"
pid=$PID
kill -TERM "$pid"
wait "$pid" 2>/dev/null
PID=
check "it stops on SIGTERM" sh -c "! kill -0 $pid 2>/dev/null"

tap_done
