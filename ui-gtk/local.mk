# ui-gtk/: the window, signet-gtk (application id io.signet.Signet). A D-Bus
# client of the agent only (the generated proxy and the client logic of
# libsignet/): no PKCS#11, no CA code, no OpenSSL here. GtkBuilder templates
# in a GResource; one file per concept (docs/internals/window.md).
# May call: libsignet/, common/, GTK 4, libadwaita.
#
# The dialogs (ui-gtk/dialogs.mk) are built into the same program.
include ui-gtk/dialogs.mk

ui_gtk_ui_files = \
	ui-gtk/signet-gtk-window.ui \
	ui-gtk/signet-gtk-token-page.ui \
	ui-gtk/signet-gtk-activate-page.ui \
	ui-gtk/signet-gtk-renew-page.ui
ui_gtk_icons = \
	ui-gtk/data/icons/hicolor/scalable/apps/io.signet.Signet.svg \
	ui-gtk/data/icons/hicolor/symbolic/apps/io.signet.Signet-symbolic.svg
ui_gtk_sources = \
	ui-gtk/signet-gtk-application.c ui-gtk/signet-gtk-application.h \
	ui-gtk/signet-gtk-window.c ui-gtk/signet-gtk-window.h \
	ui-gtk/signet-gtk-token-page.c ui-gtk/signet-gtk-token-page.h \
	ui-gtk/signet-gtk-activate-page.c ui-gtk/signet-gtk-activate-page.h \
	ui-gtk/signet-gtk-renew-page.c ui-gtk/signet-gtk-renew-page.h \
	ui-gtk/signet-gtk-history-page.c ui-gtk/signet-gtk-history-page.h \
	ui-gtk/signet-gtk-batch-page.c ui-gtk/signet-gtk-batch-page.h \
	ui-gtk/signet-gtk-progress.c ui-gtk/signet-gtk-progress.h \
	ui-gtk/signet-gtk-agent.c ui-gtk/signet-gtk-agent.h \
	ui-gtk/signet-gtk-secret.c ui-gtk/signet-gtk-secret.h \
	ui-gtk/signet-gtk-rules.c ui-gtk/signet-gtk-rules.h \
	ui-gtk/signet-gtk-screenshot.c ui-gtk/signet-gtk-screenshot.h
signet_format_sources += $(ui_gtk_sources) ui-gtk/signet-gtk.c tests/ui/test-window-units.c
EXTRA_DIST += ui-gtk/signet-gtk.gresource.xml $(ui_gtk_ui_files) $(ui_gtk_icons) \
	ui-gtk/data/io.signet.Signet.desktop.in ui-gtk/data/io.signet.Signet.metainfo.xml.in \
	tests/ui/test-window-units.sh ui-gtk/data/test-data-files.sh docs/signet-gtk.1

if WITH_GTK
# The templates and the symbolic icon, compiled into the program.
ui_gtk_resources = ui-gtk/signet-gtk-resources.c
ui-gtk/signet-gtk-resources.c: $(srcdir)/ui-gtk/signet-gtk.gresource.xml $(ui_gtk_ui_files) \
		ui-gtk/data/icons/hicolor/symbolic/apps/io.signet.Signet-symbolic.svg
	$(AM_V_GEN)$(MKDIR_P) ui-gtk && \
	$(GLIB_COMPILE_RESOURCES) --target=$@ --sourcedir=$(srcdir)/ui-gtk \
	  --generate-source --c-name signet_gtk $(srcdir)/ui-gtk/signet-gtk.gresource.xml
BUILT_SOURCES += $(ui_gtk_resources)
CLEANFILES += $(ui_gtk_resources)

# Everything but main(), for the program and its in-process tests.
noinst_LTLIBRARIES += ui-gtk/libsignet-gtk.la
ui_gtk_libsignet_gtk_la_SOURCES = $(ui_gtk_sources) $(ui_gtk_dialog_sources)
nodist_ui_gtk_libsignet_gtk_la_SOURCES = $(ui_gtk_resources)
# SIGNET_BINDIR: where the group activation page finds signet (the CLI).
ui_gtk_libsignet_gtk_la_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-gtk\" \
	-DSIGNET_BINDIR=\"$(bindir)\"
ui_gtk_libsignet_gtk_la_CFLAGS = $(AM_CFLAGS) $(GTK_CFLAGS) $(GLIB_CFLAGS) $(JSON_GLIB_CFLAGS)
ui_gtk_libsignet_gtk_la_LIBADD = libsignet/libsignet-client.la common/libsignet-common.la \
	$(GTK_LIBS) $(GLIB_LIBS) $(JSON_GLIB_LIBS)
$(ui_gtk_libsignet_gtk_la_OBJECTS): $(libsignet_dbus_generated)

bin_PROGRAMS += ui-gtk/signet-gtk
ui_gtk_signet_gtk_SOURCES = ui-gtk/signet-gtk.c
ui_gtk_signet_gtk_CPPFLAGS = $(ui_gtk_libsignet_gtk_la_CPPFLAGS)
ui_gtk_signet_gtk_CFLAGS = $(ui_gtk_libsignet_gtk_la_CFLAGS)
ui_gtk_signet_gtk_LDADD = ui-gtk/libsignet-gtk.la $(GTK_LIBS) $(GLIB_LIBS) $(JSON_GLIB_LIBS)
$(ui_gtk_signet_gtk_OBJECTS): $(libsignet_dbus_generated)

# In-process GTests of the window under Xvfb (the .sh runs the program).
check_PROGRAMS += tests/ui/test-window-units
tests_ui_test_window_units_SOURCES = tests/ui/test-window-units.c
tests_ui_test_window_units_CPPFLAGS = $(ui_gtk_libsignet_gtk_la_CPPFLAGS)
tests_ui_test_window_units_CFLAGS = $(ui_gtk_libsignet_gtk_la_CFLAGS)
tests_ui_test_window_units_LDADD = ui-gtk/libsignet-gtk.la $(GTK_LIBS) $(GLIB_LIBS) \
	$(JSON_GLIB_LIBS)
$(tests_ui_test_window_units_OBJECTS): $(libsignet_dbus_generated)
TESTS += tests/ui/test-window-units.sh

# Its man page (docs/check-man.sh checks it with the others).
man_MANS = docs/signet-gtk.1

# The desktop entry, the AppStream metainfo and the icons, in the XDG places.
desktopdir = $(datadir)/applications
desktop_DATA = ui-gtk/data/io.signet.Signet.desktop
metainfodir = $(datadir)/metainfo
metainfo_DATA = ui-gtk/data/io.signet.Signet.metainfo.xml
scalableiconsdir = $(datadir)/icons/hicolor/scalable/apps
scalableicons_DATA = ui-gtk/data/icons/hicolor/scalable/apps/io.signet.Signet.svg
symboliciconsdir = $(datadir)/icons/hicolor/symbolic/apps
symbolicicons_DATA = ui-gtk/data/icons/hicolor/symbolic/apps/io.signet.Signet-symbolic.svg
CLEANFILES += $(desktop_DATA) $(metainfo_DATA)

# Translated from po/ by msgfmt once the catalogs exist; a copy until then.
ui-gtk/data/io.signet.Signet.desktop: ui-gtk/data/io.signet.Signet.desktop.in
	$(AM_V_GEN)$(MKDIR_P) ui-gtk/data && \
	if test -n "$(MSGFMT)" && test "$(MSGFMT)" != ":" && test -f $(top_srcdir)/po/LINGUAS; then \
	  $(MSGFMT) --desktop --template=$< -d $(top_srcdir)/po -o $@; \
	else cp $< $@; fi
ui-gtk/data/io.signet.Signet.metainfo.xml: ui-gtk/data/io.signet.Signet.metainfo.xml.in
	$(AM_V_GEN)$(MKDIR_P) ui-gtk/data && \
	if test -n "$(MSGFMT)" && test "$(MSGFMT)" != ":" && test -f $(top_srcdir)/po/LINGUAS; then \
	  $(MSGFMT) --xml --template=$< -d $(top_srcdir)/po -o $@; \
	else cp $< $@; fi

# desktop-file-validate and appstreamcli validate --no-net on the built files.
TESTS += ui-gtk/data/test-data-files.sh
endif
