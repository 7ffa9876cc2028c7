# enroll/est.mk: HTTPS to a CA (signet-http.[ch], private to enroll/), the
# EST client (signet-est.h) and the connector seam (signet-connector.h, its
# factory, EST as its first protocol and CMP on OpenSSL's client), included from enroll/local.mk. libcurl's
# flags are already in the enroll library's CFLAGS and LIBADD.
enroll_libsignet_enroll_la_SOURCES += \
	enroll/signet-est.h \
	enroll/signet-http.h \
	enroll/signet-http.c \
	enroll/signet-curl.h \
	enroll/signet-curl.c \
	enroll/signet-est.c \
	enroll/signet-est-csrattrs.c \
	enroll/signet-connector.h \
	enroll/signet-connector.c \
	enroll/signet-est-connector.c \
	enroll/signet-cmp-private.h \
	enroll/signet-cmp-connector.c \
	enroll/signet-scep-private.h \
	enroll/signet-scep-connector.c
signet_format_sources += enroll/signet-est.h enroll/signet-http.h enroll/signet-http.c \
	enroll/signet-curl.h enroll/signet-curl.c \
	enroll/signet-est.c enroll/signet-est-csrattrs.c enroll/signet-connector.h \
	enroll/signet-connector.c enroll/signet-est-connector.c enroll/signet-cmp-private.h \
	enroll/signet-cmp-connector.c enroll/signet-scep-private.h enroll/signet-scep-connector.c
# Its internals note (docs/local.mk lists the others).
EXTRA_DIST += docs/internals/est.md docs/internals/connector.md docs/internals/cmp.md \
	docs/internals/scep.md
