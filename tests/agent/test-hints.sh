#!/bin/sh
# The commands Signet prints for the holder to paste must work in a shell,
# whatever the token's label holds: "signet pin unblock OsEID card (User
# PIN)" was printed without quotes, and pasted it is a syntax error. Here
# the token's label has spaces, parentheses and a quote; its PIN is locked
# (the shim's counters), and the hints of the CLI and of the agent are run
# as printed.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
TOKEN_LABEL="OsEID card (User's PIN)"
rig_setup --shim

# Lock the PIN: no try left on the shim's counter.
printf '%s 0 %s\n' "$SERIAL" "$(shim_tries | cut -d' ' -f2)" >"$SIGNET_SHIM_STATE/pins"

run signet keygen "$TOKEN_LABEL" --type ec:p256 --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "a locked PIN: keygen exits 4" 4
hint=$(sed -n 's/.*Unblock it with the PUK: \(signet pin unblock .*\)$/\1/p' "$RIG/err")
check "the CLI prints the unblock command" test -n "$hint"
check "… with the label quoted for a shell" sh -n -c "$hint"

# The agent's own message, from a gdbus call (nothing of the CLI in between).
gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
  --method io.signet.Agent1.GenerateKey "$TOKEN_LABEL" ec:p256 "b'$PIN'" "{}" \
  >"$RIG/out" 2>"$RIG/err"
agent_hint=$(sed -n 's/.*Unblock it with the PUK: \(signet pin unblock .*\)$/\1/p' "$RIG/err" |
  sed 's/ (CKR_[A-Z_]*)$//')
check "the agent's PinLocked message holds the unblock command" test -n "$agent_hint"
check "… quoted for a shell" sh -n -c "$agent_hint"
check_eq "… the same command as the CLI's" "$hint" "$agent_hint"

# Pasted as printed, with the PUK and a new PIN from file descriptors.
expect_try puk ok
(eval "$hint --puk-fd 3 --new-pin-fd 4" 3<<EOF 4<<EOF2
$SO_PIN
EOF
112233
EOF2
) >"$RIG/out" 2>"$RIG/err"
check "the CLI's command, run as printed, unblocks the PIN" test $? -eq 0
check_tries "… with the one PUK try it sent"
run signet keygen "$TOKEN_LABEL" --type ec:p256 --pin-fd 3 3<<EOF
112233
EOF
check_rc "the new PIN works" 0

tap_done
