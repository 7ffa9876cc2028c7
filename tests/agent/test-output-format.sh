#!/bin/sh
# What `signet activate` and `signet renew` print about the certificate they
# brought: the same lines, and the end of validity written as `signet status`
# writes it, UTC with the days left ("2027-12-04T10:00:00Z (100 days left)").
# renew printed local time without the days left, activate UTC with them
# (issue 11, point 9). The text output is checked, not --json.
# The days left are counted by the agent at each call: a certificate issued
# for exactly 100 days has 100 left in the second it was issued and 99 one
# second later. Where the build has the settable clock, the agent's clock
# stands still for the whole test and the two lines must be equal; without it
# (distcheck's build), the second count may be one day less, never more.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup
est_ca_start
FROZEN=no
if "$SIGNETD" --version | grep -q 'fault injection: yes'; then
  date +%s >"$RIG/now"
  export SIGNET_FAKE_NOW="$RIG/now"
  agent_stop
  agent_start
  FROZEN=yes
fi

ISO='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
VALID="^  Valid:     $ISO to ($ISO \\([0-9]+ days? left\\))\$"

# valid_until: the "NOT_AFTER (N days left)" part of the Valid line in $RIG/out.
valid_until() { sed -En "s/$VALID/\\1/p" "$RIG/out"; }
# same_until WHAT PRINTED STATUS: checks that status wrote the end of validity
# as the command printed it (the days left one less at most without a frozen
# clock: status asks a second or more later).
same_until() {
  if [ "$FROZEN" = yes ]; then
    check_eq "$1" "$3" "$2"
    return
  fi
  printed_days=${2#*(}
  printed_days=${printed_days%% *}
  one_less="${2%%(*}($((printed_days - 1)) day$([ "$((printed_days - 1))" = 1 ] || echo s) left)"
  if [ "$3" = "$2" ] || [ "$3" = "$one_less" ]; then
    ok "$1"
  else
    check_eq "$1" "$3" "$2"
  fi
}
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
same_until "activate: the end of validity as status prints it" "$activated" "$(status_until "Ewa Format")"

# --- renew ------------------------------------------------------------------------
renew
check_rc "renew succeeds" 0
cp "$RIG/out" "$RIG/renew.out"
check "renew: one Valid line, UTC with the days left (was local time without them)" \
  test "$(grep -Ec "$VALID" "$RIG/out")" = 1
check "renew: no 'local time' left in its output" sh -c "! grep -q 'local time' '$RIG/out'"
renewed=$(valid_until)
same_until "renew: the end of validity as status prints it" "$renewed" "$(status_until "Ewa Format")"
# fields: the names of the certificate's lines ("Subject Issuer Serial Valid").
fields() { sed -En 's/^  (Subject|Issuer|Serial|Valid): .*/\1/p' "$1" | tr '\n' ' '; }
check_eq "activate and renew: the same lines for the certificate, in the same order" \
  "$(fields "$RIG/activate.out")" "$(fields "$RIG/renew.out")"
check_eq "… and they are all there" "Subject Issuer Serial Valid " "$(fields "$RIG/renew.out")"

est_ca_stop
tap_done
