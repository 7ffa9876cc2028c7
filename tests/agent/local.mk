# tests/agent/: the agent (signetd) and the CLI (signet) end to end, on a
# private session bus with a fresh SoftHSM2 token per script (some behind the
# PKCS#11 test shim), plus unit tests of the agent's modules.
# Rig helpers: tests/agent/agent-lib.sh.
check_PROGRAMS += tests/agent/test-agent-units
TESTS += tests/agent/test-agent-units
tests_agent_test_agent_units_SOURCES = tests/agent/test-agent-units.c
tests_agent_test_agent_units_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"test-agent\"
tests_agent_test_agent_units_CFLAGS = $(agent_signet_cflags)
tests_agent_test_agent_units_LDADD = tests/testutil/libsignet-testutil.la $(agent_signet_ldadd)
$(tests_agent_test_agent_units_OBJECTS): $(agent_dbus_generated)

agent_integration_tests = \
	tests/agent/test-basics.sh \
	tests/agent/test-keygen.sh \
	tests/agent/test-import.sh \
	tests/agent/test-portal.sh \
	tests/agent/test-activate.sh \
	tests/agent/test-renew.sh \
	tests/agent/test-recovery.sh \
	tests/agent/test-history.sh \
	tests/agent/test-pin.sh \
	tests/agent/test-puk.sh \
	tests/agent/test-sequence.sh \
	tests/agent/test-faults.sh \
	tests/agent/test-dbus.sh \
	tests/agent/test-sandbox.sh \
	tests/agent/test-nonroot.sh \
	tests/agent/test-hints.sh \
	tests/agent/test-tty.sh
TESTS += $(agent_integration_tests)
EXTRA_DIST += $(agent_integration_tests) tests/agent/agent-lib.sh
signet_format_sources += $(tests_agent_test_agent_units_SOURCES)
