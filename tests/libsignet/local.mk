# tests/libsignet/: the client rules every face relies on (libsignet/).
check_PROGRAMS += tests/libsignet/test-client
TESTS += tests/libsignet/test-client
tests_libsignet_test_client_SOURCES = tests/libsignet/test-client.c
tests_libsignet_test_client_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-test\"
tests_libsignet_test_client_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_libsignet_test_client_LDADD = libsignet/libsignet-client.la common/libsignet-common.la \
	$(GLIB_LIBS)
$(tests_libsignet_test_client_OBJECTS): $(libsignet_dbus_generated)
signet_format_sources += $(tests_libsignet_test_client_SOURCES)

# The holders' CSV of signet batch: each kind of bad input, with its line.
check_PROGRAMS += tests/libsignet/test-batch-csv
TESTS += tests/libsignet/test-batch-csv
tests_libsignet_test_batch_csv_SOURCES = tests/libsignet/test-batch-csv.c
tests_libsignet_test_batch_csv_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-test\"
tests_libsignet_test_batch_csv_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_libsignet_test_batch_csv_LDADD = libsignet/libsignet-client.la common/libsignet-common.la \
	$(GLIB_LIBS)
signet_format_sources += $(tests_libsignet_test_batch_csv_SOURCES)
