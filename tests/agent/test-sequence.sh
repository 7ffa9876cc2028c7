#!/bin/sh
# One agent, one token, operations one after another as a holder runs them:
# csr, import, a wrong PIN in a PIN change, then unblock with the PUK. Each
# later operation must work whatever the earlier ones left behind (sessions,
# logins), and no PIN or PUK try may be spent that the test did not send.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup --shim
ca_init || { echo "Bail out! could not make the test CA"; exit 1; }

run signet csr "$TOKEN_LABEL" --subject "CN=Anna Nowak,O=Example,C=PL" --type ec:p256 \
  --out "$RIG/anna.csr" --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "csr succeeds" 0
ca_sign "$RIG/anna.csr" "$RIG/anna.pem" || not_ok "the CA signs the request"
run signet import "$TOKEN_LABEL" "$RIG/anna.pem" --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "import succeeds" 0

run signet pin change "$TOKEN_LABEL" --pin-fd 3 --new-pin-fd 4 3<<EOF 4<<EOF2
999999
EOF
654321
EOF2
check_rc "pin change with a wrong current PIN exits 3" 3
check "… spends exactly one PIN try and no PUK try" test "$(shim_tries)" = "2 10"

run signet pin unblock "$TOKEN_LABEL" --puk-fd 3 --new-pin-fd 4 3<<EOF 4<<EOF2
$SO_PIN
EOF
112233
EOF2
check_rc "unblock with the PUK after csr, import and a wrong PIN succeeds" 0
check "… the PIN has all its tries again, the PUK too" test "$(shim_tries)" = "3 10"

run signet keygen "$TOKEN_LABEL" --type ec:p256 --pin-fd 3 3<<EOF
112233
EOF
check_rc "the new PIN works" 0

tap_done
