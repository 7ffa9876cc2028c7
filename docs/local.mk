# docs/: man pages, the D-Bus API reference and short internals notes.
dist_man_MANS += docs/signet.1 docs/signetd.8
EXTRA_DIST += \
	docs/dbus-api.md \
	docs/internals/pkcs11.md \
	docs/internals/enroll.md \
	docs/internals/agent.md docs/internals/libsignet.md \
	docs/internals/secrets.md \
	docs/internals/activation.md \
	docs/internals/renewal.md \
	docs/check-man.sh \
	script/deps

# The man pages must render without a single groff or man warning, and must
# name every command and option the CLI and the agent have (TAP).
TESTS += docs/check-man.sh
