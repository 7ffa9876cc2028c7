#!/usr/bin/python3
"""load-clients.py N TOKEN STOPFILE [COUNTFILE]: N clients, each on a D-Bus connection of
its own to the session bus, call io.signet.Agent1.ListTokens and
GetTokenStatus(TOKEN) one after the other until STOPFILE exists, then print
one line per client: "client I answers A errors E slowest-ms S", and the
first error text of each client that had one. COUNTFILE, when given, holds
the answers of all clients so far, rewritten every 100. Used by
test-load.sh."""

import os
import sys
import threading
import time

from gi.repository import Gio, GLib

DEST, PATH, IFACE = "io.signet.Agent", "/io/signet/Agent", "io.signet.Agent1"


count_lock = threading.Lock()
count = 0


def counted(countfile):
    global count
    with count_lock:
        count += 1
        if countfile and count % 100 == 0:
            with open(countfile + ".tmp", "w") as f:
                f.write(f"{count}\n")
            os.replace(countfile + ".tmp", countfile)


def client(i, token, stop, countfile, results):
    flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
             | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
    conn = Gio.DBusConnection.new_for_address_sync(
        os.environ["DBUS_SESSION_BUS_ADDRESS"], flags, None, None)
    answers = errors = 0
    slowest = 0.0
    first_error = ""
    calls = (("ListTokens", None), ("GetTokenStatus", GLib.Variant("(s)", (token,))))
    while True:
        for method, args in calls:
            start = time.monotonic()
            try:
                conn.call_sync(DEST, PATH, IFACE, method, args, None,
                               Gio.DBusCallFlags.NONE, 120000, None)
                answers += 1
                counted(countfile)
            except GLib.Error as e:
                errors += 1
                first_error = first_error or f"{method}: {e.message}"
            slowest = max(slowest, time.monotonic() - start)
        if os.path.exists(stop):
            break
    conn.close_sync(None)
    results[i] = (answers, errors, slowest, first_error)


def main():
    n, token, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    countfile = sys.argv[4] if len(sys.argv) > 4 else None
    results = [None] * n
    threads = [threading.Thread(target=client, args=(i, token, stop, countfile, results)) for i in range(n)]
    for t in threads:
        t.start()
    # Tell the test every client is connected and calling.
    print("started", flush=True)
    for t in threads:
        t.join()
    for i, r in enumerate(results):
        if r is None:
            print(f"client {i} died")
            continue
        answers, errors, slowest, first_error = r
        print(f"client {i} answers {answers} errors {errors} slowest-ms {int(slowest * 1000)}")
        if first_error:
            print(f"client {i} error {first_error}")


if __name__ == "__main__":
    main()
