# cli/: the command line `signet`. A D-Bus client of the agent only (the
# generated io.signet.Agent1 proxy); never PKCS#11, never enroll/.
# May call: libsignet/ (the generated proxy and the client logic), common/, GLib/GIO, json-glib.
bin_PROGRAMS += cli/signet
cli_signet_SOURCES = \
	cli/signet.c \
	cli/signet-cli-batch.c cli/signet-cli-batch.h \
	cli/signet-cli-errors.c cli/signet-cli-errors.h \
	cli/signet-cli-monitor.c cli/signet-cli-monitor.h \
	cli/signet-cli-output.c cli/signet-cli-output.h \
	cli/signet-cli-secret.c cli/signet-cli-secret.h
cli_signet_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-cli\"
cli_signet_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSON_GLIB_CFLAGS)
cli_signet_LDADD = libsignet/libsignet-client.la common/libsignet-common.la $(GLIB_LIBS) \
	$(JSON_GLIB_LIBS)
# The generated header first, also when cli/signet is made on its own.
$(cli_signet_OBJECTS): $(libsignet_dbus_generated)
signet_format_sources += $(cli_signet_SOURCES)
