# agent/reminders.mk: expiry reminders (GNotification) and their tests.
# Appends to agent_libsignet_agent_la_SOURCES (see agent/local.mk, which
# also puts every source of the agent's library under format-check).
agent_reminders_sources = agent/signet-reminders.c agent/signet-reminders.h \
	agent/signet-reminders-private.h agent/signet-reminders-schedule.c \
	agent/signet-reminders-due.c agent/signet-reminders-delivery.c \
	agent/signet-reminders-action.c
agent_libsignet_agent_la_SOURCES += $(agent_reminders_sources)

check_PROGRAMS += tests/reminders/test-reminders-units
tests_reminders_test_reminders_units_SOURCES = tests/reminders/test-reminders-units.c
tests_reminders_test_reminders_units_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"test-reminders\"
tests_reminders_test_reminders_units_CFLAGS = $(agent_signet_cflags)
tests_reminders_test_reminders_units_LDADD = $(agent_signet_ldadd)
$(tests_reminders_test_reminders_units_OBJECTS): $(libsignet_dbus_generated)

# The end-to-end test: a fake notification daemon on a private bus, a fake
# clock (needs --enable-fault-injection; skips otherwise, never in CI).
TESTS += tests/reminders/test-reminders-units tests/reminders/test-reminders.sh \
	tests/reminders/test-reminders-delivery.sh
EXTRA_DIST += tests/reminders/test-reminders.sh tests/reminders/test-reminders-delivery.sh \
	tests/reminders/fake-notifyd \
	docs/internals/reminders.md
signet_format_sources += $(tests_reminders_test_reminders_units_SOURCES)
