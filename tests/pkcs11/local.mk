# tests/pkcs11/: the token layer on throwaway SoftHSM2 tokens.
check_PROGRAMS += tests/pkcs11/test-p11
TESTS += tests/pkcs11/test-p11
tests_pkcs11_test_p11_SOURCES = tests/pkcs11/test-p11.c
tests_pkcs11_test_p11_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-test\"
tests_pkcs11_test_p11_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(P11KIT_CFLAGS) $(OPENSSL_CFLAGS)
tests_pkcs11_test_p11_LDADD = pkcs11/libsignet-pkcs11.la tests/testutil/libsignet-testutil.la
signet_format_sources += $(tests_pkcs11_test_p11_SOURCES)
