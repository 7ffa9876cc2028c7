# shellcheck shell=bash disable=SC2034,SC2120
# bench/hotplug/rig.sh: the private PC/SC world of the hotplug benchmarks
# (sourced by latency.sh, idle.sh and rss.sh; bash).
#
# The same approach as the hotplug tests' rig (tests/hotplug/hotplug-lib.sh,
# TESTING.md), with its own timings, and the private session bus of
# tests/lib.sh (bus_start): the script re-runs itself under
# `unshare --mount --net --propagation private` (root), mounts a tmpfs on
# /run/pcscd (Debian's pcscd 1.9.9 always uses /run/pcscd/pcscd.comm),
# brings up loopback and starts its own `pcscd -f -c DIR` whose only reader
# is vpcd on a port of its own; vicc connects a virtual card to it. A private
# session bus (dbus-daemon), temporary XDG directories, and signetd from the
# build tree. The machine's pcscd, readers and session bus are never touched.
# Everything started is stopped on exit; only the results directory stays.
#
# Environment:
#   BUILDDIR   the Signet build tree holding agent/signetd (default: the
#              source tree, for an in-tree build)
#   BENCH_OUT  where the results go (default $BUILDDIR/bench/results)
#
#   bench_enter NAME "$@"   check tools, build the helpers, enter the world
#   bench_setup [MODULE]    rig, pcscd, bus; MODULE: [pkcs11] module= of
#                           signet.conf (empty: every p11-kit module)
#   agent_start [ARGS…]     signetd ARGS… in the background ($AGENT_PID)
#   agent_stop
#   card_insert / card_remove   vicc, its connect() time in $RIG/vicc.stamp
#   wait_until SECONDS CMD…     until CMD succeeds (polls every 20 ms)

# (SC2034: the variables are for the scripts that source this file.)
set -u

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_SRC=$(cd "$BENCH_SRC/../.." && pwd)
: "${BUILDDIR:=$TOP_SRC}"
BUILDDIR=$(cd "$BUILDDIR" && pwd)
SIGNETD=$BUILDDIR/agent/signetd
BENCH_BIN=$BUILDDIR/bench/hotplug
: "${BENCH_OUT:=$BUILDDIR/bench/results}"

# The private session bus: bus_start from the tests' shell library.
# shellcheck source=tests/lib.sh
. "$TOP_SRC/tests/lib.sh"
: "${DBUS_DAEMON:=$(command -v dbus-daemon)}"

PYTHON=/usr/bin/python3
VICC=/usr/bin/vicc
VICC_MODULES=/usr/lib/python3/site-packages/virtualsmartcard
CRYPTODOME=/usr/lib/python3/dist-packages/Cryptodome
OPENSC_MODULE=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
VPCD_PORT=40061 # our own network namespace: no clash with anything
READER_NAME="Signet Bench PCD"
READER0="$READER_NAME 00 00"

die() {
  echo "$BENCH_NAME: $*" >&2
  exit 1
}

vpcd_driver() {
  local d
  for d in /usr/lib/pcsc/drivers/serial /usr/lib/*/pcsc/drivers/serial; do
    [ -f "$d/libifdvpcd.so" ] && { echo "$d/libifdvpcd.so"; return 0; }
  done
  return 1
}

# The two C helpers, built here with cc and pkg-config (not by make).
bench_build() {
  local warn="-Wall -Wextra -Wno-unused-parameter -Wformat=2 -Wshadow -Wstrict-prototypes"
  mkdir -p "$BENCH_BIN" || die "cannot create $BENCH_BIN"
  if [ ! -x "$BENCH_BIN/pcsc-wait" ] || [ "$BENCH_SRC/pcsc-wait.c" -nt "$BENCH_BIN/pcsc-wait" ]; then
    # shellcheck disable=SC2046,SC2086
    cc -O2 $warn $(pkg-config --cflags libpcsclite) "$BENCH_SRC/pcsc-wait.c" \
      $(pkg-config --libs libpcsclite) -o "$BENCH_BIN/pcsc-wait" || die "cannot build pcsc-wait"
  fi
  if [ ! -x "$BENCH_BIN/signal-stamp" ] || [ "$BENCH_SRC/signal-stamp.c" -nt "$BENCH_BIN/signal-stamp" ]; then
    # shellcheck disable=SC2046,SC2086
    cc -O2 $warn $(pkg-config --cflags gio-2.0) "$BENCH_SRC/signal-stamp.c" \
      $(pkg-config --libs gio-2.0) -o "$BENCH_BIN/signal-stamp" || die "cannot build signal-stamp"
  fi
}

bench_enter() {
  BENCH_NAME=$1
  shift
  if [ -n "${SIGNET_BENCH_WORLD:-}" ]; then
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "needs root for a private PC/SC world (unshare --mount --net)"
  local t
  for t in unshare pcscd ip gdbus dbus-daemon mount cc pkg-config; do
    command -v "$t" >/dev/null || die "$t not found"
  done
  vpcd_driver >/dev/null || die "vpcd not found (apt-get install vsmartcard-vpcd)"
  if [ ! -x "$VICC" ] || [ ! -d "$VICC_MODULES" ]; then
    die "vicc not found (apt-get install vsmartcard-vpicc)"
  fi
  [ -d "$CRYPTODOME" ] || die "python3-pycryptodome not found"
  [ -x "$SIGNETD" ] || die "no $SIGNETD: set BUILDDIR to a Signet build tree (make agent/signetd)"
  bench_build
  export SIGNET_BENCH_WORLD=1 BUILDDIR BENCH_OUT
  # shellcheck disable=SC2093 # die only if exec itself fails
  exec unshare --mount --net --propagation private /bin/bash "$0" "$@"
  die "unshare failed"
}

bench_teardown() {
  local p
  for p in ${BENCH_PIDS:-} ${VICC_PID:-} ${AGENT_PID:-}; do
    kill -TERM "$p" 2>/dev/null
  done
  for p in ${BENCH_PIDS:-} ${VICC_PID:-} ${AGENT_PID:-}; do
    wait "$p" 2>/dev/null
  done
  [ -n "${PCSCD_PID:-}" ] && kill -TERM "$PCSCD_PID" 2>/dev/null && wait "$PCSCD_PID" 2>/dev/null
  [ -n "${BUS_PID:-}" ] && kill -TERM "$BUS_PID" 2>/dev/null
  if [ -n "${RIG:-}" ] && [ -d "$RIG" ]; then
    if [ -n "${SIGNET_KEEP_RIG:-}" ]; then echo "# rig kept in $RIG"; else rm -rf "$RIG"; fi
  fi
}

# wait_until SECONDS CMD…: run CMD every 20 ms until it succeeds.
wait_until() {
  local limit=$1 i=0
  shift
  while ! "$@"; do
    i=$((i + 1))
    [ "$i" -ge $((limit * 50)) ] && return 1
    sleep 0.02
  done
  return 0
}

readers_listed() { "$BENCH_BIN/pcsc-wait" list 2>/dev/null | grep -qxF "$READER0"; }

pcscd_start() {
  pcscd -f -c "$RIG/pcsc" >>"$RIG/pcscd.log" 2>&1 &
  PCSCD_PID=$!
  wait_until 10 readers_listed || die "pcscd did not show its reader"
}


bench_setup() {
  local module=${1:-}
  RIG=$(mktemp -d "${TMPDIR:-/tmp}/signet-bench.XXXXXX") || exit 1
  trap bench_teardown EXIT
  trap 'exit 1' INT TERM
  mkdir -p /run/pcscd || die "could not create /run/pcscd"
  mount -t tmpfs -o mode=0755 tmpfs /run/pcscd || die "could not mount a tmpfs on /run/pcscd"
  ip link set lo up || die "no loopback"
  mkdir -p "$RIG/pcsc" "$RIG/py" "$RIG/config/signet" "$RIG/state" "$RIG/runtime" "$RIG/cache"
  chmod 0700 "$RIG/runtime"
  # One reader only (vpcd makes two per entry; the second stays empty).
  cat >"$RIG/pcsc/signet-bench-vpcd" <<EOF
FRIENDLYNAME "$READER_NAME"
DEVICENAME   /dev/null:0x9C7D
LIBPATH      $(vpcd_driver)
CHANNELID    0x9C7D
EOF
  # Debian 12's vicc imports Crypto; Debian ships it as Cryptodome.
  ln -s "$CRYPTODOME" "$RIG/py/Crypto"
  export XDG_CONFIG_HOME="$RIG/config" XDG_STATE_HOME="$RIG/state"
  export XDG_RUNTIME_DIR="$RIG/runtime" XDG_CACHE_HOME="$RIG/cache"
  unset OPENSC_CONF
  : >"$RIG/config/signet/signet.conf"
  [ -n "$module" ] && printf '[pkcs11]\nmodule=%s\n' "$module" >>"$RIG/config/signet/signet.conf"
  pcscd_start
  bus_start
  mkdir -p "$BENCH_OUT" || die "cannot create $BENCH_OUT"
}

agent_owned() {
  gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.NameHasOwner io.signet.Agent 2>/dev/null | grep -q true
}

agent_start() {
  "$SIGNETD" "$@" >>"$RIG/agent.log" 2>&1 &
  AGENT_PID=$!
  gdbus wait --session --timeout 20 io.signet.Agent || die "signetd did not take its bus name"
}

agent_stop() {
  kill -TERM "$AGENT_PID" 2>/dev/null
  wait "$AGENT_PID" 2>/dev/null
  AGENT_PID=
}

list_readers() {
  gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
    --method io.signet.Agent1.ListReaders
}

# vicc, through vicc-stamp.py: the CLOCK_MONOTONIC time (µs) its connect()
# to vpcd returned is appended to $RIG/vicc.stamp.
card_insert() {
  VICC_STAMP_FILE="$RIG/vicc.stamp" PYTHONPATH="$VICC_MODULES:$RIG/py" \
    "$PYTHON" "$BENCH_SRC/vicc-stamp.py" -t iso7816 -P "$VPCD_PORT" >>"$RIG/vicc.log" 2>&1 &
  VICC_PID=$!
}
card_remove() {
  kill -TERM "$VICC_PID" 2>/dev/null
  wait "$VICC_PID" 2>/dev/null
  VICC_PID=
}

# lines FILE: how many lines FILE has (0 when absent).
lines() {
  if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}
