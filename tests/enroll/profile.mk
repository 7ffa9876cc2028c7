# tests/enroll/profile.mk: tests of the CA profile loader (enroll/signet-profile.h).
check_PROGRAMS += tests/enroll/test-profile
TESTS += tests/enroll/test-profile
tests_enroll_test_profile_SOURCES = tests/enroll/test-profile.c
tests_enroll_test_profile_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"test-profile\"
tests_enroll_test_profile_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS)
tests_enroll_test_profile_LDADD = tests/testutil/libsignet-testutil.la enroll/libsignet-enroll.la $(GLIB_LIBS) \
	$(OPENSSL_LIBS)
signet_format_sources += $(tests_enroll_test_profile_SOURCES)

# The connector seam (enroll/signet-connector.h): factory, answer checks,
# the protocol's profile group.
check_PROGRAMS += tests/enroll/test-connector
TESTS += tests/enroll/test-connector
tests_enroll_test_connector_SOURCES = tests/enroll/test-connector.c
tests_enroll_test_connector_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"test-connector\"
tests_enroll_test_connector_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS)
tests_enroll_test_connector_LDADD = tests/testutil/libsignet-testutil.la \
	enroll/libsignet-enroll.la $(GLIB_LIBS) $(OPENSSL_LIBS)
signet_format_sources += $(tests_enroll_test_connector_SOURCES)
