# tests/ui/: the window (signet-gtk) end to end, as a person uses it: the
# real window under its own Xvfb and accessibility bus, driven through the
# accessibility tree (tests/ui/atspi-driver.py, Debian's python3-pyatspi)
# against signetd on the agent rig's token and the test CA. Rig helpers:
# tests/ui/ui-lib.sh; test-rig.sh tests the rig itself on a small window.
# (test-window-units and test-dialogs-units, in-process GTests, are built
# by ui-gtk/local.mk and ui-gtk/dialogs.mk.) One window session per script,
# several things in sequence: each costs a few seconds of Xvfb and GTK.
#   test-rig.sh          the rig and driver on a small GTK 4 window of its own
#   test-window.sh       SoftHSM2 token at start, activation with wrong PINs,
#                        the final-try confirmation's Cancel, renewal from the banner
#   test-hotplug.sh      the card model in a private pcscd's virtual reader
#                        (tests/hotplug/hotplug-lib.sh, root): the token comes
#                        and goes in the list as the card is inserted and removed
#   test-batch-window.sh the group activation page: a bad holders' file refused
#                        with its lines, a good one activated, its report
#   test-screenshots.sh  every page in Romanian (tests/ui/tour.sh, as
#                        script/screenshots), its PNGs not blank
ui_integration_tests = \
	tests/ui/test-rig.sh \
	tests/ui/test-window.sh \
	tests/ui/test-batch-window.sh \
	tests/ui/test-screenshots.sh \
	tests/ui/test-hotplug.sh
TESTS += $(ui_integration_tests)
EXTRA_DIST += $(ui_integration_tests) tests/ui/ui-lib.sh tests/ui/atspi-driver.py \
	tests/ui/rig-window.py tests/ui/tour.sh tests/ui/png-check.py
# The screenshots script/screenshots made (checked by test-screenshots.sh).
ui_screenshots = \
	docs/screenshots/en/activate-progress.png \
	docs/screenshots/en/activate-result.png \
	docs/screenshots/en/activate.png \
	docs/screenshots/en/history.png \
	docs/screenshots/en/no-agent.png \
	docs/screenshots/en/none.png \
	docs/screenshots/en/renew-result.png \
	docs/screenshots/en/renew.png \
	docs/screenshots/en/token.png \
	docs/screenshots/ro/activate-progress.png \
	docs/screenshots/ro/activate-result.png \
	docs/screenshots/ro/activate.png \
	docs/screenshots/ro/history.png \
	docs/screenshots/ro/no-agent.png \
	docs/screenshots/ro/none.png \
	docs/screenshots/ro/renew-result.png \
	docs/screenshots/ro/renew.png \
	docs/screenshots/ro/token.png
EXTRA_DIST += $(ui_screenshots) script/screenshots
