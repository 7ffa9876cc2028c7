#!/bin/sh
# The CLI on a terminal (a pseudo-terminal driven by python3's pty module),
# on a SoftHSM2 token behind the test shim: the PIN asked without echo, a new
# PIN asked twice (two different ones send nothing), and the final try asked
# to be confirmed with 'yes'.
. "${top_srcdir:?}/tests/agent/agent-lib.sh"
rig_setup

tries() { shim_tries | cut -d' ' -f1; }

# tty_run STEPS CMD…: runs CMD on a new pseudo-terminal. STEPS has one step a
# line: "expect REGEX" (wait for it on the terminal, 20 s at most) or "send
# TEXT" (type TEXT and Enter; a secret is typed only once echo is off). Exit
# status: CMD's, or 90 if a step failed. The transcript is in $RIG/tty.
tty_run() {
  steps=$1
  shift
  "$PYTHON" - "$steps" "$@" >"$RIG/tty" 2>&1 <<'EOF'
import os, pty, signal, re, select, sys, termios, time
steps, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
buf = b""
def read(timeout):
    global buf
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return False
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    if not data:
        return None
    buf += data
    return True
failed = False
for line in steps.splitlines():
    if not line.strip():
        continue
    kind, _, arg = line.partition(" ")
    if kind == "expect":
        deadline = time.time() + 20
        while not re.search(arg.encode(), buf):
            if time.time() > deadline or read(0.2) is None:
                print("# did not see: " + arg)
                failed = True
                break
        if failed:
            break
        buf = buf[re.search(arg.encode(), buf).end():]
    elif kind in ("send", "secret"):
        if kind == "secret":
            deadline = time.time() + 20
            while termios.tcgetattr(fd)[3] & termios.ECHO and time.time() < deadline:
                time.sleep(0.02)
        os.write(fd, arg.encode() + b"\n")
    elif kind == "interrupt":
        # Ctrl-C at a secret prompt; then report whether echo came back.
        deadline = time.time() + 20
        while termios.tcgetattr(fd)[3] & termios.ECHO and time.time() < deadline:
            time.sleep(0.02)
        os.write(fd, b"\x03")
        # The CLI must die of it; never wait for ever if it does not.
        deadline = time.time() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done or time.time() > deadline:
                break
            time.sleep(0.05)
        if not done:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            print("# the CLI did not die of the interrupt within 20 s")
        echo = termios.tcgetattr(fd)[3] & termios.ECHO
        print("# echo after interrupt: " + ("on" if echo else "off"))
        print("# killed by signal %d" % (os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0))
        sys.exit(0)
while read(20):
    pass
sys.stdout.write(buf.decode(errors="replace"))
_, status = os.waitpid(pid, 0)
sys.exit(90 if failed else os.waitstatus_to_exitcode(status))
EOF
  rc=$?
}

# --- a PIN on the terminal ---------------------------------------------------
tty_run "expect PIN for token '$TOKEN_LABEL': 
secret $PIN" "$SIGNET" keygen "$TOKEN_LABEL" --type ec:p256
check "keygen asks for the PIN on the terminal and succeeds" test "$rc" -eq 0
check "… the PIN was not echoed" sh -c "! grep -q '$PIN' '$RIG/tty'"
check "… and says what it made" grep -q "Generated a key pair" "$RIG/tty"

# --- Ctrl-C at the PIN prompt --------------------------------------------------
tty_run "expect PIN for token '$TOKEN_LABEL': 
interrupt" "$SIGNET" keygen "$TOKEN_LABEL" --type ec:p256
check "Ctrl-C at the PIN prompt: the terminal's echo is back" grep -q "echo after interrupt: on" "$RIG/tty"
check "… and the CLI died of SIGINT, as a program should" grep -q "killed by signal 2" "$RIG/tty"
check "… and nothing was sent to the token (tries unchanged)" test "$(tries)" = 3
check_tries "Ctrl-C at the PIN prompt: nothing sent"

# --- a new PIN twice -----------------------------------------------------------
tty_run "expect Current PIN for token
secret $PIN
expect New PIN: 
secret 111111
expect New PIN again: 
secret 222222" "$SIGNET" pin change "$TOKEN_LABEL"
check "two different new PINs: pin change fails (exit 1)" test "$rc" -eq 1
check "… saying so" grep -q "The two new PINs differ; nothing was sent" "$RIG/tty"
check "… and nothing was sent to the token (tries unchanged)" test "$(tries)" = 3
check_tries "two different new PINs: nothing sent"

tty_run "expect Current PIN for token
secret $PIN
expect New PIN: 
secret 112233
expect New PIN again: 
secret 112233" "$SIGNET" pin change "$TOKEN_LABEL"
check "the same new PIN twice: pin change succeeds" test "$rc" -eq 0
check_tries "pin change on the terminal: no PUK try"
PIN=112233

# --- the final try ---------------------------------------------------------------
expect_try pin wrong 2
for p in 000000 000000; do
  run signet keygen "$TOKEN_LABEL" --type ec:p256 --pin-fd 3 3<<EOF
$p
EOF
done
check "two wrong PINs: one try left" test "$(tries)" = 1
check_tries "two wrong PINs"
tty_run "expect One try left: a wrong PIN now locks token '$TOKEN_LABEL'. Type 'yes' to continue: 
send no" "$SIGNET" keygen "$TOKEN_LABEL" --type ec:p256
check "at the final try the CLI asks first; 'no' cancels (exit 1)" test "$rc" -eq 1
check "… without asking for the PIN" sh -c "! grep -q 'PIN for token' '$RIG/tty'"
check "… and nothing was sent (tries unchanged)" test "$(tries)" = 1
check_tries "'no' at the final try: nothing sent"

tty_run "expect Type 'yes' to continue: 
send yes
expect PIN for token '$TOKEN_LABEL': 
secret $PIN" "$SIGNET" keygen "$TOKEN_LABEL" --type ec:p256
check "'yes' and the right PIN: key generated" test "$rc" -eq 0
check "… and the tries are back" test "$(tries)" = 3

tap_done
