#!/usr/bin/python3
"""A telemetry backend that keeps a ledger, for the store-and-forward
tests and bench: every POST or PUT it answers is first written to the
ledger file, one JSON line each, with the request's Idempotency-Key,
X-Isthmus-Accepted and body, then answered 200. The ledger survives the
process (a line is written with one write() before the answer goes), so
a test can SIGKILL this backend and start it again on the same port.

  ledger.py PORT LEDGER [--status N]   (N: answer every request N)

It prints "ready" once listening, and ends on SIGTERM.
"""
import argparse
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body go in two writes: without this, Nagle's
    # algorithm and the cloud's delayed ACK cost 40 ms an answer.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _take(self):
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n) if n else b""
        status = self.server.status
        if status < 300:
            line = json.dumps({
                "key": self.headers.get("idempotency-key"),
                "accepted": self.headers.get("x-isthmus-accepted"),
                "method": self.command, "path": self.path,
                "body": body.decode("utf-8", "replace")}) + "\n"
            with self.server.lock:
                os.write(self.server.fd, line.encode())
        out = b"ok\n"
        self.send_response(status)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_POST = _take
    do_PUT = _take


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("ledger")
    ap.add_argument("--status", type=int, default=200)
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.status = a.status
    srv.lock = threading.Lock()
    srv.fd = os.open(a.ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
