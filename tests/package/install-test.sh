#!/usr/bin/env bash
# tests/package/install-test.sh DEBDIR: installs the packages script/package
# built (DEBDIR/signet_*.deb, signet-gtk_*.deb) with apt-get, as an upgrade
# from the same build repacked with a lower version whose state database was
# taken back to schema 2 (the journal and history must survive the
# migration), checks that the
# installed files work together outside the build tree, as an unprivileged
# user with a private session bus and a SoftHSM2 token, then purges them and
# checks that nothing of theirs is left. TAP. As root (script/test's last
# stage); it leaves the machine as it found it (the packages purged, the
# test user removed if it made it).
set -euo pipefail

debdir=$(cd "${1:?usage: install-test.sh DEBDIR}" && pwd)
user=signet-pkgtest
n=0
failures=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failures=$((failures + 1)); echo "not ok $n - $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }

[ "$(id -u)" -eq 0 ] || { echo "Bail out! install-test.sh runs as root"; exit 1; }
for p in signet signet-gtk; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q ' installed$'; then
		echo "Bail out! $p is installed already: this test would remove it"
		exit 1
	fi
done

made_user=0
work=$(mktemp -d)
cleanup() {
	env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q signet signet-gtk >/dev/null 2>&1 || true
	if [ $made_user = 1 ]; then userdel -r "$user" >/dev/null 2>&1 || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# ---- the unprivileged user ----------------------------------------------
if ! id "$user" >/dev/null 2>&1; then
	useradd --create-home --shell /bin/bash "$user"
	made_user=1
fi
home=$(getent passwd "$user" | cut -d: -f6)
state=$home/.local/state/signet/signet.db
install -d -m 0700 -o "$user" "$home/run"
# as_user SCRIPT: SCRIPT (sh, single-quoted by the caller: it expands as the
# user) as the user, on a private session bus.
as_user() {
	runuser -u "$user" -- env XDG_RUNTIME_DIR="$home/run" dbus-run-session -- sh -c "$1"
}

# signetd opens libcurl at its first request (enroll/signet-curl.h), so no
# shared-library dependency names it: the package must.
check "the signet package depends on libcurl4 (opened at run time, not linked)" \
	sh -c "dpkg-deb -f '$(ls "$debdir"/signet_*.deb)' Depends | grep -q 'libcurl4 (>= 7.74)'"

# ---- upgrade: the previous build, a state database of schema 2 -----------
# The previous build is this one repacked with a lower version; its
# database is made by its agent, then taken back to schema 2 (as
# tests/agent/test-state.c's migration test does) with an operation in the
# journal and an entry in the history, which the new build must migrate.
prev=0.0.1~prev
for pkg in signet signet-gtk; do
	rm -rf "$work/repack"
	dpkg-deb -R "$(ls "$debdir/${pkg}"_*.deb)" "$work/repack"
	sed -i -e "s/^Version: .*/Version: $prev/" \
		-e "s/signet (= [^)]*)/signet (= $prev)/" "$work/repack/DEBIAN/control"
	dpkg-deb -b "$work/repack" "$work/${pkg}_${prev}_prev.deb" >/dev/null
done
check "apt-get install the previous build ($prev)" \
	env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	"$work/signet_${prev}_prev.deb" "$work/signet-gtk_${prev}_prev.deb"
as_user 'signet history >/dev/null 2>&1' >/dev/null 2>&1 || true
check "the previous build's agent made the state database" test -s "$state"
runuser -u "$user" -- sqlite3 "$state" "
	INSERT INTO operations (kind, token_serial, token_label, profile, state, started, updated, step)
		VALUES ('renew', 'OLD0001', 'Old Token', 'corp', 'failed', 1700000000, 1700000000, 'request');
	INSERT INTO operations (kind, token_serial, token_label, profile, state, started, updated, step, request_pem)
		VALUES ('activate', 'OLD0002', 'Old Token 2', 'corp', 'finished', 1700000000, 1700000000, 'done',
			'an old request with a code');
	INSERT INTO audit (time, token_serial, token_label, operation, outcome, detail)
		VALUES (1700000000, 'OLD0001', 'Old Token', 'renew', 'failed', 'kept across the upgrade');
	ALTER TABLE operations DROP COLUMN revision;
	ALTER TABLE operations DROP COLUMN reference;
	ALTER TABLE operations DROP COLUMN sent_at;
	ALTER TABLE operations DROP COLUMN answer_lost;
	ALTER TABLE operations DROP COLUMN poll_state;
	DROP TABLE certificate_roots;
	DROP INDEX audit_by_label;
	ALTER TABLE operations DROP COLUMN legacy_algorithms;
	ALTER TABLE certificates DROP COLUMN legacy_algorithms;
	PRAGMA user_version = 2;"
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (expected $2, got $3)"; fi; }
check_eq "the database is at schema 2 before the upgrade" 2 "$(runuser -u "$user" -- sqlite3 "$state" 'PRAGMA user_version')"

# ---- install (the upgrade) -----------------------------------------------
check "apt-get install ./signet_*.deb ./signet-gtk_*.deb (upgrade from $prev)" \
	env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	"$(ls "$debdir"/signet_*.deb)" "$(ls "$debdir"/signet-gtk_*.deb)"
dpkg -L signet signet-gtk | sort -u >"$work/files"
while IFS= read -r f; do [ -d "$f" ] || echo "$f"; done <"$work/files" >"$work/ours"
check "dpkg installed files ($(wc -l <"$work/ours"))" test -s "$work/ours"
# shellcheck disable=SC2016
as_user 'signet history --json >"$HOME/history.json" 2>&1' >/dev/null 2>&1 || true
check "after the upgrade, the history still has the old entry" \
	grep -q "kept across the upgrade" "$home/history.json"
rm -f "$home/history.json"
check_eq "the agent migrated the database to schema 7" 7 "$(runuser -u "$user" -- sqlite3 "$state" 'PRAGMA user_version')"
check_eq "the journal's operation survived" "renew|OLD0001|failed|0" \
	"$(runuser -u "$user" -- sqlite3 "$state" "SELECT kind, token_serial, state, revision FROM operations WHERE token_serial = 'OLD0001'")"
check_eq "the closed activation forgot its request (it may hold a code)" "activate|finished|1" \
	"$(runuser -u "$user" -- sqlite3 "$state" "SELECT kind, state, request_pem IS NULL FROM operations WHERE token_serial = 'OLD0002'")"

cat >"$work/user.sh" <<'USER'
set -eu
n=${N:-0}
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
export XDG_RUNTIME_DIR="$HOME/pkgtest/runtime" SOFTHSM2_CONF="$HOME/pkgtest/softhsm2.conf"
rm -rf "$HOME/pkgtest"
mkdir -p -m 0700 "$HOME/pkgtest/runtime" "$HOME/pkgtest/tokens"
echo "directories.tokendir = $HOME/pkgtest/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label "Pkg Token" --pin 123456 --so-pin 12345678 >/dev/null
dbus-run-session -- sh -c '
	n=$1
	ok() { n=$((n + 1)); echo "ok $n - $*"; }
	not_ok() { n=$((n + 1)); echo "not ok $n - $*"; }
	check() { d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
	check "signet list (D-Bus starts the agent)" sh -c "signet list >\"\$HOME/pkgtest/list.txt\" 2>&1"
	sed "s/^/# /" "$HOME/pkgtest/list.txt"
	check "signet list shows the SoftHSM2 token" grep -q "Pkg Token" "$HOME/pkgtest/list.txt"
	pid=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
		--method org.freedesktop.DBus.GetConnectionUnixProcessID io.signet.Agent 2>/dev/null |
		sed -n "s/^(uint32 \([0-9]*\),)$/\1/p")
	# The agent is not dumpable (no PIN in a core dump), so its
	# /proc/PID/exe is root'\''s: its command line is the Exec= of the
	# service file the bus used.
	exe=$(tr "\\0" " " <"/proc/$pid/cmdline" 2>/dev/null || true)
	if [ "$exe" = "/usr/libexec/signetd " ]; then ok "the bus started /usr/libexec/signetd (the installed service file)"
	else not_ok "the bus started /usr/libexec/signetd (got: ${exe:-no process})"; fi
	check "signet status \"Pkg Token\"" sh -c "signet status \"Pkg Token\" >\"\$HOME/pkgtest/status.txt\" 2>&1"
	sed "s/^/# /" "$HOME/pkgtest/status.txt"
	check "signet profile list" sh -c "signet profile list >/dev/null 2>&1"
	echo "$n" >"$HOME/pkgtest/n"
' sh "$n"
n=$(cat "$HOME/pkgtest/n")
check "man -w signet signetd signet-gtk" sh -c 'man -w signet signetd signet-gtk >/dev/null'
check "systemd-analyze --user verify accepts signetd.service" \
	sh -c 'systemd-analyze --user verify /usr/lib/systemd/user/signetd.service 2>&1 | sed "s/^/# /"; exit "$(systemd-analyze --user verify /usr/lib/systemd/user/signetd.service >/dev/null 2>&1; echo $?)"'
echo "$n" >"$HOME/pkgtest/n"
USER
chmod 0755 "$work" "$work/user.sh"
runuser -u "$user" -- env N="$n" bash "$work/user.sh" | tee "$work/user.tap"
n=$(cat "$home/pkgtest/n")
failures=$((failures + $(grep -c '^not ok' "$work/user.tap" || true)))

# ---- the window, from the installed files --------------------------------
# Under Xvfb it stays up (timeout's 124) and its first call starts the agent.
cat >"$work/window.sh" <<'WINDOW'
GDK_BACKEND=x11 xvfb-run -a sh -c '
	timeout 6 signet-gtk >/dev/null 2>&1
	echo $? >"$HOME/run/window-rc"
	gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
		--method org.freedesktop.DBus.NameHasOwner io.signet.Agent >"$HOME/run/window-agent"'
WINDOW
chmod 0644 "$work/window.sh"
as_user "sh $work/window.sh" >/dev/null 2>&1 || true
check_eq "signet-gtk runs from the installed files (still up after 6 s)" 124 \
	"$(cat "$home/run/window-rc" 2>/dev/null || true)"
check_eq "the window's call started the agent" "(true,)" \
	"$(cat "$home/run/window-agent" 2>/dev/null || true)"

# ---- the window's files and the udev rule --------------------------------
check "desktop-file-validate accepts io.signet.Signet.desktop" \
	desktop-file-validate /usr/share/applications/io.signet.Signet.desktop
check "appstreamcli validate accepts io.signet.Signet.metainfo.xml" \
	appstreamcli validate --no-net /usr/share/metainfo/io.signet.Signet.metainfo.xml
# systemd 252 has no udevadm verify: udevadm test reads every rules file
# and names each line it cannot parse ("FILE:LINE Invalid key ...").
udevadm test /sys/class/net/lo >"$work/udev.txt" 2>&1 || true
check "udevadm test reads 90-signet.rules" grep -q 'Reading rules file: .*/90-signet\.rules$' "$work/udev.txt"
rule_problems() { grep -E '90-signet\.rules:[0-9]+' "$work/udev.txt" || true; }
check "udevadm finds no problem in 90-signet.rules" test -z "$(rule_problems)"
rule_problems | sed 's/^/#   /'

# ---- purge ---------------------------------------------------------------
check "apt-get purge signet signet-gtk" \
	env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q signet signet-gtk
left=()
while IFS= read -r f; do if [ -e "$f" ]; then left+=("$f"); fi; done <"$work/ours"
check "purge leaves none of the $(wc -l <"$work/ours") installed files" test ${#left[@]} -eq 0
for f in "${left[@]}"; do echo "#   left: $f"; done
check "nothing of ours left in /etc/signet or /usr/share/signet" \
	sh -c '! [ -e /etc/signet ] && ! [ -e /usr/share/signet ]'

echo "1..$n"
[ "$failures" -eq 0 ]
