#!/usr/bin/python3
"""tests/udev/sandbox-probe.py: run inside signetd.service's sandbox (the unit's
[Service] settings with this as ExecStart) by test-unit-sandbox.sh; prints one
"name: yes|no (detail)" line per thing the agent must or must not be able to
do. Needs nothing but the standard library (ctypes for unshare and mmap)."""

import ctypes
import errno
import mmap
import os
import socket

home = os.environ["HOME"]
runtime = os.environ["XDG_RUNTIME_DIR"]


def report(name, fn):
    try:
        detail = fn()
        print("%s: yes%s" % (name, " (%s)" % detail if detail else ""))
    except OSError as e:
        print("%s: no (%s)" % (name, errno.errorcode.get(e.errno, e.errno)))


def write(path):
    def fn():
        with open(path, "w") as f:
            f.write("x\n")
        os.unlink(path)
    return fn


def connect(path):
    def fn():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.close()
    return fn


def sock(family):
    def fn():
        socket.socket(family, socket.SOCK_DGRAM if family == socket.AF_NETLINK else socket.SOCK_STREAM).close()
    return fn


def mode(path):
    return lambda: oct(os.stat(path).st_mode & 0o7777)


def wx_map():
    m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    m.close()


def new_userns():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def status(key):
    def fn():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split(":", 1)[1].strip()
        raise OSError(errno.ENOENT, key)
    return fn


def device(path):
    def fn():
        os.stat(path)
    return fn


report("write runtime dir", write(os.path.join(runtime, "signet", "probe")))
report("runtime dir mode", mode(os.path.join(runtime, "signet")))
report("write state dir", write(os.path.join(home, ".local/state/signet/probe")))
report("state dir mode", mode(os.path.join(home, ".local/state/signet")))
report("read config", lambda: open(os.path.join(home, ".config/signet/signet.conf")).read().strip())
report("write config dir", write(os.path.join(home, ".config/signet/probe")))
report("write home", write(os.path.join(home, "probe")))
report("write runtime root", write(os.path.join(runtime, "probe")))
report("write /var/tmp (private)", write("/var/tmp/probe"))
report("connect pcscd", connect("/run/pcscd/pcscd.comm"))
report("connect session bus", connect(os.path.join(runtime, "bus")))
report("socket AF_INET", sock(socket.AF_INET))
report("socket AF_INET6", sock(socket.AF_INET6))
report("socket AF_NETLINK", sock(socket.AF_NETLINK))
report("socket AF_PACKET", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close())
report("device node", device(os.environ["PROBE_DEVICE"]))
report("W+X mapping", wx_map)
report("new user namespace", new_userns)
report("NoNewPrivs", status("NoNewPrivs"))
report("Seccomp", status("Seccomp"))
report("umask", lambda: oct(os.umask(0o077)))
