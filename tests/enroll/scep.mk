# tests/enroll/scep.mk: the SCEP connector against Debian's scepserver
# (package scep), in a loopback-only network namespace the test enters
# itself (root), behind tests/ca/tls-relay.py; the key on a throwaway
# SoftHSM2 token through pkcs11/ (as the agent does). What scepserver never
# answers comes from a fake CA in a thread: tests/ca/signet-scep-fake.c,
# shared with tests/ca/signet-test-scep-ca.
check_PROGRAMS += tests/enroll/test-scep
TESTS += tests/enroll/test-scep
tests_enroll_test_scep_SOURCES = tests/enroll/test-scep.c tests/ca/signet-scep-fake.c \
	tests/ca/signet-scep-fake.h
tests_enroll_test_scep_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"test-scep\"
tests_enroll_test_scep_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS) $(P11KIT_CFLAGS)
tests_enroll_test_scep_LDADD = tests/testutil/libsignet-testutil.la enroll/libsignet-enroll.la \
	pkcs11/libsignet-pkcs11.la $(GLIB_LIBS) $(P11KIT_LIBS) $(OPENSSL_LIBS)
signet_format_sources += $(tests_enroll_test_scep_SOURCES)
