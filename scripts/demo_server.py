#!/usr/bin/env python3
"""A customer's back-end server for `make demo` (the seed's python server):
it receives a device's HTTP request, prints it, and answers with its name.
GET /fw/NAME is a firmware image (the same 4 MB on every server), which
edges may cache for an hour."""
import hashlib
import http.server
import sys

FIRMWARE = b"".join(hashlib.sha256(b"fw%d" % i).digest()
                    for i in range(4 * 1024 * 1024 // 32))

NAME, PORT = sys.argv[1], int(sys.argv[2])


class Handler(http.server.BaseHTTPRequestHandler):
    def _firmware(self):
        print(f"{NAME}: {self.command} {self.path}", flush=True)
        self.send_response(200)
        self.send_header("Content-Length", str(len(FIRMWARE)))
        self.send_header("Cache-Control", "max-age=3600")
        self.send_header("ETag", '"fw-9.2"')
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(FIRMWARE)

    def _answer(self):
        if self.path.startswith("/fw/"):
            self._firmware()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode(errors="replace")
        collector = self.headers.get("X-Isthmus-Collector")
        if collector:   # an answer an edge collected from a device
            print(f"{NAME}: {self.command} {self.path} from collector "
                  f"{collector} of device "
                  f"{self.headers.get('X-Isthmus-Collector-Url')} "
                  f"(certificate "
                  f"{self.headers.get('X-Isthmus-Collector-Fingerprint')[:23]}"
                  f"..., status "
                  f"{self.headers.get('X-Isthmus-Collector-Status')}): "
                  f"{body}", flush=True)
        elif self.headers.get("X-Isthmus-Accepted"):   # from a queue
            print(f"{NAME}: {self.command} {self.path} {body} (replayed; "
                  f"Idempotency-Key {self.headers.get('Idempotency-Key')}, "
                  f"accepted {self.headers.get('X-Isthmus-Accepted')})",
                  flush=True)
        else:
            print(f"{NAME}: {self.command} {self.path} {body}", flush=True)
        who = self.headers.get("X-Isthmus-Edge")
        if who:     # an HTTP service with identity_headers = yes
            body += (f" (from edge {who} of tenant "
                     f"{self.headers.get('X-Isthmus-Tenant')}, "
                     f"{self.headers.get('Forwarded')})")
        reply = f"{NAME} got: {body}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
