#!/bin/sh
# The PUK through the agent, on a SoftHSM2 token behind the test shim (PUK
# locked after 10 wrong tries): every wrong PUK costs one try and is
# PukIncorrect; the last one needs confirmation; the tenth locks it, reported
# as PukLocked, and from then on the CLI says so without asking.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup --shim

so_tries() { shim_tries | cut -d' ' -f2; }

unblock_with() { # unblock_with PUK [options…]
  p=$1
  shift
  run signet pin unblock "$TOKEN_LABEL" "$@" --puk-fd 3 --new-pin-fd 3 3<<EOF
$p
112233
EOF
}

wrong=0
i=1
while [ $i -le 9 ]; do
  unblock_with "0000000$i" --json
  if [ "$rc" -eq 3 ] && [ "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.PukIncorrect ]; then
    wrong=$((wrong + 1))
  fi
  i=$((i + 1))
done
check "nine wrong PUKs: each one PukIncorrect, exit 3" test "$wrong" -eq 9
check "… each cost exactly one try (1 left)" test "$(so_tries)" = 1
signet status "$TOKEN_LABEL" --json >"$RIG/status.json"
jcheck "status shows the PUK at its final try" "$RIG/status.json" \
  'd["puk"]["final_try"] and not d["puk"]["locked"]'

unblock_with 00000010 --json
check_rc "the last PUK try from a fd needs --confirm-final-try (exit 1)" 1
check "… as FinalTry" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.FinalTry
check "… and nothing was sent" test "$(so_tries)" = 1

# The agent itself keeps the guard: a client that does not confirm gets
# FinalTry, and nothing is sent.
gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
  --method io.signet.Agent1.UnblockPin "$TOKEN_LABEL" "b'00000010'" "b'112233'" "{}" \
  >"$RIG/out" 2>"$RIG/err"
check "UnblockPin at the PUK's final try without confirm-final-try: io.signet.Error.FinalTry" \
  grep -q 'GDBus.Error:io.signet.Error.FinalTry:' "$RIG/err"
check "… and the agent sent nothing" test "$(so_tries)" = 1

unblock_with 00000010 --json --confirm-final-try
check_rc "the tenth wrong PUK: exit 4" 4
check "… reported as PukLocked" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.PukLocked
check_err "… saying the PIN cannot be unblocked any more" "PUK .*locked"
check "the shim's PUK has no try left" test "$(so_tries)" = 0

unblock_with "$SO_PIN" --json
check_rc "with the PUK locked, even the right PUK: exit 4" 4
check "… as PukLocked, said by the CLI before asking" \
  test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.PukLocked
signet status "$TOKEN_LABEL" --json >"$RIG/status.json"
check "status shows the PUK locked" test "$(jq_ "$RIG/status.json" 'd["puk"]["locked"]')" = true

# The agent itself refuses a locked PUK without sending it.
gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
  --method io.signet.Agent1.UnblockPin "$TOKEN_LABEL" "b'$SO_PIN'" "b'112233'" "{}" \
  >"$RIG/out" 2>"$RIG/err"
check "UnblockPin on a locked PUK: io.signet.Error.PukLocked" \
  grep -q 'GDBus.Error:io.signet.Error.PukLocked:' "$RIG/err"

# The user PIN still works: a locked PUK does not touch it.
run signet keygen "$TOKEN_LABEL" --type ec:p256 --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "the PIN still works with the PUK locked" 0

tap_done
