# enroll/: certificates, certificate files, subjects, certificate requests
# (and, later, the CA connectors). May call: common/, OpenSSL, GLib, libcurl.
# Never PKCS#11, never D-Bus.
noinst_LTLIBRARIES += enroll/libsignet-enroll.la
enroll_libsignet_enroll_la_SOURCES = \
	enroll/signet-x509.h \
	enroll/signet-enroll-private.h \
	enroll/signet-x509.c \
	enroll/signet-certfile.c \
	enroll/signet-subject.c \
	enroll/signet-csr.c
enroll_libsignet_enroll_la_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-enroll\"
enroll_libsignet_enroll_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS) $(LIBCURL_CFLAGS)
# Not libcurl: enroll/signet-curl.c opens it at the first request.
enroll_libsignet_enroll_la_LIBADD = common/libsignet-common.la $(GLIB_LIBS) $(OPENSSL_LIBS)
# The CA connector (HTTP, EST) and the CA profiles: their own fragments.
include enroll/est.mk
include enroll/profile.mk
signet_format_sources += $(enroll_libsignet_enroll_la_SOURCES)
