#!/bin/sh
# Interrupted operations must not strand the holder (issue 11, points 1-3):
#
# - An activation whose request reached the CA and whose answer never came
#   back (the agent killed as the answer arrives: SIGNET_FAULT=answered:crash)
#   is journaled with its request; the next activation sends the same
#   request again. A CA that answers it again (signet-test-ca replay on)
#   gives the certificate it issued; one that refuses gets a message with
#   what to tell it, the key stays, and the certificate the CA hands out
#   imports and finishes the activation; a new code sends the same request.
#   The killed attempt is in the history.
# - A renewal killed after its request went to the CA, or before: what
#   status says (step, and the command to run) is what the next renew does,
#   and the command it prints works when pasted, on a token with two
#   certificates.
# - Several certificates under one key: import refuses a second one unless
#   --replace; renew lists them by serial, --cert names any of them (serial
#   or SHA-256 fingerprint), and renewal removes only the one renewed.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
"$SIGNETD" --version | grep -q 'fault injection: yes' ||
  skip_all "signetd was built without --enable-fault-injection (the test builds have it)"
rig_setup
est_ca_start

p11() { "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" "$@" 2>/dev/null; }
private_ids() { p11 --login --pin "$PIN" --list-objects --type privkey | awk '/ID:/ { print $2 }' | sort; }
last_json() { tail -n 1 "$RIG/out" >"$RIG/last.json"; }

# restart [SPEC]: the agent again, with the fault SPEC or none.
restart() {
  agent_stop >/dev/null 2>&1 || true
  if [ -n "${1:-}" ]; then export SIGNET_FAULT="$1"; else unset SIGNET_FAULT; fi
  agent_start
  unset SIGNET_FAULT
}
# fresh_token: a new token under the same label (a new serial).
fresh_token() {
  agent_stop >/dev/null 2>&1 || true
  rm -rf "$RIG/tokens"/*
  token_init "$TOKEN_LABEL"
  agent_start
}
# issued_for REF: the serial of the certificate the CA issued for REF.
issued_for() { estca issued | awk -v r="ref:$1" '$2 == r { print $1 }'; }
# cert_json SERIAL EXPR: EXPR about certificate c of status with that serial.
has_cert() {
  run signet status "$TOKEN_LABEL" --json
  "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if any(c["serial"].lstrip("0") == sys.argv[2].lstrip("0") and c["has_key"]
                  for c in d["certificates"]) else 1)' "$RIG/out" "$1"
}
# renew_cmd COMMAND: COMMAND as the holder pastes it (shell words), the PIN
# on descriptor 4.
renew_cmd() {
  eval "run $1 --pin-fd 4" 4<<EOF
$PIN
EOF
}

# --- activation: killed as the CA answered, a CA that answers again ---------------
estca replay on >/dev/null
est_code --subject "CN=Ola Replay,O=Example,C=PL"
restart answered:crash
activate
check "the agent killed as the CA's answer arrives: the activation fails" test "$rc" -ne 0
restart
issued=$(issued_for "$REF")
check "… and the CA had issued the certificate (and spent the code)" test -n "$issued"
run signet status "$TOKEN_LABEL" --json
jcheck "status: the request was sent (with its reference and fingerprint), the key kept" "$RIG/out" \
  "len(d['activations']) == 1 and d['activations'][0]['stage'] == 'sent' and d['activations'][0]['reference'] == '$REF' and 'answer_lost' not in d['activations'][0] and len(d['keys']) == 1"
run signet status "$TOKEN_LABEL"
check "status in words: run the same activation with the same code" \
  grep -q "To do: run \`signet activate $TOKEN_LABEL --profile signet-test\` with the same activation code: the same request is sent again" "$RIG/out"
activate
check_rc "the same activation again completes" 0
check "… saying it sends the same request again" grep -q 'An earlier attempt sent this token.s request to the CA' "$RIG/out"
check "… with the certificate the CA issued then (serial $issued)" has_cert "$issued"
jcheck "… and nothing is left unfinished" "$RIG/out" "d['activations'] == [] and len(d['keys']) == 1"
check_eq "… the CA issued nothing new: it answered the same request again" "$issued 1" \
  "$(estca issued | awk -v r="ref:$REF" '$2 == r { print $1, $4 }')"
run signet history "$TOKEN_LABEL" --json
jcheck "the history has the killed attempt, with its request fingerprint, then the activation" "$RIG/out" \
  "[(e['operation'], e['outcome']) for e in d[:2]] == [('activate', 'ok'), ('activate', 'interrupted')] and 'SHA-256' in d[1]['detail'] and '$REF' in d[1]['detail']"

# --- a CA that refuses the same request: what to tell it; the import finishes it ---
estca replay off >/dev/null
est_code --subject "CN=Ola Refused,O=Example,C=PL"
restart answered:crash
activate
restart
issued=$(issued_for "$REF")
keys_before=$(private_ids | wc -l)
activate
check_rc "a CA that refuses the same request again: exit 1" 1
check_err "… says the CA may have issued the certificate, with reference, time and fingerprint to tell it" \
  "may have issued your certificate already.*Tell your CA: reference number $REF, request sent on [0-9-]+ [0-9:]+ UTC, request fingerprint SHA-256 [0-9A-F:]{95}"
check_err "… and how to import what the CA gives, or use a new code" "import it: signet import .* FILE\. If it gives you a new activation code"
check_eq "… the key stays for that certificate" "$keys_before" "$(private_ids | wc -l)"
run signet status "$TOKEN_LABEL" --json
jcheck "… and status still shows the request sent" "$RIG/out" \
  "len(d['activations']) == 1 and d['activations'][0]['stage'] == 'sent'"
# The CA hands the certificate out (its portal): the holder imports it.
"$PYTHON" -c '
import json, sys
s = json.load(open(sys.argv[1] + "/state.json"))
open(sys.argv[3], "w").write(s["issued"][sys.argv[2]]["pem"])' "$ESTCA_DIR" "$issued" "$RIG/handed.pem"
run signet import "$TOKEN_LABEL" "$RIG/handed.pem" --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "the certificate the CA handed out imports" 0
check "… under the kept key" has_cert "$issued"
jcheck "… and the activation is finished: nothing unfinished, the certificate renews through its profile" "$RIG/out" \
  "d['activations'] == [] and any(c['serial'].lstrip('0') == '$issued'.lstrip('0') and c.get('profile') == 'signet-test' for c in d['certificates'])"

# --- the same, and the CA gives a new code: the same request goes with it ------------
est_code --subject "CN=Ola New Code,O=Example,C=PL"
restart answered:crash
activate
restart
run signet status "$TOKEN_LABEL" --json
kept=$(jq_ "$RIG/out" 'd["activations"][0]["id"]')
est_code --subject "CN=Ola New Code,O=Example,C=PL"
activate
check_rc "with a new code from the CA, the activation completes" 0
run signet status "$TOKEN_LABEL" --json
jcheck "… with a certificate for the kept key (the same request), nothing unfinished" "$RIG/out" \
  "d['activations'] == [] and any(c['id'] == '$kept' and c['has_key'] for c in d['certificates'])"

# --- renewal interrupted, on a token with two certificates ---------------------------
fresh_token
est_code --subject "CN=Ola First,O=Example,C=PL"
activate
first=$(issued_for "$REF")
est_code --subject "CN=Ola Second,O=Example,C=PL"
activate
second=$(issued_for "$REF")
check "a token with two certificates" test -n "$first" -a -n "$second"

# Killed as the CA answered: the request went out.
restart answered:crash
renew_cmd "signet renew $TOKEN_LABEL --cert $first"
restart
run signet status "$TOKEN_LABEL" --json
jcheck "status after a renewal killed as the CA answered: at step reenroll, to be sent again" "$RIG/out" \
  "len(d['operations']) == 1 and d['operations'][0]['step'] == 'reenroll' and d['operations'][0]['resume'] == 'send-again' and d['operations'][0]['old_serial'].lstrip('0') == '$first'.lstrip('0')"
run signet status "$TOKEN_LABEL"
cmd=$(sed -n 's/^ *To do: run `\([^`]*\)`: it sends the same request to the CA again.*/\1/p' "$RIG/out")
check "… in words: the command to run, naming the certificate" test -n "$cmd"
renew_cmd "$cmd"
check_rc "the command status printed, pasted, finishes the renewal" 0
check "… by sending the same request again (as status said)" grep -q 'Sending the same renewal request to .* again: the earlier attempt stopped (at step reenroll)' "$RIG/out"
run signet status "$TOKEN_LABEL" --json
jcheck "… the renewed certificate is gone, the other stays, nothing open" "$RIG/out" \
  "d['operations'] == [] and not any(c['serial'].lstrip('0') == '$first'.lstrip('0') for c in d['certificates']) and any(c['serial'].lstrip('0') == '$second'.lstrip('0') and c['has_key'] for c in d['certificates']) and len([c for c in d['certificates'] if not c['authority']]) == 2"

# Killed before the request went out: undone, then renewed from the start.
restart generate-key:crash
renew_cmd "signet renew $TOKEN_LABEL --cert $second"
restart
run signet status "$TOKEN_LABEL" --json
jcheck "status after a renewal killed at generate-key: at that step, to be undone" "$RIG/out" \
  "len(d['operations']) == 1 and d['operations'][0]['step'] == 'generate-key' and d['operations'][0]['resume'] == 'undo'"
run signet status "$TOKEN_LABEL"
cmd=$(sed -n 's/^ *To do: run `\([^`]*\)`: it undoes the interrupted renewal (stopped at step generate-key).*/\1/p' "$RIG/out")
check "… in words: the command, and that it undoes it first" test -n "$cmd"
renew_cmd "$cmd"
check_rc "the command status printed, pasted, works on a token with two certificates" 0
check "… undoing what status said" grep -q 'Undoing a renewal that was interrupted (at step generate-key)' "$RIG/out"
run signet status "$TOKEN_LABEL" --json
jcheck "… and renewing that certificate: it is gone, two certificates with their keys, nothing open" "$RIG/out" \
  "d['operations'] == [] and not any(c['serial'].lstrip('0') == '$second'.lstrip('0') for c in d['certificates']) and len([c for c in d['certificates'] if not c['authority'] and c['has_key']]) == 2"
check_eq "… and no key without a certificate" 2 "$(private_ids | wc -l)"

# --- several certificates under one key ---------------------------------------------
fresh_token
est_code --subject "CN=Ola Key,O=Example,C=PL"
activate --json
last_json
kid=$(jq_ "$RIG/last.json" 'd["certificate"]["id"]')
serial_a=$(issued_for "$REF")
p11 --read-object --type pubkey --id "$kid" -o "$RIG/k.der" >/dev/null
for n in b c d; do
  estca issue --public-key "$RIG/k.der" --subject "CN=Ola Key $n,O=Example,C=PL" --out "$RIG/$n.pem"
done
run signet import "$TOKEN_LABEL" "$RIG/b.pem" --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "a second certificate for a key that has one is refused" 1
check_err "… saying which certificate the key has, and --replace" "already has a certificate: serial [0-9a-f]+ \(CN=Ola Key,.*--replace"
run signet import "$TOKEN_LABEL" "$RIG/b.pem" --json --pin-fd 3 3<<EOF
$PIN
EOF
jcheck "… as io.signet.Error.CertificateExists (a window offers to replace on that name)" \
  "$RIG/out" "d['error']['name'] == 'io.signet.Error.CertificateExists'"
run signet status "$TOKEN_LABEL" --json
jcheck "… and nothing was written" "$RIG/out" "len([c for c in d['certificates'] if not c['authority']]) == 1"

# Another program (or an older Signet) stored two more under the same key
# (Signet does not know their CA: renewing them names the profile).
for n in b c; do
  openssl x509 -in "$RIG/$n.pem" -outform der -out "$RIG/$n.der"
  p11 --login --pin "$PIN" --write-object "$RIG/$n.der" --type cert --id "$kid" --label "other $n" >/dev/null
done
serial_b=$(openssl x509 -in "$RIG/b.pem" -noout -serial | sed 's/.*=//' | tr 'A-F' 'a-f')
serial_c=$(openssl x509 -in "$RIG/c.pem" -noout -serial | sed 's/.*=//' | tr 'A-F' 'a-f')
fp_c=$(openssl x509 -in "$RIG/c.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
renew_cmd "signet renew $TOKEN_LABEL"
check_rc "renew with three certificates under one key: exit 2, say which" 2
check_err "… listing each by serial, and --cert SERIAL" "has 3 certificates: say which one to renew with --cert SERIAL.*serial .*serial .*serial "
renew_cmd "signet renew $TOKEN_LABEL --cert $kid"
check_rc "--cert with the key id they share: exit 2" 2
check_err "… the three are listed" "has 3 certificates for $kid"
renew_cmd "signet renew $TOKEN_LABEL --cert $serial_b --profile signet-test"
check_rc "--cert SERIAL renews that certificate" 0
run signet status "$TOKEN_LABEL" --json
jcheck "… only it is removed: the key keeps the other two" "$RIG/out" \
  "sorted(c['serial'].lstrip('0') for c in d['certificates'] if c['id'] == '$kid') == sorted(['$serial_a'.lstrip('0'), '$serial_c'.lstrip('0')]) and all(c['has_key'] for c in d['certificates'] if not c['authority'])"
renew_cmd "signet renew $TOKEN_LABEL --cert $fp_c --profile signet-test"
check_rc "--cert with a SHA-256 fingerprint renews that certificate" 0
run signet status "$TOKEN_LABEL" --json
jcheck "… and the key keeps the one left" "$RIG/out" \
  "[c['serial'].lstrip('0') for c in d['certificates'] if c['id'] == '$kid'] == ['$serial_a'.lstrip('0')] and all(c['has_key'] for c in d['certificates'] if not c['authority'])"
run signet import "$TOKEN_LABEL" "$RIG/d.pem" --replace --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "import --replace stores the new certificate for the key" 0
check "… and says which one it removed" grep -q "Removed the key's other certificate, serial 0*${serial_a#0}" "$RIG/out"
run signet status "$TOKEN_LABEL" --json
jcheck "… the key has just the new one" "$RIG/out" \
  "[c['subject'] for c in d['certificates'] if c['id'] == '$kid'] == ['CN=Ola Key d,O=Example,C=PL']"

tap_done
