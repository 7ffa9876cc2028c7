#!/usr/bin/python3
"""tls-relay.py: a TLS front for a plain-HTTP test peer (scepserver), since
the product speaks https only. Listens on 127.0.0.1 (a free port unless
--port), terminates TLS with --cert/--key and copies bytes both ways to
127.0.0.1:--target. Prints "listening on PORT" once it accepts; runs until
killed. --dump DIR writes what the peer answered on each connection to
DIR/answer-N (to make the fuzzers' seeds); --caps TEXT answers SCEP's
GetCACaps itself with TEXT (a CA that offers less than scepserver: "" for
nothing, the legacy algorithms and GET). Test rig only (tests/agent/test-scep.sh, tests/enroll/test-scep.c).
"""
import argparse
import socket
import ssl
import sys
import threading


def pump(src, dst, dump=None):
    try:
        while True:
            data = src.recv(16384)
            if not data:
                break
            if dump is not None:
                dump.write(data)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


COUNT = [0]


def serve(conn, context, target, dump_dir, caps):
    try:
        tls = context.wrap_socket(conn, server_side=True)
        first = tls.recv(16384)
    except (OSError, ssl.SSLError):
        conn.close()
        return
    if caps is not None and b"operation=GetCACaps" in first.split(b"\r\n", 1)[0]:
        body = caps.replace("\\n", "\n").encode()
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                    b"Connection: close\r\n\r\n%s" % (len(body), body))
        tls.close()
        return
    try:
        peer = socket.create_connection(("127.0.0.1", target))
    except OSError:
        # The peer is down: close, as a CA whose server died would.
        tls.close()
        return
    try:
        peer.sendall(first)
    except OSError:
        tls.close()
        peer.close()
        return
    dump = None
    if dump_dir:
        COUNT[0] += 1
        dump = open("%s/answer-%d" % (dump_dir, COUNT[0]), "wb")
    t = threading.Thread(target=pump, args=(peer, tls, dump), daemon=True)
    t.start()
    pump(tls, peer)
    t.join()
    if dump is not None:
        dump.close()
    tls.close()
    peer.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--target", type=int, required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--dump")
    p.add_argument("--caps")
    a = p.parse_args()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(a.cert, a.key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", a.port))
    listener.listen(16)
    print("listening on %d" % listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, context, a.target, a.dump, a.caps), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
