#!/bin/sh
# The UI rig tested on itself: tests/ui/rig-window.py (a GTK 4 + libadwaita
# window with a text field, a password field, two buttons and a label) under
# the rig's Xvfb and accessibility bus, driven by tests/ui/atspi-driver.py:
# find, type, type a secret through stdin, click, read back, wait for a
# widget to go, a lookup that must fail (and say why), and the tree dump.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
. "$top_srcdir/tests/ui/ui-lib.sh"

# No agent: a rig directory and a private session bus are all it needs.
ui_require
RIG=$(mktemp -d "${TMPDIR:-/tmp}/signet-ui-rig.XXXXXX") || exit 1
rig_teardown_min() {
  [ -n "${BUS_PID:-}" ] && kill -TERM "$BUS_PID" 2>/dev/null
  if [ -n "${SIGNET_KEEP_RIG:-}" ]; then echo "# rig kept in $RIG"; else rm -rf "$RIG"; fi
}
trap 'exit 1' INT TERM
mkdir -p "$RIG/runtime" && chmod 0700 "$RIG/runtime"
export XDG_RUNTIME_DIR="$RIG/runtime" XDG_CACHE_HOME="$RIG/cache" XDG_CONFIG_HOME="$RIG/config"
bus_start
ui_setup rig_teardown_min
UI_PROGRAM="$top_srcdir/tests/ui/rig-window.py" UI_APP=rig-window.py
export UI_APP
ui_launch

ui_check "the window is on the accessibility desktop" windows
check "… with its title" grep -q "Signet rig self-test" "$RIG/ui.out"
ui_check "the text field is found by role and name" --role text find Name
ui_check "the button is found by name" --role "push button" find Greet
ui_check "… and under the window's name (--in)" --in "Signet rig self-test" find Greet
UI_TIMEOUT=1 ui --in Greeting find Greet
check_eq "… but not under the label (--in)" 1 "$ui_rc"
check_eq "the label reads its first text" "nothing yet" "$(ui_text Greeting)"
ui_check "typing into the text field" type Name "Ana Maria"
check_eq "… the field holds it" "Ana Maria" "$(ui_text Name)"
# libatspi can lose the application for a driver process for good (under
# load, after a file chooser closed): the driver looks again from a new
# process, a line read from stdin passed on.
check "a secret is typed through stdin, by a driver that lost the application once" \
  env -u G_DEBUG UI_DRIVER_LOSE_ONCE=1 sh -c "printf '%s\\n' s3cret | '$UI_PYTHON' '$UI_DRIVER' type Secret - 2>'$RIG/ui.err'"
check "… it said so and went on in a new process" grep -q "looking again from a new one" "$RIG/ui.err"
ui_check "clicking the button" click Greet
# GTK 4.8: a label's accessible name becomes its text when the text is set.
ui_check "the label changes, and the driver waits for it" \
  --in "Signet rig self-test" wait-any "^Hello, Ana Maria [(]6 characters of secret[)]$"
ui_check "wait-text waits for a field's text" wait-text Name "^Ana"
ui_check "the button's states" state Greet
check "… it is sensitive" grep -qw sensitive "$RIG/ui.out"
check_eq "two widgets named Greet: the button and its label" 2 "$(ui count Greet; cat "$RIG/ui.out")"
check_eq "one push button named Greet" 1 "$(ui --role "push button" count Greet; cat "$RIG/ui.out")"
ui_check "clicking Hide" click Hide
ui_check "the hidden button is gone for the driver" gone Greet
check_eq "the label says so" hidden "$(ui_text hidden)"
UI_TIMEOUT=1 ui find "No such widget"
check_eq "a lookup that cannot succeed fails after its timeout" 1 "$ui_rc"
check "… and says what it looked for" grep -q "no widget named 'No such widget'" "$RIG/ui.err"
check "… with the application's tree" grep -q "push button 'Hide'" "$RIG/ui.err"
ui_check "the tree dump" dump
check "… shows the password field without its text" grep -q "password text 'Secret'" "$RIG/ui.out"
ui_quit
ui_check "the window leaves the accessibility desktop after ui_quit" app-gone
tap_done
