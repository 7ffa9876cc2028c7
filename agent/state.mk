# agent/state.mk: the state database (SQLite): agent/signet-state.[ch] and its
# tests. Appends to agent_libsignet_agent_la_SOURCES (see agent/local.mk).
agent_state_sources = agent/signet-state.c agent/signet-state.h
agent_libsignet_agent_la_SOURCES += $(agent_state_sources)
