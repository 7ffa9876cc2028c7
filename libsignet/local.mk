# libsignet/: the client side of signetd, shared by every face (cli/ and
# ui-gtk/; fwupd's libfwupd/ beside src/ is the model). It holds the D-Bus
# interface (io.signet.Agent1.xml), the C bindings gdbus-codegen makes from
# it (the agent uses their skeleton, the clients their proxy), and the logic
# every client needs: which secret an operation asks for, the final-try rule,
# the words for a secret's state, a validity and an error.
# May call: common/, GLib/GIO. Never pkcs11/, enroll/ or agent/.

libsignet_dbus_generated = libsignet/signet-dbus-generated.c libsignet/signet-dbus-generated.h
libsignet/signet-dbus-generated.c: libsignet/io.signet.Agent1.xml
	$(AM_V_GEN)$(MKDIR_P) libsignet && \
	$(GDBUS_CODEGEN) --interface-prefix io.signet. --c-namespace Signet \
	  --c-generate-autocleanup all --glib-min-required 2.74 \
	  --generate-c-code libsignet/signet-dbus-generated $(srcdir)/libsignet/io.signet.Agent1.xml
libsignet/signet-dbus-generated.h: libsignet/signet-dbus-generated.c
	@test -f $@ || { rm -f libsignet/signet-dbus-generated.c; $(MAKE) $(AM_MAKEFLAGS) libsignet/signet-dbus-generated.c; }
BUILT_SOURCES += $(libsignet_dbus_generated)
CLEANFILES += $(libsignet_dbus_generated)

noinst_LTLIBRARIES += libsignet/libsignet-dbus.la
nodist_libsignet_libsignet_dbus_la_SOURCES = $(libsignet_dbus_generated)
libsignet_libsignet_dbus_la_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-dbus\"
# Generated code: keep the warnings that matter, not the style ones.
libsignet_libsignet_dbus_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) -Wno-missing-prototypes -Wno-shadow
libsignet_libsignet_dbus_la_LIBADD = $(GLIB_LIBS)

noinst_LTLIBRARIES += libsignet/libsignet-client.la
libsignet_libsignet_client_la_SOURCES = libsignet/signet-client.c libsignet/signet-client.h \
	libsignet/signet-batch-csv.c libsignet/signet-batch-csv.h
libsignet_libsignet_client_la_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-client\"
libsignet_libsignet_client_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
libsignet_libsignet_client_la_LIBADD = libsignet/libsignet-dbus.la $(GLIB_LIBS)
$(libsignet_libsignet_client_la_OBJECTS): $(libsignet_dbus_generated)
signet_format_sources += $(libsignet_libsignet_client_la_SOURCES)

# The interface description, installed for introspection tools.
dbusinterfacedir = $(datadir)/dbus-1/interfaces
dist_dbusinterface_DATA = libsignet/io.signet.Agent1.xml
