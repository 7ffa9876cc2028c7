#!/bin/sh
# Key generation through the agent on a fresh SoftHSM2 token: every key type,
# labels, the key in the status with its protection (on the card model
# "card": OpenSC 0.23 reads a card's key back not sensitive), and, checked
# independently with pkcs11-tool on SoftHSM2, that every private key is
# sensitive and never extractable.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup

n=0
for type in ec:p256 ec:p384 rsa:2048 rsa:3072 rsa:4096; do
  n=$((n + 1))
  run signet keygen "$TOKEN_LABEL" --type "$type" --label "key-$n" --json --pin-fd 3 3<<EOF
$PIN
EOF
  check_rc "keygen --type $type succeeds" 0
  check "keygen --type $type: the answer names the type" test "$(jq_ "$RIG/out" 'd["type"]')" = "$type"
  check "keygen --type $type: the label" test "$(jq_ "$RIG/out" 'd["label"]')" = "key-$n"
  jcheck "keygen --type $type: a hex id" "$RIG/out" '(len(d["id"]) > 0 and all(c in "0123456789abcdef" for c in d["id"]))'
  eval "id_$n=\$(jq_ \"\$RIG/out\" 'd[\"id\"]')"
done

run signet keygen "$TOKEN_LABEL" --type ec:p256 --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "keygen without --json succeeds" 0
check "… and says what it made" grep -q "Generated a key pair on token '$TOKEN_LABEL': type ec:p256, id " "$RIG/out"

run signet status "$TOKEN_LABEL" --json
check_rc "status after keygen" 0
check "status lists the six keys" test "$(jq_ "$RIG/out" 'len(d["keys"])')" = 6
# shellcheck disable=SC2154
check "status shows the rsa:4096 key by id with its type and label" \
  test "$(jq_ "$RIG/out" "[[k['type'], k['label']] for k in d['keys'] if k['id'] == '$id_5']")" \
  = '[["rsa:4096", "key-5"]]'
check "status: no certificate yet" test "$(jq_ "$RIG/out" 'len(d["certificates"])')" = 0
# status logs in nowhere: a private key shows only where the module lists
# it without a login (OpenSC does; SoftHSM2 and the shim in front of it do
# not), and then with its protection: "card" on the card model, which reads
# a generated key back CKA_SENSITIVE false as OpenSC 0.23 does.
jcheck "status: each key's protection is $PROTECTION where its private key shows, else unknown" "$RIG/out" \
  'all(k["protection"] == ("'"$PROTECTION"'" if k["has_private"] else "unknown") and not k["extractable"] for k in d["keys"])'

# Independently of Signet: what pkcs11-tool sees after a login.
"$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
  --list-objects --type privkey >"$RIG/privkeys" 2>/dev/null
check "pkcs11-tool sees six private keys" test "$(grep -c '^Private Key Object' "$RIG/privkeys")" -eq 6
check "every private key is sensitive and never extractable (pkcs11-tool)" awk '
  /^Private Key Object/ { n++ }
  /^[[:space:]]*Access:/ {
    sub(/^[[:space:]]*Access:[[:space:]]*/, "")
    sens = 0; never = 0; extr = 0
    k = split($0, f, /, */)
    for (i = 1; i <= k; i++) {
      if (f[i] == "sensitive") sens = 1
      if (f[i] == "never extractable") never = 1
      if (f[i] == "extractable") extr = 1
    }
    if (sens && never && !extr) good++
  }
  END { exit !(n == 6 && good == n) }' "$RIG/privkeys"
check "pkcs11-tool: an EC key and an RSA 4096 key" \
  sh -c "grep -q '^Private Key Object; EC' '$RIG/privkeys' && grep -q '^Private Key Object; RSA' '$RIG/privkeys'"
check "pkcs11-tool: the labels we gave" grep -q 'label: *key-5' "$RIG/privkeys"

tap_done
