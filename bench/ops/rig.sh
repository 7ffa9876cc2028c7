# shellcheck shell=bash disable=SC2034
# bench/ops/rig.sh: the world of the operation benchmarks (sourced by
# calls.sh and activate-vs-manual.sh; bash).
#
# No root needed, nothing of the machine's touched: a temporary directory
# with its own XDG directories, SoftHSM2 tokens in a token directory of its
# own (SOFTHSM2_CONF), the EST test CA (tests/ca/signet-test-ca) on a free
# port with its profile installed as "signet-test", a private session bus
# (bus_start from tests/lib.sh), and signetd and signet from the build tree.
# Everything started is stopped on exit and the directory removed
# (SIGNET_KEEP_RIG=1 keeps it); results stay in $BENCH_OUT.
#
# Environment:
#   BUILDDIR   the Signet build tree holding agent/signetd and cli/signet
#              (default: the source tree, for an in-tree build)
#   BENCH_OUT  where the results go (default $BUILDDIR/bench/results)
#
#   ops_enter NAME          check the tools, make the rig, start bus and CA
#   token_fresh             delete and make again the token $TOKEN_LABEL
#                           (PIN $PIN, SO PIN $SO_PIN)
#   est_code [ARGS…]        a fresh activation code: $REF, $CODE
#   proto_start PROTOCOL    the CA of PROTOCOL and its profile, named in
#                           $PROFILE_EST, $PROFILE_CMP, $PROFILE_SCEP (est:
#                           there already; cmp: the test CA's CMP face,
#                           $BUILDDIR/tests/ca/signet-test-cmp-ca; scep:
#                           scepserver behind the TLS relay, only inside
#                           the network namespace calls.sh enters)
#   proto_code PROTOCOL     a fresh activation code for it: $REF, $CODE
#   conf_module MODULE      [pkcs11] module= of signet.conf
#   agent_start [ENV=V…]    signetd --verbose, with those variables
#   agent_stop
#   signet_activate         signet activate on $TOKEN_LABEL with profile
#                           ${ACTIVATE_PROFILE:-$PROFILE}, code on fd 3,
#                           PIN on fd 4 (never in argv)
#   signet_renew            signet renew $TOKEN_LABEL, PIN on fd 4
#   now_ns                  CLOCK_REALTIME in ns (date +%s%N)
#   describe_build          one line: which signetd, built from what
set -u

OPS_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_SRC=$(cd "$OPS_SRC/../.." && pwd)
: "${BUILDDIR:=$TOP_SRC}"
BUILDDIR=$(cd "$BUILDDIR" && pwd)
SIGNETD=$BUILDDIR/agent/signetd
SIGNET=$BUILDDIR/cli/signet
: "${BENCH_OUT:=$BUILDDIR/bench/results}"
ESTCA_PROG=$TOP_SRC/tests/ca/signet-test-ca

# shellcheck source=tests/lib.sh
. "$TOP_SRC/tests/lib.sh"
: "${DBUS_DAEMON:=$(command -v dbus-daemon)}"

SOFTHSM2_MODULE=/usr/lib/softhsm/libsofthsm2.so
SPY_MODULE=/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so
PYTHON=/usr/bin/python3
# A throwaway token: these are not secrets (the reference tools of
# activate-vs-manual.sh take the PIN in argv; Signet never does).
PIN=123456
SO_PIN=12345678
TOKEN_LABEL=signet-bench
PROFILE=signet-test

die() {
  echo "$BENCH_NAME: $*" >&2
  exit 1
}

ops_teardown() {
  [ -n "${AGENT_PID:-}" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
  [ -n "${ESTCA_PID:-}" ] && kill -TERM "$ESTCA_PID" 2>/dev/null && wait "$ESTCA_PID" 2>/dev/null
  [ -n "${CMPCA_PID:-}" ] && kill -TERM "$CMPCA_PID" 2>/dev/null && wait "$CMPCA_PID" 2>/dev/null
  [ -n "${SCEP_PID:-}" ] && kill -TERM "$SCEP_PID" 2>/dev/null && wait "$SCEP_PID" 2>/dev/null
  [ -n "${RELAY_PID:-}" ] && kill -TERM "$RELAY_PID" 2>/dev/null && wait "$RELAY_PID" 2>/dev/null
  [ -n "${BUS_PID:-}" ] && kill -TERM "$BUS_PID" 2>/dev/null
  if [ -n "${RIG:-}" ] && [ -d "$RIG" ]; then
    if [ -n "${SIGNET_KEEP_RIG:-}" ]; then echo "# rig kept in $RIG"; else rm -rf "$RIG"; fi
  fi
}

ops_enter() {
  BENCH_NAME=$1
  local t
  for t in softhsm2-util pkcs11-tool openssl curl gdbus "$DBUS_DAEMON" "$PYTHON"; do
    command -v "$t" >/dev/null || die "$t not found (script/deps lists the packages)"
  done
  [ -f "$SOFTHSM2_MODULE" ] || die "no $SOFTHSM2_MODULE (apt-get install softhsm2)"
  if [ ! -x "$SIGNETD" ] || [ ! -x "$SIGNET" ]; then
    die "no $SIGNETD or $SIGNET: set BUILDDIR to a Signet build tree (make agent/signetd cli/signet)"
  fi
  RIG=$(mktemp -d "${TMPDIR:-/tmp}/signet-bench-ops.XXXXXX") || exit 1
  trap ops_teardown EXIT
  trap 'exit 1' INT TERM
  mkdir -p "$RIG/config/signet/profiles.d" "$RIG/state" "$RIG/runtime" "$RIG/cache" "$RIG/tokens"
  chmod 0700 "$RIG/runtime"
  export XDG_CONFIG_HOME="$RIG/config" XDG_STATE_HOME="$RIG/state"
  export XDG_RUNTIME_DIR="$RIG/runtime" XDG_CACHE_HOME="$RIG/cache"
  unset OPENSC_CONF
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$RIG/tokens" >"$RIG/softhsm2.conf"
  export SOFTHSM2_CONF="$RIG/softhsm2.conf"
  conf_module "$SOFTHSM2_MODULE"
  bus_start
  est_ca_start
  mkdir -p "$BENCH_OUT" || die "cannot create $BENCH_OUT"
}

# A fresh token each time: the old one (if any) deleted, then made again.
# EXTRA_TOKENS=N: N more tokens present beside it (made once, left alone),
# to see what each token present costs an operation.
token_fresh() {
  local k=1
  softhsm2-util --delete-token --token "$TOKEN_LABEL" >/dev/null 2>&1
  softhsm2-util --init-token --free --label "$TOKEN_LABEL" --pin "$PIN" --so-pin "$SO_PIN" \
    >/dev/null || die "softhsm2-util could not make a token"
  while [ "$k" -le "${EXTRA_TOKENS:-0}" ]; do
    softhsm2-util --show-slots 2>/dev/null | grep -q "Label: *bench-extra-$k *$" ||
      softhsm2-util --init-token --free --label "bench-extra-$k" --pin "$PIN" --so-pin "$SO_PIN" \
        >/dev/null || die "softhsm2-util could not make token bench-extra-$k"
    k=$((k + 1))
  done
}

conf_module() { printf '[pkcs11]\nmodule=%s\n' "$1" >"$RIG/config/signet/signet.conf"; }

est_ca_start() {
  local i=0
  ESTCA_DIR=$RIG/estca
  : >"$RIG/estca.out"
  "$ESTCA_PROG" serve --dir "$ESTCA_DIR" >"$RIG/estca.out" 2>>"$RIG/estca.log" &
  ESTCA_PID=$!
  until grep -q '^listening on' "$RIG/estca.out"; do
    if ! kill -0 "$ESTCA_PID" 2>/dev/null || [ $i -ge 300 ]; then
      die "signet-test-ca did not start"
    fi
    sleep 0.1
    i=$((i + 1))
  done
  cp "$ESTCA_DIR/profile.conf" "$RIG/config/signet/profiles.d/$PROFILE.conf"
  EST_URL=$(sed -n 's/^url=//p' "$ESTCA_DIR/profile.conf")
}

estca() {
  local cmd=$1
  shift
  "$ESTCA_PROG" "$cmd" --dir "$ESTCA_DIR" "$@"
}

est_code() {
  local out
  out=$(estca new-code "$@") || die "signet-test-ca new-code failed"
  REF=$(printf '%s\n' "$out" | sed -n 1p)
  CODE=$(printf '%s\n' "$out" | sed -n 2p)
}

# listening OUT PID: until OUT says "listening on" (at most 30 s); fails if
# PID is gone.
listening() {
  local i=0
  until grep -q '^listening on' "$1"; do
    if ! kill -0 "$2" 2>/dev/null || [ $i -ge 300 ]; then return 1; fi
    sleep 0.1
    i=$((i + 1))
  done
}

PROFILE_EST=$PROFILE
PROFILE_CMP=signet-cmp
PROFILE_SCEP=signet-scep

proto_start() {
  case $1 in
    est) ;;
    cmp) cmp_ca_start ;;
    scep) scep_ca_start ;;
    *) die "no protocol '$1': est, cmp or scep" ;;
  esac
}

# The test CA's CMP face on the EST CA's directory (one brain: est_code
# gives its codes), as tests/agent/agent-lib.sh's cmp_ca_start. Built with
# the tests: make tests/ca/signet-test-cmp-ca.
cmp_ca_start() {
  local prog=$BUILDDIR/tests/ca/signet-test-cmp-ca
  [ -x "$prog" ] || die "no $prog: make tests/ca/signet-test-cmp-ca in $BUILDDIR"
  : >"$RIG/cmpca.out"
  "$prog" serve --dir "$ESTCA_DIR" --test-ca "$ESTCA_PROG" >"$RIG/cmpca.out" 2>>"$RIG/cmpca.log" &
  CMPCA_PID=$!
  listening "$RIG/cmpca.out" "$CMPCA_PID" || die "signet-test-cmp-ca did not start"
  cp "$ESTCA_DIR/cmp-profile.conf" "$RIG/config/signet/profiles.d/$PROFILE_CMP.conf"
}

# scepserver (Debian's scep) on a depot of its own, as tests/agent/
# test-scep.sh runs it. It listens on every interface: only inside the
# loopback-only network namespace calls.sh enters (SIGNET_BENCH_NETNS). A
# TLS relay (tests/ca/tls-relay.py) in front, since Signet speaks https
# only. Codes are one-time through -csrverifierexec: a request whose
# challengePassword is a line of $RIG/scep-codes is accepted, and the line
# struck out; a request without one (a RenewalReq) is left to scepserver
# (-allowrenew 0).
# shellcheck disable=SC2015,SC2016 # the verifier's and the profile's own ${…}
scep_ca_start() {
  local port=18080 i=0
  [ -n "${SIGNET_BENCH_NETNS:-}" ] || die "scepserver runs only in calls.sh's network namespace"
  command -v scepserver >/dev/null || die "scepserver not found (apt-get install scep)"
  scepserver ca -init -depot "$RIG/depot" -keySize 2048 >/dev/null 2>&1 ||
    die "scepserver ca -init failed"
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$RIG/tls-root.key" -out "$RIG/tls-root.pem" -subj "/CN=Bench TLS root" 2>/dev/null &&
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$RIG/tls.key" \
      -out "$RIG/tls.csr" -subj "/CN=127.0.0.1" 2>/dev/null &&
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$RIG/tls.ext" &&
    openssl x509 -req -in "$RIG/tls.csr" -CA "$RIG/tls-root.pem" -CAkey "$RIG/tls-root.key" \
      -CAcreateserial -days 2 -extfile "$RIG/tls.ext" -out "$RIG/tls.pem" 2>/dev/null ||
    die "no TLS certificate for the relay"
  : >"$RIG/scep-codes"
  {
    echo '#!/bin/sh'
    echo 'code=$(openssl req -inform DER -noout -text 2>/dev/null |'
    echo "  sed -n 's/^ *challengePassword *://p' | tr -d ' ')"
    echo '[ -n "$code" ] || exit 0'
    echo "grep -qxF \"\$code\" '$RIG/scep-codes' || exit 1"
    echo "sed -i \"/^\$code\\\$/d\" '$RIG/scep-codes'"
  } >"$RIG/verify-code"
  chmod +x "$RIG/verify-code"
  scepserver -depot "$RIG/depot" -port "$port" -allowrenew 0 -csrverifierexec "$RIG/verify-code" \
    >>"$RIG/scep.log" 2>&1 &
  SCEP_PID=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/scep?operation=GetCACaps"; do
    if ! kill -0 "$SCEP_PID" 2>/dev/null || [ $i -ge 200 ]; then die "scepserver did not start"; fi
    sleep 0.1
    i=$((i + 1))
  done
  : >"$RIG/relay.out"
  "$PYTHON" "$TOP_SRC/tests/ca/tls-relay.py" --cert "$RIG/tls.pem" --key "$RIG/tls.key" \
    --target "$port" >"$RIG/relay.out" 2>>"$RIG/relay.log" &
  RELAY_PID=$!
  listening "$RIG/relay.out" "$RELAY_PID" || die "the TLS relay did not start"
  printf '%s\n' '[profile]' 'display-name=Bench SCEP CA' 'protocol=scep' \
    "url=https://127.0.0.1:$(sed -n 's/^listening on //p' "$RIG/relay.out")/scep" \
    "trust-anchors=$RIG/tls-root.pem" "ca-roots=$RIG/depot/ca.pem" 'key-type=rsa:2048' \
    'subject=CN=${reference},O=Signet Bench' 'renewal-key=new' '' '[labels]' \
    'key=Signet test signature' 'certificate=Signet test signature' 'chain=Bench SCEP CA' \
    >"$RIG/config/signet/profiles.d/$PROFILE_SCEP.conf"
}

SCEP_SERIAL=0
proto_code() {
  case $1 in
    est | cmp) est_code --validity-days 100 ;;
    scep)
      SCEP_SERIAL=$((SCEP_SERIAL + 1))
      REF=BENCH-$SCEP_SERIAL
      CODE=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
      printf '%s\n' "$CODE" >>"$RIG/scep-codes"
      ;;
  esac
}

# profile_key_type PROTOCOL: the key-type= of its profile.
profile_key_type() {
  local name
  case $1 in est) name=$PROFILE_EST ;; cmp) name=$PROFILE_CMP ;; scep) name=$PROFILE_SCEP ;; esac
  sed -n 's/^key-type=//p' "$RIG/config/signet/profiles.d/$name.conf"
}

# profile_est_with_key_type NAME KEY-TYPE: the EST profile again as NAME,
# making KEY-TYPE keys (the reference of a protocol whose profile makes
# another key type).
profile_est_with_key_type() {
  sed "s/^key-type=.*/key-type=$2/" "$RIG/config/signet/profiles.d/$PROFILE_EST.conf" \
    >"$RIG/config/signet/profiles.d/$1.conf"
}

# agent_start [VAR=VALUE…]: signetd --verbose with those in its environment.
agent_start() {
  env "$@" "$SIGNETD" --verbose >>"$RIG/agent.log" 2>&1 &
  AGENT_PID=$!
  gdbus wait --session --timeout 20 io.signet.Agent || die "signetd did not take its bus name"
}

agent_stop() {
  [ -n "${AGENT_PID:-}" ] || return 0
  kill -TERM "$AGENT_PID" 2>/dev/null
  wait "$AGENT_PID" 2>/dev/null
  AGENT_PID=
}

signet_activate() {
  "$SIGNET" activate "$TOKEN_LABEL" --profile "${ACTIVATE_PROFILE:-$PROFILE}" --reference "$REF" \
    --code-fd 3 --pin-fd 4 "$@" 3<<EOF 4<<EOF2
$CODE
EOF
$PIN
EOF2
}

signet_renew() {
  "$SIGNET" renew "$TOKEN_LABEL" --pin-fd 4 "$@" 4<<EOF
$PIN
EOF
}

now_ns() { date +%s%N; }

# describe_build: what the figures are of (the build tree's source, as a
# git commit when it is a checkout).
describe_build() {
  local src
  src=$(sed -n 's/^abs_top_srcdir = //p' "$BUILDDIR/Makefile" 2>/dev/null)
  printf 'signetd %s built in %s from %s%s' "$("$SIGNETD" --version | awk 'NR == 1 { print $2 }')" \
    "$BUILDDIR" "${src:-?}" "$(git -C "${src:-/nonexistent}" describe --always --dirty 2>/dev/null |
      sed 's/^/ at /')"
}
