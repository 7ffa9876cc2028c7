# common/: small shared helpers (secret buffers, errors, logging).
# May call: GLib, libc. Nothing else in the tree; signet-openssl-util.h is
# header-only definitions for the layers that already use OpenSSL.
noinst_LTLIBRARIES += common/libsignet-common.la
common_libsignet_common_la_SOURCES = \
	common/signet-secret.c common/signet-secret.h \
	common/signet-util.c common/signet-util.h \
	common/signet-openssl-util.h
common_libsignet_common_la_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-common\"
common_libsignet_common_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
common_libsignet_common_la_LIBADD = $(GLIB_LIBS)
signet_format_sources += $(common_libsignet_common_la_SOURCES)
