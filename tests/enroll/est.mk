# tests/enroll/est.mk: tests of the HTTPS/EST client against tests/ca/signet-test-ca.
# TLS client authentication uses keys on a throwaway SoftHSM2 token through
# pkcs11/ (as the agent does).
check_PROGRAMS += tests/enroll/test-est
TESTS += tests/enroll/test-est
tests_enroll_test_est_SOURCES = tests/enroll/test-est.c
tests_enroll_test_est_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"test-est\"
tests_enroll_test_est_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS) $(LIBCURL_CFLAGS) \
	$(P11KIT_CFLAGS)
tests_enroll_test_est_LDADD = tests/testutil/libsignet-testutil.la enroll/libsignet-enroll.la \
	pkcs11/libsignet-pkcs11.la $(GLIB_LIBS) $(OPENSSL_LIBS) $(LIBCURL_LIBS)
signet_format_sources += $(tests_enroll_test_est_SOURCES)
