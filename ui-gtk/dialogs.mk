# ui-gtk/dialogs.mk: the dialogs signet-gtk opens on a token
# (ui-gtk/signet-gtk-dialogs.h): the final-try confirmation, Change PIN,
# Unblock with PUK, Make a request, Import and Export. Included by
# ui-gtk/local.mk, which adds $(ui_gtk_dialog_sources) to signet-gtk.
# docs/internals/window-dialogs.md lists every control's accessible name.
# May call: libsignet/, common/, GTK, libadwaita.

ui_gtk_dialog_ui_files =

ui_gtk_dialog_sources = \
	ui-gtk/signet-gtk-dialogs.c ui-gtk/signet-gtk-dialogs.h

signet_format_sources += $(ui_gtk_dialog_sources) tests/ui/test-dialogs-units.c
EXTRA_DIST += $(ui_gtk_dialog_ui_files) tests/ui/test-dialogs-units.sh

if WITH_GTK
# In-process GTests of the dialogs under Xvfb (the .sh runs the program).
check_PROGRAMS += tests/ui/test-dialogs-units
tests_ui_test_dialogs_units_SOURCES = tests/ui/test-dialogs-units.c $(ui_gtk_dialog_sources)
tests_ui_test_dialogs_units_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-gtk\"
tests_ui_test_dialogs_units_CFLAGS = $(AM_CFLAGS) $(GTK_CFLAGS)
tests_ui_test_dialogs_units_LDADD = libsignet/libsignet-client.la common/libsignet-common.la \
	$(GTK_LIBS)
$(tests_ui_test_dialogs_units_OBJECTS): $(libsignet_dbus_generated)
TESTS += tests/ui/test-dialogs-units.sh
endif
