"""manage_edges: holds N admitted edges on one cloud for `make bench`.

Each edge is a TLS 1.3 connection with its own certificate
(DIR/PREFIX1.crt .. PREFIXN), ALPN isthmus/1 and an HTTP/2 session
(Debian's python3-h2). With --manage each opens its management stream
(docs/protocol.md section 5), says hello, and answers every instruction
at once with outcome ok; without it the edges only hold their tunnels,
so the cloud's memory with and without the streams can be compared.
Prints "held N" once every edge is admitted (and every stream answered
200), then serves until SIGTERM or --seconds pass.
"""

import argparse
import json
import selectors
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events

HEADERS = [(":method", "POST"), (":scheme", "https"),
           (":authority", ".isthmus"), (":path", "/manage"),
           ("content-type", "application/x-ndjson")]
HELLO = b'{"v":1,"type":"hello","version":"bench","accepts":["status"]}\n'


class Edge:
    def __init__(self, host, port, crt, key, ca, manage):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_cert_chain(crt, key)
        ctx.load_verify_locations(ca)
        ctx.check_hostname = False
        ctx.set_alpn_protocols(["isthmus/1"])
        raw = socket.create_connection((host, port), timeout=30)
        self.sock = ctx.wrap_socket(raw)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.sid = None
        self.ready = not manage
        self.buf = b""
        if manage:
            self.sid = self.conn.get_next_available_stream_id()
            self.conn.send_headers(self.sid, HEADERS)
            self.conn.send_data(self.sid, HELLO)
        self.flush()
        self.admitted = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.setblocking(True)
            self.sock.sendall(data)
            self.sock.setblocking(False)

    def on_readable(self):
        try:
            data = self.sock.recv(65536)
        except (ssl.SSLWantReadError, BlockingIOError):
            return True
        if not data:
            return False
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                self.admitted = True
            elif isinstance(ev, h2.events.ResponseReceived):
                self.ready = dict(ev.headers).get(":status") == "200"
            elif isinstance(ev, h2.events.DataReceived):
                self.conn.acknowledge_received_data(
                    ev.flow_controlled_length, ev.stream_id)
                self.buf += ev.data
                while b"\n" in self.buf:
                    line, self.buf = self.buf.split(b"\n", 1)
                    ins = json.loads(line)
                    res = {"v": 1, "type": "result", "id": ins["id"],
                           "outcome": "ok", "result": {"ok": True}}
                    self.conn.send_data(self.sid,
                                        json.dumps(res).encode() + b"\n")
        self.flush()
        return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--prefix", default="site")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--manage", action="store_true")
    ap.add_argument("--seconds", type=float, default=600)
    a = ap.parse_args()
    host, port = a.connect.rsplit(":", 1)
    sel = selectors.DefaultSelector()
    edges = []
    for i in range(1, a.count + 1):
        e = Edge(host, int(port), f"{a.dir}/{a.prefix}{i}.crt",
                 f"{a.dir}/{a.prefix}{i}.key", a.ca, a.manage)
        e.sock.setblocking(False)
        sel.register(e.sock, selectors.EVENT_READ, e)
        edges.append(e)
    deadline = time.time() + a.seconds
    said = False
    while time.time() < deadline:
        for key, _ in sel.select(timeout=0.5):
            if not key.data.on_readable():
                print("lost an edge", file=sys.stderr)
                sys.exit(1)
        if not said and all(e.admitted and e.ready for e in edges):
            print(f"held {len(edges)}", flush=True)
            said = True


if __name__ == "__main__":
    main()
