# enroll/est.mk: HTTPS to a CA (signet-http.[ch], private to enroll/) and
# the EST client (signet-est.h), included from enroll/local.mk. libcurl's
# flags are already in the enroll library's CFLAGS and LIBADD.
enroll_libsignet_enroll_la_SOURCES += \
	enroll/signet-est.h \
	enroll/signet-http.h \
	enroll/signet-http.c \
	enroll/signet-est.c
signet_format_sources += enroll/signet-est.h enroll/signet-http.h enroll/signet-http.c \
	enroll/signet-est.c
# Its internals note (docs/local.mk lists the others).
EXTRA_DIST += docs/internals/est.md
