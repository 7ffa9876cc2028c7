# agent/hotplug.mk: the PC/SC monitor and hotplug signals of the agent
# (included from agent/local.mk). Sources are added to the agent's library:
#   agent_libsignet_agent_la_SOURCES += agent/signet-monitor.c ...
agent_hotplug_sources = \
	agent/signet-card.c agent/signet-card.h \
	agent/signet-monitor.c agent/signet-monitor.h \
	agent/signet-hotplug.c agent/signet-hotplug.h agent/signet-hotplug-private.h \
	agent/signet-hotplug-tokens.c agent/signet-hotplug-signals.c \
	agent/signet-hotplug-idle.c
agent_libsignet_agent_la_SOURCES += $(agent_hotplug_sources)
EXTRA_DIST += docs/internals/hotplug.md
