# tests/udev: checks of the udev rules, the systemd user unit and the D-Bus service file.
# test-units.sh installs the three (and the agent) into a DESTDIR of its own
# with the make that runs it, and needs the directories configure chose.
TESTS += tests/udev/test-units.sh tests/udev/test-unit-sandbox.sh
EXTRA_DIST += tests/udev/test-units.sh tests/udev/udev-rules.py \
	tests/udev/test-unit-sandbox.sh tests/udev/sandbox-probe.py
AM_TESTS_ENVIRONMENT += \
	export SIGNET_MAKE='$(MAKE)' SIGNET_PYTHON3='$(PYTHON3)' SIGNET_LIBEXECDIR='$(libexecdir)'; \
	export SIGNET_UDEV_RULES_DIR='$(UDEV_RULES_DIR)' SIGNET_SYSTEMD_USER_UNIT_DIR='$(SYSTEMD_USER_UNIT_DIR)'; \
	export SIGNET_DBUS_SERVICES_DIR='$(DBUS_SESSION_SERVICES_DIR)';
