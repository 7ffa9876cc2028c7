#!/bin/sh
# PINs through the agent, on a SoftHSM2 token behind the test shim (PIN
# locked after 3 wrong tries; PUK after 10, or 3 on the card model): a wrong
# PIN costs exactly one try and reports the flags the model shows; PIN
# change spends no PUK try, with a wrong current PIN exactly one PIN try; the
# final try needs confirmation; a locked PIN is reported without asking for
# one; unblock with the PUK the model's way, exactly one PUK try.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup

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
check_eq "the unblock method is the module's ($MODEL)" "$UNBLOCK_METHOD" \
  "$(jq_ "$RIG/out" 'd["unblock_method"]')"

# --- one wrong PIN: one try, flags reported ---------------------------------
expect_try pin wrong
keygen_with 000000 --json
check_rc "a wrong PIN exits 3" 3
check "… as PinIncorrect" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.PinIncorrect
check_err "… reporting the token's flags" "Wrong PIN for token '$TOKEN_LABEL'. The token $(pin_said 2)"
check "exactly one login attempt: the shim's counter went from 3 to 2" test "$(tries)" = 2
check_tries "a wrong PIN"
pin_json
check_eq "status shows the flags the model reports after one wrong PIN (count_low on SoftHSM2, none on the card)" \
  "$(pin_flags_for 2)" "$(pin_flags "$RIG/status.json")"

keygen_with "$PIN"
check_rc "the right PIN works" 0
check "… and gives the tries back" test "$(tries)" = 3

# --- D-Bus error name, straight from the bus ---------------------------------
expect_try pin wrong
gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
  --method io.signet.Agent1.GenerateKey "$TOKEN_LABEL" ec:p256 "b'999999'" "{}" \
  >"$RIG/out" 2>"$RIG/err"
check "gdbus call with a wrong PIN: io.signet.Error.PinIncorrect" \
  grep -q 'GDBus.Error:io.signet.Error.PinIncorrect:' "$RIG/err"
check "… one try gone" test "$(tries)" = 2
check_tries "a wrong PIN over D-Bus"

# --- PIN change ---------------------------------------------------------------
expect_try pin wrong
run signet pin change "$TOKEN_LABEL" --pin-fd 3 --new-pin-fd 4 3<<EOF 4<<EOF2
111111
EOF
654321
EOF2
check_rc "pin change with a wrong old PIN exits 3" 3
check "… one try gone" test "$(tries)" = 1
check_tries "pin change with a wrong current PIN: exactly one PIN try, no PUK try"
check_eq "… the PUK has all its tries" "$PUK_TRIES" "$(so_tries)"
pin_json
check "… status shows final_try" test "$(jq_ "$RIG/status.json" 'd["pin"]["final_try"]')" = true
check_eq "… the flags the model reports at one try left" "$(pin_flags_for 1)" "$(pin_flags "$RIG/status.json")"

run signet pin change "$TOKEN_LABEL" --json --confirm-final-try --pin-fd 3 --new-pin-fd 3 3<<EOF
$PIN
12
EOF
check_rc "pin change to a too short PIN exits 1" 1
check "… as PinInvalid" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.PinInvalid
check "… and sent nothing (tries unchanged)" test "$(tries)" = 1
check_tries "a new PIN too short: nothing sent"

run signet pin change "$TOKEN_LABEL" --confirm-final-try --pin-fd 3 --new-pin-fd 3 3<<EOF
$PIN
246810
EOF
check_rc "pin change succeeds" 0
check "… and the tries are back" test "$(tries)" = 3
check_tries "pin change with the right PIN: no PUK try"
check_eq "… the PUK has all its tries" "$PUK_TRIES" "$(so_tries)"
expect_try pin wrong
keygen_with "$PIN"
check_rc "the old PIN no longer works" 3
keygen_with 246810
check_rc "the new PIN works" 0
PIN=246810

# --- the final try -------------------------------------------------------------
expect_try pin wrong 2
keygen_with 000000
keygen_with 000000
check "two wrong PINs: one try left" test "$(tries)" = 1
check_tries "two wrong PINs"
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
check_tries "at the final try without confirmation: nothing sent"

expect_try pin wrong
keygen_with 000000 --confirm-final-try --json
check_rc "the third wrong PIN (confirmed) locks the PIN: exit 4" 4
check "… as PinLocked" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.PinLocked
check "… the shim has no try left" test "$(tries)" = 0
pin_json
check "status shows the PIN locked" test "$(jq_ "$RIG/status.json" 'd["pin"]["locked"]')" = true
check_tries "the third wrong PIN"

# Locked: said at once, without asking for a PIN (no terminal, no fd: it
# would be a usage error if it asked).
run setsid -w "$SIGNET" keygen "$TOKEN_LABEL" --type ec:p256 </dev/null
check_rc "keygen on a locked PIN exits 4 without asking for a PIN" 4
check_err "… and says how to unblock it" "locked.*signet pin unblock"
keygen_with "$PIN"
check_rc "even the right PIN is refused while locked (exit 4)" 4
check_tries "a locked PIN: nothing sent"

# --- unblock with the PUK --------------------------------------------------------
expect_try puk wrong
run signet pin unblock "$TOKEN_LABEL" --json --puk-fd 3 --new-pin-fd 3 3<<EOF
87654321
135790
EOF
check_rc "a wrong PUK exits 3" 3
check "… as PukIncorrect" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.PukIncorrect
check_eq "… one PUK try gone" $((PUK_TRIES - 1)) "$(so_tries)"
check_err "pin unblock shows the PUK state too" "PUK .*module reports"
check_tries "a wrong PUK: exactly one PUK try"

expect_try puk ok
run signet pin unblock "$TOKEN_LABEL" --puk-fd 3 --new-pin-fd 3 3<<EOF
$SO_PIN
135790
EOF
check_rc "pin unblock with the PUK succeeds" 0
check_eq "… the PIN has its tries back, the PUK too" "$PIN_TRIES $PUK_TRIES" "$(shim_tries)"
check_tries "the unblock: exactly one PUK try"
check_eq "… the PUK went to the token the model's way ($UNBLOCK_METHOD)" "puk ok $PUK_CALL" \
  "$(tail -n 1 "$SIGNET_SHIM_STATE/tries" | cut -d' ' -f2-)"
pin_json
check "status shows the PIN no longer locked" test "$(jq_ "$RIG/status.json" 'd["pin"]["locked"]')" = false
keygen_with 135790
check_rc "the new PIN works after the unblock" 0

tap_done
