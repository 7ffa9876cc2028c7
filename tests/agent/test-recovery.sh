#!/bin/sh
# Fault injection (a test build's SIGNET_FAULT=STEP:KIND hook, see
# agent/signet-testhooks.h): renewal and activation are stopped at every
# step in turn by each fault kind — the agent killed (SIGKILL), the token
# pulled (the PKCS#11 shim), the CA down — then the agent is started again
# and the token is checked independently with pkcs11-tool. It runs over EST
# and, as tests/agent/cmp/test-recovery.cmp, over CMP, and as
# tests/agent/scep/test-recovery.scep over SCEP (scepserver, in a network
# namespace of its own: root, as test-scep.sh).
#
# Right after the restart (no PIN given yet) a working certificate with its
# key is on the token, and every private key without a certificate is one
# the journal knows (the agent cannot delete a private key without the
# PIN: it is a private object). Then the holder's next `signet renew` (or
# `signet activate`) resumes or rolls back first, and the token has exactly
# one valid certificate with its key per credential, no orphan key, and the
# journal holds nothing unfinished but a pending request.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
command -v sqlite3 >/dev/null || skip_all "sqlite3 (the command) is not installed"
"$SIGNETD" --version | grep -q 'fault injection: yes' ||
  skip_all "signetd was built without --enable-fault-injection (the test builds have it)"
if [ "${SIGNET_TEST_PROTOCOL:-est}" = scep ] && [ -z "${SIGNET_SCEP_NETNS:-}" ]; then
  command -v scepserver >/dev/null || skip_all "scepserver not found (apt-get install scep)"
  [ "$(id -u)" -eq 0 ] ||
    skip_all "scepserver listens on every interface: the test needs root for a loopback-only network namespace"
  unshare -n true 2>/dev/null || skip_all "unshare -n is not permitted here"
  SIGNET_SCEP_NETNS=1 exec unshare -n /bin/sh "$0" "$@"
fi
if [ -n "${SIGNET_SCEP_NETNS:-}" ]; then
  ip link set lo up || { echo "Bail out! cannot bring up loopback in the namespace"; exit 1; }
fi
rig_setup
est_ca_start
# The same matrix over CMP (tests/agent/cmp/test-recovery.cmp): the CMP face
# of the same test CA, its profile for every activation; a renewal goes
# through the profile that issued the certificate.
# Over CMP the kinds that meet the protocol's own state (a transaction cut by
# a crash or a pulled token at each step), and the CA down where the
# protocol's own messages go out (enroll, reenroll: the request never
# delivered, a connector that must say so and keep nothing); the CA down
# elsewhere and a full disk go through the HTTP layer and the journal that
# EST shares, tested here over EST, and would double the script's time
# (about 3 minutes each).
# Over SCEP (tests/agent/scep/test-recovery.scep) only the steps where the
# protocol has a part, from the request sent on: the connector's exchange
# (enroll, reenroll), the point where the CA has answered (answered: the
# certificate issued and its DES envelope decrypted on the token, not yet
# journaled), the journaling of the answer (verify) and the write-back
# (store, store+), crash and token pulled; the CA down at enroll and
# reenroll, as over CMP. The steps before the request
# and after the write are the agent's alone, tested here over EST. That
# keeps the run under a minute at -O0 (38 s when measured; the CI runs
# the suite three times).
KINDS="crash remove ca-down disk-full"
# The steps where the CA goes down (empty: all); over CMP and SCEP the two
# exchanges with the protocol's own messages, the request not delivered.
CA_DOWN_STEPS=''
in_list() {
  local x=$1
  shift
  for y in "$@"; do [ "$x" = "$y" ] && return 0; done
  return 1
}
RENEW_STEPS="check-certificate ca-certificates login ask-ca check-room generate-key generate-key+
  request reenroll verify store store+ test-signature remove-old remove-old+ done"
ACTIVATE_STEPS="check-token ca-certificates subject login generate-key generate-key+ request enroll
  verify store store+ done"
CA_ROOT='' CA_UNTRUSTED=''
case ${SIGNET_TEST_PROTOCOL:-est} in
  est) ;;
  cmp) cmp_ca_start; PROFILE=signet-cmp KINDS="crash remove ca-down" CA_DOWN_STEPS="enroll reenroll" ;;
  scep)
    scep_ca_start
    PROFILE=signet-scep KINDS="crash remove ca-down" CA_DOWN_STEPS="enroll reenroll"
    RENEW_STEPS="reenroll answered verify store store+"
    ACTIVATE_STEPS="enroll answered verify store store+"
    CA_ROOT=$RIG/depot/ca.pem CA_UNTRUSTED=$RIG/depot/ca.pem
    # The activation's code and reference are scepserver's; the subject
    # is the profile's (CN=${reference}).
    est_code() { scep_code; }
    ;;
  *) echo "Bail out! SIGNET_TEST_PROTOCOL=$SIGNET_TEST_PROTOCOL: est, cmp or scep"; exit 1 ;;
esac
: "${CA_ROOT:=$ESTCA_DIR/root.pem}" "${CA_UNTRUSTED:=$ESTCA_DIR/issuing.pem}"
echo "# protocol: ${SIGNET_TEST_PROTOCOL:-est}"
DB="$XDG_STATE_HOME/signet/signet.db"
FAULT_FILE="$SIGNET_SHIM_STATE/fault"

p11() { "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" "$@" 2>/dev/null; }
# leaf_ids / private_ids: CKA_IDs of the end-entity certificates and of the
# private keys, sorted (pkcs11-tool, not the agent).
leaf_ids() {
  p11 --list-objects --type cert | awk '/^Certificate Object/ { c = 1 } c && /ID:/ { print $2; c = 0 }' |
    sort -u | while read -r id; do
      p11 --read-object --type cert --id "$id" -o "$RIG/c.der" >/dev/null &&
        openssl x509 -inform der -in "$RIG/c.der" -noout -ext basicConstraints 2>/dev/null |
        grep -q 'CA:TRUE' || echo "$id"
    done
}
private_ids() { p11 --login --pin "$PIN" --list-objects --type privkey | awk '/ID:/ { print $2 }' | sort -u; }
# valid_leaf ID: the certificate ID verifies to the CA's root today.
valid_leaf() {
  p11 --read-object --type cert --id "$1" -o "$RIG/v.der" >/dev/null &&
    openssl x509 -inform der -in "$RIG/v.der" -out "$RIG/v.pem" &&
    openssl verify -CAfile "$CA_ROOT" -untrusted "$CA_UNTRUSTED" "$RIG/v.pem" >/dev/null 2>&1
}
journal_known() { sqlite3 "file:$DB?mode=ro" "select new_key_id from operations where state in ('running','pending','issued')"; }
open_unfinished() { sqlite3 "file:$DB?mode=ro" "select count(*) from operations where state in ('running','issued')"; }

# after_restart WHAT MIN: at least MIN working certificates with their keys
# are there (renewal: the old or the new one; a fresh token being activated:
# none yet, or the new one), and any key without a certificate is known to
# the journal.
after_restart() {
  leaves=$(leaf_ids)
  privs=$(private_ids)
  working=0
  for id in $leaves; do
    if printf '%s\n' "$privs" | grep -qx "$id" && valid_leaf "$id"; then working=$((working + 1)); fi
  done
  unknown=
  for id in $privs; do
    printf '%s\n' "$leaves" | grep -qx "$id" && continue
    journal_known | grep -qix "$id" && continue
    unknown="$unknown $id"
  done
  check "$1: after the restart at least $2 working certificate(s) with their keys" test "$working" -ge "$2"
  check_eq "$1: after the restart every key without a certificate is journaled" "" "$unknown"
}

# settled WHAT N: exactly N valid certificates, each with its key, and no
# private key without one; nothing unfinished in the journal.
settled() {
  leaves=$(leaf_ids)
  privs=$(private_ids)
  check_eq "$1: each certificate has its key, no orphan key" "$leaves" "$privs"
  n=0
  total=0
  for id in $leaves; do
    total=$((total + 1))
    valid_leaf "$id" && n=$((n + 1))
  done
  if [ "$2" = all ]; then
    check_eq "$1: every certificate is valid" "$total" "$n"
  else
    check_eq "$1: $2 valid certificate(s) with their keys" "$2" "$n"
  fi
  check_eq "$1: the journal is finished (or pending)" 0 "$(open_unfinished)"
}

# restart [SPEC]: the agent again, with the fault SPEC or none; the token
# back in (the shim's fault file gone).
restart() {
  agent_stop >/dev/null 2>&1 || true
  rm -f "$FAULT_FILE"
  if [ -n "${1:-}" ]; then export SIGNET_FAULT="$1"; else unset SIGNET_FAULT; fi
  agent_start
  unset SIGNET_FAULT
}

renew() {
  run signet renew "$TOKEN_LABEL" --pin-fd 4 4<<EOF
$PIN
EOF
}

# pulled_exit OP STEP EXIT: a token pulled at STEP of OP (activate, renew)
# ends the command with exit 5 (TokenRemoved: plug it in and run the same
# operation), whatever the step was doing (a CA's answer that could not be
# decrypted, a session the module closed), except after the operation's
# last write: the new certificate stored (activate store+, renew
# remove-old+) or done, where it succeeded (0). Over CMP a renewal asks the
# CA nothing (no ask-ca step: the fault never fires, 0).
pulled_exit() {
  local want=5
  case ${SIGNET_TEST_PROTOCOL:-est}:$1:$2 in
    *:*:done | *:activate:store+ | *:renew:remove-old+ | cmp:renew:ask-ca) want=0 ;;
  esac
  check_eq "$1 $2:remove: the command's exit status" "$want" "$3"
}

# --- renewal: every step, every fault ---------------------------------------------
est_code --subject "CN=Ewa Fault,O=Example,C=PL"
activate
check_rc "the token is activated" 0
# A STEP+ is the point inside the step after its PKCS#11 call, before the
# journal has what it did; disk-full: every journal write fails from there.
for kind in $KINDS; do
  for step in $RENEW_STEPS; do
    case $kind:$step in ca-down:*+) continue ;; esac
    [ "$kind" != ca-down ] || [ -z "$CA_DOWN_STEPS" ] || in_list "$step" $CA_DOWN_STEPS || continue
    restart "$step:$kind"
    renew
    first=$rc
    [ "$kind" = remove ] && pulled_exit renew "$step" "$first"
    [ "$kind" = ca-down ] && [ -n "$CA_DOWN_STEPS" ] &&
      check_eq "renew $step:ca-down: exit 8 (the CA could not be reached)" 8 "$first"
    restart
    after_restart "renew $step:$kind (exit $first)" 1
    renew
    check_rc "renew $step:$kind: the next signet renew succeeds" 0
    settled "renew $step:$kind" 1
  done
done

# --- nothing on the journal's word -------------------------------------------------
# (EST and CMP: the agent's own steps, which SCEP's run leaves out.)
if [ "${SIGNET_TEST_PROTOCOL:-est}" != scep ]; then
  # The renewal killed after the new certificate was written (the journal says
  # stored); the certificate object then goes from the token (another tool).
  # The next renew writes it again from the journal and checks the object on
  # the token before the old certificate and key go: never a key left without
  # its certificate.
  restart "test-signature:crash"
  renew
  restart
  newid=$(sqlite3 "file:$DB?mode=ro" "select new_key_id from operations where state = 'issued'")
  check "a renewal killed after the certificate was written is issued in the journal" test -n "$newid"
  # With the agent stopped: SoftHSM2 keeps its objects in files that two
  # processes changing at once do not both survive.
  agent_stop >/dev/null 2>&1 || true
  p11 --login --pin "$PIN" --delete-object --type cert --id "$newid" >/dev/null
  agent_start
  has_leaf() { leaf_ids | grep -qix "$1"; }
  if has_leaf "$newid"; then gone=no; else gone=yes; fi
  check_eq "… the new certificate is deleted from the token by another tool" yes "$gone"
  renew
  check_rc "… the next signet renew succeeds" 0
  settled "renew after the new certificate went from the token" 1
  check "… the certificate on the token is the new one, written again" has_leaf "$newid"
fi

# --- activation: every step, every fault -----------------------------------------
# Each round on a fresh token (the same label, a new serial).
for kind in $KINDS; do
  for step in $ACTIVATE_STEPS; do
    case $kind:$step in ca-down:*+) continue ;; esac
    [ "$kind" != ca-down ] || [ -z "$CA_DOWN_STEPS" ] || in_list "$step" $CA_DOWN_STEPS || continue
    agent_stop >/dev/null 2>&1 || true
    rm -rf "$RIG/tokens"/*
    token_init "$TOKEN_LABEL"
    SERIAL=$(token_serial "$TOKEN_LABEL")
    restart "$step:$kind"
    name=$(printf %s "$step" | sed "s/+$/ after/")
    est_code --subject "CN=Ewa Fault $name $kind,O=Example,C=PL"
    before=$(leaf_ids | wc -l)
    activate
    first=$rc
    [ "$kind" = remove ] && pulled_exit activate "$step" "$first"
    [ "$kind" = ca-down ] && [ -n "$CA_DOWN_STEPS" ] &&
      check_eq "activate $step:ca-down: exit 8 (the CA could not be reached)" 8 "$first"
    restart
    after_restart "activate $step:$kind (exit $first)" 0
    est_code --subject "CN=Ewa Fault $name $kind again,O=Example,C=PL"
    activate
    check_rc "activate $step:$kind: the next signet activate succeeds" 0
    settled "activate $step:$kind" all
    check "activate $step:$kind: a credential more than before" test "$(leaf_ids | wc -l)" -gt "$before"
  done
done
tap_done
