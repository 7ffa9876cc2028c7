# tests/ui/tour.sh: a tour of every page of signet-gtk, for its screenshots
# (sourced after agent-lib.sh and ui-lib.sh, with the rig, the test CA and
# the X and accessibility buses up). Used by script/screenshots and
# tests/ui/test-screenshots.sh.
#
#   ui_tour DIR   launch the window with SIGNET_GTK_SCREENSHOT=DIR (it saves
#                 each page as it is shown: docs/internals/window.md), in the
#                 language UI_LANG (empty: English), and show every page:
#                 none, token, activate, activate-result, renew,
#                 renew-result, history, no-agent (and activate-progress
#                 when the window catches it). Returns non-zero, with
#                 the reason on stdout as TAP comments, at the first step
#                 that fails. Stops the window at the end.
#   tr_ MSGID     MSGID in UI_LANG, from the build tree's catalog: the
#                 window's accessible names are translated with it.

tr_() {
  if [ -n "${UI_LANG:-}" ]; then
    LANGUAGE=$UI_LANG LC_ALL=C.UTF-8 TEXTDOMAINDIR="$top_builddir/po/locale" gettext signet "$1"
  else
    printf '%s' "$1"
  fi
}

# tour_shot NAME: until DIR/NAME.png is written (the window saves a page a
# few frames after it is shown; a later page replaces an earlier one still
# waiting, so each step waits for its own file).
tour_shot() {
  local i=0
  while [ ! -s "$TOUR_DIR/$1.png" ]; do
    i=$((i + 1))
    if [ "$i" -ge $((UI_TIMEOUT * 10)) ]; then
      echo "# tour: no $1.png after ${UI_TIMEOUT}s"
      return 1
    fi
    sleep 0.1
  done
}

# tour_ui CMD…: the driver, or the tour stops with its error.
tour_ui() {
  ui "$@" && return 0
  echo "# tour: ui $* failed:"
  awk '{ print "#   " $0 }' "$RIG/ui.err" | head -n 20
  return 1
}

ui_tour() {
  TOUR_DIR=$1
  mkdir -p "$TOUR_DIR" && rm -f "$TOUR_DIR"/*.png
  export SIGNET_GTK_SCREENSHOT="$TOUR_DIR"
  ui_launch
  unset SIGNET_GTK_SCREENSHOT
  tour_ui wait-any "^$(tr_ "Plug In Your Token")\$" && tour_shot none || return 1
  tour_ui --role "list item" select "$TOKEN_LABEL" && tour_ui wait-any "^$SERIAL\$" &&
    tour_ui wait-state "$(tr_ Activate)" sensitive && tour_shot token || return 1

  est_code --validity-days 40
  tour_ui click "$(tr_ Activate)" &&
    tour_ui --near "$(tr_ "Start activation")" --role "combo box" wait-state "$(tr_ "Certificate authority")" sensitive &&
    tour_ui --near "$(tr_ "Start activation")" --role text type "$(tr_ "Reference number")" "$REF" &&
    printf '%s\n' "$CODE" | tour_ui --near "$(tr_ "Start activation")" --role "password text" type "$(tr_ "Activation code")" - &&
    tour_shot activate || return 1
  printf '%s\n' "$PIN" | tour_ui --near "$(tr_ "Start activation")" --role "password text" type "$(tr_ PIN)" - &&
    tour_ui click "$(tr_ "Start activation")" &&
    UI_TIMEOUT=120 tour_ui wait-any "^$(tr_ "Your New Certificate")\$" && tour_shot activate-result || return 1

  tour_ui --role "push button" click "$(tr_ Back)" &&
    tour_ui wait-state "$(tr_ "Renew now")" sensitive && tour_ui click "$(tr_ "Renew now")" &&
    tour_ui --near "$(tr_ "Start renewal")" wait-any "Test Holder $REF" && tour_shot renew || return 1
  printf '%s\n' "$PIN" | tour_ui --near "$(tr_ "Start renewal")" --role "password text" type "$(tr_ PIN)" - &&
    tour_ui click "$(tr_ "Start renewal")" &&
    UI_TIMEOUT=120 tour_ui wait-any "^$(tr_ "The certificate is renewed")\$" && tour_shot renew-result || return 1

  tour_ui --role "push button" click "$(tr_ Back)" && tour_ui click "$(tr_ History)" && tour_shot history || return 1

  agent_stop
  tour_ui wait-any "^$(tr_ "The Signet agent cannot be reached")\$" && tour_shot no-agent || return 1
  ui_quit
  agent_start
}
