# tests/estca-lib.sh: the EST test CA (tests/ca/signet-test-ca) for the
# shell tests (sourced, after tests/lib.sh and with $RIG, $XDG_CONFIG_HOME
# set): tests/agent/agent-lib.sh and the hotplug tests that activate.
#
#   est_ca_start [PORT]   the EST test CA on a free port (or PORT), its
#                         profile installed as "signet-test" ($ESTCA_DIR,
#                         $ESTCA_PID); est_ca_stop
#   estca CMD ARGS…       tests/ca/signet-test-ca CMD --dir $ESTCA_DIR ARGS…
#   est_code [ARGS…]      a fresh code: sets $REF and $CODE
#   serve_ca NAME OUT LOG CMD…
#                         CMD in the background until it prints "listening on"

ESTCA_PROG="$top_srcdir/tests/ca/signet-test-ca"

estca() {
  local cmd=$1
  shift
  "$ESTCA_PROG" "$cmd" --dir "$ESTCA_DIR" "$@"
}

# serve_ca NAME OUT LOG CMD...: CMD in the background, its output in OUT and
# its errors in LOG, until it prints "listening on"; its PID in SERVED_PID.
serve_ca() {
  local name=$1 out=$2 log=$3
  shift 3
  : >"$out"
  "$@" >"$out" 2>>"$log" &
  SERVED_PID=$!
  if ! wait_until 30 served_listening "$out" || ! kill -0 "$SERVED_PID" 2>/dev/null; then
    echo "Bail out! $name did not start"
    awk '{ print "# " $0 }' "$log"
    exit 1
  fi
}
# served_listening OUT: the server said it listens, or it is gone.
served_listening() { grep -q '^listening on' "$1" || ! kill -0 "$SERVED_PID" 2>/dev/null; }

est_ca_start() {
  ESTCA_DIR="$RIG/estca"
  serve_ca signet-test-ca "$RIG/estca.out" "$RIG/estca.log" \
    "$ESTCA_PROG" serve --dir "$ESTCA_DIR" --port "${1:-0}"
  ESTCA_PID=$SERVED_PID
  mkdir -p "$XDG_CONFIG_HOME/signet/profiles.d"
  cp "$ESTCA_DIR/profile.conf" "$XDG_CONFIG_HOME/signet/profiles.d/signet-test.conf"
}

est_ca_stop() {
  [ -n "${ESTCA_PID:-}" ] || return 0
  kill -TERM "$ESTCA_PID" 2>/dev/null
  wait "$ESTCA_PID" 2>/dev/null
  ESTCA_PID=
}

est_code() {
  local out
  out=$(estca new-code "$@") || { echo "Bail out! signet-test-ca new-code failed"; exit 1; }
  REF=$(printf '%s\n' "$out" | sed -n 1p)
  CODE=$(printf '%s\n' "$out" | sed -n 2p)
}

