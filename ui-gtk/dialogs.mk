# ui-gtk/dialogs.mk: the dialogs signet-gtk opens on a token
# (ui-gtk/signet-gtk-dialogs.h): the final-try confirmation, Change PIN,
# Unblock with PUK, Make a request, Import and Export. Included by
# ui-gtk/local.mk, which adds $(ui_gtk_dialog_sources) to signet-gtk.
# docs/internals/window-dialogs.md lists every control's accessible name.
# May call: libsignet/, common/, the window's signet-gtk-secret and
# signet-gtk-rules (the rule before a secret, an error in words), GTK,
# libadwaita.

ui_gtk_dialog_ui_files = \
	ui-gtk/signet-gtk-dialog.ui \
	ui-gtk/signet-gtk-change-pin-dialog.ui \
	ui-gtk/signet-gtk-unblock-dialog.ui \
	ui-gtk/signet-gtk-request-dialog.ui \
	ui-gtk/signet-gtk-import-dialog.ui \
	ui-gtk/signet-gtk-export-dialog.ui

# The dialogs' own GResource, beside the window's (its own C name).
ui_gtk_dialog_resources = ui-gtk/signet-gtk-dialogs-resources.c ui-gtk/signet-gtk-dialogs-resources.h
ui-gtk/signet-gtk-dialogs-resources.c: ui-gtk/signet-gtk-dialogs.gresource.xml $(ui_gtk_dialog_ui_files)
	$(AM_V_GEN)$(MKDIR_P) ui-gtk && \
	$(GLIB_COMPILE_RESOURCES) --target=$@ --sourcedir=$(srcdir)/ui-gtk --generate-source \
	  --c-name signet_gtk_dialogs $(srcdir)/ui-gtk/signet-gtk-dialogs.gresource.xml
ui-gtk/signet-gtk-dialogs-resources.h: ui-gtk/signet-gtk-dialogs.gresource.xml $(ui_gtk_dialog_ui_files)
	$(AM_V_GEN)$(MKDIR_P) ui-gtk && \
	$(GLIB_COMPILE_RESOURCES) --target=$@ --sourcedir=$(srcdir)/ui-gtk --generate-header \
	  --c-name signet_gtk_dialogs $(srcdir)/ui-gtk/signet-gtk-dialogs.gresource.xml

ui_gtk_dialog_c_sources = \
	ui-gtk/signet-gtk-dialogs.c ui-gtk/signet-gtk-dialogs.h \
	ui-gtk/signet-gtk-base-dialog.c ui-gtk/signet-gtk-base-dialog.h \
	ui-gtk/signet-gtk-change-pin-dialog.c \
	ui-gtk/signet-gtk-unblock-dialog.c \
	ui-gtk/signet-gtk-request-dialog.c \
	ui-gtk/signet-gtk-import-dialog.c \
	ui-gtk/signet-gtk-export-dialog.c

ui_gtk_dialog_sources = $(ui_gtk_dialog_c_sources) $(ui_gtk_dialog_resources)

signet_format_sources += $(ui_gtk_dialog_c_sources) tests/ui/test-dialogs-units.c
EXTRA_DIST += $(ui_gtk_dialog_ui_files) ui-gtk/signet-gtk-dialogs.gresource.xml \
	tests/ui/test-dialogs-units.sh
BUILT_SOURCES += $(ui_gtk_dialog_resources)
CLEANFILES += $(ui_gtk_dialog_resources)

if WITH_GTK
# In-process GTests of the dialogs under Xvfb (the .sh runs the program).
check_PROGRAMS += tests/ui/test-dialogs-units
tests_ui_test_dialogs_units_SOURCES = tests/ui/test-dialogs-units.c $(ui_gtk_dialog_c_sources) \
	ui-gtk/signet-gtk-secret.c ui-gtk/signet-gtk-rules.c
nodist_tests_ui_test_dialogs_units_SOURCES = $(ui_gtk_dialog_resources)
tests_ui_test_dialogs_units_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-gtk\"
tests_ui_test_dialogs_units_CFLAGS = $(AM_CFLAGS) $(GTK_CFLAGS)
tests_ui_test_dialogs_units_LDADD = libsignet/libsignet-client.la common/libsignet-common.la \
	$(GTK_LIBS)
$(tests_ui_test_dialogs_units_OBJECTS): $(libsignet_dbus_generated) $(ui_gtk_dialog_resources)
TESTS += tests/ui/test-dialogs-units.sh
endif
