# tests/ca: the EST test CA (signet-test-ca, Python 3 with Debian's
# python3-cryptography; a test fixture and the demo's CA) and its own test,
# which drives it with curl and openssl only.
TESTS += tests/ca/test-ca.sh
EXTRA_DIST += tests/ca/signet-test-ca tests/ca/test-ca.sh tests/ca/README.md
