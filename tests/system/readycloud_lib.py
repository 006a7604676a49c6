"""A fake cloud for the edge's readiness tests (docs/protocol.md, 6): the
management fake of managecloud_lib, plus

  - PING answers held back `ping_delay` seconds (python-h2 answers a
    PING itself; this one queues the answer and writes it when due), so
    a test knows the round trip it imposed;
  - GET /readiness/down (N zero bytes, flow-controlled) and POST
    /readiness/up (counted; answered with isthmus-bytes and isthmus-usec
    once the body ended), at `.isthmus`;
  - UdpEcho: the readiness_udp port, which checks each probe's MAC with
    the test's key (python's hmac) and echoes it as the protocol says,
    or drops every `drop_every`th one, upward (not counted) or downward
    (counted, the echo lost), or never answers at all.

    edge ==TLS==> ReadyCloud (h2, the management stream, PING, /readiness/*)
    edge --UDP--> UdpEcho (probes -> echoes)
"""

import hashlib
import hmac
import json
import os
import socket
import struct
import threading
import time

import h2.connection
import h2.events
import h2.exceptions

from managecloud_lib import ManageCloud

HEADER = struct.Struct("!4sBBH16sIIQQ")     # bytes 0..47


def default_profile(**kw):
    """The params' profile object of the built-in default, with kw."""
    p = {"name": "default", "path": True, "pings": 20,
         "ping_interval_ms": 250, "down": 4 << 20, "up": 4 << 20,
         "udp": True, "udp_rate": 50, "udp_duration_ms": 10000,
         "udp_size": 172, "budget": 10 << 20,
         "thresholds": {"delay_ms": [150, 400], "jitter_ms": [30, 50],
                        "loss_pct": [1, 3], "down_mbps": [10, 2],
                        "up_mbps": [5, 1], "mos": [4.0, 3.6],
                        "dns_ms": [200, 1000], "connect_ms": [200, 1000],
                        "handshake_ms": [500, 2000]}}
    p.update(kw)
    return p


def test_id(id_):
    return bytes.fromhex(id_.rjust(32, "0"))


class HeldPings(h2.connection.H2Connection):
    """python-h2 answers a PING at once; this one holds the answer."""

    def __init__(self, config, delay):
        super().__init__(config)
        self.delay = delay
        self.held = []          # (due, frame bytes)
        self.ready = {}         # stream id -> readiness stream state

    def _receive_ping_frame(self, frame):
        frames, events = super()._receive_ping_frame(frame)
        if self.delay and frames:
            due = time.monotonic() + self.delay
            self.held += [(due, f.serialize()) for f in frames]
            frames = []
        return frames, events


class RStream:
    def __init__(self, path, headers):
        self.path = path
        self.headers = headers
        self.out = b""
        self.end = False
        self.got = 0
        self.first = self.last = None


class ReadyCloud(ManageCloud):
    def __init__(self, pki, ping_delay=0.0, down_status=200,
                 up_status=200, **kw):
        self.ping_delay = ping_delay
        self.down_status = down_status
        self.up_status = up_status
        self.ready_requests = []        # (path, headers)
        self.up_counted = []            # bytes the up streams carried
        super().__init__(pki, **kw)

    def schedule(self, profile="voice", every=21600, next_=None):
        r = None if profile is None else {
            "profile": profile, "every": every,
            "next": next_ or int(time.time()) + 3600}
        self.send(json.dumps({"v": 1, "type": "schedule",
                              "readiness": r}).encode() + b"\n")

    def readiness(self, id_, profile, udp=None, args=(), **extra):
        params = {"profile": profile}
        if udp is not None:
            params["udp"] = udp
        return self.instruct("readiness", args, id_=id_, params=params,
                             **extra)

    def kept(self, id_, n, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.streams) >= n:
                    for m in self.streams[n - 1].messages:
                        if m.get("type") == "kept" and m.get("id") == id_:
                            return m
            time.sleep(0.05)
        raise AssertionError(f"no kept result for {id_}")

    # -- hooks ---------------------------------------------------------------

    def _new_conn(self, config):
        return HeldPings(config, self.ping_delay)

    def _wait(self, conn):
        if conn.held:
            return max(0.0, min(0.02, conn.held[0][0] - time.monotonic()))
        return 0.02

    def _tick(self, conn, s):
        now = time.monotonic()
        while conn.held and conn.held[0][0] <= now:
            _, frame = conn.held.pop(0)
            s.setblocking(True)
            s.sendall(frame)
            s.setblocking(False)
        for sid, st in list(conn.ready.items()):
            if st.path == "/readiness/down":
                self._push_body(conn, sid, st)
        out = conn.data_to_send()
        if out:
            s.setblocking(True)
            s.sendall(out)
            s.setblocking(False)

    def _push_body(self, conn, sid, st):
        try:
            while st.out:
                room = min(conn.local_flow_control_window(sid),
                           conn.max_outbound_frame_size)
                if room <= 0:
                    return
                chunk, st.out = st.out[:room], st.out[room:]
                conn.send_data(sid, chunk, end_stream=not st.out and
                               st.end)
        except h2.exceptions.StreamClosedError:
            conn.ready.pop(sid, None)
            return
        if not st.out:
            conn.ready.pop(sid, None)

    def _other(self, conn, ev, h):
        path = h.get(":path")
        if h.get(":authority") != ".isthmus" or path not in (
                "/readiness/down", "/readiness/up"):
            return False
        with self.lock:
            self.ready_requests.append((path, h))
        st = RStream(path, h)
        n = int(h.get("isthmus-bytes", "0"))
        if path == "/readiness/down":
            if self.down_status != 200:
                conn.send_headers(ev.stream_id, [
                    (":status", str(self.down_status)),
                    ("isthmus-refused", "no_test")], end_stream=True)
                return True
            conn.send_headers(ev.stream_id, [(":status", "200")])
            st.out = bytes(n)
            st.end = True
            conn.ready[ev.stream_id] = st
            return True
        if self.up_status != 200:
            conn.send_headers(ev.stream_id, [
                (":status", str(self.up_status)),
                ("isthmus-refused", "no_test")], end_stream=True)
            return True
        conn.ready[ev.stream_id] = st
        return True

    def _other_event(self, conn, ev):
        st = conn.ready.get(getattr(ev, "stream_id", None))
        if st is None or st.path != "/readiness/up":
            return False
        if isinstance(ev, h2.events.DataReceived):
            conn.acknowledge_received_data(ev.flow_controlled_length,
                                           ev.stream_id)
            now = time.monotonic()
            if ev.data:
                st.first = st.first or now
                st.last = now
                st.got += len(ev.data)
        elif isinstance(ev, h2.events.StreamEnded):
            usec = int(((st.last or 0) - (st.first or 0)) * 1e6)
            conn.send_headers(ev.stream_id, [
                (":status", "200"), ("isthmus-bytes", str(st.got)),
                ("isthmus-usec", str(max(usec, 1)))], end_stream=True)
            conn.ready.pop(ev.stream_id, None)
            with self.lock:
                self.up_counted.append(st.got)
        elif isinstance(ev, h2.events.StreamReset):
            conn.ready.pop(ev.stream_id, None)
        return True


class UdpEcho:
    """The cloud's readiness_udp port for one key."""

    def __init__(self, drop_every=0, drop="up", silent=False):
        self.key = os.urandom(32)
        self.drop_every = drop_every
        self.drop = drop
        self.silent = silent
        self.probes = 0         # well-formed probes with a right MAC
        self.bad = 0
        self.counts = {}        # test -> probes taken
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def params(self):
        return {"host": "127.0.0.1", "port": self.port,
                "key": self.key.hex()}

    def close(self):
        self._stop = True
        self.sock.close()

    def _mac(self, head):
        return hmac.new(self.key, head, hashlib.sha256).digest()[:16]

    def _serve(self):
        while not self._stop:
            try:
                data, peer = self.sock.recvfrom(2048)
            except OSError:
                return
            if len(data) < 64:
                self.bad += 1
                continue
            magic, ver, typ, length, test, seq, _, sent, _ = \
                HEADER.unpack(data[:48])
            if (magic != b"ISRT" or ver != 1 or typ != 1 or
                    length != len(data) or
                    not hmac.compare_digest(self._mac(data[:48]),
                                            data[48:64]) or
                    any(data[64:])):
                self.bad += 1
                continue
            self.probes += 1
            if self.silent:
                continue
            lost = self.drop_every and seq % self.drop_every == \
                self.drop_every - 1
            if lost and self.drop == "up":
                continue
            count = self.counts.get(test, 0) + 1
            self.counts[test] = count
            if lost:
                continue
            head = HEADER.pack(b"ISRT", 1, 2, length, test, seq, count,
                               sent, time.monotonic_ns() // 1000)
            echo = head + self._mac(head) + bytes(length - 64)
            self.sock.sendto(echo, peer)
