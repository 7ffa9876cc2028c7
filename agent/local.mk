# agent/: the resident agent signetd. Exports io.signet.Agent1 on the session
# bus and runs every token operation (pkcs11/) and certificate step (enroll/).
# May call: pkcs11/, enroll/, common/, GLib/GIO, OpenSSL, p11-kit.

# --- the agent's modules (a library so that tests link them too) -----------
noinst_LTLIBRARIES += agent/libsignet-agent.la
agent_libsignet_agent_la_SOURCES = \
	agent/signet-agent.c agent/signet-agent.h agent/signet-agent-private.h \
	agent/signet-agent-dbus.c agent/signet-agent-ops.c agent/signet-agent-import.c \
	agent/signet-agent-background.c \
	agent/signet-activate.c agent/signet-activate.h agent/signet-activate-private.h \
	agent/signet-activate-finish.c agent/signet-activate-messages.c \
	agent/signet-activation-upgrade.c agent/signet-activation-upgrade.h \
	agent/signet-caller.c agent/signet-caller.h \
	agent/signet-config.c agent/signet-config.h \
	agent/signet-errors.c agent/signet-errors.h \
	agent/signet-opensc.c agent/signet-opensc.h \
	agent/signet-renew.c agent/signet-renew.h agent/signet-renew-private.h \
	agent/signet-renew-choose.c agent/signet-renew-finish.c agent/signet-renew-background.c \
	agent/signet-clock.c agent/signet-clock.h \
	agent/signet-install.c agent/signet-install.h \
	agent/signet-testhooks.c agent/signet-testhooks.h \
	agent/signet-token-dict.c agent/signet-token-dict.h \
	agent/signet-trust.c agent/signet-trust.h \
	agent/signet-worker.c agent/signet-worker.h
agent_signet_cppflags = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"signet-agent\" \
	-DSIGNET_BINDIR=\"$(bindir)\"
agent_signet_cflags = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS) $(P11KIT_CFLAGS) \
	$(LIBCURL_CFLAGS) $(PCSCLITE_CFLAGS) $(SQLITE_CFLAGS)
agent_libsignet_agent_la_CPPFLAGS = $(agent_signet_cppflags)
# Also when a target is made on its own (BUILT_SOURCES is for all/check/install):
$(agent_libsignet_agent_la_OBJECTS): $(libsignet_dbus_generated)
agent_libsignet_agent_la_CFLAGS = $(agent_signet_cflags)
# Programs that use it link these too (convenience libraries are not nested):
agent_signet_ldadd = agent/libsignet-agent.la libsignet/libsignet-client.la \
	pkcs11/libsignet-pkcs11.la enroll/libsignet-enroll.la common/libsignet-common.la \
	$(GLIB_LIBS) $(OPENSSL_LIBS) $(P11KIT_LIBS) $(PCSCLITE_LIBS) \
	$(SQLITE_LIBS)

libexec_PROGRAMS += agent/signetd
agent_signetd_SOURCES = agent/signetd.c
agent_signetd_CPPFLAGS = $(agent_signet_cppflags)
agent_signetd_CFLAGS = $(agent_signet_cflags)
agent_signetd_LDADD = $(agent_signet_ldadd)


# --- hotplug (PC/SC monitor): its own fragment --------------------------------
include agent/hotplug.mk
# --- the state database (agent/signet-state*.c) and reminders: their own fragments -
include agent/state.mk
include agent/reminders.mk

signet_format_sources += $(agent_libsignet_agent_la_SOURCES) $(agent_signetd_SOURCES)
