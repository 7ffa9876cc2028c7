# tests/lib.sh: shared shell helpers for integration tests (sourced).
# Makes a throwaway SoftHSM2 token and temporary XDG directories; prints TAP.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"

tap_n=0
tap_fail=0
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_fail=$((tap_fail + 1)); echo "not ok $tap_n - $*"; }
# check DESCRIPTION COMMAND...: one TAP line from a command's exit status
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
# check_eq DESCRIPTION EXPECTED ACTUAL: one TAP line, both values shown on failure
check_eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else
    not_ok "$1"
    echo "#   expected: $2"
    echo "#   got:      $3"
  fi
}
tap_done() { echo "1..$tap_n"; [ "$tap_fail" -eq 0 ]; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
