# tests/enroll/: unit tests of enroll/ (certificate files, describing
# certificates, subjects, certificate requests).
check_PROGRAMS += tests/enroll/test-x509
TESTS += tests/enroll/test-x509
tests_enroll_test_x509_SOURCES = tests/enroll/test-x509.c
tests_enroll_test_x509_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"test-x509\"
tests_enroll_test_x509_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS)
tests_enroll_test_x509_LDADD = tests/testutil/libsignet-testutil.la enroll/libsignet-enroll.la $(GLIB_LIBS) $(OPENSSL_LIBS)
signet_format_sources += $(tests_enroll_test_x509_SOURCES)

# signet_csr_build_pem() with a signer pkcs11/ binds to a SoftHSM2 key.
check_PROGRAMS += tests/enroll/test-csr-token
TESTS += tests/enroll/test-csr-token
tests_enroll_test_csr_token_SOURCES = tests/enroll/test-csr-token.c
tests_enroll_test_csr_token_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"test-csr-token\"
tests_enroll_test_csr_token_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS) $(P11KIT_CFLAGS)
tests_enroll_test_csr_token_LDADD = tests/testutil/libsignet-testutil.la enroll/libsignet-enroll.la \
	pkcs11/libsignet-pkcs11.la $(GLIB_LIBS) $(P11KIT_LIBS) $(OPENSSL_LIBS)
signet_format_sources += $(tests_enroll_test_csr_token_SOURCES)

# The fuzzers of enroll/'s parsers (tests/local.mk could include this
# directly; until then it comes in with the enroll tests).
include tests/fuzz/local.mk

# The EST client against the test CA, and the CA profiles: own fragments.
include tests/enroll/est.mk
include tests/enroll/cmp.mk
include tests/enroll/scep.mk
include tests/enroll/profile.mk
