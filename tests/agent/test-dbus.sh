#!/bin/sh
# The D-Bus interface itself, with gdbus: the Version property, the error
# names for malformed calls (InvalidArgs), DeleteKey by hex id and by URI
# (no CLI command has it yet), NoSuchObject, NotSupported-free paths.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup

call() { # call METHOD ARGS…: stdout in $RIG/out, stderr in $RIG/err, status in $rc
  m=$1
  shift
  run gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
    --method "io.signet.Agent1.$m" "$@"
}
check_name() { # check_name DESCRIPTION NAME: the last call failed with NAME
  if [ "$rc" -ne 0 ] && grep -q "GDBus.Error:$2:" "$RIG/err"; then ok "$1"; else
    not_ok "$1"
    awk '{ print "#   " $0 }' "$RIG/err" "$RIG/out" | head -n 5
  fi
}

run gdbus call --session --dest io.signet.Agent --object-path /io/signet/Agent \
  --method org.freedesktop.DBus.Properties.Get io.signet.Agent1 Version
check "the Version property" grep -Eq "<'[0-9]+\.[0-9]+" "$RIG/out"

call ListTokens
check "ListTokens over D-Bus names the token" grep -q "'serial': <'$SERIAL'>" "$RIG/out"

call GenerateKey "$TOKEN_LABEL" ec:p256 "[byte 0x31, 0x32, 0x00, 0x34, 0x35, 0x36]" "{}"
check_name "a PIN with a NUL byte: InvalidArgs" io.signet.Error.InvalidArgs
long=$(printf '1%.0s' $(seq 1 300))
call GenerateKey "$TOKEN_LABEL" ec:p256 "b'$long'" "{}"
check_name "a PIN longer than 256 bytes: InvalidArgs" io.signet.Error.InvalidArgs
call GenerateKey "$TOKEN_LABEL" ec:p256 "b''" "{}"
check_name "an empty PIN on a token without a PIN pad: InvalidArgs" io.signet.Error.InvalidArgs
call GenerateKey "$TOKEN_LABEL" ec:p256 "b'$PIN'" "{'colour': <'blue'>}"
check_name "an unknown option: InvalidArgs" io.signet.Error.InvalidArgs
call GenerateKey "$TOKEN_LABEL" ec:p256 "b'$PIN'" "{'label': <42>}"
check_name "an option of the wrong type: InvalidArgs" io.signet.Error.InvalidArgs
call GenerateKey "$TOKEN_LABEL" dsa:1024 "b'$PIN'" "{}"
check_name "an unknown key type: InvalidArgs" io.signet.Error.InvalidArgs
call GenerateKey "" ec:p256 "b'$PIN'" "{}"
check_name "an empty token: InvalidArgs" io.signet.Error.InvalidArgs
call UnblockPin "$TOKEN_LABEL" "b'$SO_PIN'" "b'123456'" "{'label': <'x'>}"
check_name "UnblockPin takes only confirm-final-try: InvalidArgs" io.signet.Error.InvalidArgs
call CreateRequest "$TOKEN_LABEL" "not a subject" ec:p256 "b'$PIN'" "{}"
check_name "CreateRequest with a bad subject: BadSubject" io.signet.Error.BadSubject
call ImportCertificate "$TOKEN_LABEL" "b''" "b'$PIN'" "{}"
check_name "ImportCertificate with no data: BadInput" io.signet.Error.BadInput
check "none of these created anything (pkcs11-tool)" test "$(p11_objects all)" -eq 0
check_tries "malformed calls: no try spent"

# DeleteKey: by hex id and by PKCS#11 URI with id=.
call GenerateKey "$TOKEN_LABEL" ec:p256 "b'$PIN'" "{'label': <'one'>}"
check "GenerateKey over D-Bus" test "$rc" -eq 0
id1=$(sed -n "s/.*'id': <'\([0-9a-f]*\)'>.*/\1/p" "$RIG/out")
call GenerateKey "$TOKEN_LABEL" ec:p256 "b'$PIN'" "{'label': <'two'>}"
id2=$(sed -n "s/.*'id': <'\([0-9a-f]*\)'>.*/\1/p" "$RIG/out")
check "two key pairs (pkcs11-tool)" test "$(p11_objects privkey)" -eq 2

# GetToken: the token and its PIN state as read now, its unfinished work,
# and none of its objects (what a client asks before a PIN prompt).
call GetToken "$TOKEN_LABEL"
check "GetToken names the token" grep -q "'serial': <'$SERIAL'>" "$RIG/out"
check "… with its PIN and PUK state" grep -q "'pin': <{'count_low'.*'puk': <{'count_low'" "$RIG/out"
check "… and its unfinished activations (none)" grep -q "'activations': <@aa{sv} \[\]>" "$RIG/out"
check "… without its certificates or keys" sh -c "! grep -Eq \"'(certificates|keys)'\" '$RIG/out'"
call GetToken "No Such Token"
check_name "GetToken of a token not there: NoSuchToken" io.signet.Error.NoSuchToken

call DeleteKey "$TOKEN_LABEL" "zz-not-hex" "b'$PIN'" "{}"
check_name "DeleteKey with a malformed id: InvalidArgs" io.signet.Error.InvalidArgs
call DeleteKey "$TOKEN_LABEL" "00112233" "b'$PIN'" "{}"
check_name "DeleteKey of an id that is not there: NoSuchObject" io.signet.Error.NoSuchObject
call DeleteKey "$TOKEN_LABEL" "$id1" "b'$PIN'" "{}"
check "DeleteKey by hex id" test "$rc" -eq 0
uri_id=$(echo "$id2" | sed 's/\(..\)/%\1/g')
call DeleteKey "$TOKEN_LABEL" "pkcs11:id=$uri_id;type=private" "b'$PIN'" "{}"
check "DeleteKey by PKCS#11 URI" test "$rc" -eq 0
check "both key pairs are gone (pkcs11-tool)" test "$(p11_objects all)" -eq 0

expect_try pin wrong
call DeleteKey "$TOKEN_LABEL" "$id1" "b'000000'" "{}"
check_name "DeleteKey with a wrong PIN: PinIncorrect" io.signet.Error.PinIncorrect
check_tries "DeleteKey with a wrong PIN"

tap_done
