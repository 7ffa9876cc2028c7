# tests/agent/: the agent (signetd) and the CLI (signet) end to end, on a
# private session bus with a fresh SoftHSM2 token per script behind the
# PKCS#11 test shim, plus unit tests of the agent's modules.
# Rig helpers: tests/agent/agent-lib.sh.
check_PROGRAMS += tests/agent/test-agent-units
TESTS += tests/agent/test-agent-units
tests_agent_test_agent_units_SOURCES = tests/agent/test-agent-units.c
tests_agent_test_agent_units_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"test-agent\"
tests_agent_test_agent_units_CFLAGS = $(agent_signet_cflags)
tests_agent_test_agent_units_LDADD = tests/testutil/libsignet-testutil.la $(agent_signet_ldadd)
$(tests_agent_test_agent_units_OBJECTS): $(libsignet_dbus_generated)

agent_integration_tests = \
	tests/agent/test-basics.sh \
	tests/agent/test-keygen.sh \
	tests/agent/test-import.sh \
	tests/agent/test-portal.sh \
	tests/agent/test-activate.sh \
	tests/agent/test-renew.sh \
	tests/agent/test-trust.sh \
	tests/agent/test-recovery.sh \
	tests/agent/test-interrupted.sh \
	tests/agent/test-history.sh \
	tests/agent/test-pin.sh \
	tests/agent/test-puk.sh \
	tests/agent/test-sequence.sh \
	tests/agent/test-faults.sh \
	tests/agent/test-dbus.sh \
	tests/agent/test-sandbox.sh \
	tests/agent/test-nonroot.sh \
	tests/agent/test-hints.sh \
	tests/agent/test-uri.sh \
	tests/agent/test-labels.sh \
	tests/agent/test-output-format.sh \
	tests/agent/test-export.sh \
	tests/agent/test-tty.sh \
	tests/agent/test-cmp.sh \
	tests/agent/test-scep.sh \
	tests/agent/test-load.sh \
	tests/agent/test-batch.sh \
	tests/agent/test-batch-resume.sh
TESTS += $(agent_integration_tests)
EXTRA_DIST += $(agent_integration_tests) tests/agent/agent-lib.sh tests/agent/load-clients.py

# Each script runs twice: as tests/agent/test-X.sh on the shim's default
# model (SoftHSM2's ways) and as tests/agent/opensc-card/test-X.card with
# SIGNET_TEST_MODEL=opensc-card, the shim playing a MyEID-family card through
# OpenSC 0.23 (tests/p11shim/README.md). A .card file is made here in the
# build tree and only runs its script from $(top_srcdir), so there is one
# copy of each test; both results are TAP test files of their own in
# test-suite.log. One model at a time:
#   make check TESTS=tests/agent/test-pin.sh
#   make check TESTS=tests/agent/opensc-card/test-pin.card
# Left out of the card run, because the card model cannot show what they are
# about:
#   test-sandbox.sh  who may call: the agent judges the caller (a Flatpak or
#   test-nonroot.sh  Snap sandbox, a non-dumpable process of the user) before
#                    anything reaches a token; the token's model plays no part
#   test-load.sh     many clients and a PIN flood: the agent's scheduling and
#                    back-off, the same whatever the token's model
agent_card_tests = \
	tests/agent/opensc-card/test-basics.card \
	tests/agent/opensc-card/test-keygen.card \
	tests/agent/opensc-card/test-import.card \
	tests/agent/opensc-card/test-export.card \
	tests/agent/opensc-card/test-portal.card \
	tests/agent/opensc-card/test-activate.card \
	tests/agent/opensc-card/test-renew.card \
	tests/agent/opensc-card/test-trust.card \
	tests/agent/opensc-card/test-recovery.card \
	tests/agent/opensc-card/test-interrupted.card \
	tests/agent/opensc-card/test-history.card \
	tests/agent/opensc-card/test-pin.card \
	tests/agent/opensc-card/test-puk.card \
	tests/agent/opensc-card/test-sequence.card \
	tests/agent/opensc-card/test-faults.card \
	tests/agent/opensc-card/test-dbus.card \
	tests/agent/opensc-card/test-hints.card \
	tests/agent/opensc-card/test-tty.card \
	tests/agent/opensc-card/test-cmp.card \
	tests/agent/opensc-card/test-scep.card
TESTS += $(agent_card_tests)
TEST_EXTENSIONS += .card
CARD_LOG_DRIVER = $(LOG_DRIVER)
CARD_LOG_COMPILER = env SIGNET_TEST_MODEL=opensc-card $(SHELL)
$(agent_card_tests): $(top_srcdir)/tests/agent/local.mk
	$(AM_V_GEN)$(MKDIR_P) tests/agent/opensc-card && \
	t=`basename $@ .card` && \
	{ echo "# $$t.sh on the card model (SIGNET_TEST_MODEL=opensc-card): made by tests/agent/local.mk"; \
	  echo "exec $(SHELL) \"\$${top_srcdir:?}/tests/agent/$$t.sh\""; } >$@-t && mv -f $@-t $@
CLEANFILES += $(agent_card_tests)

# Scripts that run once more over CMP (SIGNET_TEST_PROTOCOL=cmp: the CMP face
# of the test CA, its profile), as tests/agent/cmp/test-X.cmp, made here as
# the .card files are: the fault matrix of every step (test-recovery.sh).
agent_cmp_tests = tests/agent/cmp/test-recovery.cmp
TESTS += $(agent_cmp_tests)
TEST_EXTENSIONS += .cmp
CMP_LOG_DRIVER = $(LOG_DRIVER)
CMP_LOG_COMPILER = env SIGNET_TEST_PROTOCOL=cmp $(SHELL)
$(agent_cmp_tests): $(top_srcdir)/tests/agent/local.mk
	$(AM_V_GEN)$(MKDIR_P) tests/agent/cmp && \
	t=`basename $@ .cmp` && \
	{ echo "# $$t.sh over CMP (SIGNET_TEST_PROTOCOL=cmp): made by tests/agent/local.mk"; \
	  echo "exec $(SHELL) \"\$${top_srcdir:?}/tests/agent/$$t.sh\""; } >$@-t && mv -f $@-t $@
CLEANFILES += $(agent_cmp_tests)

# And over SCEP (SIGNET_TEST_PROTOCOL=scep: scepserver behind the TLS relay,
# in a network namespace the script enters), as tests/agent/scep/test-X.scep:
# the fault matrix's steps where the protocol has a part (test-recovery.sh).
agent_scep_tests = tests/agent/scep/test-recovery.scep
TESTS += $(agent_scep_tests)
TEST_EXTENSIONS += .scep
SCEP_LOG_DRIVER = $(LOG_DRIVER)
SCEP_LOG_COMPILER = env SIGNET_TEST_PROTOCOL=scep $(SHELL)
$(agent_scep_tests): $(top_srcdir)/tests/agent/local.mk
	$(AM_V_GEN)$(MKDIR_P) tests/agent/scep && \
	t=`basename $@ .scep` && \
	{ echo "# $$t.sh over SCEP (SIGNET_TEST_PROTOCOL=scep): made by tests/agent/local.mk"; \
	  echo "exec $(SHELL) \"\$${top_srcdir:?}/tests/agent/$$t.sh\""; } >$@-t && mv -f $@-t $@
CLEANFILES += $(agent_scep_tests)
signet_format_sources += $(tests_agent_test_agent_units_SOURCES)
