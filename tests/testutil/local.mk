# tests/testutil/: helpers shared by the C test programs (throwaway
# directories, SoftHSM2 tokens). Built for `make check` only.
check_LTLIBRARIES += tests/testutil/libsignet-testutil.la
tests_testutil_libsignet_testutil_la_SOURCES = \
	tests/testutil/signet-test-util.c tests/testutil/signet-test-util.h
tests_testutil_libsignet_testutil_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_testutil_libsignet_testutil_la_LIBADD = $(GLIB_LIBS)
signet_format_sources += $(tests_testutil_libsignet_testutil_la_SOURCES)
