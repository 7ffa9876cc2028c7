#!/bin/sh
# tests/udev/test-unit-sandbox.sh: signetd.service under a real systemd user
# manager (TAP). Proves that the unit's sandbox lets the agent do its work and
# denies what docs/internals/desktop.md says it denies:
#  - a probe run with the unit's [Service] settings (tests/udev/sandbox-probe.py)
#    writes its runtime and state directories, reads its configuration,
#    connects to pcscd's socket and the session bus, opens AF_INET/AF_INET6;
#    it cannot write elsewhere in the home, open device nodes or netlink
#    sockets, map W+X memory or make a user namespace;
#  - a D-Bus call to io.signet.Agent makes the session bus start the unit
#    (SystemdService=), and the sandboxed agent lists a SoftHSM2 token loaded
#    through p11-kit.
# How: as root (CI is root), in a private mount namespace: tmpfs on /run (with
# /run/systemd/system, which `systemd --user` wants, a listener on
# /run/pcscd/pcscd.comm and /run/user/UID) and on /home (the user's home, not
# under /tmp: PrivateTmp= hides /tmp); a cgroup of its own for the manager;
# `systemd --user` as the unprivileged user nobody; everything is undone at
# the end. Needs systemd, dbus-user-session (dbus.socket for the user
# manager), python3, gdbus (libglib2.0-bin), softhsm2, util-linux.
# Debugging: SIGNET_SANDBOX_LOG=FILE keeps the user manager's output,
# SIGNET_SANDBOX_LOG_LEVEL=debug makes it say more.
# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"

# --- outside: check what is needed, then run this script in a namespace -----
if [ "${1:-}" != --inside ]; then
  why=
  [ "$(id -u)" -eq 0 ] || why="needs root for a mount namespace and a cgroup (CI runs as root)"
  for t in unshare runuser systemctl gdbus "${SOFTHSM2_UTIL:-softhsm2-util}"; do
    [ -n "$why" ] || command -v "$t" >/dev/null 2>&1 || why="$t not found"
  done
  for f in /usr/lib/systemd/user/dbus.socket "${SIGNET_PYTHON3:-/usr/bin/python3}"; do
    [ -n "$why" ] || [ -e "$f" ] || why="$f not found (dbus-user-session, python3)"
  done
  if [ -n "$why" ]; then
    if [ "${CI:-}" = true ]; then echo "Bail out! $why"; exit 1; fi
    skip_all "$why"
  fi
  for f in "$top_builddir/udev/signetd.service" "$top_builddir/agent/io.signet.Agent.service" \
    "$top_builddir/agent/signetd"; do
    [ -f "$f" ] || { echo "Bail out! $f not built (make all first)"; exit 1; }
  done
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/signet-sandbox.XXXXXX") || exit 1
  unshare --mount --propagation private sh "$0" --inside "$tmp"
  rc=$?
  rm -rf "$tmp"
  exit $rc
fi

# --- inside the mount namespace, as root -------------------------------------
tmp=$2
PY=${SIGNET_PYTHON3:-/usr/bin/python3}
user=nobody
uid=$(id -u $user)
gid=$(id -g $user)
HOME_DIR=/home/signet-test
RT=/run/user/$uid
manager_pid=
listener_pid=
cgroups=

cleanup() {
  [ -z "${SIGNET_SANDBOX_LOG:-}" ] || cp "$tmp/manager.log" "$SIGNET_SANDBOX_LOG"
  if [ -n "$manager_pid" ]; then
    kill "$manager_pid" 2>/dev/null
    # Its services end with it; wait for the cgroups to empty.
    i=0
    while kill -0 "$manager_pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  fi
  [ -z "$listener_pid" ] || kill "$listener_pid" 2>/dev/null
  for cg in $cgroups; do
    # Children first; a cgroup with a process left in it stays (and says so).
    find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || echo "# cgroup $cg not removed"
  done
}
trap cleanup EXIT

as_user() {
  runuser -u $user -- env -i HOME=$HOME_DIR XDG_RUNTIME_DIR=$RT PATH=/usr/bin:/bin \
    DBUS_SESSION_BUS_ADDRESS=unix:path=$RT/bus "$@"
}

set -e
mount -t tmpfs -o mode=0755 tmpfs /run
# /run/systemd/system: `systemd --user` wants a system booted with systemd.
# /run/systemd/unit-root: where a unit's namespace is assembled; PID 1 makes it
# the first time it sandboxes a system service (a user manager cannot).
mkdir -p /run/systemd/system /run/pcscd "$RT"
mkdir -m 0700 /run/systemd/unit-root
chown $uid:$gid "$RT"
chmod 0700 "$RT"
mount -t tmpfs -o mode=0755 tmpfs /home
mkdir -p $HOME_DIR/bin $HOME_DIR/.config/systemd/user/signetd.service.d $HOME_DIR/.config/signet \
  $HOME_DIR/.local/share/dbus-1/services $HOME_DIR/softhsm/tokens

# The agent as built; the unit and the D-Bus file as built, pointed at it.
cp "$top_builddir/agent/signetd" $HOME_DIR/bin/signetd
cp "$top_srcdir/tests/udev/sandbox-probe.py" $HOME_DIR/bin/
sed "s|^ExecStart=.*|ExecStart=%h/bin/signetd|" "$top_builddir/udev/signetd.service" \
  >$HOME_DIR/.config/systemd/user/signetd.service
sed "s|^Exec=.*|Exec=$HOME_DIR/bin/signetd|" "$top_builddir/agent/io.signet.Agent.service" \
  >$HOME_DIR/.local/share/dbus-1/services/io.signet.Agent.service
# For the test only: the SoftHSM2 token lives in the home, which the sandbox
# keeps read-only; the agent's messages go to a file (no journal here).
cat >$HOME_DIR/.config/systemd/user/signetd.service.d/test.conf <<EOF
[Service]
Environment=SOFTHSM2_CONF=%h/softhsm2.conf
ReadWritePaths=%h/softhsm
StandardError=file:%h/agent.log
EOF
# The probe: the same [Service] settings, a oneshot that runs sandbox-probe.py.
sed -e '/^\(Type\|BusName\|ExecStart\|Restart\|RestartSec\)=/d' -e 's/^Description=.*/Description=sandbox probe/' \
  "$top_builddir/udev/signetd.service" >$HOME_DIR/.config/systemd/user/signet-probe.service
cat >>$HOME_DIR/.config/systemd/user/signet-probe.service <<EOF
Type=oneshot
Environment=PROBE_DEVICE=$(for d in /dev/vda /dev/sda /dev/nvme0n1 /dev/kmsg /dev/mem; do [ -e $d ] && echo $d && break; done)
ExecStart=$PY %h/bin/sandbox-probe.py
StandardOutput=file:%h/probe.out
StandardError=file:%h/probe.err
EOF
echo "# signet sandbox test" >$HOME_DIR/.config/signet/signet.conf
printf 'directories.tokendir = %s/softhsm/tokens\nobjectstore.backend = file\n' $HOME_DIR \
  >$HOME_DIR/softhsm2.conf
chown -R $uid:$gid $HOME_DIR
as_user env SOFTHSM2_CONF=$HOME_DIR/softhsm2.conf "${SOFTHSM2_UTIL:-softhsm2-util}" \
  --init-token --free --label sandbox --pin 123456 --so-pin 12345678 >/dev/null

# pcscd's socket: a listener that accepts (the probe only connects).
"$PY" -c 'import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); s.listen(8)
while True: s.accept()[0].close()' /run/pcscd/pcscd.comm &
listener_pid=$!

# A cgroup for the manager in each hierarchy this process is in (cgroup v2,
# and the name=systemd one of a hybrid set-up), delegated to the user.
while IFS=: read -r _ ctrl path; do
  case $ctrl in
  "") root=/sys/fs/cgroup; [ -e $root/cgroup.procs ] && [ ! -e $root/unified ] || root=/sys/fs/cgroup/unified ;;
  name=systemd) root=/sys/fs/cgroup/systemd ;;
  *) continue ;;
  esac
  [ -e "$root$path/cgroup.procs" ] || continue
  cg=$root${path%/}/signet-sandbox-$$
  mkdir "$cg"
  cgroups="$cgroups $cg"
  chown -R $uid:$gid "$cg"
done </proc/self/cgroup
set +e

systemd_bin=/usr/lib/systemd/systemd
[ -x $systemd_bin ] || systemd_bin=/lib/systemd/systemd
sh -c 'for cg in $1; do echo $$ >"$cg/cgroup.procs" || exit 1; done; shift
  exec runuser -u "$@"' sh "$cgroups" $user -- env -i HOME=$HOME_DIR XDG_RUNTIME_DIR=$RT PATH=/usr/bin:/bin \
  XDG_CONFIG_HOME=$HOME_DIR/.config XDG_DATA_HOME=$HOME_DIR/.local/share SYSTEMD_LOG_LEVEL=${SIGNET_SANDBOX_LOG_LEVEL:-info} \
  $systemd_bin --user --log-target=console >"$tmp/manager.log" 2>&1 &
manager_pid=$!
i=0
state=
while [ $i -lt 100 ]; do
  state=$(as_user systemctl --user is-system-running 2>/dev/null)
  case $state in running | degraded) break ;; esac
  sleep 0.1
  i=$((i + 1))
done
case $state in
running | degraded) ok "systemd --user runs ($state)" ;;
*)
  not_ok "systemd --user runs (state: ${state:-none})"
  sed 's/^/#   /' "$tmp/manager.log" | tail -n 20
  echo "Bail out! no user manager"
  exit 1
  ;;
esac

# --- the probe in the sandbox ---------------------------------------------------
if as_user systemctl --user start signet-probe.service; then ok "probe: the sandbox sets up and runs"; else
  not_ok "probe: the sandbox sets up and runs"
  as_user systemctl --user status signet-probe.service 2>&1 | sed 's/^/#   /'
  tail -n 20 "$tmp/manager.log" | sed 's/^/#   manager: /'
fi
sed 's/^/# probe: /' $HOME_DIR/probe.out $HOME_DIR/probe.err 2>/dev/null
probe() { sed -n "s|^$1: ||p" $HOME_DIR/probe.out; }
expect() { check_eq "probe: $1" "$2" "$(probe "$1" | cut -d' ' -f1)"; }
expect "write runtime dir" yes
check_eq "probe: runtime dir mode" "yes (0o700)" "$(probe "runtime dir mode")"
expect "write state dir" yes
check_eq "probe: state dir mode" "yes (0o700)" "$(probe "state dir mode")"
check_eq "probe: read config" "yes (# signet sandbox test)" "$(probe "read config")"
check_eq "probe: config dir read-only" "no (EROFS)" "$(probe "write config dir")"
check_eq "probe: rest of the home read-only" "no (EROFS)" "$(probe "write home")"
check_eq "probe: rest of the runtime dir read-only" "no (EROFS)" "$(probe "write runtime root")"
expect "write /var/tmp (private)" yes
expect "connect pcscd" yes
expect "connect session bus" yes
expect "socket AF_INET" yes
expect "socket AF_INET6" yes
check_eq "probe: no netlink socket" "no (EAFNOSUPPORT)" "$(probe "socket AF_NETLINK")"
check_eq "probe: no packet socket" "no (EAFNOSUPPORT)" "$(probe "socket AF_PACKET")"
check_eq "probe: no device nodes" "no (ENOENT)" "$(probe "device node")"
check_eq "probe: no W+X memory" "no (EPERM)" "$(probe "W+X mapping")"
check_eq "probe: no new namespaces" "no (EPERM)" "$(probe "new user namespace")"
check_eq "probe: NoNewPrivs" "yes (1)" "$(probe NoNewPrivs)"
check_eq "probe: seccomp filter" "yes (2)" "$(probe Seccomp)"
check_eq "probe: umask" "yes (0o77)" "$(probe umask)"
kill "$listener_pid" 2>/dev/null
listener_pid=
rm -f /run/pcscd/pcscd.comm

# --- the agent, started by the session bus through systemd ----------------------
out=$(as_user timeout 30 gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
  --method io.signet.Agent1.ListTokens 2>&1)
rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q "'sandbox'"; then
  ok "agent: D-Bus activation through systemd; lists the SoftHSM2 token"
else
  not_ok "agent: D-Bus activation through systemd; lists the SoftHSM2 token"
  echo "$out" | sed 's/^/#   /'
  as_user systemctl --user status signetd.service 2>&1 | sed 's/^/#   /'
  sed 's/^/#   agent: /' $HOME_DIR/agent.log 2>/dev/null | tail -n 20
fi
check_eq "agent: the unit is active" active "$(as_user systemctl --user is-active signetd.service)"
pid=$(as_user systemctl --user show -P MainPID signetd.service)
check "agent: runs with a seccomp filter and no_new_privs" sh -c "[ '${pid:-0}' -gt 0 ] &&
  grep -q '^Seccomp:[[:space:]]*2' /proc/$pid/status && grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$pid/status"
check "agent: in a user namespace of its own" sh -c "[ '${pid:-0}' -gt 0 ] &&
  [ \"\$(readlink /proc/$pid/ns/user)\" != \"\$(readlink /proc/self/ns/user)\" ]"
check "agent: wrote its OpenSC configuration" test -f $RT/signet/opensc.conf
check "agent: its own messages only, no warning" sh -c "! grep -qi 'warning\|critical' $HOME_DIR/agent.log"
as_user systemctl --user stop signetd.service
check "agent: stopping the unit removes the runtime directory" test ! -e $RT/signet
check "agent: the state directory stays" test -d $HOME_DIR/.local/state/signet

tap_done
