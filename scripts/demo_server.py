#!/usr/bin/env python3
"""A customer's back-end server for `make demo` (the seed's python server):
it receives a device's HTTP request, prints it, and answers with its name."""
import http.server
import sys

NAME, PORT = sys.argv[1], int(sys.argv[2])


class Handler(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode(errors="replace")
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
