# tests/enroll/profile.mk: tests of the CA profile loader.
