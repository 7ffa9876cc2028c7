#!/usr/bin/python3
# bench/ui/launch.py RUNS ROW NAME=CMD… : launch-to-filled-frame times of
# each program, interleaved (A, B, A, B, …): from fork to the moment a list
# item named ROW (or "ROW ROW", GTK 4.8's doubled name) is on the AT-SPI
# desktop under the program's application, polled every 5 ms by this one
# process, the same way for every program. Then the program's VmRSS and
# VmHWM (/proc) once it has been idle 2 s, and SIGTERM. Prints one line per
# program: NAME median_ms min_ms max_ms rss_kib hwm_kib (medians).
import os
import signal
import statistics
import subprocess
import sys
import time

import pyatspi


def has_row(app_name, row):
    d = pyatspi.Registry.getDesktop(0)
    for i in range(d.childCount):
        a = d.getChildAtIndex(i)
        if a is None or a.name != app_name:
            continue
        stack = [a]
        while stack:
            n = stack.pop()
            try:
                if n.getRoleName() == "list item" and n.name in (row, row + " " + row):
                    return True
                stack.extend(n.getChildAtIndex(k) for k in range(n.childCount))
            except Exception:
                continue
    return False


def gone(app_name):
    d = pyatspi.Registry.getDesktop(0)
    return all(c is None or c.name != app_name for c in d)


def proc_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def one(cmd, row):
    app_name = os.path.basename(cmd[0])
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not has_row(app_name, row):
        if p.poll() is not None or time.monotonic() - t0 > 60:
            raise SystemExit("%s exited or showed no row %r in 60 s" % (cmd[0], row))
        time.sleep(0.005)
    dt = (time.monotonic() - t0) * 1000.0
    time.sleep(2)  # idle: the memory measurement only, not the time
    rss, hwm = proc_kib(p.pid, "VmRSS"), proc_kib(p.pid, "VmHWM")
    p.send_signal(signal.SIGTERM)
    p.wait()
    t1 = time.monotonic()
    while not gone(app_name) and time.monotonic() - t1 < 10:
        time.sleep(0.01)
    return dt, rss, hwm


def main():
    runs, row = int(sys.argv[1]), sys.argv[2]
    progs = [a.split("=", 1) for a in sys.argv[3:]]
    res = {name: [] for name, _ in progs}
    for _ in range(runs):
        for name, cmd in progs:
            res[name].append(one(cmd.split(), row))
    for name, _ in progs:
        ts = [r[0] for r in res[name]]
        print("%s %.1f %.1f %.1f %d %d" % (name, statistics.median(ts), min(ts), max(ts),
                                           statistics.median(r[1] for r in res[name]),
                                           statistics.median(r[2] for r in res[name])))


if __name__ == "__main__":
    main()
