# tests/agent/agent-lib.sh: the rig for the agent's integration tests
# (sourced). One rig per test script: a temporary directory with its own XDG
# directories, a fresh SoftHSM2 token behind the PKCS#11 test shim
# (tests/p11shim/README.md), a private session bus, and signetd from the
# build tree started by hand. Everything started here is stopped on exit
# (trap).
#
# The shim plays the model in $SIGNET_TEST_MODEL: `softhsm` (the default,
# SoftHSM2's ways) or `opensc-card` (OpenSC 0.23 with a MyEID-family card);
# `make check` runs most scripts on both (tests/agent/local.mk). Where the
# models differ, a test reads it from these (set when this file is sourced):
#   MODEL               softhsm | opensc-card;  on_card: true on the card model
#   PIN_TRIES PUK_TRIES the tries a fresh token has (3 / 10 on softhsm, 3 / 3 on the card)
#   UNBLOCK_METHOD      unblock_method in status (so-login-init-pin / set-pin-unlogged)
#   PUK_CALL            the call that carries the PUK to the token, as the tries log
#                       names it: C_Login (CKU_SO) / C_SetPIN (logged out)
#   PROTECTION          a generated key's protection where its private key shows:
#                       sensitive / card (OpenSC 0.23 reads a card's key back not
#                       sensitive); "unknown" where it does not (status, no login)
#   OPENSC              objects_cached and private_keys_listed in status (false / true)
#   pin_flags_for N     the PIN flags the model reports with N tries left
#   pin_flags FILE      the PIN flags a status or list JSON document shows
#   pin_said N          the agent's words for those flags after a wrong PIN (regex)
#   companion_keys N    the public-key objects the card shows for N certificates
#                       that have no key pair of their own (CA certificates): N or 0
#   todo_on_card WHY    a TAP "# TODO WHY" for a check's description, on the card model
#
# Every PIN or PUK try the shim sees is logged ($SIGNET_SHIM_STATE/tries); a
# test declares each try it sends on purpose, and a try it did not declare
# fails it:
#   expect_try KIND RESULT [COUNT]  KIND pin|puk|so-pin, RESULT ok|wrong|locked|error:CKR_…
#   check_tries [DESCRIPTION]       one TAP line: the tries since the last check
#                                   (a right PIN, `pin ok`, is no spent try) are
#                                   exactly the ones declared since then
#   tap_done                        a final check_tries, then the plan
#
#   rig_setup             make the rig and start bus and agent (`--shim`: accepted, no-op)
#   run CMD…              run CMD; sets $rc, and files $RIG/out, $RIG/err
#   signet …              the CLI from the build tree
#   jq_ FILE EXPR         print a value from a JSON file (python3)
#   jcheck DESC FILE EXPR a TAP line: a Python expression over the JSON is true
#   p11_objects CLASS     count objects on the token (pkcs11-tool, SoftHSM2 directly)
#   shim_tries            the shim's "USER PUK" tries left for the token
#   wait_busy N           until the agent log shows N operations that claimed a token
#   est_ca_start          the EST test CA on a free port, its profile installed
#                         as "signet-test" ($ESTCA_DIR, $ESTCA_PID); est_ca_stop
#   estca CMD ARGS…       tests/ca/signet-test-ca CMD --dir $ESTCA_DIR ARGS…
#   est_code [ARGS…]      a fresh code: sets $REF and $CODE
#   activate [ARGS…]      signet activate on the rig's token with profile
#                         ${PROFILE:-signet-test}, $REF, $CODE (fd 3), $PIN (fd 4)

. "${top_srcdir:?}/tests/lib.sh"

PIN=123456
SO_PIN=12345678
TOKEN_LABEL=signet-test
: "${SIGNETD:=$top_builddir/agent/signetd}"
: "${SIGNET:=$top_builddir/cli/signet}"
PYTHON=$(command -v /usr/bin/python3 || command -v python3 || true)

# --- the model the shim plays ---------------------------------------------------
MODEL=${SIGNET_TEST_MODEL:-softhsm}
PIN_TRIES=3
case $MODEL in
  softhsm)
    PUK_TRIES=10 UNBLOCK_METHOD=so-login-init-pin PUK_CALL=C_Login PROTECTION=sensitive OPENSC=false ;;
  opensc-card)
    PUK_TRIES=3 UNBLOCK_METHOD=set-pin-unlogged PUK_CALL=C_SetPIN PROTECTION=card OPENSC=true ;;
  *)
    echo "Bail out! SIGNET_TEST_MODEL=$MODEL: the shim has the models softhsm and opensc-card"
    exit 1 ;;
esac
on_card() { [ "$MODEL" = opensc-card ]; }

# pin_flags_for N: the user PIN's flags the model reports with N tries left,
# as "count_low final_try locked" (those set, in that order; "" for none).
# SoftHSM2 (the default model): count_low below the maximum, final_try at one,
# locked alone at none. The card through OpenSC: no flag at 3 or 2 left (the
# first wrong PIN changes nothing), final_try at one, locked at none, never
# count_low.
pin_flags_for() {
  case $MODEL:$1 in
    softhsm:0 | opensc-card:0) echo locked ;;
    softhsm:1) echo count_low final_try ;;
    opensc-card:1) echo final_try ;;
    softhsm:"$PIN_TRIES" | opensc-card:*) echo ;;
    softhsm:*) echo count_low ;;
  esac
}

# pin_said N: what the agent's "Wrong PIN" message says of the flags the
# model reports with N tries left (a regular expression).
pin_said() {
  case " $(pin_flags_for "$1") " in
    *" locked "*) echo "reports the PIN is now locked" ;;
    *" final_try "*) echo "reports one try left" ;;
    *" count_low "*) echo "reports fewer tries left than the maximum" ;;
    *) echo "reports no warning .it does not say how many tries are left." ;;
  esac
}

# pin_flags FILE: the PIN flags set in a status document (or a list's first
# token), in pin_flags_for's form.
pin_flags() {
  "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
p = (d[0] if isinstance(d, list) else d)["pin"]
print(" ".join(f for f in ("count_low", "final_try", "locked") if p.get(f)))' "$1"
}

# companion_keys N: the public-key objects a card through OpenSC adds for N
# certificates that have no key pair of their own (CA certificates): one
# each on the card model, none on SoftHSM2.
companion_keys() { if on_card; then echo "$1"; else echo 0; fi; }

# todo_on_card WHY: " # TODO WHY" on the card model, else nothing: appended to
# a check's description it makes the check a TAP TODO there (a known bug in
# agent/ or pkcs11/ that only the card model shows): it still runs, fails as
# XFAIL without failing the suite, and once fixed shows XPASS, which fails
# it until the directive is taken out.
todo_on_card() { if on_card; then echo " # TODO $1"; fi; }

rig_require() {
  local t
  for t in "${SOFTHSM2_UTIL:-}" "${PKCS11_TOOL:-}" "${DBUS_DAEMON:-}"; do
    [ -n "$t" ] && [ -x "$t" ] || skip_all "softhsm2-util, pkcs11-tool or dbus-daemon not found (apt-get install softhsm2 opensc dbus)"
  done
  [ -n "${SOFTHSM2_MODULE:-}" ] && [ -f "$SOFTHSM2_MODULE" ] || skip_all "SoftHSM2 module not found (apt-get install softhsm2)"
  command -v gdbus >/dev/null || skip_all "gdbus not found (apt-get install libglib2.0-bin)"
  command -v openssl >/dev/null || skip_all "openssl not found (apt-get install openssl)"
  [ -n "$PYTHON" ] || skip_all "python3 not found (apt-get install python3)"
  [ -x "$SIGNETD" ] && [ -x "$SIGNET" ] || skip_all "build agent/signetd and cli/signet first"
}

rig_teardown() {
  local status=$?
  if [ -n "${ESTCA_PID:-}" ]; then
    kill -TERM "$ESTCA_PID" 2>/dev/null
    wait "$ESTCA_PID" 2>/dev/null
  fi
  if [ -n "${CMPCA_PID:-}" ]; then
    kill -TERM "$CMPCA_PID" 2>/dev/null
    wait "$CMPCA_PID" 2>/dev/null
  fi
  for pid in "${SCEP_PID:-}" "${RELAY_PID:-}"; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ -n "${AGENT_PID:-}" ]; then
    kill -TERM "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID" 2>/dev/null
  fi
  if [ -n "${BUS_PID:-}" ]; then
    kill -TERM "$BUS_PID" 2>/dev/null
  fi
  if [ -n "${RIG:-}" ] && [ -d "$RIG" ]; then
    if [ "$status" -ne 0 ] || [ "${tap_fail:-0}" -ne 0 ]; then
      echo "# agent log ($RIG/agent.log):"
      awk '{ print "#   " $0 }' "$RIG/agent.log" 2>/dev/null | tail -n 40
    fi
    if [ -n "${SIGNET_KEEP_RIG:-}" ]; then
      echo "# rig kept in $RIG"
    else
      rm -rf "$RIG"
    fi
  fi
}


agent_start() {
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$SIGNETD" --verbose "$@" >>"$RIG/agent.log" 2>&1 &
  AGENT_PID=$!
  if ! gdbus wait --session --timeout 20 io.signet.Agent; then
    echo "Bail out! signetd did not take its bus name"
    awk '{ print "# " $0 }' "$RIG/agent.log"
    exit 1
  fi
}

agent_stop() {
  [ -n "${AGENT_PID:-}" ] || return 0
  kill -TERM "$AGENT_PID" 2>/dev/null
  wait "$AGENT_PID"
  AGENT_STATUS=$?
  AGENT_PID=
  return "$AGENT_STATUS"
}

# busy_count: how many operations have claimed a token so far (agent log).
busy_count() { grep -c ': token .* is now busy (' "$RIG/agent.log"; }
# wait_busy N: until N operations have claimed a token (at most 20 s).
wait_busy() {
  i=0
  while [ "$(busy_count)" -lt "$1" ] && [ $i -lt 200 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  [ "$(busy_count)" -ge "$1" ]
}

agent_alive() { [ -n "${AGENT_PID:-}" ] && kill -0 "$AGENT_PID" 2>/dev/null; }

# token_init LABEL: a fresh SoftHSM2 token in the rig's token directory.
token_init() {
  "$SOFTHSM2_UTIL" --init-token --free --label "$1" --pin "$PIN" --so-pin "$SO_PIN" >/dev/null ||
    { echo "Bail out! softhsm2-util could not make a token"; exit 1; }
}

# token_serial LABEL
token_serial() {
  "$SOFTHSM2_UTIL" --show-slots | awk -v l="$1" '
    function emit() { if (!done && label == l && serial != "") { print serial; done = 1 } }
    /^Slot / { emit(); serial = ""; label = "" }
    /^[[:space:]]*Serial number:/ { serial = $3 }
    /^[[:space:]]*Label:/ { sub(/^[[:space:]]*Label:[[:space:]]*/, ""); sub(/[[:space:]]+$/, ""); label = $0 }
    END { emit() }'
}

rig_setup() {
  [ "${1:-}" != --shim ] || shift # every rig has the shim now
  rig_require
  [ -f "${SIGNET_SHIM_MODULE:-}" ] ||
    skip_all "test shim not built (${SIGNET_SHIM_MODULE:-SIGNET_SHIM_MODULE unset}): make check builds it"
  RIG=$(mktemp -d "${TMPDIR:-/tmp}/signet-agent.XXXXXX") || exit 1
  trap rig_teardown EXIT
  trap 'exit 1' INT TERM
  mkdir -p "$RIG/config/signet" "$RIG/state" "$RIG/runtime" "$RIG/tokens" "$RIG/cache" "$RIG/work" \
    "$RIG/shim"
  chmod 0700 "$RIG/runtime"
  export XDG_CONFIG_HOME="$RIG/config" XDG_STATE_HOME="$RIG/state"
  export XDG_RUNTIME_DIR="$RIG/runtime" XDG_CACHE_HOME="$RIG/cache"
  unset OPENSC_CONF
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$RIG/tokens" >"$RIG/softhsm2.conf"
  export SOFTHSM2_CONF="$RIG/softhsm2.conf"
  # The token behind the shim, as the model says (tests/p11shim/README.md).
  export SIGNET_SHIM_STATE="$RIG/shim" SIGNET_SHIM_TARGET="$SOFTHSM2_MODULE" SIGNET_SHIM_MODEL="$MODEL"
  token_init "$TOKEN_LABEL"
  SERIAL=$(token_serial "$TOKEN_LABEL")
  cat >"$RIG/config/signet/signet.conf" <<EOF
[pkcs11]
module=$SIGNET_SHIM_MODULE
EOF
  echo "# model: $MODEL (the shim in front of SoftHSM2), token $SERIAL"
  bus_start
  agent_start
}

run() {
  "$@" >"$RIG/out" 2>"$RIG/err"
  rc=$?
  return 0
}

# The CLI runs with LeakSanitizer in the ASan stage (a leak fails the
# command with LeakSanitizer's report on stderr); so does signetd, checked
# when the script ends (tap_done).
signet() { ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$SIGNET" "$@"; }

# jq_ FILE EXPR: EXPR is Python over the document d, e.g. 'd[0]["pin"]["locked"]'.
# Booleans print as true/false, like JSON.
jq_() {
  "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2].strip())
print(json.dumps(v) if isinstance(v, (bool, dict, list)) or v is None else v)
' "$1" "$2"
}

# jcheck DESCRIPTION FILE EXPR: one TAP line; EXPR (Python over the document
# d) must be true.
jcheck() {
  if "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2].strip()) else 1)
' "$2" "$3" 2>"$RIG/jcheck.err"; then
    ok "$1"
  else
    not_ok "$1"
    echo "#   $3"
    head -c 600 "$2" | awk '{ print "#   " $0 }'
    awk '{ print "#   " $0 }' "$RIG/jcheck.err" | tail -n 3
  fi
}

# check_rc DESCRIPTION EXPECTED: the last run's exit code, with its stderr on failure.
check_rc() {
  if [ "$rc" -eq "$2" ]; then
    ok "$1"
  else
    not_ok "$1 (exit $rc, expected $2)"
    awk '{ print "#   " $0 }' "$RIG/err" "$RIG/out" | head -n 20
  fi
}

# check_err DESCRIPTION REGEX: the last run's stderr matches.
check_err() {
  if grep -Eq -- "$2" "$RIG/err"; then ok "$1"; else
    not_ok "$1"
    awk '{ print "#   stderr: " $0 }' "$RIG/err" | head -n 10
  fi
}

# p11_objects [TYPE]: objects on the token seen by pkcs11-tool after login
# (TYPE: privkey, pubkey, cert, or all).
p11_objects() {
  local args=
  [ "${1:-all}" = all ] || args="--type $1"
  # shellcheck disable=SC2086
  "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
    --list-objects $args 2>/dev/null | grep -Ec '^(Private Key|Public Key|Certificate|Data) Object'
}

# shim_tries: the shim's "USER PUK" tries left for the rig's token ($SERIAL);
# a token the shim has not counted yet has them all ("3 10", card "3 3").
# The pins file's 4th column (the card's own SO PIN) is left out.
shim_tries() {
  local t
  t=$(awk -v s="$SERIAL" '$1 == s { print $2, $3 }' "$SIGNET_SHIM_STATE/pins" 2>/dev/null)
  echo "${t:-$PIN_TRIES $PUK_TRIES}"
}

# --- the tries log ------------------------------------------------------------------
# tries_want: what the test declared since the last check_tries, one
# "KIND RESULT" a line; tries_seen: the lines of the log already checked.
tries_want=
tries_seen=0

# expect_try KIND RESULT [COUNT]: the test is about to send COUNT (1) tries
# of KIND (pin, puk, so-pin) that end in RESULT (ok, wrong, locked,
# error:CKR_…). A right PIN is no spent try: `pin ok` is not declared.
expect_try() {
  case $1 in pin | puk | so-pin) ;; *)
    echo "Bail out! expect_try: KIND is pin, puk or so-pin, not '$1'"
    exit 1 ;;
  esac
  case $2 in ok | wrong | locked | error:CKR_*) ;; *)
    echo "Bail out! expect_try: RESULT is ok, wrong, locked or error:CKR_…, not '$2'"
    exit 1 ;;
  esac
  if [ "$1 $2" = "pin ok" ]; then
    echo "Bail out! expect_try pin ok: a right PIN is no spent try and is not counted"
    exit 1
  fi
  local k=${3:-1}
  while [ "$k" -gt 0 ]; do
    tries_want="$tries_want$1 $2
"
    k=$((k - 1))
  done
}

# check_tries [DESCRIPTION]: one TAP line: the PIN/PUK tries the shim logged
# since the last check, but `pin ok`, are exactly the ones declared with
# expect_try since then, in order; every `puk` and `so-pin` line counts, ok
# included. On failure both lists.
check_tries() {
  local log="$SIGNET_SHIM_STATE/tries" n got want d
  # The shim only appends; if a test emptied the log, all of it is new.
  n=$(awk 'END { print NR }' "$log" 2>/dev/null)
  n=${n:-0}
  [ "$n" -ge "$tries_seen" ] || tries_seen=0
  got=$(awk -v from="$tries_seen" -v to="$n" 'NR > from && NR <= to && !($2 == "pin" && $3 == "ok") { print $2, $3 }' \
    "$log" 2>/dev/null)
  want=$(printf '%s' "$tries_want")
  d="${1:-the PIN/PUK tries} [tries: $(printf '%s\n' "$want" | awk '
    function flush() { if (k) { out = out sep (k > 1 ? k " x " : "") last; sep = ", " } }
    NF { if (k && $0 == last) k++; else { flush(); last = $0; k = 1 } }
    END { flush(); print out == "" ? "none" : out }')]"
  if [ "$got" = "$want" ]; then ok "$d"; else
    not_ok "$d"
    echo "#   declared (expect_try):"
    printf '%s\n' "${want:-(none)}" | awk '{ print "#     " $0 }'
    echo "#   spent (the shim's tries log since the last check, pin ok left out):"
    awk -v from="$tries_seen" -v to="$n" 'NR > from && NR <= to && !($2 == "pin" && $3 == "ok") {
        print "#     " $2, $3, "(" $4 ", token " $1 ")"; k++ }
      END { if (!k) print "#     (none)" }' "$log" 2>/dev/null
  fi
  tries_seen=$n
  tries_want=
}

# not_ok DESCRIPTION: as tests/lib.sh's, but a check marked TODO (see
# todo_on_card) is a known failure that does not fail the script.
not_ok() {
  tap_n=$((tap_n + 1))
  case $* in *"# TODO"*) ;; *) tap_fail=$((tap_fail + 1)) ;; esac
  echo "not ok $tap_n - $*"
}

# tap_done: every agent test ends with a last check of the tries, so one that
# spent a try it did not declare fails (replaces tests/lib.sh's).
tap_done() {
  if [ -n "${RIG:-}" ] && [ -d "${SIGNET_SHIM_STATE:-}" ]; then
    check_tries "to the end: no try spent but the ones declared"
  fi
  # In the ASan build signetd runs with LeakSanitizer (fast unwinding: the
  # check costs little but at exit): every agent of the script, this one
  # stopped now, must have exited without a leak report.
  if [ -n "${RIG:-}" ] && [ -f "$RIG/agent.log" ] && grep -qa __asan_init "$SIGNETD"; then
    agent_stop
    if grep -q 'ERROR: LeakSanitizer' "$RIG/agent.log"; then
      not_ok "signetd exited without a leak (LeakSanitizer)"
      sed -n '/ERROR: LeakSanitizer/,/^SUMMARY/p' "$RIG/agent.log" | head -n 150 | sed 's/^/#   /'
    else
      ok "signetd exited without a leak (LeakSanitizer)"
    fi
  fi
  echo "1..$tap_n"
  [ "$tap_fail" -eq 0 ]
}

# A throwaway CA: root and intermediate (EC P-256), in $RIG/ca.
ca_init() {
  local d="$RIG/ca"
  mkdir -p "$d"
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$d/root.key" -out "$d/root.pem" -days 3650 -subj "/CN=Signet Test Root CA/O=Signet Tests" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null || return 1
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$d/int.key" -out "$d/int.csr" -subj "/CN=Signet Test Issuing CA/O=Signet Tests" \
    2>/dev/null || return 1
  printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$d/int.ext"
  openssl x509 -req -in "$d/int.csr" -CA "$d/root.pem" -CAkey "$d/root.key" -CAcreateserial \
    -days 3650 -extfile "$d/int.ext" -out "$d/int.pem" 2>/dev/null || return 1
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n' >"$d/leaf.ext"
}

# ca_sign CSR OUT [DAYS]: the intermediate signs a request.
ca_sign() {
  openssl x509 -req -in "$1" -CA "$RIG/ca/int.pem" -CAkey "$RIG/ca/int.key" -CAcreateserial \
    -days "${3:-365}" -extfile "$RIG/ca/leaf.ext" -out "$2" 2>/dev/null
}

. "$top_srcdir/tests/estca-lib.sh"

# cmp_ca_start: the same CA's CMP face (tests/ca/signet-test-cmp-ca, built by
# make check) on the EST CA's directory (est_ca_start first): one brain, so
# est_code and estca work for it too. Its profile as "signet-cmp".
cmp_ca_start() {
  serve_ca signet-test-cmp-ca "$RIG/cmpca.out" "$RIG/cmpca.log" \
    "$top_builddir/tests/ca/signet-test-cmp-ca" serve --dir "$ESTCA_DIR" --test-ca "$ESTCA_PROG"
  CMPCA_PID=$SERVED_PID
  cp "$ESTCA_DIR/cmp-profile.conf" "$XDG_CONFIG_HOME/signet/profiles.d/signet-cmp.conf"
}

# scep_ca_start: Debian's scepserver on $RIG/depot behind the TLS relay
# (tests/ca/tls-relay.py; the product speaks https only), its profile as
# "signet-scep" (rsa:2048). Only inside a loopback-only network namespace
# (unshare -n, as the caller entered: scepserver listens on every
# interface). A request whose challengePassword is a code scep_code gave is
# accepted (again, too: what the callers test is the agent's journal, not
# the CA's memory of codes); one without a challenge (a RenewalReq) is
# left to scepserver (-allowrenew 0). test-scep.sh runs its own, with
# one-time, expiring codes.
scep_ca_start() {
  local port=18080
  scepserver ca -init -depot "$RIG/depot" -keySize 2048 >/dev/null 2>&1 ||
    { echo "Bail out! scepserver ca -init failed"; exit 1; }
  [ -f "$RIG/ca/root.pem" ] || ca_init || { echo "Bail out! no TLS test CA"; exit 1; }
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$RIG/scep-tls.key" \
    -out "$RIG/scep-tls.csr" -subj "/CN=127.0.0.1" 2>/dev/null &&
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$RIG/scep-tls.ext" &&
    openssl x509 -req -in "$RIG/scep-tls.csr" -CA "$RIG/ca/root.pem" -CAkey "$RIG/ca/root.key" \
      -CAcreateserial -days 2 -extfile "$RIG/scep-tls.ext" -out "$RIG/scep-tls.pem" 2>/dev/null ||
    { echo "Bail out! no TLS certificate for the relay"; exit 1; }
  : >"$RIG/scep-codes"
  {
    echo '#!/bin/sh'
    echo 'code=$(openssl req -inform DER -noout -text 2>/dev/null |'
    echo "  sed -n 's/^ *challengePassword *://p' | tr -d ' ')"
    echo '[ -n "$code" ] || exit 0'
    echo "grep -qxF \"\$code\" '$RIG/scep-codes'"
  } >"$RIG/scep-verify"
  chmod +x "$RIG/scep-verify"
  scepserver -depot "$RIG/depot" -port "$port" -allowrenew 0 -csrverifierexec "$RIG/scep-verify" \
    >>"$RIG/scep.log" 2>&1 &
  SCEP_PID=$!
  wait_until 20 curl -sf -o /dev/null "http://127.0.0.1:$port/scep?operation=GetCACaps" ||
    { echo "Bail out! scepserver did not start"; awk '{ print "# " $0 }' "$RIG/scep.log"; exit 1; }
  serve_ca tls-relay "$RIG/scep-relay.out" "$RIG/scep-relay.log" \
    "$PYTHON" "$top_srcdir/tests/ca/tls-relay.py" --cert "$RIG/scep-tls.pem" \
    --key "$RIG/scep-tls.key" --target "$port"
  RELAY_PID=$SERVED_PID
  mkdir -p "$XDG_CONFIG_HOME/signet/profiles.d"
  printf '%s\n' '[profile]' 'display-name=Signet Test SCEP CA' 'protocol=scep' \
    "url=https://127.0.0.1:$(sed -n 's/^listening on //p' "$RIG/scep-relay.out")/scep" \
    "trust-anchors=$RIG/ca/root.pem" "ca-roots=$RIG/depot/ca.pem" 'key-type=rsa:2048' \
    'subject=CN=${reference},O=Signet Test' 'renewal-key=new' '' '[labels]' \
    'key=Signet test signature' 'certificate=Signet test signature' 'chain=Signet Test SCEP CA' \
    >"$XDG_CONFIG_HOME/signet/profiles.d/signet-scep.conf"
}

# scep_code: a fresh reference number and code for scep_ca_start's CA:
# $REF, $CODE.
scep_code() {
  SCEP_CODES=$((${SCEP_CODES:-0} + 1))
  REF=SCEP-$SCEP_CODES
  CODE=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
  printf '%s\n' "$CODE" >>"$RIG/scep-codes"
}

cmp_ca_stop() {
  [ -n "${CMPCA_PID:-}" ] || return 0
  kill -TERM "$CMPCA_PID" 2>/dev/null
  wait "$CMPCA_PID" 2>/dev/null
  CMPCA_PID=
}

activate() {
  run signet activate "$TOKEN_LABEL" --profile "${PROFILE:-signet-test}" --reference "$REF" \
    --code-fd 3 --pin-fd 4 "$@" 3<<EOF 4<<EOF2
$CODE
EOF
$PIN
EOF2
}
