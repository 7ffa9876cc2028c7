#!/bin/sh
# The window's group activation page (ui-gtk/signet-gtk-batch-page.c), end
# to end on the agent rig's SoftHSM2 token behind the PIN-counting shim and
# the EST test CA, driven through the accessibility tree:
#  - a holders' file with a duplicate reference and a missing code is
#    refused with each problem and its line, on the form, and nothing
#    starts (no PIN try, no state file);
#  - a good file (one row, the token's serial) with the transport PIN and a
#    report file: the row's line says activated, the summary counts it, the
#    token holds the certificate with its key, the report says activated,
#    and the only PIN try is the right one;
#  - Done brings the form back, the PIN field empty.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
. "$top_srcdir/tests/ui/ui-lib.sh"
ui_require
rig_setup
est_ca_start
ui_setup rig_teardown
export SIGNET_CLI="$top_builddir/cli/signet"
ui_launch

certs() {
  "$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --list-objects \
    --type cert 2>/dev/null | grep -c '^Certificate Object'
}
type_pin() {
  printf '%s\n' "$PIN" | ui --near "Start group activation" --role "password text" \
    type "Transport PIN" -
}
start_batch() { # FILE: the file, the PIN and a report named, then Start
  ui_check "the holders' file $(basename "$1") typed" \
    --near "Start group activation" --role text type "Holders' file" "$1"
  check "… the transport PIN typed" type_pin
  ui_check "… a report file named" \
    --near "Start group activation" --role text type "Report file" "$RIG/report.json"
  ui_check "… Start" click "Start group activation"
}

ui_check "the sidebar offers group activation" click "Group activation"
ui_check "… whose page offers the test CA" --near "Start group activation" wait-any "^Signet Test CA\$"

# --- a file with problems: refused before anything starts -------------------------------
cat >"$RIG/bad.csv" <<'EOF'
reference,code,name,email,serial
R1,C1,Jan Kowalski,jan@example.org,
R1,C2,Ewa Nowak,ewa@example.org,
R3,,Ola Lis,ola@example.org,
EOF
start_batch "$RIG/bad.csv"
ui_check "… refused on the form: the duplicate with both lines" \
  wait-any "line 3: reference 'R1' is also on line 2"
ui_check "… and the missing code" wait-any "line 4: the code is missing"
check "… nothing started: no state file" sh -c "! ls '$XDG_STATE_HOME/signet/'batch-*.state 2>/dev/null"
check_tries "… and no PIN sent"

# --- one holder, the token's serial: activated -------------------------------------------
est_code --subject "CN=Jan Kowalski,O=Example"
printf 'reference,code,name,email,serial\n%s,%s,Jan Kowalski,jan@example.org,%s\n' \
  "$REF" "$CODE" "$SERIAL" >"$RIG/holders.csv"
before=$(certs)
right=$(grep -c ' pin ok ' "$SIGNET_SHIM_STATE/tries" 2>/dev/null)
start_batch "$RIG/holders.csv"
ui_check "the row's line says activated" wait-any "^Line 2 · $SERIAL · activated"
ui_check "the summary counts it" wait-any "^Rows: 1. Activated: 1, skipped: 0, failed: 0"
ui_check "… and the batch is over (Done offered)" wait-state Done sensitive
check_eq "the token holds the certificate and its chain" "$((before + 3))" "$(certs)"
check "the report says activated, with the certificate's serial" "$PYTHON" -c '
import json, sys
r = json.load(open(sys.argv[1]))["rows"]
sys.exit(0 if len(r) == 1 and r[0]["status"] == "activated" and r[0]["certificate_serial"] else 1)' \
  "$RIG/report.json"
check_tries "no PIN try spent"
check_eq "… the right PIN sent once" "$((${right:-0} + 1))" "$(grep -c ' pin ok ' "$SIGNET_SHIM_STATE/tries")"
check "the PIN is in no log" sh -c "! grep -qF '$PIN' '$RIG/agent.log' '$RIG/ui.log'"

ui_check "Done brings the form back" click Done
ui_check "… with the PIN field empty" --near "Start group activation" --role "password text" \
  wait-text "Transport PIN" '^$'
tap_done
