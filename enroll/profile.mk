# enroll/profile.mk: CA profiles (signet-profile.h), included from
# enroll/local.mk.
enroll_libsignet_enroll_la_SOURCES += enroll/signet-profile.h enroll/signet-profile.c
signet_format_sources += enroll/signet-profile.h enroll/signet-profile.c
