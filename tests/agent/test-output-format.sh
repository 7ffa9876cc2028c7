#!/bin/sh
# What `signet activate` and `signet renew` print about the certificate they
# brought: the same lines, and the end of validity written as `signet status`
# writes it, UTC with the days left ("2027-12-04T10:00:00Z (100 days left)").
# renew printed local time without the days left, activate UTC with them
# (issue 11, point 9). The text output is checked, not --json.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup
est_ca_start

ISO='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
VALID="^  Valid:     $ISO to ($ISO \\([0-9]+ days? left\\))\$"

# valid_until: the "NOT_AFTER (N days left)" part of the Valid line in $RIG/out.
valid_until() { sed -En "s/$VALID/\\1/p" "$RIG/out"; }
# (status_until runs signet status: $RIG/out is its output afterwards.)
# status_until CN: what `signet status` prints after "not after" for the
# holder certificate whose subject holds CN.
status_until() {
  run signet status "$TOKEN_LABEL"
  awk -v cn="$1" '
    /^  (Certificate:|CA certificate:)/ { mine = index($0, "Certificate:") == 3 && index($0, cn) > 0 }
    mine && $1 == "not" && $2 == "after" { sub(/^ *not after +/, ""); print; exit }' "$RIG/out"
}

renew() {
  run signet renew "$TOKEN_LABEL" --pin-fd 4 4<<EOF
$PIN
EOF
}

# --- activate ---------------------------------------------------------------------
est_code --subject "CN=Ewa Format,O=Example,C=PL" --validity-days 100
activate
check_rc "activate succeeds" 0
cp "$RIG/out" "$RIG/activate.out"
check "activate: one Valid line, UTC with the days left" \
  test "$(grep -Ec "$VALID" "$RIG/out")" = 1
activated=$(valid_until)
check_eq "activate: the end of validity as status prints it" "$(status_until "Ewa Format")" "$activated"

# --- renew ------------------------------------------------------------------------
renew
check_rc "renew succeeds" 0
cp "$RIG/out" "$RIG/renew.out"
check "renew: one Valid line, UTC with the days left (was local time without them)" \
  test "$(grep -Ec "$VALID" "$RIG/out")" = 1
check "renew: no 'local time' left in its output" sh -c "! grep -q 'local time' '$RIG/out'"
renewed=$(valid_until)
check_eq "renew: the end of validity as status prints it" "$(status_until "Ewa Format")" "$renewed"
# fields: the names of the certificate's lines ("Subject Issuer Serial Valid").
fields() { sed -En 's/^  (Subject|Issuer|Serial|Valid): .*/\1/p' "$1" | tr '\n' ' '; }
check_eq "activate and renew: the same lines for the certificate, in the same order" \
  "$(fields "$RIG/activate.out")" "$(fields "$RIG/renew.out")"
check_eq "… and they are all there" "Subject Issuer Serial Valid " "$(fields "$RIG/renew.out")"

est_ca_stop
tap_done
