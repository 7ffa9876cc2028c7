# tests/hotplug/hotplug-lib.sh: the rig for the hotplug tests (sourced).
#
# A private PC/SC world per script (TESTING.md): the script re-runs itself
# under `unshare --mount --net --propagation private` (root), mounts a tmpfs
# on /run/pcscd (pcscd 1.9.9 always uses /run/pcscd/pcscd.comm), brings up
# loopback, and starts pcscd -f -c with its own vpcd reader entry (two
# readers, "$READER0" and "$READER1"); vicc connects a virtual card to the
# first. The machine's own pcscd and readers are untouched. Then a private
# session bus, temporary XDG directories, a SoftHSM2 token, and signetd from
# the build tree. Everything started is stopped on exit.
#
#   hp_enter               check the tools, enter the private world (re-exec)
#   hp_setup [MODULE]      rig, pcscd, bus; MODULE: module= for signet.conf
#                          (empty: every p11-kit module, OpenSC included)
#   hp_setup_card_model    hp_setup with the test shim's OpenSC card model
#   agent_start [ARGS…]    signetd --verbose ARGS… in the background
#   pcscd_start/pcscd_stop, card_insert/card_remove (vicc)
#   signals_start          record the agent's signals (as gdbus monitor prints them)
#   signal_count NAME      how many NAME signals were recorded
. "${top_srcdir:?}/tests/lib.sh"

: "${SIGNETD:=$top_builddir/agent/signetd}"
: "${SIGNET:=$top_builddir/cli/signet}"
: "${PCSC_HELPER:=$top_builddir/tests/hotplug/signet-pcsc-helper}"
PYTHON=/usr/bin/python3
VICC=$(command -v vicc || echo /usr/bin/vicc)
VICC_MODULES=/usr/lib/python3/site-packages/virtualsmartcard
CRYPTODOME=/usr/lib/python3/dist-packages/Cryptodome
VPCD_PORT=40059 # 0x9C7B; our own network namespace, so no clash
# A script may name the reader first (the card model calls its slots
# "Signet Test Reader 00 NN").
: "${READER_NAME:=Signet Test PCD}"
READER0="$READER_NAME 00 00"
READER1="$READER_NAME 00 01"
TOKEN_LABEL=signet-hotplug

# Skips only where a tool is truly absent or we are not root, never in CI.
hp_skip() {
  if [ "${CI:-}" = true ]; then
    echo "Bail out! $* (CI=true: nothing may skip)"
    exit 1
  fi
  skip_all "$*"
}

vpcd_driver() {
  for d in /usr/lib/pcsc/drivers/serial /usr/lib/*/pcsc/drivers/serial /usr/local/lib/pcsc/drivers/serial; do
    [ -f "$d/libifdvpcd.so" ] && { echo "$d/libifdvpcd.so"; return 0; }
  done
  return 1
}

hp_enter() {
  if [ -n "${SIGNET_HOTPLUG_WORLD:-}" ]; then
    return 0
  fi
  [ "$(id -u)" = 0 ] || hp_skip "needs root for a private PC/SC world (unshare --mount --net)"
  for t in unshare pcscd ip gdbus mount; do
    command -v "$t" >/dev/null || hp_skip "$t not found (apt-get install pcscd iproute2 libglib2.0-bin util-linux)"
  done
  [ -n "${DBUS_DAEMON:-}" ] && [ -x "$DBUS_DAEMON" ] || hp_skip "dbus-daemon not found (apt-get install dbus)"
  [ -n "${SOFTHSM2_UTIL:-}" ] && [ -x "$SOFTHSM2_UTIL" ] || hp_skip "softhsm2-util not found (apt-get install softhsm2)"
  vpcd_driver >/dev/null || hp_skip "vpcd not found (apt-get install vsmartcard-vpcd)"
  [ -x "$VICC" ] && [ -d "$VICC_MODULES" ] || hp_skip "vicc not found (apt-get install vsmartcard-vpicc)"
  [ -x "$PYTHON" ] && [ -d "$CRYPTODOME" ] || hp_skip "python3-pycryptodome not found (apt-get install python3-pycryptodome)"
  [ -x "$SIGNETD" ] && [ -x "$SIGNET" ] && [ -x "$PCSC_HELPER" ] ||
    hp_skip "build agent/signetd, cli/signet and tests/hotplug/signet-pcsc-helper first (make check builds them)"
  export SIGNET_HOTPLUG_WORLD=1
  exec unshare --mount --net --propagation private /bin/sh "$0" "$@"
  echo "Bail out! unshare failed"
  exit 1
}

hp_teardown() {
  local status=$?
  [ -n "${MONITOR_PID:-}" ] && kill -TERM "$MONITOR_PID" 2>/dev/null
  [ -n "${SIGNALS_PID:-}" ] && kill -TERM "$SIGNALS_PID" 2>/dev/null
  [ -n "${VICC_PID:-}" ] && kill -TERM "$VICC_PID" 2>/dev/null
  [ -n "${ESTCA_PID:-}" ] && kill -TERM "$ESTCA_PID" 2>/dev/null # tests/estca-lib.sh
  if [ -n "${AGENT_PID:-}" ]; then
    kill -TERM "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID" 2>/dev/null
  fi
  # An agent started by D-Bus activation: stop it by its pid.
  if [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
    p=$(agent_bus_pid)
    [ -n "$p" ] && kill -TERM "$p" 2>/dev/null
  fi
  [ -n "${PCSCD_PID:-}" ] && kill -TERM "$PCSCD_PID" 2>/dev/null
  [ -n "${BUS_PID:-}" ] && kill -TERM "$BUS_PID" 2>/dev/null
  if [ -n "${RIG:-}" ] && [ -d "$RIG" ]; then
    if [ "$status" -ne 0 ] || [ "${tap_fail:-0}" -ne 0 ]; then
      for f in agent.log signals.log monitor.out pcscd.log vicc.log; do
        [ -s "$RIG/$f" ] || continue
        echo "# $f:"
        tail -n 40 "$RIG/$f" | awk '{ print "#   " $0 }'
      done
    fi
    if [ -n "${SIGNET_KEEP_RIG:-}" ]; then echo "# rig kept in $RIG"; else rm -rf "$RIG"; fi
  fi
}


pcscd_start() {
  pcscd -f -c "$RIG/pcsc" >>"$RIG/pcscd.log" 2>&1 &
  PCSCD_PID=$!
  wait_until 10 readers_listed || { echo "Bail out! pcscd did not show its readers"; exit 1; }
}
readers_listed() { "$PCSC_HELPER" list 2>/dev/null | grep -qxF "$READER0"; }

pcscd_stop() {
  kill -TERM "$PCSCD_PID" 2>/dev/null
  wait "$PCSCD_PID" 2>/dev/null
  PCSCD_PID=
}

# card_insert [VICC-ARGS…], e.g. -vvv to log the resets the card receives.
card_insert() {
  PYTHONPATH="$VICC_MODULES:$RIG/py" "$PYTHON" "$VICC" -t iso7816 -P "$VPCD_PORT" "$@" \
    >>"$RIG/vicc.log" 2>&1 &
  VICC_PID=$!
}
card_remove() {
  kill -TERM "$VICC_PID" 2>/dev/null
  wait "$VICC_PID" 2>/dev/null
  VICC_PID=
}


hp_setup() {
  local module=${1:-}
  RIG=$(mktemp -d "${TMPDIR:-/tmp}/signet-hotplug.XXXXXX") || exit 1
  trap hp_teardown EXIT
  trap 'exit 1' INT TERM
  mkdir -p /run/pcscd && mount -t tmpfs -o mode=0755 tmpfs /run/pcscd ||
    { echo "Bail out! could not mount a tmpfs on /run/pcscd"; exit 1; }
  ip link set lo up || { echo "Bail out! no loopback"; exit 1; }
  mkdir -p "$RIG/pcsc" "$RIG/py" "$RIG/config/signet" "$RIG/state" "$RIG/runtime" \
    "$RIG/cache" "$RIG/tokens"
  chmod 0700 "$RIG/runtime"
  cat >"$RIG/pcsc/signet-vpcd" <<EOF
FRIENDLYNAME "$READER_NAME"
DEVICENAME   /dev/null:0x9C7B
LIBPATH      $(vpcd_driver)
CHANNELID    0x9C7B
EOF
  # Debian 12's vicc imports Crypto; Debian ships it as Cryptodome.
  ln -s "$CRYPTODOME" "$RIG/py/Crypto"
  export XDG_CONFIG_HOME="$RIG/config" XDG_STATE_HOME="$RIG/state"
  export XDG_RUNTIME_DIR="$RIG/runtime" XDG_CACHE_HOME="$RIG/cache"
  unset OPENSC_CONF
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$RIG/tokens" >"$RIG/softhsm2.conf"
  export SOFTHSM2_CONF="$RIG/softhsm2.conf"
  "$SOFTHSM2_UTIL" --init-token --free --label "$TOKEN_LABEL" --pin 123456 --so-pin 12345678 \
    >/dev/null || { echo "Bail out! softhsm2-util could not make a token"; exit 1; }
  : >"$RIG/config/signet/signet.conf"
  [ -n "$module" ] && printf '[pkcs11]\nmodule=%s\n' "$module" >>"$RIG/config/signet/signet.conf"
  pcscd_start
  bus_start
}

# hp_setup_card_model: hp_setup with the test shim's OpenSC card model as
# the module, its slot named after the script's READER_NAME (set it to
# "Signet Test Reader" before sourcing this file), its state in $RIG/shim.
hp_setup_card_model() {
  [ -f "${SIGNET_SHIM_MODULE:-}" ] || hp_skip "test shim not built ($SIGNET_SHIM_MODULE): make check builds it"
  hp_setup "$SIGNET_SHIM_MODULE"
  export SIGNET_SHIM_MODEL=opensc-card SIGNET_SHIM_STATE="$RIG/shim" SIGNET_SHIM_TARGET="$SOFTHSM2_MODULE"
  mkdir -p "$SIGNET_SHIM_STATE"
}

agent_start() {
  "$SIGNETD" --verbose "$@" >>"$RIG/agent.log" 2>&1 &
  AGENT_PID=$!
  gdbus wait --session --timeout 20 io.signet.Agent ||
    { echo "Bail out! signetd did not take its bus name"; exit 1; }
}

agent_owned() {
  gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.NameHasOwner io.signet.Agent 2>/dev/null | grep -q true
}
agent_gone() { ! agent_owned; }
agent_bus_pid() {
  gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.GetConnectionUnixProcessID io.signet.Agent 2>/dev/null |
    sed -n 's/^(uint32 \([0-9]*\),)$/\1/p'
}

# The agent's signals, one line each, in $RIG/signals.log.
signals_start() {
  # gdbus monitor --dest matches the name's owner only once it has seen the
  # owner appear, and missed the signals an agent sends in its first
  # milliseconds. This recorder matches the interface, whoever sends it,
  # prints each signal as gdbus monitor does, and says "ready" once its match
  # rule is on the bus (a round trip after subscribing).
  "$PYTHON" -u -c '
import sys
from gi.repository import Gio, GLib
bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
def on_signal(conn, sender, path, iface, member, params):
    print("%s: %s.%s %s" % (path, iface, member, params.print_(True)), flush=True)
bus.signal_subscribe(None, "io.signet.Agent1", None, "/io/signet/Agent", None,
                     Gio.DBusSignalFlags.NONE, on_signal)
bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
              "GetId", None, None, Gio.DBusCallFlags.NONE, -1, None)
print("ready", flush=True)
GLib.MainLoop().run()
' >"$RIG/signals.log" 2>&1 &
  SIGNALS_PID=$!
  wait_until 20 grep -qx ready "$RIG/signals.log" ||
    { echo "Bail out! the signal recorder did not start"; cat "$RIG/signals.log"; exit 1; }
}
signal_count() { grep -c "io\.signet\.Agent1\.$1 " "$RIG/signals.log"; }
# signal_has NAME TEXT…: a recorded NAME signal holds every TEXT.
signal_has() {
  local name=$1
  shift
  grep "io\.signet\.Agent1\.$name " "$RIG/signals.log" >"$RIG/signal_has"
  for text in "$@"; do
    grep -F -- "$text" "$RIG/signal_has" >"$RIG/signal_has.next"
    mv "$RIG/signal_has.next" "$RIG/signal_has"
  done
  [ -s "$RIG/signal_has" ]
}
signal_seen() { [ "$(signal_count "$1")" -ge "$2" ]; }

list_readers() {
  gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
    --method io.signet.Agent1.ListReaders
}

# check_count DESCRIPTION SIGNAL N: exactly N SIGNAL signals so far.
check_count() {
  local n
  n=$(signal_count "$2")
  if [ "$n" -eq "$3" ]; then ok "$1"; else
    not_ok "$1 ($n $2 signals, expected $3)"
    grep "Agent1\.$2 " "$RIG/signals.log" | awk '{ print "#   " $0 }' | head -n 10
  fi
}

# jcheck_lines DESCRIPTION FILE EXPR: EXPR (Python over the list L of the
# JSON objects in FILE, one per line) is true.
jcheck_lines() {
  if "$PYTHON" -c '
import json, sys, datetime
L = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def t(e): return datetime.datetime.fromisoformat(e["time"]).timestamp()
sys.exit(0 if eval("(" + sys.argv[2].strip() + ")") else 1)
' "$2" "$3" 2>"$RIG/jcheck.err"; then
    ok "$1"
  else
    not_ok "$1"
    echo "#   $3"
    awk '{ print "#   " $0 }' "$2" "$RIG/jcheck.err" | tail -n 12
  fi
}
