#!/bin/sh
# The agent and the CLI on a fresh SoftHSM2 token behind the test shim (as
# SoftHSM2, or as a card through OpenSC): list, status (what the model's
# module says of itself), token names, usage errors, JSON errors, the
# OpenSC file, a clean exit on SIGTERM, a bad configuration, and D-Bus
# activation.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup

# --- list ---------------------------------------------------------------
run signet list --json
check_rc "list --json succeeds" 0
check "list --json shows the token by label" \
  test "$(jq_ "$RIG/out" 'd[0]["label"]')" = "$TOKEN_LABEL"
check "list --json shows its serial" test "$(jq_ "$RIG/out" 'd[0]["serial"]')" = "$SERIAL"
check "list --json shows one token" test "$(jq_ "$RIG/out" 'len(d)')" = 1
check "list --json: PIN state from the module flags, not locked" \
  test "$(jq_ "$RIG/out" '[d[0]["pin"]["locked"], d[0]["pin"]["final_try"], d[0]["pin"]["source"]]')" \
  = '[false, false, "module flags"]'
check "list --json: PIN length limits" \
  test "$(jq_ "$RIG/out" '[d[0]["pin"]["min_length"], d[0]["pin"]["max_length"]]')" = '[4, 255]'
check "list --json: PUK state" test "$(jq_ "$RIG/out" 'd[0]["puk"]["locked"]')" = false
check_eq "list --json: the module's unblock method (SoftHSM2: an SO login; OpenSC: C_SetPIN logged out)" \
  "$UNBLOCK_METHOD" "$(jq_ "$RIG/out" 'd[0]["unblock_method"]')"
check_eq "list --json: objects read once and private keys listed without a login: OpenSC only" \
  "[$OPENSC, $OPENSC]" "$(jq_ "$RIG/out" '[d[0]["objects_cached"], d[0]["private_keys_listed"]]')"
check "list --json: key types the token can generate" \
  test "$(jq_ "$RIG/out" 'sorted(d[0]["key_types"])')" \
  = '["ec:p256", "ec:p384", "rsa:2048", "rsa:3072", "rsa:4096"]'
jcheck "list --json: a PKCS#11 URI" "$RIG/out" 'd[0]["uri"].startswith("pkcs11:")'
jcheck "list --json: every contract key" "$RIG/out" '
  set(d[0]) >= {"serial","label","manufacturer","model","uri","slot","module","removable",
                "write_protected","initialized","unblock_method","key_types","pin","puk"}'
URI=$(jq_ "$RIG/out" 'd[0]["uri"]')

run signet list
check_rc "list succeeds" 0
check "list: one line per token, with label, serial and PIN state" \
  grep -q "'$TOKEN_LABEL'.*serial $SERIAL.*PIN: " "$RIG/out"

# --- status, by label, serial and URI -------------------------------------
for spec in "$TOKEN_LABEL" "$SERIAL" "$URI"; do
  run signet status "$spec" --json
  check_rc "status by '$spec' succeeds" 0
  check "status by '$spec' finds the token" test "$(jq_ "$RIG/out" 'd["serial"]')" = "$SERIAL"
done
check "status --json: no certificates or keys yet" \
  test "$(jq_ "$RIG/out" '[len(d["certificates"]), len(d["keys"])]')" = '[0, 0]'
run signet status "$TOKEN_LABEL"
check_rc "status succeeds" 0
check "status shows the token and its PIN and PUK state" \
  sh -c "grep -q \"^Token *'$TOKEN_LABEL'\" '$RIG/out' && grep -q '^PIN ' '$RIG/out' && grep -q '^PUK ' '$RIG/out'"
check_eq "status notes that OpenSC reads the card's objects once (OpenSC only)" "$OPENSC" \
  "$(grep -q "reads the card's objects once" "$RIG/out" && echo true || echo false)"

# --- errors ---------------------------------------------------------------
run signet status no-such-token
check_rc "an unknown token exits 5" 5
check_err "one line 'signet: …' quoting the token" "^signet: .*no-such-token"
check "the message is a single line" test "$(wc -l <"$RIG/err")" -eq 1
run signet status no-such-token --json
check_rc "an unknown token exits 5 with --json too" 5
check "--json failure: error name" \
  test "$(jq_ "$RIG/out" 'd["error"]["name"]')" = io.signet.Error.NoSuchToken
jcheck "--json failure: error message without the D-Bus prefix" \
  "$RIG/out" '("no-such-token" in d["error"]["message"] and "GDBus" not in d["error"]["message"])'
run signet keygen no-such-token --type ec:p256 --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "keygen on an unknown token exits 5" 5

run signet frobnicate
check_rc "an unknown command exits 2" 2
run signet keygen "$TOKEN_LABEL"
check_rc "keygen without --type exits 2" 2
run signet keygen "$TOKEN_LABEL" --type rsa:1024 --pin-fd 3 3<<EOF
$PIN
EOF
check_rc "keygen with an unknown type exits 2" 2
run signet status
check_rc "status without TOKEN exits 2" 2
run signet status a b
check_rc "status with two tokens exits 2" 2
run signet list --bogus
check_rc "an unknown option exits 2" 2
run signet pin
check_rc "'pin' alone exits 2" 2
run signet keygen "$TOKEN_LABEL" --type ec:p256 --pin-fd 9
check_rc "a closed --pin-fd is a usage error" 2
run setsid -w "$SIGNET" keygen "$TOKEN_LABEL" --type ec:p256 </dev/null
check_rc "no PIN fd and no terminal: usage error, exit 2" 2
check_err "… saying to use --pin-fd" "pin-fd"
run signet --version
check_rc "--version" 0
check "--version prints the version" grep -q '^signet [0-9]' "$RIG/out"
run signet --help
check_rc "--help" 0
check "--help lists the commands" sh -c "grep -q 'pin unblock' '$RIG/out' && grep -q 'keygen' '$RIG/out'"
run signet csr --help
check_rc "csr --help" 0
check "csr --help shows its options" grep -q -- '--subject' "$RIG/out"

# --- the OpenSC file --------------------------------------------------------
f="$XDG_RUNTIME_DIR/signet/opensc.conf"
check "the agent wrote \$XDG_RUNTIME_DIR/signet/opensc.conf" test -f "$f"
check "… mode 0600 in a 0700 directory" \
  test "$(stat -c %a "$f") $(stat -c %a "$XDG_RUNTIME_DIR/signet")" = "600 700"
check "… with the unblock style" grep -q 'user_pin_unblock_style = set_pin_in_unlogged_session;' "$f"

# --- signetd itself -----------------------------------------------------------
run "$SIGNETD" --version
check "signetd --version" sh -c "[ $rc -eq 0 ] && grep -q '^signetd [0-9]' '$RIG/out'"
run "$SIGNETD" --bogus
check "signetd with an unknown option exits 2" test "$rc" -eq 2
run "$SIGNETD"
check "a second signetd on the same bus exits non-zero" test "$rc" -ne 0
check_err "… saying the name is taken" "owned by another process"
check "the first agent still runs" agent_alive

# --- SIGTERM --------------------------------------------------------------
agent_stop
check "the agent exits 0 on SIGTERM" test "$AGENT_STATUS" -eq 0
run signet list
check_rc "without the agent (and no activation): exit 1" 1
check_err "… saying the agent cannot be reached" "Could not reach the Signet agent"

# --- a bad configuration ---------------------------------------------------
cp "$XDG_CONFIG_HOME/signet/signet.conf" "$RIG/signet.conf.good"
printf '[pkcs11]\nmodule=%s\nunblock-method=guess-and-retry\n' "$SOFTHSM2_MODULE" \
  >"$XDG_CONFIG_HOME/signet/signet.conf"
run "$SIGNETD"
check "an unknown unblock-method stops the agent at start" test "$rc" -ne 0
check_err "… with a clear message naming the value" "unknown unblock-method \"guess-and-retry\""
cp "$RIG/signet.conf.good" "$XDG_CONFIG_HOME/signet/signet.conf"

# --- D-Bus activation -------------------------------------------------------
cat >"$RIG/services/io.signet.Agent.service" <<EOF
[D-BUS Service]
Name=io.signet.Agent
Exec=$SIGNETD
EOF
gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
  --method org.freedesktop.DBus.ReloadConfig >/dev/null
run signet list --json
check_rc "the CLI starts the agent through D-Bus activation" 0
check "… and lists the token" test "$(jq_ "$RIG/out" 'd[0]["serial"]')" = "$SERIAL"
pid=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
  --method org.freedesktop.DBus.GetConnectionUnixProcessID io.signet.Agent 2>/dev/null |
  sed 's/[^0-9]*\([0-9]*\).*/\1/')
if [ -n "$pid" ]; then kill -TERM "$pid"; fi

tap_done
