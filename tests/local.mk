# tests/: unit and integration tests, test rigs. Every test program and
# script prints TAP and runs under automake's TAP driver; each makes its own
# throwaway SoftHSM2 token, XDG directories and session bus.
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
# The C test programs run with LeakSanitizer (in the ASan stage; the options
# mean nothing to other builds): full stacks, so that tests/lsan.supp's
# library entries match. The shell tests' programs keep detect_leaks=0 from
# AM_TESTS_ENVIRONMENT, but for the CLI (tests/agent/agent-lib.sh).
LOG_COMPILER = env ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:abort_on_error=1
SH_LOG_DRIVER = $(LOG_DRIVER)
SH_LOG_COMPILER = $(SHELL)
TEST_EXTENSIONS = .sh
AM_TESTS_ENVIRONMENT = \
	export top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)'; \
	export SOFTHSM2_MODULE='$(SOFTHSM2_MODULE)' SOFTHSM2_UTIL='$(SOFTHSM2_UTIL)'; \
	export PKCS11_TOOL='$(PKCS11_TOOL)' DBUS_DAEMON='$(DBUS_DAEMON)'; \
	export PKCS11_SPY_MODULE='$(PKCS11_SPY_MODULE)'; \
	export SIGNET_SHIM_MODULE='$(abs_top_builddir)/tests/p11shim/.libs/signet-p11shim.so'; \
	export G_DEBUG=fatal-warnings G_SLICE=always-malloc; \
	export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1; \
	export LSAN_OPTIONS=suppressions='$(abs_top_srcdir)/tests/lsan.supp':print_suppressions=0;
EXTRA_DIST += tests/lib.sh tests/estca-lib.sh tests/lsan.supp

include tests/testutil/local.mk
include tests/common/local.mk
include tests/libsignet/local.mk
include tests/p11shim/local.mk
include tests/pkcs11/local.mk
include tests/enroll/local.mk
include tests/agent/local.mk
include tests/ca/local.mk
include tests/hotplug/local.mk
include tests/udev/local.mk
include tests/ui/local.mk
