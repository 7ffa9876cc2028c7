# tests/lib.sh: shared shell helpers for integration tests (sourced).
# Makes a throwaway SoftHSM2 token and temporary XDG directories; prints TAP.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"

tap_n=0
tap_fail=0
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_fail=$((tap_fail + 1)); echo "not ok $tap_n - $*"; }
# wait_until SECONDS CMD…: run CMD every 50 ms until it succeeds.
wait_until() {
  local limit=$1 i=0
  shift
  while ! "$@"; do
    i=$((i + 1))
    [ "$i" -ge $((limit * 20)) ] && return 1
    sleep 0.05
  done
  return 0
}
# check DESCRIPTION COMMAND...: one TAP line from a command's exit status
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
# check_eq DESCRIPTION EXPECTED ACTUAL: one TAP line, both values shown on failure
check_eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else
    not_ok "$1"
    echo "#   expected: $2"
    echo "#   got:      $3"
  fi
}
tap_done() { echo "1..$tap_n"; [ "$tap_fail" -eq 0 ]; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

# bus_start: a private session bus in $RIG (bus.socket, services/ for
# D-Bus activation when a test puts a .service file there), its address in
# DBUS_SESSION_BUS_ADDRESS and its pid in BUS_PID; needs $DBUS_DAEMON.
bus_start() {
  cat >"$RIG/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$RIG/bus.socket</listen>
  <servicedir>$RIG/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
  mkdir -p "$RIG/services"
  "$DBUS_DAEMON" --config-file="$RIG/bus.conf" --fork --nosyslog \
    --print-address=3 --print-pid=4 3>"$RIG/bus.address" 4>"$RIG/bus.pid" ||
    { echo "Bail out! dbus-daemon did not start"; exit 1; }
  BUS_PID=$(cat "$RIG/bus.pid")
  DBUS_SESSION_BUS_ADDRESS=$(head -n 1 "$RIG/bus.address")
  export DBUS_SESSION_BUS_ADDRESS
  [ -n "$BUS_PID" ] && [ -n "$DBUS_SESSION_BUS_ADDRESS" ] ||
    { echo "Bail out! dbus-daemon gave no address"; exit 1; }
}
