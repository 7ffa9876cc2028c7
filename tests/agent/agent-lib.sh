# tests/agent/agent-lib.sh: the rig for the agent's integration tests
# (sourced). One rig per test script: a temporary directory with its own XDG
# directories, a fresh SoftHSM2 token (optionally behind the test shim), a
# private session bus, and signetd from the build tree started by hand.
# Everything started here is stopped on exit (trap).
#
#   rig_setup [--shim]    make the rig and start bus and agent
#   run CMD…              run CMD; sets $rc, and files $RIG/out, $RIG/err
#   signet …              the CLI from the build tree
#   jq_ FILE EXPR         print a value from a JSON file (python3)
#   jcheck DESC FILE EXPR a TAP line: a Python expression over the JSON is true
#   p11_objects CLASS     count objects on the token (pkcs11-tool, SoftHSM2 directly)
#   shim_tries            the shim's "USER SO" tries left for the token
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
  "$SIGNETD" --verbose >>"$RIG/agent.log" 2>&1 &
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
  local module="$SOFTHSM2_MODULE"
  rig_require
  RIG=$(mktemp -d "${TMPDIR:-/tmp}/signet-agent.XXXXXX") || exit 1
  trap rig_teardown EXIT
  trap 'exit 1' INT TERM
  mkdir -p "$RIG/config/signet" "$RIG/state" "$RIG/runtime" "$RIG/tokens" "$RIG/cache" "$RIG/work"
  chmod 0700 "$RIG/runtime"
  export XDG_CONFIG_HOME="$RIG/config" XDG_STATE_HOME="$RIG/state"
  export XDG_RUNTIME_DIR="$RIG/runtime" XDG_CACHE_HOME="$RIG/cache"
  unset OPENSC_CONF
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$RIG/tokens" >"$RIG/softhsm2.conf"
  export SOFTHSM2_CONF="$RIG/softhsm2.conf"
  token_init "$TOKEN_LABEL"
  SERIAL=$(token_serial "$TOKEN_LABEL")
  if [ "${1:-}" = --shim ]; then
    [ -f "${SIGNET_SHIM_MODULE:-}" ] || skip_all "test shim not built ($SIGNET_SHIM_MODULE): make check builds it"
    module="$SIGNET_SHIM_MODULE"
    export SIGNET_SHIM_STATE="$RIG/shim" SIGNET_SHIM_TARGET="$SOFTHSM2_MODULE"
    mkdir -p "$SIGNET_SHIM_STATE"
  fi
  cat >"$RIG/config/signet/signet.conf" <<EOF
[pkcs11]
module=$module
EOF
  bus_start
  agent_start
}

run() {
  "$@" >"$RIG/out" 2>"$RIG/err"
  rc=$?
  return 0
}

signet() { "$SIGNET" "$@"; }

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

# (A token the shim has not counted yet has all its tries: "3 10".)
shim_tries() {
  t=$(awk -v s="$SERIAL" '$1 == s { print $2, $3 }' "$SIGNET_SHIM_STATE/pins" 2>/dev/null)
  echo "${t:-3 10}"
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

# --- the EST test CA (tests/ca/signet-test-ca) --------------------------------
ESTCA_PROG="$top_srcdir/tests/ca/signet-test-ca"

estca() {
  local cmd=$1
  shift
  "$ESTCA_PROG" "$cmd" --dir "$ESTCA_DIR" "$@"
}

est_ca_start() {
  local i=0
  ESTCA_DIR="$RIG/estca"
  : >"$RIG/estca.out"
  "$ESTCA_PROG" serve --dir "$ESTCA_DIR" --port "${1:-0}" >"$RIG/estca.out" 2>>"$RIG/estca.log" &
  ESTCA_PID=$!
  until grep -q '^listening on' "$RIG/estca.out"; do
    if ! kill -0 "$ESTCA_PID" 2>/dev/null || [ $i -ge 300 ]; then
      echo "Bail out! signet-test-ca did not start"
      awk '{ print "# " $0 }' "$RIG/estca.log"
      exit 1
    fi
    sleep 0.1
    i=$((i + 1))
  done
  mkdir -p "$XDG_CONFIG_HOME/signet/profiles.d"
  cp "$ESTCA_DIR/profile.conf" "$XDG_CONFIG_HOME/signet/profiles.d/signet-test.conf"
}

est_ca_stop() {
  [ -n "${ESTCA_PID:-}" ] || return 0
  kill -TERM "$ESTCA_PID" 2>/dev/null
  wait "$ESTCA_PID" 2>/dev/null
  ESTCA_PID=
}

est_code() {
  local out
  out=$(estca new-code "$@") || { echo "Bail out! signet-test-ca new-code failed"; exit 1; }
  REF=$(printf '%s\n' "$out" | sed -n 1p)
  CODE=$(printf '%s\n' "$out" | sed -n 2p)
}

activate() {
  run signet activate "$TOKEN_LABEL" --profile "${PROFILE:-signet-test}" --reference "$REF" \
    --code-fd 3 --pin-fd 4 "$@" 3<<EOF 4<<EOF2
$CODE
EOF
$PIN
EOF2
}
