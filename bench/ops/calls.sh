#!/bin/bash
# shellcheck source-path=SCRIPTDIR disable=SC2119
# bench/ops/calls.sh: PKCS#11 calls and logins per `signet activate` and per
# `signet renew`, counted by OpenSC's pkcs11-spy between signetd and
# SoftHSM2, and their wall time, over one enrollment protocol.
#
#   BUILDDIR=/tmp/build-bench [PROTOCOL=est|cmp|scep] bench/ops/calls.sh [RUNS]   (RUNS=3)
#
# PROTOCOL (default est) picks the CA: est, the EST test CA
# (tests/ca/signet-test-ca, profile signet-test); cmp, the same CA's CMP
# face (tests/ca/signet-test-cmp-ca, which `make check` builds: make
# tests/ca/signet-test-cmp-ca in BUILDDIR; profile signet-cmp); scep,
# Debian's scepserver (package scep) behind the TLS relay
# tests/ca/tls-relay.py (profile signet-scep, rsa:2048). scepserver listens
# on every interface, so with scep the whole script runs in a network
# namespace of its own that has only loopback (unshare -n: root), as
# tests/agent/test-scep.sh does.
#
# Calls. In the rig of rig.sh (SoftHSM2 tokens of its own, the CAs, a
# private session bus), signet.conf says
#   [pkcs11]
#   module=/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so
# and signetd runs with PKCS11SPY=/usr/lib/softhsm/libsofthsm2.so and
# PKCS11SPY_OUTPUT=$RIG/spy-RUN.log. RUNS times, on a fresh token and a
# signetd started for it (SoftHSM2 shows the tokens there were at
# C_Initialize): `signet list` (the agent's start-up and first read of the
# token are not counted), then `signet activate` and `signet renew`, each counted from
# the command's start until the spy log has been quiet for 0.5 s after it
# returned (work the agent does for the operation after replying is
# included; the CLI's own status read before it asks for the PIN is too).
# Per operation: every C_* call by function, the total, C_Login (target:
# exactly 1), C_OpenSession, C_FindObjectsInit and any search template used
# more than once in the command, and how many of those were sent again in
# the same session and login state with nothing written to the token in
# between (target: none; the CLI's read before the PIN prompt is a session
# of its own, and a login shows the private objects). The table is the median
# over the runs (the runs must agree; any difference is printed).
# The spy log shows the PIN as a hex dump: the copy kept in $BENCH_OUT has
# those dumps removed.
#
# Wall time. Then RUNS rounds without the spy (signet.conf names SoftHSM2's
# module): in each, on a fresh token and agent after `signet list`, the
# activation and the renewal over PROTOCOL and, as the reference measured
# in the same round, over EST with the same key type (the EST profile
# again with PROTOCOL's key-type), the order alternating from round to
# round; each command timed from its start to its return (date +%s%N).
# Printed: the medians (ms), min and max, and PROTOCOL / EST; raw times in
# $BENCH_OUT/calls-PROTOCOL-DATE-wall.tsv.
PROTOCOL=${PROTOCOL:-est}
case $PROTOCOL in
  est | cmp | scep) ;;
  *)
    echo "calls: PROTOCOL=$PROTOCOL: est, cmp or scep" >&2
    exit 1
    ;;
esac
if [ "$PROTOCOL" = scep ] && [ -z "${SIGNET_BENCH_NETNS:-}" ]; then
  command -v scepserver >/dev/null || { echo "calls: scepserver not found (apt-get install scep)" >&2; exit 1; }
  if [ "$(id -u)" -ne 0 ] || ! unshare -n true 2>/dev/null; then
    echo "calls: scepserver listens on every interface: PROTOCOL=scep needs root for unshare -n" >&2
    exit 1
  fi
  SIGNET_BENCH_NETNS=1 exec unshare -n /bin/bash "$0" "$@"
fi
if [ -n "${SIGNET_BENCH_NETNS:-}" ]; then
  ip link set lo up || { echo "calls: cannot bring up loopback in the namespace" >&2; exit 1; }
fi
# shellcheck source=rig.sh
. "$(dirname "$0")/rig.sh"
ops_enter calls

RUNS=${1:-3}
[ -f "$SPY_MODULE" ] || die "no $SPY_MODULE (apt-get install opensc-pkcs11)"
proto_start "$PROTOCOL"
case $PROTOCOL in
  est) ACTIVATE_PROFILE=$PROFILE_EST ;;
  cmp) ACTIVATE_PROFILE=$PROFILE_CMP ;;
  scep) ACTIVATE_PROFILE=$PROFILE_SCEP ;;
esac
KEY_TYPE=$(profile_key_type "$PROTOCOL")
conf_module "$SPY_MODULE"
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$BENCH_OUT/calls-$PROTOCOL-$STAMP

size() { stat -c %s "$SPY_LOG" 2>/dev/null || echo 0; }
# settle: until the spy log has not grown for 0.5 s (at most 20 s).
settle() {
  local a b i=0
  a=$(size)
  while [ $i -lt 40 ]; do
    sleep 0.5
    b=$(size)
    [ "$a" = "$b" ] && return 0
    a=$b
    i=$((i + 1))
  done
  die "the agent kept calling PKCS#11 for 20 s"
}
# window NAME CMD…: the spy log's bytes written while CMD ran (and after,
# until quiet) go to $RIG/NAME.spy.
window() {
  local name=$1 from to
  shift
  settle
  from=$(size)
  "$@" >"$RIG/$name.out" 2>"$RIG/$name.err" || {
    cat "$RIG/$name.err" >&2
    die "$name failed"
  }
  settle
  to=$(size)
  tail -c +"$((from + 1))" "$SPY_LOG" | head -c "$((to - from))" >"$RIG/$name.spy"
}

echo "# PROTOCOL=$PROTOCOL (profile $ACTIVATE_PROFILE, $KEY_TYPE); $RUNS runs, SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null) behind pkcs11-spy (OpenSC $(dpkg-query -W -f='${Version}' opensc-pkcs11 2>/dev/null)), $(describe_build)"
for i in $(seq 1 "$RUNS"); do
  token_fresh
  SPY_LOG=$RIG/spy-$i.log
  agent_start PKCS11SPY="$SOFTHSM2_MODULE" PKCS11SPY_OUTPUT="$SPY_LOG"
  "$SIGNET" list >/dev/null || die "signet list failed"
  proto_code "$PROTOCOL"
  window "activate-$i" signet_activate
  window "renew-$i" signet_renew
  agent_stop
  printf '.'
done
echo

# --- wall time: PROTOCOL against EST with the same key type, in each round ------
conf_module "$SOFTHSM2_MODULE"
REF_PROFILE=$PROFILE_EST
if [ "$KEY_TYPE" != "$(profile_key_type est)" ]; then
  REF_PROFILE=$PROFILE_EST-${KEY_TYPE/:/-}
  profile_est_with_key_type "$REF_PROFILE" "$KEY_TYPE"
fi
WALL=$RIG/wall.tsv
: >"$WALL"
# timed NAME ROUND: activation and renewal over NAME (est-reference or
# PROTOCOL) on a fresh token and agent, one line each in $WALL.
timed() {
  local name=$1 round=$2 proto=$1 t0 t1 t2
  [ "$name" = reference ] && proto=est
  token_fresh
  agent_start
  "$SIGNET" list >/dev/null || die "signet list failed"
  proto_code "$proto"
  t0=$(now_ns)
  signet_activate >"$RIG/wall.out" 2>"$RIG/wall.err" || { cat "$RIG/wall.err" >&2; die "$name: activate failed"; }
  t1=$(now_ns)
  signet_renew >"$RIG/wall.out" 2>"$RIG/wall.err" || { cat "$RIG/wall.err" >&2; die "$name: renew failed"; }
  t2=$(now_ns)
  agent_stop
  printf '%s\tactivate\t%s\t%s\n%s\trenew\t%s\t%s\n' "$name" "$round" "$((t1 - t0))" \
    "$name" "$round" "$((t2 - t1))" >>"$WALL"
}
for i in $(seq 1 "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then
    ACTIVATE_PROFILE=$REF_PROFILE timed reference "$i"
    timed "$PROTOCOL" "$i"
  else
    timed "$PROTOCOL" "$i"
    ACTIVATE_PROFILE=$REF_PROFILE timed reference "$i"
  fi
  printf '.'
done
echo
cp "$WALL" "$OUT-wall.tsv"

"$PYTHON" - "$RIG" "$RUNS" "$OUT" "$PROTOCOL" "$KEY_TYPE" <<'EOF'
import collections, re, statistics, sys

rig, runs, out, protocol, key_type = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
CALL = re.compile(r"^\d+: (C_\w+)$")
ADDR = re.compile(r"\b[0-9a-f]{16} / ")
BEFORE = "(before the operation's token lookup)"
WRITES = ("C_GenerateKeyPair", "C_CreateObject", "C_DestroyObject", "C_SetAttributeValue",
          "C_CopyObject")
HEX_DUMP = re.compile(r"^    [0-9a-f]{8}  ")


def redact(text):
    """The spy log without the PIN's hex dump (the lines after pPin)."""
    kept, skipping = [], False
    for line in text.splitlines():
        if skipping and HEX_DUMP.match(line):
            continue
        skipping = "pPin" in line or "pOldPin" in line or "pNewPin" in line
        kept.append(ADDR.sub("", line) if skipping else line)
    return "\n".join(kept) + "\n"


def template(block):
    """A search template as text: "CKA_CLASS=CKO_PUBLIC_KEY CKA_ID=57ea6b4c…(20)"."""
    attrs = []
    for line in block:
        m = re.match(r"^    (CKA_\w+)\s+(.*?)\s*$", line)
        if m:
            value = ADDR.sub("", m.group(2))
            attrs.append([m.group(1), value, ""])
        elif attrs and HEX_DUMP.match(line):
            attrs[-1][2] += "".join(line[14:62].split()).lower()
    shown = []
    for name, value, dump in attrs:
        if dump:
            value = dump if len(dump) <= 16 else f"{dump[:8]}…({len(dump) // 2})"
        shown.append(f"{name}={value}")
    return " ".join(shown) or "(empty)"


def analyse(path):
    with open(path, errors="replace") as f:
        text = f.read()
    calls, templates, block, current = collections.Counter(), collections.Counter(), [], None
    # (template, writes so far, session, logins so far): searched again in the
    # same session, logged in or not as before, with nothing written. Another
    # session (the CLI's read before the PIN prompt, then the operation's) is
    # another operation; a login shows the private objects.
    unchanged = collections.Counter()
    sessions = {}  # session handle -> which C_OpenSession opened it (handles are reused)

    def handle(name):
        for line in block:
            m = re.match(r"^\[(?:in|out)\] \*?" + name + r" = (0x[0-9a-f]+)", line)
            if m:
                return m.group(1)
        return None

    def close():
        if current == "C_OpenSession":
            sessions[handle("phSession")] = calls["C_OpenSession"]
        if current == "C_FindObjectsInit":
            tpl = template(block)
            templates[tpl] += 1
            unchanged[(tpl, sum(calls[w] for w in WRITES), sessions.get(handle("hSession")),
                       calls["C_Login"])] += 1

    # The operation starts at its token lookup: the last C_GetSlotList before
    # its C_Login. What comes before is the CLI's read before the PIN prompt
    # (GetToken, or GetTokenStatus for renew).
    sequence = []
    for line in text.splitlines():
        m = CALL.match(line)
        if m:
            close()
            current, block = m.group(1), []
            calls[current] += 1
            sequence.append(current)
        elif current:
            block.append(line)
    close()
    login = sequence.index("C_Login") if "C_Login" in sequence else len(sequence)
    lookups = [i for i, fn in enumerate(sequence[:login]) if fn == "C_GetSlotList"]
    calls[BEFORE] = lookups[-1] if lookups else 0
    calls["(searched again, nothing written in between)"] = sum(
        n - 1 for n in unchanged.values() if n > 1)
    return calls, templates, redact(text)


ops = ("activate", "renew")
results = {op: [analyse(f"{rig}/{op}-{i}.spy") for i in range(1, runs + 1)] for op in ops}
with open(out + "-spy.log", "w") as f:
    for op in ops:
        for i, (_, _, text) in enumerate(results[op], 1):
            f.write(f"======== {op} run {i} ========\n{text}")

AGAIN = "(searched again, nothing written in between)"
funcs = sorted({fn for op in ops for c, _, _ in results[op] for fn in c if fn not in (AGAIN, BEFORE)})
med = lambda op, fn: statistics.median(c[fn] for c, _, _ in results[op])
fmt = lambda v: str(int(v)) if v == int(v) else f"{v:.1f}"
lines = [f"PKCS#11 calls per operation over {protocol.upper()} ({key_type}), median of {runs} "
         "run(s) (pkcs11-spy, SoftHSM2)", "",
         "| function | signet activate | signet renew |", "|---|---|---|"]
for fn in funcs:
    lines.append(f"| {fn} | {fmt(med('activate', fn))} | {fmt(med('renew', fn))} |")
calls_only = lambda c: sum(n for fn, n in c.items() if fn not in (AGAIN, BEFORE))
total = {op: statistics.median(calls_only(c) for c, _, _ in results[op]) for op in ops}
before = {op: statistics.median(c[BEFORE] for c, _, _ in results[op]) for op in ops}
lines.append(f"| **total** | **{fmt(total['activate'])}** | **{fmt(total['renew'])}** |")
lines.append(f"| of which the CLI's read before the PIN prompt | {fmt(before['activate'])} | "
             f"{fmt(before['renew'])} |")
lines.append(f"| of which the operation | {fmt(total['activate'] - before['activate'])} | "
             f"{fmt(total['renew'] - before['renew'])} |")
lines.append("")
for op in ops:
    logins = [c["C_Login"] for c, _, _ in results[op]]
    finds = [c["C_FindObjectsInit"] for c, _, _ in results[op]]
    # Searches with a template already used in the same operation.
    again = [sum(n - 1 for n in t.values() if n > 1) for _, t, _ in results[op]]
    totals = sorted({calls_only(c) for c, _, _ in results[op]})
    idle = [c[AGAIN] for c, _, _ in results[op]]
    lines.append(f"{op}: C_Login {'/'.join(map(str, sorted(set(logins))))} per operation "
                 f"(target 1: {'MET' if set(logins) == {1} else 'NOT MET'}); "
                 f"C_FindObjectsInit {fmt(statistics.median(finds))}, of which with a template "
                 f"already used in the command: {fmt(statistics.median(again))}, "
                 f"in the same session and login with nothing written to the token since: "
                 f"{fmt(statistics.median(idle))} "
                 f"(target 0: {'MET' if not any(idle) else 'NOT MET'})"
                 + ("" if len(totals) == 1 else f"; totals differ between runs: {totals}"))
    _, first, _ = results[op][0]
    for tpl, n in sorted(first.items(), key=lambda kv: -kv[1]):
        if n > 1:
            lines.append(f"  run 1: {n}x {tpl}")
wall = collections.defaultdict(list)
with open(f"{rig}/wall.tsv") as f:
    for line in f:
        name, op, _, ns = line.split("\t")
        wall[(name, op)].append(int(ns) / 1e6)
lines += ["", f"Wall time (ms) without the spy, {runs} round(s); reference: EST ({key_type}) in the "
          "same rounds", "", "| | median | min | max |", "|---|---|---|---|"]
for op in ops:
    for name in ([protocol, "reference"] if protocol != "est" else ["est", "reference"]):
        t = wall[(name, op)]
        label = f"{op} over {'EST (reference)' if name == 'reference' else name.upper()}"
        lines.append(f"| {label} | {statistics.median(t):.1f} | {min(t):.1f} | {max(t):.1f} |")
for op in ops:
    ratio = statistics.median(wall[(protocol, op)]) / statistics.median(wall[("reference", op)])
    lines.append(f"{op}: {protocol.upper()} / EST = {ratio:.2f}")
with open(out + ".txt", "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
print(f"# spy logs (PIN removed): {out}-spy.log")
EOF
