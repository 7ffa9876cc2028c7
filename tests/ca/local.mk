# tests/ca: the EST test CA (signet-test-ca, Python 3 with Debian's
# python3-cryptography; a test fixture and the demo's CA) and its own test,
# which drives it with curl and openssl only.
TESTS += tests/ca/test-ca.sh
EXTRA_DIST += tests/ca/signet-test-ca tests/ca/test-ca.sh tests/ca/README.md

# signet-test-cmp-ca: the same CA's CMP face (C, OpenSSL's CMP server), which
# asks signet-test-ca for every decision; its test drives it with
# `openssl cmp` only.
check_PROGRAMS += tests/ca/signet-test-cmp-ca
tests_ca_signet_test_cmp_ca_SOURCES = tests/ca/signet-test-cmp-ca.c
tests_ca_signet_test_cmp_ca_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-test-cmp-ca\" \
	-DSIGNET_TEST_CA_SCRIPT=\"$(abs_top_srcdir)/tests/ca/signet-test-ca\"
tests_ca_signet_test_cmp_ca_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS)
tests_ca_signet_test_cmp_ca_LDADD = $(GLIB_LIBS) $(OPENSSL_LIBS)
signet_format_sources += $(tests_ca_signet_test_cmp_ca_SOURCES)
TESTS += tests/ca/test-cmp-ca.sh
EXTRA_DIST += tests/ca/test-cmp-ca.sh
# signet-test-scep-ca: a SCEP CA for what Debian's scepserver never answers
# (PENDING, then the certificate on the CertPoll), signing with scepserver's
# depot CA (C, GLib and OpenSSL). Its answers are signet-scep-fake.c's, which
# the SCEP connector's unit test (tests/enroll/scep.mk) runs in a thread; its
# own test drives it with curl and openssl only.
check_PROGRAMS += tests/ca/signet-test-scep-ca
tests_ca_signet_test_scep_ca_SOURCES = tests/ca/signet-test-scep-ca.c \
	tests/ca/signet-scep-fake.c tests/ca/signet-scep-fake.h
tests_ca_signet_test_scep_ca_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-test-scep-ca\"
tests_ca_signet_test_scep_ca_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS)
tests_ca_signet_test_scep_ca_LDADD = $(GLIB_LIBS) $(OPENSSL_LIBS)
signet_format_sources += $(tests_ca_signet_test_scep_ca_SOURCES)
TESTS += tests/ca/test-scep-ca.sh
EXTRA_DIST += tests/ca/test-scep-ca.sh
# The TLS front of scepserver (plain HTTP) for the SCEP tests.
EXTRA_DIST += tests/ca/tls-relay.py
