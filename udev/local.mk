# udev/: udev rules, the systemd user unit and the D-Bus activation file,
# installed where pkg-config (udev, systemd, dbus-1) says (configure.ac).
# How they fit together: docs/internals/desktop.md.

# Files with @libexecdir@ are substituted at make time, so that it is fully
# expanded (configure would leave ${exec_prefix} in it).
udev_subst = sed -e 's|@libexecdir[@]|$(libexecdir)|g'

# --- D-Bus activation ---------------------------------------------------------
agent/io.signet.Agent.service: agent/io.signet.Agent.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) agent && \
	$(udev_subst) $(srcdir)/agent/io.signet.Agent.service.in >$@.tmp && \
	mv $@.tmp $@
dbusservicedir = $(DBUS_SESSION_SERVICES_DIR)
dbusservice_DATA = agent/io.signet.Agent.service
CLEANFILES += agent/io.signet.Agent.service
EXTRA_DIST += agent/io.signet.Agent.service.in

# --- systemd user unit (started by D-Bus and by udev) -------------------------
udev/signetd.service: udev/signetd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) udev && \
	$(udev_subst) $(srcdir)/udev/signetd.service.in >$@.tmp && \
	mv $@.tmp $@
systemduserunitdir = $(SYSTEMD_USER_UNIT_DIR)
systemduserunit_DATA = udev/signetd.service
CLEANFILES += udev/signetd.service
EXTRA_DIST += udev/signetd.service.in

# --- udev rules: a reader or token plugged in wants signetd.service -----------
udevrulesdir = $(UDEV_RULES_DIR)
dist_udevrules_DATA = udev/90-signet.rules

# How a token plug starts the agent, and the unit's sandbox (docs/ is not ours:
# the note is distributed from here).
EXTRA_DIST += docs/internals/desktop.md
