#!/bin/sh
# The PUK through the agent, on a SoftHSM2 token behind the test shim (PUK
# locked after 10 wrong tries, 3 on the card model): every wrong PUK costs
# one try and is PukIncorrect; the last one needs confirmation where the
# module reports the PUK's state (SoftHSM2; OpenSC never does, so on the card
# model status shows no PUK flag and that guard cannot trigger); the last
# wrong one locks it, and from then on the PUK is refused as PukLocked — on
# SoftHSM2 by the CLI before asking, on the card by the card — while the
# user PIN still works.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup

so_tries() { shim_tries | cut -d' ' -f2; }

unblock_with() { # unblock_with PUK [options…]
  p=$1
  shift
  run signet pin unblock "$TOKEN_LABEL" "$@" --puk-fd 3 --new-pin-fd 3 3<<EOF
$p
112233
EOF
}

n=$((PUK_TRIES - 1))
wrong=0
i=1
expect_try puk wrong "$n"
while [ $i -le $n ]; do
  unblock_with "0000000$i" --json
  if [ "$rc" -eq 3 ] && [ "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.PukIncorrect ]; then
    wrong=$((wrong + 1))
  fi
  i=$((i + 1))
done
check "$n wrong PUKs: each one PukIncorrect, exit 3" test "$wrong" -eq "$n"
check_err "… saying the PIN was not changed (it was never blocked)" "PUK was not retried and the PIN was not changed"
check "… each cost exactly one try (1 left)" test "$(so_tries)" = 1
check_tries "$n wrong PUKs: one PUK try each"
signet status "$TOKEN_LABEL" --json >"$RIG/status.json"
if on_card; then
  jcheck "status: the card reports no PUK flag (OpenSC never sets them: unknown)" "$RIG/status.json" \
    'not (d["puk"]["count_low"] or d["puk"]["final_try"] or d["puk"]["locked"])'
  # So the final-try guard cannot know; what the holder is told instead:
  check_err "pin unblock shows the PUK's state as the module reports it: no warning" \
    "PUK no warning from the token \\(as the module reports them\\)"
else
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
  check_tries "at the PUK's final try without confirmation: nothing sent"
fi

expect_try puk wrong
unblock_with 00000010 --json --confirm-final-try
if on_card; then
  # The shim's card answers the last wrong PUK CKR_PIN_INCORRECT, like the
  # others (tests/p11shim/README.md), and still reports no flag.
  check_rc "the last wrong PUK: exit 3" 3
  check "… reported as PukIncorrect" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.PukIncorrect
else
  check_rc "the last wrong PUK: exit 4" 4
  check "… reported as PukLocked" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.PukLocked
  check_err "… saying the PIN cannot be unblocked any more" "PUK .*locked"
fi
check "the shim's PUK has no try left" test "$(so_tries)" = 0
check_tries "the last PUK try"

# The right PUK now: on SoftHSM2 the CLI sees the PUK locked and asks
# nothing; the card is asked (nothing tells the CLI) and refuses it.
on_card && expect_try puk locked
unblock_with "$SO_PIN" --json
check_rc "with the PUK locked, even the right PUK: exit 4" 4
check "… as PukLocked" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.PukLocked
check_tries "the right PUK, locked: refused (on the card by the card)"
signet status "$TOKEN_LABEL" --json >"$RIG/status.json"
if on_card; then
  jcheck "status: still no PUK flag from the card" "$RIG/status.json" \
    'not (d["puk"]["count_low"] or d["puk"]["final_try"] or d["puk"]["locked"])'
else
  check "status shows the PUK locked" test "$(jq_ "$RIG/status.json" 'd["puk"]["locked"]')" = true
fi

# The agent itself refuses a locked PUK (on the card: the card does).
on_card && expect_try puk locked
gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
  --method io.signet.Agent1.UnblockPin "$TOKEN_LABEL" "b'$SO_PIN'" "b'112233'" "{}" \
  >"$RIG/out" 2>"$RIG/err"
check "UnblockPin on a locked PUK: io.signet.Error.PukLocked" \
  grep -q 'GDBus.Error:io.signet.Error.PukLocked:' "$RIG/err"
check_tries "UnblockPin on a locked PUK"

# The user PIN still works: a locked PUK does not touch it.
run signet keygen "$TOKEN_LABEL" --type ec:p256 --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "the PIN still works with the PUK locked" 0

tap_done
