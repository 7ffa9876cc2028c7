#!/bin/sh
# signet-gtk in Romanian, every page, with its screenshots: the tour of
# tests/ui/tour.sh (the one script/screenshots makes docs/screenshots/ with)
# with LANGUAGE=ro and the build tree's catalogs, driven by the Romanian
# accessible names read from po/ro.po's translation (gettext); the pages'
# Romanian strings are checked through the accessibility tree, and every
# PNG the window saved (SIGNET_GTK_SCREENSHOT) is checked not blank
# (tests/ui/png-check.py), as are the committed ones in docs/screenshots/.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
. "$top_srcdir/tests/ui/ui-lib.sh"
. "$top_srcdir/tests/ui/tour.sh"
ui_require
command -v gettext >/dev/null || ui_skip "gettext not found (apt-get install gettext-base)"
[ -f "$top_builddir/po/locale/ro/LC_MESSAGES/signet.mo" ] || { echo "Bail out! po/locale/ro not built"; exit 1; }
rig_setup
est_ca_start
ui_setup rig_teardown
UI_LANG=ro

check "the Romanian catalog translates the window (Activate: $(tr_ Activate))" \
  test "$(tr_ Activate)" != Activate -a "$(tr_ "Plug In Your Token")" != "Plug In Your Token"
ui_tour "$RIG/shots" >"$RIG/tour.log"
tour_rc=$?
cat "$RIG/tour.log"
check "the tour of every page, in Romanian, driven by the Romanian names" test "$tour_rc" -eq 0
for page in none token activate activate-result renew renew-result history no-agent; do
  check "a screenshot of '$page'" test -s "$RIG/shots/$page.png"
done
"$UI_PYTHON" "$top_srcdir/tests/ui/png-check.py" "$RIG"/shots/*.png >"$RIG/png.out" 2>&1
check "none of them is blank (more than 16 colours, no colour over 97%)" test $? -eq 0
awk '{ print "# " $0 }' "$RIG/png.out"
set -- "$top_srcdir"/docs/screenshots/*/*.png
if [ -e "$1" ]; then
  "$UI_PYTHON" "$top_srcdir/tests/ui/png-check.py" "$@" >"$RIG/png-docs.out" 2>&1
  check "the committed screenshots in docs/screenshots/ are not blank ($# files)" test $? -eq 0
  grep BLANK "$RIG/png-docs.out" | awk '{ print "# " $0 }'
else
  not_ok "docs/screenshots/ holds the screenshots (script/screenshots makes them)"
fi

# The window in Romanian, through the accessibility tree: a session of its own.
ui_launch
ui_check "Romanian: the empty page says 'Conectați tokenul'" wait-any "^Conectați tokenul\$"
ui_check "Romanian: the token's page" --role "list item" select "$TOKEN_LABEL"
ui_check "… its PIN row is 'PIN' and the state is in Romanian ($(tr_ "the token does not say"))" \
  wait-any "^$(tr_ "the token does not say")"
ui_check "… the activation button is '$(tr_ Activate)'" --role "push button" find "$(tr_ Activate)"
ui_check "… no English action is left" --role "push button" gone "re:^(Activate|Change PIN|History)( |\$)"
ui_quit
tap_done
