#!/bin/sh
# Faults through the test shim: a token pulled during key generation, a slow
# token and a second operation on it (Busy), reads while it is busy, and a
# request whose signature fails (the new key is deleted again).
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup
FAULT="$SIGNET_SHIM_STATE/fault"

keygen() { # keygen [options…], PIN on fd 3
  run signet keygen "$TOKEN_LABEL" --type ec:p256 "$@" --pin-fd 3 3<<EOF
$PIN
EOF
}

# --- pulled mid-operation ---------------------------------------------------
echo 'C_GenerateKeyPair remove' >"$FAULT"
keygen --json
check_rc "a token pulled during key generation: exit 5" 5
check "… as TokenRemoved" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.TokenRemoved
check "the agent is still running" agent_alive
run signet list --json
check_rc "the agent still answers (list while pulled)" 0
check "… and lists no token" test "$(jq_ "$RIG/out" 'len(d)')" = 0
run signet status "$TOKEN_LABEL"
check_rc "status of the pulled token: exit 5" 5
rm -f "$FAULT"
run signet list --json
check "after reinsertion the token is listed again" test "$(jq_ "$RIG/out" 'len(d)')" = 1
keygen
check_rc "and key generation works again" 0
check "nothing was half-made: one key pair on the token (pkcs11-tool)" \
  test "$(p11_objects privkey)" -eq 1

# --- busy ---------------------------------------------------------------------
# The first operation is slow where it holds the token but writes nothing
# (its logout at the end): a read waits only while a token is written
# (docs/internals/pkcs11.md, Threads), an operation is refused at once.
echo 'C_Logout delay 4000' >"$FAULT"
n=$(busy_count)
"$SIGNET" keygen "$TOKEN_LABEL" --type ec:p256 --pin-fd 3 >"$RIG/bg.out" 2>"$RIG/bg.err" 3<<EOF &
$PIN
EOF
bg=$!
check "the first key generation is under way" wait_busy $((n + 1))
keygen --json
check_rc "a second operation on a busy token exits 6" 6
check "… as Busy" test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.Busy
check_err "… saying which token and what it is busy with" "Token '$TOKEN_LABEL' is busy with another operation \\(generating a key\\); try again when it finishes"
run signet pin change "$SERIAL" --pin-fd 3 --new-pin-fd 3 3<<EOF
$PIN
$PIN
EOF
check_rc "the same token by its serial: also busy (exit 6)" 6
run signet status "$TOKEN_LABEL" --json
check_rc "reads are allowed while the token is busy" 0
wait "$bg"
check "the first key generation finishes" test $? -eq 0
rm -f "$FAULT"
keygen
check_rc "once it finished, the token takes the next operation" 0

# --- a request that cannot be signed leaves no key behind --------------------------
before=$(p11_objects all)
echo 'C_Sign error CKR_GENERAL_ERROR' >"$FAULT"
run signet csr "$TOKEN_LABEL" --subject "CN=Nobody" --type ec:p256 --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "a request whose signature fails exits 1" 1
check_err "… saying the new key was deleted again" "deleted again"
check "… and the new key pair is gone (pkcs11-tool)" test "$(p11_objects all)" -eq "$before"
rm -f "$FAULT"

check "the agent is still running" agent_alive

# --- SIGTERM during an operation: the operation finishes first ----------------
echo 'C_GenerateKeyPair delay 2000' >"$FAULT"
n=$(busy_count)
"$SIGNET" keygen "$TOKEN_LABEL" --type ec:p256 --json --pin-fd 3 >"$RIG/bg.out" 2>"$RIG/bg.err" 3<<EOF &
$PIN
EOF
bg=$!
wait_busy $((n + 1)) || not_ok "the key generation did not start"
agent_stop
check "SIGTERM during key generation: the agent exits 0" test "$AGENT_STATUS" -eq 0
wait "$bg"
check "… after answering the key generation" test $? -eq 0
check "… with the new key" test "$(jq_ "$RIG/bg.out" 'd["type"]')" = ec:p256
rm -f "$FAULT"
tap_done
