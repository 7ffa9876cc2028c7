#!/bin/sh
# PINs through the agent, on a SoftHSM2 token behind the test shim (a card:
# PIN locked after 3 wrong tries, PUK after 10): a wrong PIN costs exactly one
# try and reports the flags; PIN change; the final try needs confirmation; a
# locked PIN is reported without asking for one; unblock with the PUK.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup --shim

tries() { shim_tries | cut -d' ' -f1; }
so_tries() { shim_tries | cut -d' ' -f2; }
pin_json() { signet status "$TOKEN_LABEL" --json >"$RIG/status.json" 2>/dev/null; }

keygen_with() { # keygen_with PIN [options…]
  p=$1
  shift
  run signet keygen "$TOKEN_LABEL" --type ec:p256 "$@" --pin-fd 3 3<<EOF
$p
EOF
}

run signet status "$TOKEN_LABEL" --json
check_rc "status through the shim" 0
check "the shim's token unblocks with an SO login (per module)" \
  test "$(jq_ "$RIG/out" 'd["unblock_method"]')" = so-login-init-pin

# --- one wrong PIN: one try, flags reported ---------------------------------
keygen_with 000000 --json
check_rc "a wrong PIN exits 3" 3
check "… as PinIncorrect" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.PinIncorrect
check_err "… reporting the token's flags" "Wrong PIN for token '$TOKEN_LABEL'. The token reports fewer tries left"
check "exactly one login attempt: the shim's counter went from 3 to 2" test "$(tries)" = 2
pin_json
jcheck "status shows count_low, not final_try or locked" "$RIG/status.json" \
  'd["pin"]["count_low"] and not d["pin"]["final_try"] and not d["pin"]["locked"]'

keygen_with "$PIN"
check_rc "the right PIN works" 0
check "… and gives the tries back" test "$(tries)" = 3

# --- D-Bus error name, straight from the bus ---------------------------------
gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
  --method io.signet.Agent1.GenerateKey "$TOKEN_LABEL" ec:p256 "b'999999'" "{}" \
  >"$RIG/out" 2>"$RIG/err"
check "gdbus call with a wrong PIN: io.signet.Error.PinIncorrect" \
  grep -q 'GDBus.Error:io.signet.Error.PinIncorrect:' "$RIG/err"
check "… one try gone" test "$(tries)" = 2

# --- PIN change ---------------------------------------------------------------
run signet pin change "$TOKEN_LABEL" --pin-fd 3 --new-pin-fd 4 3<<EOF 4<<EOF2
111111
EOF
654321
EOF2
check_rc "pin change with a wrong old PIN exits 3" 3
check "… one try gone" test "$(tries)" = 1
pin_json
check "… status shows final_try" test "$(jq_ "$RIG/status.json" 'd["pin"]["final_try"]')" = true

run signet pin change "$TOKEN_LABEL" --json --confirm-final-try --pin-fd 3 --new-pin-fd 3 3<<EOF
$PIN
12
EOF
check_rc "pin change to a too short PIN exits 1" 1
check "… as PinInvalid" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.PinInvalid
check "… and sent nothing (tries unchanged)" test "$(tries)" = 1

run signet pin change "$TOKEN_LABEL" --confirm-final-try --pin-fd 3 --new-pin-fd 3 3<<EOF
$PIN
246810
EOF
check_rc "pin change succeeds" 0
check "… and the tries are back" test "$(tries)" = 3
keygen_with "$PIN"
check_rc "the old PIN no longer works" 3
keygen_with 246810
check_rc "the new PIN works" 0
PIN=246810

# --- the final try -------------------------------------------------------------
keygen_with 000000
keygen_with 000000
check "two wrong PINs: one try left" test "$(tries)" = 1
keygen_with "$PIN" --json
check_rc "at the final try, a PIN from a fd without --confirm-final-try is refused (exit 1)" 1
check "… as FinalTry" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.FinalTry
check "… and nothing was sent (tries unchanged)" test "$(tries)" = 1
gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
  --method io.signet.Agent1.GenerateKey "$TOKEN_LABEL" ec:p256 "b'$PIN'" \
  "{'confirm-final-try': <false>}" >"$RIG/out" 2>"$RIG/err"
check "the agent itself refuses at the final try: io.signet.Error.FinalTry" \
  grep -q 'GDBus.Error:io.signet.Error.FinalTry:' "$RIG/err"
check "… and nothing was sent" test "$(tries)" = 1

keygen_with 000000 --confirm-final-try --json
check_rc "the third wrong PIN (confirmed) locks the PIN: exit 4" 4
check "… as PinLocked" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.PinLocked
check "… the shim has no try left" test "$(tries)" = 0
pin_json
check "status shows the PIN locked" test "$(jq_ "$RIG/status.json" 'd["pin"]["locked"]')" = true

# Locked: said at once, without asking for a PIN (no terminal, no fd: it
# would be a usage error if it asked).
run setsid -w "$SIGNET" keygen "$TOKEN_LABEL" --type ec:p256 </dev/null
check_rc "keygen on a locked PIN exits 4 without asking for a PIN" 4
check_err "… and says how to unblock it" "locked.*signet pin unblock"
keygen_with "$PIN"
check_rc "even the right PIN is refused while locked (exit 4)" 4

# --- unblock with the PUK --------------------------------------------------------
run signet pin unblock "$TOKEN_LABEL" --json --puk-fd 3 --new-pin-fd 3 3<<EOF
87654321
135790
EOF
check_rc "a wrong PUK exits 3" 3
check "… as PukIncorrect" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.PukIncorrect
check "… one PUK try gone" test "$(so_tries)" = 9
check_err "pin unblock shows the PUK state too" "PUK .*module reports"

run signet pin unblock "$TOKEN_LABEL" --puk-fd 3 --new-pin-fd 3 3<<EOF
$SO_PIN
135790
EOF
check_rc "pin unblock with the PUK succeeds" 0
check "… the PIN has its tries back" test "$(shim_tries)" = "3 10"
pin_json
check "status shows the PIN no longer locked" test "$(jq_ "$RIG/status.json" 'd["pin"]["locked"]')" = false
keygen_with 135790
check_rc "the new PIN works after the unblock" 0

tap_done
