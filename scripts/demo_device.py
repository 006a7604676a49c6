#!/usr/bin/env python3
"""A device's HTTPS API for `make demo` (a weather station such as the
DMU801 of ../shared/seeds/004): a self-signed certificate unique to the
device, no host name in it, and a JSON report behind Basic credentials.
It prints each request it gets (never the password)."""
import base64
import http.server
import json
import ssl
import sys
import time

NAME, PORT, CERT, KEY = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
USER, PASSWORD = "demo", "s3cret-pw"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        ok = auth == "Basic " + base64.b64encode(
            f"{USER}:{PASSWORD}".encode()).decode()
        print(f"{NAME}: {self.command} {self.path} "
              f"credentials={'right' if ok else 'none or wrong'}",
              flush=True)
        if not ok:
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"station": NAME, "t": 21.4, "rh": 43.0,
                           "ts": int(time.time())}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(f"{NAME}: listening on https://127.0.0.1:{PORT}", flush=True)
srv.serve_forever()
