"""One CONNECT stream's life on both sides: the idle timeout that ends a
stream nothing moves on (stream_idle_timeout), and bytes an edge sends
before the cloud's 200.

    device --> edge agw ==TLS 1.3 / HTTP/2==> cloud --> backend
               (or a raw HTTP/2 client, python3-h2, holding agw's key)
"""

import os
import socket
import ssl
import threading
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import pytest

from tunnel_lib import eventually, scrape, spki, value

METRICS = "metrics = 127.0.0.1:0"


class HoldBackend:
    """A TCP server that keeps what each connection sends and never
    writes or closes by itself: the backend that never answers. eof[i] is
    set when connection i got FIN (or a reset) from the cloud."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.conns, self.data, self.eof = [], [], []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            self.data.append(bytearray())
            self.eof.append(threading.Event())
            threading.Thread(target=self._read, args=(len(self.conns) - 1,),
                             daemon=True).start()

    def _read(self, i):
        try:
            while True:
                d = self.conns[i].recv(65536)
                if not d:
                    break
                self.data[i].extend(d)
        except OSError:
            pass
        self.eof[i].set()

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def _blackhole():
    """An address whose accept queue is full: a connect there waits for
    connect_timeout. Returns (address, sockets to keep open)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    keep = [s]
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(s.getsockname())
        except BlockingIOError:
            pass
        keep.append(c)
    return "127.0.0.1:%d" % s.getsockname()[1], keep


def _start(site, backends, cloud_extra="", edge_extra="", svc_opts=""):
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": (backends, "health = none\n" + svc_opts)},
        extra=METRICS + "\n" + cloud_extra))
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"t": "t"},
        extra=METRICS + "\n" + edge_extra))
    edge.wait_log(r"event=tunnel_up")
    return cloud, edge


def _idle(d, **labels):
    return value(scrape(d), "isthmus_streams_idle_closed_total", **labels)


def _recv_eof(c, timeout):
    """What c receives until the other side closes; None on timeout."""
    c.settimeout(timeout)
    got = b""
    try:
        while True:
            d = c.recv(65536)
            if not d:
                return got
            got += d
    except socket.timeout:
        return None
    except OSError:
        return got


@pytest.mark.parametrize("side", ["edge", "cloud"])
def test_idle_stream_is_closed_busy_one_is_not(site, side):
    """stream_idle_timeout = 1s on one side, 0s (off) on the other. A
    stream moving a byte every 300 ms lives on well past 1s; once silent,
    it is closed after about 1s: the device's and the backend's
    connections both, logged and counted by the side whose timer it
    was."""
    b = HoldBackend()
    other = "cloud" if side == "edge" else "edge"
    extra = {side: "stream_idle_timeout = 1s",
             other: "stream_idle_timeout = 0s"}
    try:
        cloud, edge = _start(site, [b.addr], cloud_extra=extra["cloud"],
                             edge_extra=extra["edge"])
        d = socket.create_connection(("127.0.0.1", edge.port("listener.t")))
        for i in range(10):        # 3 s of one byte every 300 ms
            time.sleep(0.3)
            d.sendall(b"%d" % i)
        t0 = time.time()           # the last byte: silent from here
        assert eventually(lambda: len(b.data) == 1 and
                          bytes(b.data[0]) == b"0123456789")
        assert not b.eof[0].is_set()
        # gone after the timeout (and a bit of slack)
        assert _recv_eof(d, 10) == b""
        waited = time.time() - t0
        assert 0.9 <= waited < 5, waited
        assert b.eof[0].wait(5)
        d.close()
        daemon = edge if side == "edge" else cloud
        if side == "edge":
            daemon.wait_log(r"event=stream_idle_timeout edge=agw tenant=A "
                            r"listener=t service=t device=127\.0\.0\.1:\d+")
            assert _idle(edge, listener="t", service="t") == 1
            assert _idle(cloud, tenant="A") == 0
        else:
            daemon.wait_log(r"event=stream_idle_timeout edge=agw tenant=A "
                            r"service=t device=127\.0\.0\.1:\d+ "
                            r"idle_ms=1000")
            assert _idle(cloud, tenant="A") == 1
            assert _idle(edge, listener="t", service="t") == 0
        assert "stream_idle_timeout" not in (cloud if side == "edge"
                                             else edge).text()
        # both sides are rid of the stream and carry on
        assert eventually(lambda: value(scrape(cloud),
                          "isthmus_streams_open", tenant="A") == 0)
        assert value(scrape(edge), "isthmus_streams_open", listener="t",
                     service="t") == 0
    finally:
        b.close()


def test_half_closed_device_with_a_silent_backend_is_not_held(site):
    """The device sent its request and half-closed; the backend reads it
    and never answers nor closes. Without a timeout the device and the
    backend connection are held for ever; with stream_idle_timeout (on
    both sides) both are closed."""
    b = HoldBackend()
    try:
        cloud, edge = _start(site, [b.addr],
                             cloud_extra="stream_idle_timeout = 1500ms",
                             edge_extra="stream_idle_timeout = 1500ms")
        d = socket.create_connection(("127.0.0.1", edge.port("listener.t")))
        d.sendall(b"request")
        d.shutdown(socket.SHUT_WR)
        # the backend sees the request and the device's FIN
        assert eventually(lambda: len(b.eof) == 1 and b.eof[0].is_set())
        assert bytes(b.data[0]) == b"request"
        assert _recv_eof(d, 10) == b""
        d.close()
        assert eventually(lambda: value(
            scrape(cloud), "isthmus_backend_active_streams", tenant="A",
            service="t", backend=b.addr) == 0)
        assert eventually(lambda: _idle(cloud, tenant="A") +
                          _idle(edge, listener="t", service="t") >= 1)
    finally:
        b.close()


def test_stream_waiting_for_the_cloud_counts_as_idle(site):
    """The timer runs from the stream's start: a device whose stream
    waits for a cloud that is slow to answer (three backends that each
    hold the connect for connect_timeout, 1s) is closed after the edge's
    1s, not after the cloud's 3s."""
    holes = [_blackhole() for _ in range(3)]
    try:
        _, edge = _start(site, [h for h, _ in holes],
                         edge_extra="stream_idle_timeout = 1s")
        d = socket.create_connection(("127.0.0.1", edge.port("listener.t")))
        t0 = time.time()
        assert _recv_eof(d, 10) == b""
        assert 0.9 <= time.time() - t0 < 2.5
        d.close()
        edge.wait_log(r"event=stream_idle_timeout edge=agw tenant=A "
                      r"listener=t service=t")
        assert _idle(edge, listener="t", service="t") == 1
    finally:
        for _, keep in holes:
            for k in keep:
                k.close()


def test_stream_idle_timeout_config(site, run):
    """Documented default 2h; 0s turns it off; a bare number is not a
    duration."""
    conf = site.cloud_conf({"A/t": ["127.0.0.1:9"]},
                           extra="stream_idle_timeout = 5")
    res = run("cloud", "-c", conf, "--check", expect=2)
    assert "stream_idle_timeout" in res.stderr
    for v in ("0s", "2h", "30d"):
        conf = site.cloud_conf({"A/t": ["127.0.0.1:9"]},
                               extra=f"stream_idle_timeout = {v}")
        run("cloud", "-c", conf, "--check", expect=0)
        econf = site.edge_conf("agw", 1, {"t": "t"},
                               extra=f"stream_idle_timeout = {v}")
        run("edge", "-c", econf, "--check", expect=0)
    conf = site.cloud_conf({"A/t": ["127.0.0.1:9"]},
                           extra="stream_idle_timeout = 31d")
    run("cloud", "-c", conf, "--check", expect=2)


class RawEdge:
    """An HTTP/2 client on a TLS connection to the cloud, presenting edge
    agw's certificate: an admitted edge that does what it likes."""

    def __init__(self, site, port):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_verify_locations(site.pki / "ca.crt")
        ctx.load_cert_chain(site.pki / "agw.crt", site.pki / "agw.key")
        ctx.set_alpn_protocols(["isthmus/1"])
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.s = ctx.wrap_socket(raw, server_hostname="localhost")
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8",
            validate_outbound_headers=False))  # h2 wants :path on CONNECT
        self.h2.initiate_connection()
        self.flush()
        self.events = []
        # the cloud's SETTINGS (512 KB stream window) and its connection
        # WINDOW_UPDATE come first
        self.until(lambda: self.h2.outbound_flow_control_window > 1 << 20)

    def flush(self):
        out = self.h2.data_to_send()
        if out:
            self.s.sendall(out)

    def until(self, cond, timeout=10):
        deadline = time.time() + timeout
        while not cond():
            assert time.time() < deadline, self.events
            self.s.settimeout(max(0.05, deadline - time.time()))
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                continue
            assert d, "the cloud closed the tunnel: %r" % self.events
            for ev in self.h2.receive_data(d):
                self.events.append(ev)
                if isinstance(ev, h2.events.DataReceived):
                    self.h2.acknowledge_received_data(
                        ev.flow_controlled_length, ev.stream_id)
            self.flush()

    def connect(self, service, device="192.0.2.7:4242"):
        sid = self.h2.get_next_available_stream_id()
        self.h2.send_headers(sid, [(":method", "CONNECT"),
                                   (":authority", service),
                                   ("isthmus-device", device)])
        self.flush()
        return sid

    def send(self, sid, data, end=False):
        step = self.h2.max_outbound_frame_size
        for i in range(0, len(data), step):
            self.h2.send_data(sid, data[i:i + step])
        if end:
            self.h2.end_stream(sid)
        self.flush()

    def status(self, sid):
        for ev in self.events:
            if isinstance(ev, h2.events.ResponseReceived) and \
                    ev.stream_id == sid:
                return dict(ev.headers)[":status"]
        return None

    def body(self, sid):
        return b"".join(ev.data for ev in self.events
                        if isinstance(ev, h2.events.DataReceived)
                        and ev.stream_id == sid)

    def ended(self, sid):
        return any(isinstance(ev, (h2.events.StreamEnded,
                                   h2.events.StreamReset))
                   and ev.stream_id == sid for ev in self.events)

    def close(self):
        self.s.close()


@pytest.mark.parametrize("end_early", [False, True])
def test_bytes_before_the_200_reach_the_backend(site, end_early):
    """An admitted edge sends DATA right behind its CONNECT, before the
    cloud answered (the first backend holds the connect for
    connect_timeout), and more while it waits: the backend gets every
    byte, in order, then what came after the 200. end_early: the
    END_STREAM comes before the 200 too."""
    a = site.backend("A")
    bh, keep = _blackhole()
    try:
        cloud = site.start("cloud", site.cloud_conf(
            {"A/t": ([bh, a], "health = none")}, extra="workers = 1"))
        e = RawEdge(site, cloud.port("listen"))
        first, second = os.urandom(300 * 1024), os.urandom(100 * 1024)
        last = os.urandom(64 * 1024)
        t0 = time.time()
        sid = e.connect("t")
        e.send(sid, first)
        time.sleep(0.3)             # the cloud is still dialling
        e.send(sid, second, end=end_early)
        assert e.status(sid) is None, "answered too soon for this test"
        e.until(lambda: e.status(sid) is not None)
        assert e.status(sid) == "200"
        assert time.time() - t0 >= 0.8     # after the blackhole's timeout
        sent = first + second
        if not end_early:
            e.send(sid, last, end=True)
            sent += last
        e.until(lambda: e.ended(sid), timeout=20)
        assert e.body(sid) == b"A\n" + sent
        e.close()
    finally:
        for k in keep:
            k.close()


def test_bytes_before_the_200_are_bounded_by_the_window(site):
    """What the cloud keeps for a stream still dialling is bounded by the
    stream's window (512 KiB): an edge that sends more, ignoring flow
    control, gets RST_STREAM(FLOW_CONTROL_ERROR); the tunnel and its
    other streams carry on."""
    from hyperframe.frame import DataFrame

    a = site.backend("A")
    bh, keep = _blackhole()
    try:
        cloud = site.start("cloud", site.cloud_conf(
            {"A/t": ([bh, a], "health = none")}, extra="workers = 1"))
        e = RawEdge(site, cloud.port("listen"))
        sid = e.connect("t")
        chunk = os.urandom(16 * 1024)
        e.s.sendall(b"".join(DataFrame(sid, data=chunk).serialize()
                             for _ in range(40)))     # 640 KiB
        e.until(lambda: e.ended(sid))
        codes = [ev.error_code for ev in e.events
                 if isinstance(ev, h2.events.StreamReset)
                 and ev.stream_id == sid]
        assert codes == [h2.errors.ErrorCodes.FLOW_CONTROL_ERROR], e.events
        sid2 = e.connect("t")
        e.send(sid2, b"after", end=True)
        e.until(lambda: e.ended(sid2))
        assert e.status(sid2) == "200"
        assert e.body(sid2) == b"A\nafter"
        e.close()
    finally:
        for k in keep:
            k.close()


def test_device_bytes_before_the_200_reach_the_backend(site):
    """The edge side of the same: a device sends 1 MB and its FIN at once,
    while the cloud dials (connect_timeout on the first backend); the
    edge holds them until the 200 (in the socket: no read before it), and
    the backend gets all of it."""
    a = site.backend("A")
    bh, keep = _blackhole()
    try:
        _, edge = _start(site, [bh, a], cloud_extra="workers = 1")
        data = os.urandom(1024 * 1024)
        d = socket.create_connection(("127.0.0.1", edge.port("listener.t")))
        t0 = time.time()
        got = bytearray()

        def reader():
            got.extend(_recv_eof(d, 20) or b"")

        t = threading.Thread(target=reader)
        t.start()
        d.sendall(data)
        d.shutdown(socket.SHUT_WR)
        t.join(25)
        d.close()
        assert time.time() - t0 >= 0.8
        assert bytes(got) == b"A\n" + data
    finally:
        for k in keep:
            k.close()
