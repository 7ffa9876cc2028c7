# tests/enroll/est.mk: tests of the HTTPS/EST client against tests/ca/signet-test-ca.
