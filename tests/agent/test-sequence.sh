#!/bin/sh
# One agent, one token, operations one after another as a holder runs them:
# csr, import, a wrong PIN in a PIN change, then unblock with the PUK, then a
# PIN change with the right PIN. Each later operation must work whatever the
# earlier ones left behind (sessions, logins), and no PIN or PUK try may be
# spent that the test did not send: a PIN change spends no PUK try (on the
# card model a C_SetPIN logged out would be RESET RETRY COUNTER), a wrong
# current PIN exactly one PIN try, the unblock exactly one PUK try.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup
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
check_tries "csr and import: no try spent"

expect_try pin wrong
run signet pin change "$TOKEN_LABEL" --pin-fd 3 --new-pin-fd 4 3<<EOF 4<<EOF2
999999
EOF
654321
EOF2
check_rc "pin change with a wrong current PIN exits 3" 3
check_eq "… spends exactly one PIN try and no PUK try (shim's counters)" \
  "$((PIN_TRIES - 1)) $PUK_TRIES" "$(shim_tries)"
check_tries "pin change with a wrong current PIN: one PIN try, no PUK try"

expect_try puk ok
run signet pin unblock "$TOKEN_LABEL" --puk-fd 3 --new-pin-fd 4 3<<EOF 4<<EOF2
$SO_PIN
EOF
112233
EOF2
check_rc "unblock with the PUK after csr, import and a wrong PIN succeeds" 0
check_eq "… the PIN has all its tries again, the PUK too" "$PIN_TRIES $PUK_TRIES" "$(shim_tries)"
check_tries "the unblock: exactly one PUK try"

run signet keygen "$TOKEN_LABEL" --type ec:p256 --pin-fd 3 3<<EOF
112233
EOF
check_rc "the new PIN works" 0

run signet pin change "$TOKEN_LABEL" --pin-fd 3 --new-pin-fd 4 3<<EOF 4<<EOF2
112233
EOF
445566
EOF2
check_rc "pin change with the right PIN succeeds" 0
check_eq "… all tries left" "$PIN_TRIES $PUK_TRIES" "$(shim_tries)"
check_tries "pin change with the right PIN: no PUK try"
run signet keygen "$TOKEN_LABEL" --type ec:p256 --pin-fd 3 3<<EOF
445566
EOF
check_rc "the changed PIN works" 0

tap_done
