# udev/: udev rules, the systemd user unit and the D-Bus activation file,
# installed where pkg-config (udev, systemd, dbus-1) says (configure.ac).

# --- D-Bus activation ---------------------------------------------------------
# Substituted at make time so that @libexecdir@ is fully expanded.
agent/io.signet.Agent.service: agent/io.signet.Agent.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) agent && \
	sed -e 's|@libexecdir[@]|$(libexecdir)|g' $(srcdir)/agent/io.signet.Agent.service.in >$@.tmp && \
	mv $@.tmp $@
dbusservicedir = $(DBUS_SESSION_SERVICES_DIR)
dbusservice_DATA = agent/io.signet.Agent.service
CLEANFILES += agent/io.signet.Agent.service
EXTRA_DIST += agent/io.signet.Agent.service.in
