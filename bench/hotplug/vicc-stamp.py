#!/usr/bin/python3
"""vicc, Debian's virtual smart card (vsmartcard-vpicc), with a timestamp.

Runs /usr/bin/vicc unchanged (same arguments) after wrapping
VirtualICC.connectToPort: when its connect() to vpcd returns, the
CLOCK_MONOTONIC time in microseconds is appended to the file named by
VICC_STAMP_FILE. That moment is "the card was inserted" for
bench/hotplug/latency.sh. Needs PYTHONPATH to hold vicc's modules (and a
Crypto -> Cryptodome link on Debian 12, see TESTING.md).
"""
import os
import runpy
import sys
import time

from virtualsmartcard.VirtualSmartcard import VirtualICC

_connect = VirtualICC.connectToPort


def _stamped_connect(host, port):
    sock = _connect(host, port)
    now_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    with open(os.environ["VICC_STAMP_FILE"], "a") as f:
        f.write("%d\n" % now_us)
    return sock


VirtualICC.connectToPort = staticmethod(_stamped_connect)
sys.argv[0] = "/usr/bin/vicc"
runpy.run_path("/usr/bin/vicc", run_name="__main__")
