# tests/hotplug: PC/SC hotplug tests with pcscd and the vsmartcard virtual reader.
# Each script runs in a private PC/SC world (unshare --mount --net: its own
# /run/pcscd, loopback only, pcscd with its own vpcd reader) with its own
# session bus and agent; rig helpers in tests/hotplug/hotplug-lib.sh.
check_PROGRAMS += tests/hotplug/signet-pcsc-helper tests/hotplug/test-hotplug-units
tests_hotplug_signet_pcsc_helper_SOURCES = tests/hotplug/signet-pcsc-helper.c
tests_hotplug_signet_pcsc_helper_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(PCSCLITE_CFLAGS)
tests_hotplug_signet_pcsc_helper_LDADD = $(GLIB_LIBS) $(PCSCLITE_LIBS)

TESTS += tests/hotplug/test-hotplug-units
tests_hotplug_test_hotplug_units_SOURCES = tests/hotplug/test-hotplug-units.c
tests_hotplug_test_hotplug_units_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"test-hotplug\"
tests_hotplug_test_hotplug_units_CFLAGS = $(agent_signet_cflags)
tests_hotplug_test_hotplug_units_LDADD = $(agent_signet_ldadd)
$(tests_hotplug_test_hotplug_units_OBJECTS): $(libsignet_dbus_generated)

hotplug_integration_tests = \
	tests/hotplug/test-hotplug.sh \
	tests/hotplug/test-exclusive.sh \
	tests/hotplug/test-idle.sh \
	tests/hotplug/test-card-reset.sh \
	tests/hotplug/test-pulled.sh \
	tests/hotplug/test-batch-wait.sh
TESTS += $(hotplug_integration_tests)
EXTRA_DIST += $(hotplug_integration_tests) tests/hotplug/hotplug-lib.sh
signet_format_sources += $(tests_hotplug_signet_pcsc_helper_SOURCES) \
	$(tests_hotplug_test_hotplug_units_SOURCES)
