#!/bin/sh
# Who may call (docs/dbus-api.md): a caller that the agent sees as sandboxed
# is refused every method that takes a secret or writes to a token, with
# io.signet.Error.NotAuthorized, and nothing reaches the token (the shim's
# PIN and PUK try counters, the objects on the token); the same calls from
# outside reach the token; the read-only methods work from inside; the
# agent's log says why it refused.
#
# The sandboxes are what the agent's checks look at, not mocks:
#   Flatpak  the caller runs (unshare --mount, chroot) in a root directory of
#            its own, a tmpfs holding a .flatpak-info with everything else of
#            / bound in (/proc, /dev, /tmp with the bus socket), as
#            bubblewrap builds a Flatpak's root
#   Snap     the caller is moved into a cgroup snap.signet-test.app-PID.scope
#            (the unified hierarchy, else name=systemd or freezer), as snapd
#            places a snap's processes
# Both need root (CI runs as root): without it the script skips, saying so.
# Another Unix user cannot be tried here (the test bus lets no other user
# connect); test-agent-units checks that rule, and the parsers.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"

rig_require
[ "$(id -u)" -eq 0 ] ||
  skip_all "building a sandbox needs root (unshare --mount, chroot, cgroups); CI runs as root"
for t in unshare chroot mount; do
  command -v "$t" >/dev/null || skip_all "$t not found (apt-get install util-linux coreutils mount)"
done
unshare --mount true 2>/dev/null ||
  skip_all "no mount namespace can be made here (unshare --mount: a container without CAP_SYS_ADMIN?)"
rig_setup --shim

SNAP_CG=
# The snap cgroup goes (empty once its process is gone), then the rig, which
# is told the script's exit status.
sandbox_teardown() {
  status=$?
  [ -z "$SNAP_CG" ] || rmdir "$SNAP_CG" 2>/dev/null
  (exit "$status")
  rig_teardown
}
trap sandbox_teardown EXIT

call() { # call [in_flatpak | in_snap] METHOD ARGS…: gdbus, from here or from a sandbox
  case $1 in in_flatpak | in_snap) w=$1 && shift ;; *) w= ;; esac
  m=$1
  shift
  $w gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
    --method "io.signet.Agent1.$m" "$@"
}
check_name() { # check_name DESCRIPTION NAME: the last run failed with NAME
  if [ "$rc" -ne 0 ] && grep -q "GDBus.Error:$2:" "$RIG/err"; then ok "$1"; else
    not_ok "$1"
    awk '{ print "#   " $0 }' "$RIG/err" "$RIG/out" | head -n 5
  fi
}
check_log() { # check_log DESCRIPTION REGEX: the agent's log matches
  if grep -Eq -- "$2" "$RIG/agent.log"; then ok "$1"; else
    not_ok "$1"
    tail -n 5 "$RIG/agent.log" | awk '{ print "#   log: " $0 }'
  fi
}
objects() { p11_objects all; }

# --- the Flatpak look-alike ----------------------------------------------------
APP_ID=io.signet.SandboxTest
cat >"$RIG/flatpak-info" <<EOF
[Application]
name=$APP_ID
runtime=runtime/org.freedesktop.Platform/x86_64/24.08

[Instance]
instance-id=2151437042
EOF
mkdir -p "$RIG/sandbox"

# in_flatpak CMD…: CMD in a mount namespace of its own whose root is a tmpfs
# with /.flatpak-info, every top-level directory of / bound in (symbolic
# links copied). Nothing of it is seen outside (private propagation).
in_flatpak() {
  # shellcheck disable=SC2016 # expanded by the shell in the namespace
  unshare --mount --propagation private sh -ec '
    root=$1 info=$2
    shift 2
    mount -t tmpfs -o mode=0755 signet-sandbox "$root"
    for e in /*; do
      n=${e#/}
      if [ -L "$e" ]; then
        ln -s "$(readlink "$e")" "$root/$n"
      elif [ -d "$e" ]; then
        mkdir "$root/$n"
        mount --rbind "$e" "$root/$n"
      fi
    done
    cp "$info" "$root/.flatpak-info"
    exec chroot "$root" "$@"
  ' in-flatpak "$RIG/sandbox" "$RIG/flatpak-info" "$@"
}

socket=${DBUS_SESSION_BUS_ADDRESS#unix:path=}
run in_flatpak test -f /.flatpak-info -a -S "${socket%%,*}"
check_rc "the look-alike: /.flatpak-info at its root, the bus socket reachable" 0

# Read-only methods: open to every caller.
run call in_flatpak ListTokens
check "ListTokens from the sandbox names the token" grep -q "'serial': <'$SERIAL'>" "$RIG/out"
for m in "GetToken $TOKEN_LABEL" "GetTokenStatus $TOKEN_LABEL" "GetHistory '' {}" ListProfiles ListReaders WatchTokens; do
  # shellcheck disable=SC2086 # the method and its arguments
  eval "run call in_flatpak $m"
  check_rc "${m%% *} from the sandbox" 0
done
run in_flatpak "$SIGNET" status "$TOKEN_LABEL" --json
check_rc "signet status from the sandbox" 0

# Every method that takes a secret or writes: refused, nothing sent. A wrong
# PIN or PUK: had it reached the token, a try would be gone.
tries_before=$(shim_tries)
objects_before=$(objects)
run call in_flatpak ChangePin "$TOKEN_LABEL" "b'000000'" "b'654321'" "{'confirm-final-try': <true>}"
check_name "ChangePin from the sandbox: NotAuthorized" io.signet.Error.NotAuthorized
check_err "… the message names the sandbox and its app id" \
  "the caller is a Flatpak sandbox \\(app id $APP_ID from \\.flatpak-info\\)"
check_err "… and says what to do" "outside the sandbox"
run call in_flatpak UnblockPin "$TOKEN_LABEL" "b'00000000'" "b'654321'" "{}"
check_name "UnblockPin from the sandbox: NotAuthorized" io.signet.Error.NotAuthorized
run call in_flatpak GenerateKey "$TOKEN_LABEL" ec:p256 "b'$PIN'" "{}"
check_name "GenerateKey (the right PIN) from the sandbox: NotAuthorized" io.signet.Error.NotAuthorized
run call in_flatpak CreateRequest "$TOKEN_LABEL" "CN=Sandbox" ec:p256 "b'$PIN'" "{}"
check_name "CreateRequest from the sandbox: NotAuthorized" io.signet.Error.NotAuthorized
run call in_flatpak ImportCertificate "$TOKEN_LABEL" "b'not a certificate'" "b'$PIN'" "{}"
check_name "ImportCertificate from the sandbox: NotAuthorized (before the data is looked at)" \
  io.signet.Error.NotAuthorized
run call in_flatpak DeleteKey "$TOKEN_LABEL" 00112233 "b'$PIN'" "{}"
check_name "DeleteKey from the sandbox: NotAuthorized" io.signet.Error.NotAuthorized
run call in_flatpak Activate "$TOKEN_LABEL" no-such-profile REF "b'code'" "b'$PIN'" "{}"
check_name "Activate from the sandbox: NotAuthorized" io.signet.Error.NotAuthorized
run call in_flatpak Renew "$TOKEN_LABEL" "b'$PIN'" "{}"
check_name "Renew from the sandbox: NotAuthorized" io.signet.Error.NotAuthorized
check_eq "no PIN or PUK try was spent (the shim's counters)" "$tries_before" "$(shim_tries)"
check_eq "nothing was written to the token (pkcs11-tool)" "$objects_before" "$(objects)"

# The CLI in the sandbox: exit status 10, the error name in JSON.
run in_flatpak "$SIGNET" pin change "$TOKEN_LABEL" --json --confirm-final-try \
  --pin-fd 3 --new-pin-fd 4 3<<EOF 4<<EOF2
000000
EOF
654321
EOF2
check_rc "signet pin change from the sandbox exits 10" 10
check "… as NotAuthorized" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.NotAuthorized
check_err "… saying why on one line" "^signet: ChangePin refused: the caller is a Flatpak sandbox"
check_eq "… and no try was spent" "$tries_before" "$(shim_tries)"

check_log "the agent's log says why it refused ChangePin" \
  "caller: refused ChangePin from :[0-9.]+ \\(pid [0-9]+\\): the caller is a Flatpak sandbox \\(app id $APP_ID from \\.flatpak-info\\)"
check_log "… and UnblockPin" "caller: refused UnblockPin from .*Flatpak sandbox"

# The same calls from outside reach the token.
check_tries "from the sandboxes: no PIN or PUK try at all (shim's log)"
expect_try pin wrong
run call ChangePin "$TOKEN_LABEL" "b'000000'" "b'654321'" "{}"
check_name "ChangePin with a wrong PIN from outside: PinIncorrect" io.signet.Error.PinIncorrect
check_eq "… one PIN try gone" "2 10" "$(shim_tries)"
expect_try puk wrong
run call UnblockPin "$TOKEN_LABEL" "b'00000000'" "b'654321'" "{}"
check_name "UnblockPin with a wrong PUK from outside: PukIncorrect" io.signet.Error.PukIncorrect
check_eq "… one PUK try gone" "2 9" "$(shim_tries)"
check_tries "from outside: the one PIN and the one PUK try sent"
run call GenerateKey "$TOKEN_LABEL" ec:p256 "b'$PIN'" "{}"
check_rc "GenerateKey from outside" 0
check_eq "… a key pair on the token" $((objects_before + 2)) "$(objects)"
check_log "the allowed calls were checked too" "caller: GenerateKey from :[0-9.]+ allowed: process [0-9]+ of uid 0, outside any sandbox"

# --- the Snap look-alike ---------------------------------------------------------
# snap_cgroup_make: a cgroup named as snapd names a snap's app scope, beside
# this shell's own, in the first hierarchy xdg-desktop-portal looks at that
# can be written here: the unified one, name=systemd, freezer. Sets SNAP_CG.
snap_cgroup_make() {
  # mount point, its root in the hierarchy, type, super options
  awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { print $5, $4, $(i + 1), $(i + 3); break } }' \
    /proc/self/mountinfo >"$RIG/mounts"
  for want in unified name=systemd freezer; do
    while read -r mnt mroot type opts; do
      case $want:$type in
        unified:cgroup2) key= ;;
        name=systemd:cgroup | freezer:cgroup)
          case ,$opts, in *,$want,*) key=$want ;; *) continue ;; esac ;;
        *) continue ;;
      esac
      path=$(awk -F: -v k="$key" '$2 == k { print $3; exit }' /proc/self/cgroup)
      [ -n "$path" ] || continue
      [ "$mroot" = / ] || path=${path#"$mroot"}
      dir="$mnt${path%/}/snap.signet-test.app-$$.scope"
      if mkdir "$dir" 2>/dev/null; then
        if sh -c 'echo $$ >"$1/cgroup.procs"' in-snap "$dir" 2>/dev/null; then
          SNAP_CG=$dir
          return 0
        fi
        rmdir "$dir" 2>/dev/null
      fi
    done <"$RIG/mounts"
  done
  return 1
}

# in_snap CMD…: CMD moved into the snap's cgroup first.
in_snap() {
  sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' in-snap "$SNAP_CG" "$@"
}

if snap_cgroup_make; then
  run in_snap cat /proc/self/cgroup
  check "the look-alike: the caller's cgroup is snap.signet-test.app-$$.scope" \
    grep -q "/snap\\.signet-test\\.app-$$\\.scope\$" "$RIG/out"
  run call in_snap ListTokens
  check "ListTokens from the snap names the token" grep -q "'serial': <'$SERIAL'>" "$RIG/out"
  tries_before=$(shim_tries)
  objects_before=$(objects)
  run call in_snap ChangePin "$TOKEN_LABEL" "b'000000'" "b'654321'" "{'confirm-final-try': <true>}"
  check_name "ChangePin from the snap: NotAuthorized" io.signet.Error.NotAuthorized
  check_err "… the message names the snap" "the caller is a Snap \\(snap\\.signet-test\\)"
  run call in_snap UnblockPin "$TOKEN_LABEL" "b'00000000'" "b'654321'" "{}"
  check_name "UnblockPin from the snap: NotAuthorized" io.signet.Error.NotAuthorized
  run call in_snap GenerateKey "$TOKEN_LABEL" ec:p256 "b'$PIN'" "{}"
  check_name "GenerateKey from the snap: NotAuthorized" io.signet.Error.NotAuthorized
  check_eq "no PIN or PUK try was spent" "$tries_before" "$(shim_tries)"
  check_eq "nothing was written to the token" "$objects_before" "$(objects)"
  check_log "the agent's log says why" \
    "caller: refused ChangePin from .*: the caller is a Snap \\(snap\\.signet-test\\)"
else
  # Root on the CI machines can write the unified (or hybrid) hierarchy;
  # test-agent-units checks the cgroup parser in any case.
  ok "the Snap look-alike # SKIP no cgroup hierarchy snapd uses (unified, name=systemd, freezer) is writable here"
fi

check "the agent is still running" agent_alive
tap_done
