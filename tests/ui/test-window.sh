#!/bin/sh
# signet-gtk end to end on SoftHSM2 behind the PIN-counting shim, with the
# test CA: one window session that does what a holder does, in sequence,
# driven through the accessibility tree (tests/ui/ui-lib.sh):
#  - the SoftHSM2 token (no reader: no hotplug signal) is in the list at start;
#  - its page shows label, model, serial and the PIN state in words;
#  - activation with a wrong PIN shows the tries left, in place, and sends
#    nothing to the CA; with a second wrong PIN the PIN is at its last try;
#  - the next start asks to confirm the final try, and "Cancel" sends nothing;
#  - activation with the right PIN (after the confirmation, Continue)
#    completes through the test CA, and the certificate shows with its days
#    left (a 40-day certificate);
#  - the token page's expiry banner offers "Renew now", the renewal completes
#    and the renewed certificate replaces the old one on the token page;
#  - Export saves it with its chain through the Save dialog; taken off the
#    token, it is imported again from that file (the Open dialog driven
#    from the keyboard) and shows on the token page;
#  - the dialogs of the real program (their GResource linked in): Change PIN
#    with a wrong current PIN says so in place and stays open, with the right
#    one the PIN changes; once the PIN is locked, Unblock with PUK sets a new
#    PIN, which then works.
# Every PIN try the shim saw is checked against the ones the test sent.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
. "$top_srcdir/tests/ui/ui-lib.sh"
ui_require
rig_setup
est_ca_start
ui_setup rig_teardown
ui_launch

# --- the token at start ------------------------------------------------------------
ui_check "the SoftHSM2 token is in the list at start" --role "list item" find "$TOKEN_LABEL"
ui_check "… with its model and serial" wait-any "^SoftHSM v2 · serial $SERIAL\$"
ui_check "choosing it opens its page" --role "list item" select "$TOKEN_LABEL"
ui_check "… with the serial number" wait-any "^$SERIAL\$"
ui_check "… and the PIN state in words" wait-any "^the token does not say"
ui_check "Activate is offered" wait-state Activate sensitive

# --- activation: the form ----------------------------------------------------------
est_code --validity-days 40
ui_check "Activate opens the activation page" click Activate
ui_check "… where the test CA is offered" --near "Start activation" wait-any "^Signet Test CA\$"
ui_check "… and can be chosen (the profiles are read)" \
  --near "Start activation" --role "combo box" wait-state "Certificate authority" sensitive
fill_form() { # PIN
  ui --near "Start activation" --role text type "Reference number" "$REF" &&
    ui_pin_near "Activation code" "$CODE" && ui_pin_near PIN "$1"
}
ui_pin_near() { printf '%s\n' "$2" | ui --near "Start activation" --role "password text" type "$1" -; }

# A wrong PIN: the tries left, in place; nothing reaches the CA.
check "reference, code and a wrong PIN typed" fill_form 654321
expect_try pin wrong
ui_check "Start activation" click "Start activation"
ui_check "a wrong PIN is said in place" wait-any "^Wrong PIN"
ui_check "… with the tries left, in words (SoftHSM2 counts no tries: its flags)" \
  wait-any "The PIN now: a wrong PIN was entered [(]fewer tries left than the maximum[)]"
check_tries "one wrong PIN try, sent once"
check "the code never reached the CA" sh -c "! grep -qF '$REF' '$RIG/estca.log'"
ui_check "Try Again brings the form back" --near Steps --role "push button" click "Try Again"
ui_check "… with the PIN state read again" \
  --near "Start activation" wait-any "^The PIN: a wrong PIN was entered"

check "a second wrong PIN typed" fill_form 654321
expect_try pin wrong
ui_check "Start activation again" click "Start activation"
ui_check "the PIN is now at its last try, and the window says so" wait-any "The PIN now: last try"
check_tries "the second wrong PIN, sent once"
ui_check "Try Again" --near Steps --role "push button" click "Try Again"

# The final try: confirmation first; Cancel sends nothing.
check "the form filled for the last try" fill_form "$PIN"
ui_check "Start activation at the last try" click "Start activation"
ui_check "the final-try confirmation appears" --in "Last PIN Try" --role "push button" find Continue
ui_check "… it names the token" --in "Last PIN Try" wait-any "$TOKEN_LABEL.*one try left"
ui_check "… Cancel" --in "Last PIN Try" --role "push button" click Cancel
ui_check "… the confirmation goes" windows
UI_TIMEOUT=60 ui gone "Last PIN Try"
check "… and is gone" test "$ui_rc" -eq 0
ui_check "… and the window says nothing was sent" wait-any "Nothing was sent to the token"
check_tries "Cancel at the final-try confirmation sends no PIN"

# Continue with the right PIN: the activation completes.
check "the form filled again" fill_form "$PIN"
ui_check "Start activation once more" click "Start activation"
ui_check "the final-try confirmation again" --in "Last PIN Try" --role "push button" find Continue
ui_check "… Continue" --in "Last PIN Try" --role "push button" click Continue
UI_TIMEOUT=120 ui_check "the activation completes: the new certificate" wait-any "^Your New Certificate\$"
ui_check "… with its holder" wait-any "Test Holder $REF"
ui_check "… and its days left" wait-any "[(](40|39) days left[)]"
check_tries "the right PIN at the last try: no try spent"

# --- renewal from the expiry banner (the certificate has 40 days) ------------------------
holder_serial() {
  signet status "$TOKEN_LABEL" --json >"$RIG/status.json" 2>"$RIG/err" &&
    jq_ "$RIG/status.json" '[c["serial"] for c in d["certificates"] if "Test Holder" in c["subject"]][0]'
}
old_serial=$(holder_serial)
ui_check "Back to the token page" --role "push button" click Back
ui_check "the banner says the certificate expires soon" \
  wait-any "^The certificate of Test Holder $REF expires in (40|39) days"
ui_check "… with Renew now" wait-state "Renew now" sensitive
ui_check "Renew now opens the renewal page" click "Renew now"
ui_check "… for that certificate" --near "Start renewal" wait-any "Test Holder $REF"
check "the PIN typed" sh -c "printf '%s\n' '$PIN' | env -u G_DEBUG '$UI_PYTHON' '$UI_DRIVER' --near 'Start renewal' --role 'password text' type PIN - 2>'$RIG/ui.err'"
ui_check "Start renewal" click "Start renewal"
UI_TIMEOUT=120 ui_check "the renewal completes" wait-any "^The certificate is renewed\$"
ui_check "… every step done, the old certificate removed last" wait-any "^Done · Removing the old certificate"
new_serial=$(holder_serial)
check "the token holds a new certificate ($old_serial -> $new_serial)" \
  test -n "$new_serial" -a "$new_serial" != "$old_serial"
ui_check "Back to the token page" --role "push button" click Back
ui_check "the token page shows the renewed certificate" --role "push button" find "Renew certificate $new_serial"
UI_TIMEOUT=5 ui --role "push button" find "Renew certificate $old_serial"
check "… and not the old one" test "$ui_rc" -eq 1
check_tries "the renewal: the right PIN, no try spent"

# dialog_secret DIALOG FIELD SECRET: types a secret into a field of a dialog.
dialog_secret() { printf '%s\n' "$3" | ui --in "$1" type "$2" -; }

# --- export and import: the renewed certificate round-trips through files ---------------
# GTK 4.8's file chooser shows its files in a GtkTreeView that AT-SPI does
# not see: the Save dialog's name field is set like any field; in the Open
# dialog the path is typed on the keyboard, as a keyboard user does ("/"
# opens the location field), then Return.
ui_check "Export… opens the export dialog for the renewed certificate" \
  --role "push button" click "Export certificate $new_serial"
ui_check "… offering PEM with the chain first" --in "Export Certificate" wait-any "^PEM with the chain"
ui_check "Export… asks where to save" --in "Export Certificate" --role "push button" click "_Export…"
ui_check "… the Save dialog suggests a name" --in "Save the Certificate" --role text wait-text "Name:" "[.]pem\$"
ui_check "… a path typed as its name" --in "Save the Certificate" --role text type "Name:" "$RIG/exported.pem"
ui_check "… Save" --in "Save the Certificate" --role "push button" click "_Save"
ui_check "the dialog says where it saved" --in "Export Certificate" wait-any "^Saved to $RIG/exported[.]pem[.]\$"
ui_check "Close" --in "Export Certificate" --role "push button" click Close
check_eq "the file holds the certificate and its chain (issuing CA, root)" 3 \
  "$(grep -c 'BEGIN CERTIFICATE' "$RIG/exported.pem" 2>/dev/null)"
check "… the renewed certificate first" sh -c \
  "openssl x509 -in '$RIG/exported.pem' -noout -serial | grep -qix 'serial=0*$new_serial'"
check "… which verifies to the test CA's root" sh -c \
  "openssl verify -CAfile '$ESTCA_DIR/root.pem' -untrusted '$RIG/exported.pem' '$RIG/exported.pem' >/dev/null"

# The certificate taken off the token (its key stays), then imported again.
cert_id=$(jq_ "$RIG/status.json" "[c['id'] for c in d['certificates'] if c['serial'] == '$new_serial'][0]")
"$PKCS11_TOOL" --module "$SOFTHSM2_MODULE" --token-label "$TOKEN_LABEL" --login --pin "$PIN" \
  --delete-object --type cert --id "$cert_id" >/dev/null 2>&1
run signet status "$TOKEN_LABEL" --json
jcheck "the certificate deleted from the token (pkcs11-tool), its key kept" "$RIG/out" \
  "not any(c['serial'] == '$new_serial' for c in d['certificates'])"
# import_choose BUTTON CHOOSER FILE: in the import dialog, BUTTON opens the
# Open dialog CHOOSER, FILE's path is typed on the keyboard, then Return,
# and the dialog names FILE.
import_choose() {
  ui_check "$1 opens the file chooser" --in "Import Certificate" --role "push button" click "$1"
  check "… the Open dialog appears" ui_window "$2"
  ui_check "… the path typed on the keyboard" keys "$2" "$3"
  ui_check "… and Return" press Return
  ui_check "… the dialog names the chosen file" --in "Import Certificate" wait-any "^$3\$"
}
ui_check "Import a Certificate… opens its dialog" --role "push button" click "Import a certificate"
ui_check "… with no file chosen yet" --in "Import Certificate" wait-any "^No file chosen\$"
import_choose "C_hoose File…" "Choose the Certificate File" "$RIG/exported.pem"
check "the PIN typed" dialog_secret "Import Certificate" PIN "$PIN"
ui_check "Import" --in "Import Certificate" --role "push button" click "_Import"
ui_check "the certificate is on the token again, the dialog says" \
  --in "Import Certificate" wait-any "^The certificate of .*Test Holder $REF.* is on the token"
ui_check "… and that its chain could not be verified (the test root is no system root), and why" \
  --in "Import Certificate" wait-any "The chain was NOT verified: .*Signet Test Root"
ui_check "Close" --in "Import Certificate" --role "push button" click Close

# Again, with the CA's root chosen: the chain verifies to it.
ui_check "Import a Certificate… again" --role "push button" click "Import a certificate"
import_choose "C_hoose File…" "Choose the Certificate File" "$RIG/exported.pem"
import_choose "Choose _Root…" "Choose the CA's Root Certificate" "$ESTCA_DIR/root.pem"
check "the PIN typed" dialog_secret "Import Certificate" PIN "$PIN"
ui_check "Import" --in "Import Certificate" --role "push button" click "_Import"
ui_check "the chain verifies to the test CA's root, from the chosen file" \
  --in "Import Certificate" wait-any "The chain verifies to .*Signet Test Root.*, a root from the root file you chose[.]"
ui_check "Close" --in "Import Certificate" --role "push button" click Close
run signet status "$TOKEN_LABEL" --json
jcheck "status: the imported certificate with its key" "$RIG/out" \
  "any(c['serial'] == '$new_serial' and c['has_key'] for c in d['certificates'])"
ui_check "… and the token page shows it" --role "push button" find "Renew certificate $new_serial"
check_tries "export and import: the right PIN, no try spent"

# --- the dialogs: Change PIN, then Unblock with PUK -------------------------------------
NEW_PIN=246810
ui_check "Change PIN… opens its dialog" --role "push button" click "Change PIN"
ui_check "… the dialog is there (its GResource is in the program)" \
  --in "Change PIN" --role "push button" find "Change PIN"
# new_pin_twice DIALOG: the new PIN in both of its fields.
new_pin_twice() { dialog_secret "$1" "New PIN" "$NEW_PIN" && dialog_secret "$1" "New PIN again" "$NEW_PIN"; }
check "a wrong current PIN typed" dialog_secret "Change PIN" "Current PIN" 999999
check "… and the new PIN twice" new_pin_twice "Change PIN"
expect_try pin wrong
ui_check "Change PIN" --in "Change PIN" --role "push button" click "Change PIN"
ui_check "a wrong PIN is said in the dialog" --in "Change PIN" wait-any "^Wrong PIN"
check_tries "the wrong current PIN: one try"
# The fields were emptied when the PIN went: all three again.
check "the right current PIN typed" dialog_secret "Change PIN" "Current PIN" "$PIN"
check "… and the new PIN twice again" new_pin_twice "Change PIN"
ui_check "Change PIN again" --in "Change PIN" --role "push button" click "Change PIN"
ui_check "the PIN is changed" --in "Change PIN" wait-any "(changed|Changed)"
check_tries "the right PIN: no try spent"
ui_check "Close" --in "Change PIN" --role "push button" click Close
run signet pin change "$TOKEN_LABEL" --pin-fd 3 --new-pin-fd 4 3<<EOF 4<<EOF2
$NEW_PIN
$PIN
EOF
$PIN
EOF2
check_rc "the new PIN set in the window works (signet pin change back)" 0
check_tries "… no try spent"

# Lock the PIN (three wrong tries from the CLI), then unblock it in the window.
# (the shim's SoftHSM2 model logs the third as wrong too; the PIN is locked)
expect_try pin wrong 3
for i in 1 2 3; do
  run signet pin change "$TOKEN_LABEL" --confirm-final-try --pin-fd 3 --new-pin-fd 4 3<<EOF 4<<EOF2
99999$i
$PIN
EOF
$PIN
EOF2
done
check_rc "the PIN is locked" 4
check_tries "three wrong PINs, one try each"
ui_check "Unblock with PUK… opens its dialog" --role "push button" click "Unblock with PUK"
ui_check "… the dialog is there" --in "Unblock PIN with PUK" --role "push button" find Unblock
check "the PUK typed" dialog_secret "Unblock PIN with PUK" PUK "$SO_PIN"
check "… and the new PIN twice" new_pin_twice "Unblock PIN with PUK"
expect_try puk ok
ui_check "Unblock" --in "Unblock PIN with PUK" --role "push button" click Unblock
ui_check "the PIN is unblocked" --in "Unblock PIN with PUK" wait-any "(unblocked|Unblocked)"
check_tries "the unblock: one PUK try, the right one"
ui_check "Close" --in "Unblock PIN with PUK" --role "push button" click Close
run signet status "$TOKEN_LABEL" --json
jcheck "status: the PIN is no longer locked" "$RIG/out" 'not d["pin"]["locked"]'
tap_done
