# tests/enroll/cmp.mk: the CMP connector against OpenSSL's mock CMP server
# (openssl cmp -port), behind a TLS relay the test runs; the request's key
# on a throwaway SoftHSM2 token through pkcs11/ (as the agent does).
check_PROGRAMS += tests/enroll/test-cmp
TESTS += tests/enroll/test-cmp
tests_enroll_test_cmp_SOURCES = tests/enroll/test-cmp.c
tests_enroll_test_cmp_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"test-cmp\"
tests_enroll_test_cmp_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS) $(P11KIT_CFLAGS)
tests_enroll_test_cmp_LDADD = tests/testutil/libsignet-testutil.la enroll/libsignet-enroll.la \
	pkcs11/libsignet-pkcs11.la $(GLIB_LIBS) $(P11KIT_LIBS) $(OPENSSL_LIBS)
signet_format_sources += $(tests_enroll_test_cmp_SOURCES)
