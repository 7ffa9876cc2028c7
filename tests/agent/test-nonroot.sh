#!/bin/sh
# signet and signetd as an ordinary user, as a holder runs them. signet
# makes itself non-dumpable while it holds a PIN, and the kernel then closes
# its /proc/PID/root to other processes of the user — the agent among them,
# which checks there whether a caller is a Flatpak sandbox. The agent must
# not refuse signet for that (it judges such a caller by its cgroup), and
# the whole suite runs as root, where none of this shows. So this script
# re-runs itself as nobody, with the programs copied where nobody can read
# them (the build tree may sit in a directory only root can enter).
. "${top_srcdir:?}/tests/agent/agent-lib.sh"

if [ "$(id -u)" = 0 ] && [ -z "${SIGNET_NONROOT_STAGE:-}" ]; then
  command -v setpriv >/dev/null || skip_all "setpriv not found (apt-get install util-linux)"
  [ -f "${SIGNET_SHIM_MODULE:-}" ] || skip_all "test shim not built ($SIGNET_SHIM_MODULE)"
  stage=$(mktemp -d "${TMPDIR:-/tmp}/signet-nonroot.XXXXXX") || exit 1
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage/top/tests/agent" "$stage/top/tests/ca"
  cp "$SIGNETD" "$SIGNET" "$SIGNET_SHIM_MODULE" "$stage/"
  cp "$top_srcdir/tests/lib.sh" "$top_srcdir/tests/estca-lib.sh" "$stage/top/tests/"
  cp -R "$top_srcdir/tests/ca/." "$stage/top/tests/ca/"
  cp "$top_srcdir/tests/agent/agent-lib.sh" "$0" "$stage/top/tests/agent/"
  chmod -R a+rX "$stage"
  chmod 1777 "$stage"
  SIGNET_NONROOT_STAGE=1 SIGNETD="$stage/signetd" SIGNET="$stage/signet" \
    SIGNET_SHIM_MODULE="$stage/signet-p11shim.so" top_srcdir="$stage/top" TMPDIR="$stage" \
    setpriv --reuid=65534 --regid=65534 --clear-groups -- \
    /bin/sh "$stage/top/tests/agent/$(basename "$0")"
  exit $?
fi
[ "$(id -u)" != 0 ] || skip_all "runs as an ordinary user: start it as root to switch to nobody"

rig_setup --shim
check "the rig runs as an ordinary user (uid $(id -u))" test "$(id -u)" != 0

run signet status "$TOKEN_LABEL" --json
check_rc "status works" 0
run signet keygen "$TOKEN_LABEL" --type ec:p256 --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "keygen from a non-dumpable signet of the same user is allowed" 0
check "… and the agent judged it by its cgroup" \
  grep -q 'not dumpable (its root is closed to the agent), in no Flatpak or Snap cgroup' "$RIG/agent.log"
expect_try pin wrong
run signet pin change "$TOKEN_LABEL" --pin-fd 3 --new-pin-fd 4 3<<EOF 4<<EOF2
999999
EOF
654321
EOF2
check_rc "a PIN change with a wrong PIN reaches the token (exit 3)" 3
check_tries "… and spends exactly one PIN try, no PUK try"

tap_done
