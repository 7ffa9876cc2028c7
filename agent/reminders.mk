# agent/reminders.mk: expiry reminders (GNotification) and their tests.
# Appends to agent_libsignet_agent_la_SOURCES (see agent/local.mk).
