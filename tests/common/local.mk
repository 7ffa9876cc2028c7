# tests/common/: the shared helpers (secret buffers).
check_PROGRAMS += tests/common/test-secret
TESTS += tests/common/test-secret
tests_common_test_secret_SOURCES = tests/common/test-secret.c
tests_common_test_secret_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-test\"
tests_common_test_secret_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_common_test_secret_LDADD = tests/testutil/libsignet-testutil.la common/libsignet-common.la $(GLIB_LIBS)
signet_format_sources += $(tests_common_test_secret_SOURCES)
