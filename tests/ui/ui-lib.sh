# tests/ui/ui-lib.sh: the rig for the window's end-to-end tests (sourced,
# after tests/agent/agent-lib.sh or tests/hotplug/hotplug-lib.sh, whose rig
# gives $RIG, the private session bus, the token and signetd).
#
# On top of that rig: an X server of its own (Xvfb, a free display), the
# accessibility bus for the rig's session bus (at-spi-bus-launcher, which
# starts its own dbus-daemon and the AT-SPI registry), and signet-gtk from
# the build tree, driven through the accessibility tree by
# tests/ui/atspi-driver.py (Debian's python3-pyatspi, /usr/bin/python3).
# Everything started here is stopped on exit, before the rig's own
# teardown; on a failure the window's log and its last accessibility tree
# are printed as TAP comments.
#
#   ui_require            skip (never in CI) when Xvfb, pyatspi or GTK are missing
#   ui_setup TEARDOWN     start X and the accessibility bus; TEARDOWN is the
#                         rig's teardown function (rig_teardown, hp_teardown),
#                         run after ours at exit
#   ui_launch [ARGS…]     start signet-gtk (UI_PROGRAM) with ARGS, wait until it
#                         is on the accessibility desktop with a window
#   ui_quit               stop the window (SIGTERM) and wait for it
#   ui CMD ARGS…          the driver (atspi-driver.py) on the window: see its
#                         header for the commands; output in $RIG/ui.out,
#                         errors in $RIG/ui.err, status in $ui_rc
#   ui_check DESC CMD…    one TAP line from `ui CMD…`, with the driver's error
#                         (and the window's tree) on failure
#   ui_text NAME          print a widget's text (empty on failure)
#   ui_window NAME        wait for a window named NAME (a file chooser), each
#                         look by a new driver process
#   ui_pin NAME SECRET    type SECRET into the (password) field NAME through
#                         stdin, never on a command line
#
# Environment of the window: GDK_BACKEND=x11 GSK_RENDERER=cairo (what
# TESTING.md measured), GSETTINGS_BACKEND=memory (no dconf of the user's),
# NO_AT_BRIDGE and GTK_A11Y unset (else the window never shows on the
# accessibility bus), LC_ALL=C.UTF-8 and LANGUAGE unset unless the test
# sets UI_LANG (a language, e.g. ro: then LANGUAGE=ro and
# SIGNET_LOCALEDIR=$top_builddir/po/locale, which translate without
# generated locales: docs/internals/i18n.md). UI_TIMEOUT (60 s) bounds every
# wait of the driver: generous, for a loaded 2-core CI machine.

: "${UI_PROGRAM:=$top_builddir/ui-gtk/signet-gtk}"
: "${UI_APP:=signet-gtk}"
: "${UI_TIMEOUT:=60}"
UI_PYTHON=/usr/bin/python3
UI_DRIVER="$top_srcdir/tests/ui/atspi-driver.py"
UI_BUS_LAUNCHER=/usr/libexec/at-spi-bus-launcher
export UI_APP UI_TIMEOUT

ui_skip() {
  if [ "${CI:-}" = true ]; then
    echo "Bail out! $* (CI=true: nothing may skip)"
    exit 1
  fi
  skip_all "$*"
}

ui_require() {
  command -v Xvfb >/dev/null || ui_skip "Xvfb not found (apt-get install xvfb)"
  [ -x "$UI_BUS_LAUNCHER" ] || ui_skip "at-spi-bus-launcher not found (apt-get install at-spi2-core)"
  "$UI_PYTHON" -c 'import pyatspi' 2>/dev/null ||
    ui_skip "pyatspi not found for /usr/bin/python3 (apt-get install python3-pyatspi)"
  "$UI_PYTHON" -c 'import gi; gi.require_version("Gtk", "4.0"); gi.require_version("Adw", "1")' 2>/dev/null ||
    ui_skip "GTK 4 or libadwaita introspection not found (apt-get install gir1.2-gtk-4.0 gir1.2-adw-1)"
}

# ui_wait_file SECONDS FILE: until FILE is not empty (polls every 50 ms).
ui_wait_file() {
  local i=0
  while [ ! -s "$2" ]; do
    i=$((i + 1))
    [ "$i" -ge $(($1 * 20)) ] && return 1
    sleep 0.05
  done
}

ui_x_start() {
  # -displayfd: the server picks a free display and writes its number once it
  # accepts connections. No -auth: only local clients, and the rig's.
  Xvfb -displayfd 5 -screen 0 1024x768x24 -nolisten tcp -noreset \
    5>"$RIG/x.display" >>"$RIG/xvfb.log" 2>&1 &
  UI_X_PID=$!
  ui_wait_file 30 "$RIG/x.display" || { echo "Bail out! Xvfb did not start"; cat "$RIG/xvfb.log"; exit 1; }
  DISPLAY=:$(head -n 1 "$RIG/x.display")
  export DISPLAY
}

ui_a11y_start() {
  # The launcher owns org.a11y.Bus on the rig's session bus and answers
  # GetAddress with the accessibility bus it starts (a dbus-daemon of its
  # own, where the AT-SPI registry is activated); it ends both when it goes.
  "$UI_BUS_LAUNCHER" --launch-immediately >>"$RIG/a11y.log" 2>&1 &
  UI_A11Y_PID=$!
  gdbus wait --session --timeout 30 org.a11y.Bus ||
    { echo "Bail out! at-spi-bus-launcher did not take org.a11y.Bus"; cat "$RIG/a11y.log"; exit 1; }
}

ui_setup() {
  UI_RIG_TEARDOWN=$1
  ui_require
  trap ui_teardown EXIT
  ui_x_start
  ui_a11y_start
  unset NO_AT_BRIDGE GTK_A11Y
  export GDK_BACKEND=x11 GSK_RENDERER=cairo GSETTINGS_BACKEND=memory
}

ui_teardown() {
  local status=$?
  if [ -n "${UI_PID:-}" ]; then
    if [ "$status" -ne 0 ] || [ "${tap_fail:-0}" -ne 0 ]; then
      echo "# the window's accessibility tree at the end:"
      UI_TIMEOUT=5 env -u G_DEBUG "$UI_PYTHON" "$UI_DRIVER" dump 2>&1 | head -n 200 | awk '{ print "#   " $0 }'
    fi
    kill -TERM "$UI_PID" 2>/dev/null
    wait "$UI_PID" 2>/dev/null
    UI_PID=
  fi
  if [ "$status" -ne 0 ] || [ "${tap_fail:-0}" -ne 0 ]; then
    for f in ui.log a11y.log xvfb.log; do
      [ -s "$RIG/$f" ] || continue
      echo "# $f:"
      tail -n 40 "$RIG/$f" | awk '{ print "#   " $0 }'
    done
  fi
  [ -n "${UI_A11Y_PID:-}" ] && kill -TERM "$UI_A11Y_PID" 2>/dev/null && wait "$UI_A11Y_PID" 2>/dev/null
  [ -n "${UI_X_PID:-}" ] && kill -TERM "$UI_X_PID" 2>/dev/null && wait "$UI_X_PID" 2>/dev/null
  UI_A11Y_PID='' UI_X_PID=''
  (exit "$status")
  "$UI_RIG_TEARDOWN"
}

ui_launch() {
  [ -x "$UI_PROGRAM" ] || { echo "Bail out! $UI_PROGRAM not built"; exit 1; }
  # Not through the function ui_env: `f &` forks a shell, and $! would be
  # that shell's pid, not the window's.
  if [ -n "${UI_LANG:-}" ]; then
    env LC_ALL=C.UTF-8 LANG=C.UTF-8 LANGUAGE="$UI_LANG" \
      SIGNET_LOCALEDIR="$top_builddir/po/locale" "$UI_PROGRAM" "$@" >>"$RIG/ui.log" 2>&1 &
  else
    env -u LANGUAGE LC_ALL=C.UTF-8 LANG=C.UTF-8 "$UI_PROGRAM" "$@" >>"$RIG/ui.log" 2>&1 &
  fi
  UI_PID=$!
  if ! env -u G_DEBUG "$UI_PYTHON" "$UI_DRIVER" wait-app >"$RIG/ui.out" 2>"$RIG/ui.err"; then
    echo "Bail out! $UI_APP did not show on the accessibility desktop"
    awk '{ print "# " $0 }' "$RIG/ui.err" "$RIG/ui.log" | tail -n 60
    exit 1
  fi
}

ui_quit() {
  [ -n "${UI_PID:-}" ] || return 0
  kill -TERM "$UI_PID" 2>/dev/null
  wait "$UI_PID" 2>/dev/null
  UI_PID=
}

ui_alive() { [ -n "${UI_PID:-}" ] && kill -0 "$UI_PID" 2>/dev/null; }

# The driver runs without G_DEBUG=fatal-warnings: libatspi warns (dbind) when
# an application has no AT-SPI cache object, as GTK 4 has none.
ui() {
  env -u G_DEBUG "$UI_PYTHON" "$UI_DRIVER" "$@" >"$RIG/ui.out" 2>"$RIG/ui.err"
  ui_rc=$?
  # A driver that libatspi lost the application to went on in a new process:
  # said in the log, so that it is seen how often it happens.
  grep -h "looking again from a new one" "$RIG/ui.err" | sed "s|^|# ui $1: |" >&2
  return "$ui_rc"
}

ui_check() {
  local d=$1
  shift
  if ui "$@"; then ok "$d"; else
    not_ok "$d"
    echo "#   ui $*"
    awk '{ print "#   " $0 }' "$RIG/ui.err" | head -n 150
  fi
}

ui_text() { ui text "$@" && cat "$RIG/ui.out"; }

# ui_window NAME: until the application has a window named NAME, each look
# by a new driver process (up to UI_TIMEOUT seconds). A driver that first
# read the application's windows while a file chooser was being made
# (after another one was destroyed) keeps what it read then and never sees
# the new window's name (measured: GTK 4.8, libatspi 2.46); a fresh process
# reads it.
ui_window() {
  local end=$(($(date +%s) + UI_TIMEOUT))
  while :; do
    if ui windows && cut -f 2- "$RIG/ui.out" | grep -qxF "$1"; then return 0; fi
    if [ "$(date +%s)" -ge "$end" ]; then
      echo "ui_window: no window named '$1' after ${UI_TIMEOUT}s; there are:" >"$RIG/ui.err"
      cat "$RIG/ui.out" >>"$RIG/ui.err"
      return 1
    fi
  done
}

ui_pin() {
  printf '%s\n' "$2" | ui type "$1" - || {
    echo "# ui_pin $1: $(head -n 1 "$RIG/ui.err")"
    return 1
  }
}
