# tests/p11shim/: a PKCS#11 interposer that SoftHSM2 sits behind and that
# models a smart card (PIN/PUK tries, lock, token flags, a tries log; an
# OpenSC 0.23 PKCS#15 card model) and injects faults.
# Test rig only: built for `make check`, never installed. See README.md.
# May call: libc, libdl, libcrypto (certificates) and the module it forwards to.
check_LTLIBRARIES += tests/p11shim/signet-p11shim.la
tests_p11shim_signet_p11shim_la_SOURCES = tests/p11shim/signet-p11shim.c
tests_p11shim_signet_p11shim_la_CFLAGS = $(AM_CFLAGS) $(P11KIT_CFLAGS) $(OPENSSL_CFLAGS)
tests_p11shim_signet_p11shim_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
tests_p11shim_signet_p11shim_la_LIBADD = $(OPENSSL_LIBS) -ldl

check_PROGRAMS += tests/p11shim/test-p11shim
TESTS += tests/p11shim/test-p11shim
tests_p11shim_test_p11shim_SOURCES = tests/p11shim/test-p11shim.c
tests_p11shim_test_p11shim_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"test-p11shim\"
tests_p11shim_test_p11shim_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(P11KIT_CFLAGS) $(OPENSSL_CFLAGS)
tests_p11shim_test_p11shim_LDADD = tests/testutil/libsignet-testutil.la $(GLIB_LIBS) $(OPENSSL_LIBS) -ldl

EXTRA_DIST += tests/p11shim/README.md
signet_format_sources += $(tests_p11shim_signet_p11shim_la_SOURCES) \
	$(tests_p11shim_test_p11shim_SOURCES)
