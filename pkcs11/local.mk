# pkcs11/: token access. May call common/, p11-kit, OpenSSL.
# Never enroll/ or agent/ (see pkcs11/signet-p11.h).
noinst_LTLIBRARIES += pkcs11/libsignet-pkcs11.la
pkcs11_libsignet_pkcs11_la_SOURCES = \
	pkcs11/signet-p11.h pkcs11/signet-p11-private.h \
	pkcs11/signet-p11-error.c \
	pkcs11/signet-p11-context.c \
	pkcs11/signet-p11-token.c \
	pkcs11/signet-p11-session.c \
	pkcs11/signet-p11-objects.c \
	pkcs11/signet-p11-keys.c \
	pkcs11/signet-p11-evp.c \
	pkcs11/signet-p11-pin.c
pkcs11_libsignet_pkcs11_la_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-pkcs11\"
pkcs11_libsignet_pkcs11_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(P11KIT_CFLAGS) $(OPENSSL_CFLAGS)
pkcs11_libsignet_pkcs11_la_LIBADD = common/libsignet-common.la $(GLIB_LIBS) $(P11KIT_LIBS) $(OPENSSL_LIBS)
signet_format_sources += $(pkcs11_libsignet_pkcs11_la_SOURCES)
