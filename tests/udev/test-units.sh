#!/bin/sh
# tests/udev/test-units.sh: the desktop files as built and installed (TAP).
#  - the systemd user unit passes `systemd-analyze verify --user` and has the
#    settings docs/internals/desktop.md promises;
#  - the udev rules parse (udev 252 has no `udevadm verify`: our own parser,
#    tests/udev/udev-rules.py, then udev's own in `udevadm test` inside a
#    private mount namespace), and tag exactly readers and tokens;
#  - the D-Bus service file names the agent's bus name, its program and the unit;
#  - `make install DESTDIR=...` puts all three where configure said.
# Needs: systemd-analyze, udevadm, python3; root (as CI) for `udevadm test`.
# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"

PY=${SIGNET_PYTHON3:-/usr/bin/python3}
RULES_CHECK="$PY $top_srcdir/tests/udev/udev-rules.py"
RULES=$top_srcdir/udev/90-signet.rules
UNIT=$top_builddir/udev/signetd.service
DBUS_FILE=$top_builddir/agent/io.signet.Agent.service

# In CI nothing may skip: a missing tool is a failure there.
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "${CI:-}" = true ]; then echo "Bail out! $1 not found (CI installs everything)"; exit 1; fi
  skip_all "$1 not found (apt-get install $2)"
}
need systemd-analyze systemd
need udevadm udev
need "$PY" python3
for f in "$UNIT" "$DBUS_FILE"; do
  [ -f "$f" ] || { echo "Bail out! $f not built (make all first)"; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/signet-units.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# Value of KEY in FILE, all occurrences joined by spaces (as systemd lists).
unit_get() { sed -n "s/^$1=//p" "$2" | tr '\n' ' ' | sed 's/ $//'; }

# --- the systemd user unit ----------------------------------------------------
check "unit: no @variable@ left" sh -c "! grep -q '@[a-z_]*@' '$UNIT'"
check_eq "unit: ExecStart is the installed agent" \
  "${SIGNET_LIBEXECDIR:-?}/signetd" "$(unit_get ExecStart "$UNIT")"

# systemd-analyze verify needs a runtime directory, finds the man page named in
# Documentation= (given from the source tree) and the ExecStart binary (the
# build tree's). It prints a warning for every key it does not take, and still
# exits 0: the output must be empty too.
mkdir -p "$tmp/rt" "$tmp/man/man8" "$tmp/verify"
chmod 700 "$tmp/rt"
cp "$top_srcdir/docs/signetd.8" "$tmp/man/man8/"
verify() {
  (cd "$tmp/verify" && XDG_RUNTIME_DIR=$tmp/rt MANPATH=$tmp/man \
    systemd-analyze verify --user "./$1") >"$tmp/verify.out" 2>&1
}
sed "s|^ExecStart=.*|ExecStart=$top_builddir/agent/signetd|" "$UNIT" >"$tmp/verify/signetd.service"
if [ -x "$top_builddir/agent/signetd" ] && verify signetd.service && [ ! -s "$tmp/verify.out" ]; then
  ok "unit: systemd-analyze verify --user is silent"
else
  not_ok "unit: systemd-analyze verify --user is silent"
  sed 's/^/#   /' "$tmp/verify.out"
fi
# ... and it does complain about an option systemd does not know.
sed 's/^ProtectSystem=strict$/ProtectSystem=strict\nProtectSytem=strict/' \
  "$tmp/verify/signetd.service" >"$tmp/verify/typo.service"
verify typo.service
check "unit: verify reports a misspelt option" grep -q "ProtectSytem" "$tmp/verify.out"

check_eq "unit: Type" dbus "$(unit_get Type "$UNIT")"
check_eq "unit: BusName" io.signet.Agent "$(unit_get BusName "$UNIT")"
check_eq "unit: Restart" on-failure "$(unit_get Restart "$UNIT")"
check_eq "unit: Documentation" "man:signetd(8)" "$(unit_get Documentation "$UNIT")"
for kv in PrivateUsers=yes NoNewPrivileges=yes ProtectSystem=strict ProtectHome=read-only PrivateTmp=yes \
  PrivateDevices=yes LockPersonality=yes MemoryDenyWriteExecute=yes RestrictRealtime=yes \
  RestrictSUIDSGID=yes RestrictNamespaces=yes SystemCallArchitectures=native \
  RuntimeDirectory=signet RuntimeDirectoryMode=0700 UMask=0077; do
  check_eq "unit: ${kv%%=*}" "${kv#*=}" "$(unit_get "${kv%%=*}" "$UNIT")"
done
check_eq "unit: address families (session bus, pcscd, HTTPS to the CA)" \
  "AF_UNIX AF_INET AF_INET6" "$(unit_get RestrictAddressFamilies "$UNIT")"
check_eq "unit: system calls" "@system-service ~@privileged" "$(unit_get SystemCallFilter "$UNIT")"
# systemd 252 puts StateDirectory= of a user unit under $XDG_CONFIG_HOME.
check_eq "unit: no StateDirectory= (it would be ~/.config/signet on systemd 252)" \
  "" "$(unit_get StateDirectory "$UNIT")"
check_eq "unit: the state directory is the one writable place in the home" \
  "-%h/.local/state/signet" "$(unit_get ReadWritePaths "$UNIT")"
check "unit: no [Install] section (started by D-Bus and udev, never enabled)" \
  sh -c "! grep -q '^\[Install\]' '$UNIT'"

# --- the D-Bus service file, read as a key file -------------------------------
keyfile_get() {
  "$PY" -c 'import configparser, sys
k = configparser.ConfigParser(interpolation=None, strict=True)
k.optionxform = str
k.read(sys.argv[1], encoding="utf-8")
print(k.get("D-BUS Service", sys.argv[2], fallback=""))' "$1" "$2"
}
check_eq "D-Bus file: Name is the unit's BusName" \
  "$(unit_get BusName "$UNIT")" "$(keyfile_get "$DBUS_FILE" Name)"
check_eq "D-Bus file: Exec is the installed agent (without systemd)" \
  "${SIGNET_LIBEXECDIR:-?}/signetd" "$(keyfile_get "$DBUS_FILE" Exec)"
check_eq "D-Bus file: SystemdService is the unit" \
  "$(basename "$UNIT")" "$(keyfile_get "$DBUS_FILE" SystemdService)"
check_eq "D-Bus file: one group" "D-BUS Service" \
  "$("$PY" -c 'import configparser, sys
k = configparser.ConfigParser(interpolation=None); k.read(sys.argv[1]); print(" ".join(k.sections()))' "$DBUS_FILE")"

# --- the udev rules -----------------------------------------------------------
check "rules: the checker takes udev's own rules files" sh -c "$RULES_CHECK syntax /lib/udev/rules.d/*.rules"
printf '%s\n' 'ACTION=="add" GOTO="x"' 'SUBSYSTEM="usb", ENV{A}="1"' 'ENV{ID}=="1", RUN+="/bin/true"' \
  >"$tmp/bad.rules"
check "rules: the checker rejects broken rules" sh -c "! $RULES_CHECK syntax '$tmp/bad.rules' >/dev/null"
if out=$($RULES_CHECK syntax "$RULES"); then ok "rules: syntax"; else
  not_ok "rules: syntax"; echo "$out" | sed 's/^/#   /'
fi
if out=$($RULES_CHECK policy "$RULES"); then ok "rules: change no device, run nothing"; else
  not_ok "rules: change no device, run nothing"; echo "$out" | sed 's/^/#   /'
fi

# eval DESCRIPTION EXPECTED-WANTS DEVICE...: SYSTEMD_USER_WANTS (and the tag
# systemd with it) the rules leave on a made-up device.
wants() {
  d=$1 want=$2
  shift 2
  props=$($RULES_CHECK eval "$RULES" "$@") || { not_ok "$d"; return; }
  got=$(echo "$props" | sed -n 's/^SYSTEMD_USER_WANTS=//p')
  tags=$(echo "$props" | sed -n 's/^TAGS=//p')
  if [ -n "$want" ] && [ "$tags" != ":systemd:" ]; then got="$got (TAGS=$tags)"; fi
  check_eq "$d" "$want" "$got"
}
ccid_token="SUBSYSTEM=usb ENV{DEVTYPE}=usb_device ENV{ID_USB_INTERFACES}=:0b0000:"
# shellcheck disable=SC2086
{
  wants "rules: a CCID token wants the agent" signetd.service $ccid_token
  wants "rules: a reader with a CCID and a HID interface too" signetd.service \
    SUBSYSTEM=usb 'ENV{DEVTYPE}=usb_device' 'ENV{ID_USB_INTERFACES}=:030000:0b0000:'
  wants "rules: ID_SMARTCARD_READER (e.g. from the hwdb) wants the agent" signetd.service \
    SUBSYSTEM=usb 'ENV{DEVTYPE}=usb_device' 'ENV{ID_SMARTCARD_READER}=1'
  wants "rules: once only for a CCID device that is also ID_SMARTCARD_READER" signetd.service \
    $ccid_token 'ENV{ID_SMARTCARD_READER}=1'
  wants "rules: added to what other rules want" "smartcard.target signetd.service" \
    $ccid_token 'ENV{SYSTEMD_USER_WANTS}=smartcard.target'
  wants "rules: nothing on removal" "" ACTION=remove $ccid_token
  wants "rules: nothing for the interface (one unit per device)" "" \
    SUBSYSTEM=usb 'ENV{DEVTYPE}=usb_interface' 'ENV{ID_USB_INTERFACES}=:0b0000:'
  wants "rules: nothing for a mouse" "" \
    SUBSYSTEM=usb 'ENV{DEVTYPE}=usb_device' 'ENV{ID_USB_INTERFACES}=:030102:'
  wants "rules: nothing for a mass-storage device" "" \
    SUBSYSTEM=usb 'ENV{DEVTYPE}=usb_device' 'ENV{ID_USB_INTERFACES}=:080650:'
}

# udev's own parser and evaluator: `udevadm test` on the loopback interface
# (no device node, so nothing is created in /dev), in a mount namespace where
# /run and the rules directories are empty tmpfs: only a test rule marking the
# device a smart-card reader, then ours. The host's udev database and rules
# are not touched.
udev_test() {
  action=$1 fake=$2
  printf '%s\n' "$fake" >"$tmp/10-signet-test.rules"
  unshare --mount --propagation private sh -c '
    set -e
    for d in /run /etc/udev/rules.d /usr/lib/udev/rules.d /lib/udev/rules.d /usr/local/lib/udev/rules.d; do
      if [ -d "$d" ]; then mount -t tmpfs -o mode=0755 tmpfs "$d"; fi
    done
    cp "$1" /etc/udev/rules.d/10-signet-test.rules
    cp "$2" /usr/lib/udev/rules.d/90-signet.rules
    udevadm test --action="$3" /sys/class/net/lo
  ' sh "$tmp/10-signet-test.rules" "$RULES" "$action" >"$tmp/udevadm.out" 2>&1
}
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null 2>&1 || [ ! -e /sys/class/net/lo ]; then
  if [ "${CI:-}" = true ]; then not_ok "udevadm test: needs root, unshare and /sys (CI runs as root)"; else
    for _ in 1 2 3 4; do ok "udevadm test # SKIP needs root, unshare and /sys/class/net/lo"; done
  fi
else
  if udev_test add 'ENV{ID_SMARTCARD_READER}="1"' &&
    grep -q '^SYSTEMD_USER_WANTS=signetd.service$' "$tmp/udevadm.out" &&
    grep -q '^TAGS=.*:systemd:' "$tmp/udevadm.out"; then
    ok "udevadm test: a smart-card reader wants signetd.service"
  else
    not_ok "udevadm test: a smart-card reader wants signetd.service"
    tail -n 30 "$tmp/udevadm.out" | sed 's/^/#   /'
  fi
  check "udevadm test: udev read our rules file" grep -q 'rules.d/90-signet.rules' "$tmp/udevadm.out"
  # udev logs a problem in a rules file as FILE:LINE followed by a message.
  if grep -q '90-signet.rules:[0-9]' "$tmp/udevadm.out"; then
    not_ok "udevadm test: no complaint about the rules"
    grep '90-signet.rules:[0-9]' "$tmp/udevadm.out" | sed 's/^/#   /'
  else ok "udevadm test: no complaint about the rules"; fi
  udev_test remove 'ENV{ID_SMARTCARD_READER}="1"'
  check "udevadm test: nothing wanted on removal" sh -c "! grep -q '^SYSTEMD_USER_WANTS=' '$tmp/udevadm.out'"
fi

# --- make install DESTDIR=... puts the three files where configure said -----------
if [ -z "${SIGNET_MAKE:-}" ]; then
  not_ok "make install: SIGNET_MAKE not set (run from make check)"
else
  dest=$tmp/dest
  targets="install-dbusserviceDATA install-systemduserunitDATA install-dist_udevrulesDATA install-libexecPROGRAMS"
  # The sub-make is not a job of the running make: no jobserver of its.
  # shellcheck disable=SC2086
  if env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS $SIGNET_MAKE -s -C "$top_builddir" DESTDIR="$dest" \
    $targets >"$tmp/install.out" 2>&1; then
    ok "make install DESTDIR=..."
  else
    not_ok "make install DESTDIR=..."
    tail -n 20 "$tmp/install.out" | sed 's/^/#   /'
  fi
  check "installed: udev rules in $SIGNET_UDEV_RULES_DIR" \
    cmp -s "$RULES" "$dest$SIGNET_UDEV_RULES_DIR/90-signet.rules"
  check "installed: user unit in $SIGNET_SYSTEMD_USER_UNIT_DIR" \
    cmp -s "$UNIT" "$dest$SIGNET_SYSTEMD_USER_UNIT_DIR/signetd.service"
  check "installed: D-Bus service file in $SIGNET_DBUS_SERVICES_DIR" \
    cmp -s "$DBUS_FILE" "$dest$SIGNET_DBUS_SERVICES_DIR/io.signet.Agent.service"
  exec_path=$(keyfile_get "$DBUS_FILE" Exec)
  check "installed: the D-Bus file's Exec is an executable" test -x "$dest$exec_path"
  check "installed: the unit's ExecStart is the same program" \
    test "$(unit_get ExecStart "$UNIT")" = "$exec_path"
  untargets=$(echo "$targets" | sed 's/install-/uninstall-/g')
  # shellcheck disable=SC2086
  env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS $SIGNET_MAKE -s -C "$top_builddir" DESTDIR="$dest" \
    $untargets >"$tmp/uninstall.out" 2>&1
  check "make uninstall removes them" test -z "$(find "$dest" -type f)"
fi

tap_done
