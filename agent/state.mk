# agent/state.mk: the state database (SQLite): agent/signet-state.[ch] and its
# tests. Appends to agent_libsignet_agent_la_SOURCES (see agent/local.mk).
agent_state_sources = agent/signet-state.c agent/signet-state.h agent/signet-state-private.h \
	agent/signet-state-certs.c agent/signet-state-journal.c agent/signet-state-reminders.c \
	agent/signet-state-audit.c
agent_libsignet_agent_la_SOURCES += $(agent_state_sources)
EXTRA_DIST += docs/internals/state.md

check_PROGRAMS += tests/agent/test-state
TESTS += tests/agent/test-state
tests_agent_test_state_SOURCES = tests/agent/test-state.c
tests_agent_test_state_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"test-state\"
tests_agent_test_state_CFLAGS = $(agent_signet_cflags)
tests_agent_test_state_LDADD = tests/testutil/libsignet-testutil.la $(agent_signet_ldadd)
$(tests_agent_test_state_OBJECTS): $(libsignet_dbus_generated)
signet_format_sources += $(tests_agent_test_state_SOURCES)
