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
#    and the renewed certificate replaces the old one on the token page.
# Every PIN try the shim saw is checked against the ones the test sent.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
. "$top_srcdir/tests/ui/ui-lib.sh"
# todo_ui WHY: a TAP TODO (agent-lib.sh's not_ok): a known fault of the
# window, still checked; once fixed the check passes as XPASS and fails the
# script until the directive is taken out.
todo_ui() { echo " # TODO $1"; }
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
UI_TIMEOUT=15 ui_check "… with the PIN state read again$(todo_ui "the activation page reads the PIN state when it opens, not after Try Again")" \
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
tap_done
