# tests/ca: the EST test CA (signet-test-ca) and its own tests.
EXTRA_DIST += tests/ca/signet-test-ca
