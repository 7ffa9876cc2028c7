#!/bin/sh
# test-window-units.sh: runs tests/ui/test-window-units (GTest, TAP) on a
# private X server (Xvfb) and session bus, with GTK's cairo renderer.
set -eu
prog="${top_builddir:-.}/tests/ui/test-window-units"
if [ ! -x "$prog" ]; then
	echo "1..0 # SKIP $prog not built (configured with --disable-gtk?)"
	exit 0
fi
for tool in xvfb-run xauth dbus-run-session; do
	command -v "$tool" >/dev/null 2>&1 || { echo "Bail out! $tool is missing (script/deps installs it)"; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_RUNTIME_DIR="$tmp" XDG_CONFIG_HOME="$tmp/config" XDG_CACHE_HOME="$tmp/cache"
export GDK_BACKEND=x11 GSK_RENDERER=cairo GTK_A11Y=test
# LANGUAGE=C: the accessible names checked are the English ones.
export LANGUAGE=C
exec xvfb-run -a -s "-screen 0 1024x768x24" dbus-run-session -- "$prog" -k --tap
