# tests/fuzz/: libFuzzer harnesses for the parsers of outside input.
#
# `make check` runs each harness over its seed corpus (tests/fuzz/corpus/NAME/)
# and every prefix of each seed, through fuzz-main.c: a regression test.
# `make fuzz` builds real libFuzzer binaries with clang (apt-get install
# clang); `make fuzz-run FUZZ_TIME=SECONDS` runs each, keeping what it finds
# under tests/fuzz/work-NAME/ in the build tree (crashes land in the current
# directory as crash-*; add a minimized one to the corpus with its fix).
fuzz_harnesses = certfile subject csrattrs profile config uri http scep cmp batchcsv

check_PROGRAMS += tests/fuzz/fuzz-certfile tests/fuzz/fuzz-subject tests/fuzz/fuzz-csrattrs \
	tests/fuzz/fuzz-profile tests/fuzz/fuzz-config tests/fuzz/fuzz-uri tests/fuzz/fuzz-http \
	tests/fuzz/fuzz-scep tests/fuzz/fuzz-cmp tests/fuzz/fuzz-batchcsv
TESTS += tests/fuzz/fuzz-certfile tests/fuzz/fuzz-subject tests/fuzz/fuzz-csrattrs \
	tests/fuzz/fuzz-profile tests/fuzz/fuzz-config tests/fuzz/fuzz-uri tests/fuzz/fuzz-http \
	tests/fuzz/fuzz-scep tests/fuzz/fuzz-cmp tests/fuzz/fuzz-batchcsv

tests_fuzz_fuzz_certfile_SOURCES = tests/fuzz/fuzz-certfile.c tests/fuzz/fuzz-main.c \
	tests/fuzz/fuzz.h
tests_fuzz_fuzz_certfile_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"fuzz-certfile\" \
	-DFUZZ_CORPUS=\"tests/fuzz/corpus/certfile\"
tests_fuzz_fuzz_certfile_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS)
tests_fuzz_fuzz_certfile_LDADD = enroll/libsignet-enroll.la $(GLIB_LIBS) $(OPENSSL_LIBS)

tests_fuzz_fuzz_subject_SOURCES = tests/fuzz/fuzz-subject.c tests/fuzz/fuzz-main.c \
	tests/fuzz/fuzz.h
tests_fuzz_fuzz_subject_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"fuzz-subject\" \
	-DFUZZ_CORPUS=\"tests/fuzz/corpus/subject\"
tests_fuzz_fuzz_subject_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS)
tests_fuzz_fuzz_subject_LDADD = enroll/libsignet-enroll.la $(GLIB_LIBS) $(OPENSSL_LIBS)

tests_fuzz_fuzz_csrattrs_SOURCES = tests/fuzz/fuzz-csrattrs.c tests/fuzz/fuzz-main.c \
	tests/fuzz/fuzz.h
tests_fuzz_fuzz_csrattrs_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"fuzz-csrattrs\" \
	-DFUZZ_CORPUS=\"tests/fuzz/corpus/csrattrs\"
tests_fuzz_fuzz_csrattrs_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS) $(LIBCURL_CFLAGS)
tests_fuzz_fuzz_csrattrs_LDADD = enroll/libsignet-enroll.la $(GLIB_LIBS) $(OPENSSL_LIBS) \
	$(LIBCURL_LIBS)

tests_fuzz_fuzz_profile_SOURCES = tests/fuzz/fuzz-profile.c tests/fuzz/fuzz-main.c \
	tests/fuzz/fuzz.h
tests_fuzz_fuzz_profile_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"fuzz-profile\" \
	-DFUZZ_CORPUS=\"tests/fuzz/corpus/profile\"
tests_fuzz_fuzz_profile_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS) $(LIBCURL_CFLAGS)
tests_fuzz_fuzz_profile_LDADD = enroll/libsignet-enroll.la common/libsignet-common.la \
	$(GLIB_LIBS) $(OPENSSL_LIBS) $(LIBCURL_LIBS)

tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz-config.c tests/fuzz/fuzz-main.c \
	tests/fuzz/fuzz.h
tests_fuzz_fuzz_config_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"fuzz-config\" \
	-DFUZZ_CORPUS=\"tests/fuzz/corpus/config\"
tests_fuzz_fuzz_config_CFLAGS = $(agent_signet_cflags)
tests_fuzz_fuzz_config_LDADD = $(agent_signet_ldadd)

tests_fuzz_fuzz_uri_SOURCES = tests/fuzz/fuzz-uri.c tests/fuzz/fuzz-main.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_uri_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"fuzz-uri\" \
	-DFUZZ_CORPUS=\"tests/fuzz/corpus/uri\"
tests_fuzz_fuzz_uri_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(P11KIT_CFLAGS) $(OPENSSL_CFLAGS)
tests_fuzz_fuzz_uri_LDADD = pkcs11/libsignet-pkcs11.la common/libsignet-common.la \
	$(GLIB_LIBS) $(P11KIT_LIBS) $(OPENSSL_LIBS)

tests_fuzz_fuzz_http_SOURCES = tests/fuzz/fuzz-http.c tests/fuzz/fuzz-main.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_http_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"fuzz-http\" \
	-DFUZZ_CORPUS=\"tests/fuzz/corpus/http\"
tests_fuzz_fuzz_http_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS) $(LIBCURL_CFLAGS)
tests_fuzz_fuzz_http_LDADD = enroll/libsignet-enroll.la common/libsignet-common.la \
	$(GLIB_LIBS) $(OPENSSL_LIBS) $(LIBCURL_LIBS)

# The SCEP connector's readers of CertRep, GetCACert and certs-only PKCS#7;
# seeds captured from scepserver (tests/agent/test-scep.sh with
# SIGNET_SCEP_DUMP=DIR keeps what the CA answered).
tests_fuzz_fuzz_scep_SOURCES = tests/fuzz/fuzz-scep.c tests/fuzz/fuzz-main.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_scep_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"fuzz-scep\" \
	-DFUZZ_CORPUS=\"tests/fuzz/corpus/scep\"
tests_fuzz_fuzz_scep_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS) $(LIBCURL_CFLAGS)
tests_fuzz_fuzz_scep_LDADD = enroll/libsignet-enroll.la common/libsignet-common.la \
	$(GLIB_LIBS) $(OPENSSL_LIBS) $(LIBCURL_LIBS)

# What the CMP connector does with a CA's answer, to an ir and to a kur;
# seeds from `openssl cmp -use_mock_srv` (tests/fuzz/corpus/cmp/README).
tests_fuzz_fuzz_cmp_SOURCES = tests/fuzz/fuzz-cmp.c tests/fuzz/fuzz-main.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_cmp_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"fuzz-cmp\" \
	-DFUZZ_CORPUS=\"tests/fuzz/corpus/cmp\"
tests_fuzz_fuzz_cmp_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(OPENSSL_CFLAGS) $(LIBCURL_CFLAGS)
tests_fuzz_fuzz_cmp_LDADD = enroll/libsignet-enroll.la common/libsignet-common.la \
	$(GLIB_LIBS) $(OPENSSL_LIBS) $(LIBCURL_LIBS)

tests_fuzz_fuzz_batchcsv_SOURCES = tests/fuzz/fuzz-batchcsv.c tests/fuzz/fuzz-main.c \
	tests/fuzz/fuzz.h
tests_fuzz_fuzz_batchcsv_CPPFLAGS = $(AM_CPPFLAGS) -DG_LOG_DOMAIN=\"fuzz-batchcsv\" \
	-DFUZZ_CORPUS=\"tests/fuzz/corpus/batchcsv\"
tests_fuzz_fuzz_batchcsv_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_fuzz_fuzz_batchcsv_LDADD = libsignet/libsignet-client.la common/libsignet-common.la \
	$(GLIB_LIBS)

signet_format_sources += tests/fuzz/fuzz.h tests/fuzz/fuzz-main.c \
	$(addsuffix .c,$(addprefix tests/fuzz/fuzz-,$(fuzz_harnesses)))
EXTRA_DIST += tests/fuzz/corpus

# libFuzzer builds: the harness and the library sources it reaches, all
# instrumented, with AddressSanitizer and UBSan. Every harness is linked
# with the same sources: enroll/, common/, pkcs11/ and the agent's
# configuration (with the error domains it reports in).
FUZZ_CC = clang
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
FUZZ_TIME = 60
fuzz_lib_sources = $(filter %.c,$(enroll_libsignet_enroll_la_SOURCES) \
	$(common_libsignet_common_la_SOURCES) $(pkcs11_libsignet_pkcs11_la_SOURCES)) \
	agent/signet-config.c agent/signet-errors.c libsignet/signet-batch-csv.c

fuzz_compile = $(FUZZ_CC) $(FUZZ_CFLAGS) $(DEFS) -I$(top_builddir) -I$(top_srcdir) \
	$(AM_CPPFLAGS) $(CPPFLAGS) -DG_LOG_DOMAIN=\"signet-fuzz\" $(GLIB_CFLAGS) $(OPENSSL_CFLAGS) \
	$(LIBCURL_CFLAGS) $(P11KIT_CFLAGS)

# The library sources are compiled once (every time: no stale object), then
# linked with each harness.
fuzz:
	@if ! command -v $(FUZZ_CC) >/dev/null 2>&1; then \
	  echo "make fuzz needs clang with libFuzzer: apt-get install clang"; exit 1; fi
	@$(MKDIR_P) tests/fuzz/libfuzzer-obj
	@objects=; \
	for s in $(fuzz_lib_sources); do \
	  o=tests/fuzz/libfuzzer-obj/`echo $$s | sed 's|/|_|g; s|\.c$$|.o|'`; \
	  echo "  FUZZCC   $$o"; \
	  $(fuzz_compile) -c -o $$o $(srcdir)/$$s || exit 1; \
	  objects="$$objects $$o"; \
	done; \
	for h in $(fuzz_harnesses); do \
	  echo "  FUZZLD   tests/fuzz/fuzz-$$h-libfuzzer"; \
	  $(fuzz_compile) -o tests/fuzz/fuzz-$$h-libfuzzer $(srcdir)/tests/fuzz/fuzz-$$h.c \
	    $$objects $(GLIB_LIBS) $(OPENSSL_LIBS) $(LIBCURL_LIBS) $(P11KIT_LIBS) || exit 1; \
	done
	@echo "Built. Run: make fuzz-run FUZZ_TIME=$(FUZZ_TIME), bench/fuzz, or e.g."
	@echo "  mkdir -p work && tests/fuzz/fuzz-certfile-libfuzzer -max_total_time=60 work $(srcdir)/tests/fuzz/corpus/certfile"

fuzz-run: fuzz
	@for h in $(fuzz_harnesses); do \
	  $(MKDIR_P) tests/fuzz/work-$$h || exit 1; \
	  echo "  FUZZ     $$h for $(FUZZ_TIME) s"; \
	  tests/fuzz/fuzz-$$h-libfuzzer -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
	    tests/fuzz/work-$$h $(srcdir)/tests/fuzz/corpus/$$h || exit 1; \
	done

clean-local: clean-fuzz
clean-fuzz:
	-rm -rf $(addprefix tests/fuzz/work-,$(fuzz_harnesses)) tests/fuzz/libfuzzer-obj
	-rm -f $(addsuffix -libfuzzer,$(addprefix tests/fuzz/fuzz-,$(fuzz_harnesses)))

.PHONY: fuzz fuzz-run clean-fuzz
