#!/bin/sh
# test-data-files.sh: the window's desktop entry and AppStream metainfo, as
# `make` built them (translated when po/ is there), pass
# desktop-file-validate and `appstreamcli validate --no-net`. TAP.
set -u
. "${top_srcdir:?}/tests/lib.sh"
data="${top_builddir:?}/ui-gtk/data"
for tool in desktop-file-validate appstreamcli; do
	command -v "$tool" >/dev/null 2>&1 || { echo "Bail out! $tool is missing (script/deps installs it)"; exit 1; }
done

out=$(desktop-file-validate "$data/io.signet.Signet.desktop" 2>&1)
[ -z "$out" ] || echo "$out" | sed "s/^/# /"
check "desktop-file-validate io.signet.Signet.desktop: no error or warning" \
	sh -c "! desktop-file-validate '$data/io.signet.Signet.desktop' 2>&1 | grep -qv '^.*: hint: '"
check "the desktop entry starts signet-gtk with its icon" \
	sh -c "grep -qx 'Exec=signet-gtk' '$data/io.signet.Signet.desktop' && grep -qx 'Icon=io.signet.Signet' '$data/io.signet.Signet.desktop'"
check "appstreamcli validate --no-net io.signet.Signet.metainfo.xml" \
	appstreamcli validate --no-net "$data/io.signet.Signet.metainfo.xml"
check "the metainfo launches io.signet.Signet.desktop" \
	grep -q '<launchable type="desktop-id">io.signet.Signet.desktop</launchable>' "$data/io.signet.Signet.metainfo.xml"
tap_done
