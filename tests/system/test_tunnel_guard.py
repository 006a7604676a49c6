"""The cloud defends itself against tunnels that die silently and edges
that open too much (issue 14 items 7 and 9).

    edge agw --[relay: can freeze a connection]--> cloud --> backend A
    H2Edge (a hand-driven edge, h2edge_lib.py) -----> cloud

A frozen connection is one whose packets stop without a FIN or RST: a
link blackout, a NAT that forgot the flow, a host that hung. Only the
cloud's own keepalive can tell."""

import json
import os
import signal
import socket
import threading
import time

import h2.errors
import h2.events
import h2.settings
import pytest

from h2edge_lib import H2Edge
from isthmus_testlib import run
from tunnel_lib import eventually, exchange, scrape, spki, up, value


class FreezingRelay:
    """TCP relay 127.0.0.1:port -> target. freeze() stops moving bytes on
    every connection open now (nothing is closed); later connections
    are relayed normally."""

    def __init__(self, target_port):
        self.target = target_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            st = {"frozen": False}
            self.conns.append((c, u, st))
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b, st),
                                 daemon=True).start()

    @staticmethod
    def _pipe(a, b, st):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    b.shutdown(socket.SHUT_WR)
                    return
                while st["frozen"]:
                    time.sleep(0.05)     # hold the bytes, close nothing
                b.sendall(d)
        except OSError:
            pass

    def freeze(self):
        for _, _, st in self.conns:
            st["frozen"] = True

    def close(self):
        self.stop = True
        self.sock.close()
        for c, u, _ in self.conns:
            c.close()
            u.close()


def tunnels_of(cloud, edge):
    st = json.loads(run("status", "--socket", cloud.ready["admin"],
                        "--json", expect=0).stdout)
    return [t for t in st["tunnels"] if t["edge"] == edge]


# -- item 7: the cloud reaps dead tunnels -----------------------------------

def test_a_re_admitted_edge_makes_the_cloud_probe_its_old_tunnel(site):
    """The cloud's own keepalive is an hour here: only the PING sent when
    the edge is admitted again can find the old tunnel dead."""
    a = site.backend("A")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [a]}, extra="metrics = 127.0.0.1:0\nkeepalive = 1h\n"
        "keepalive_timeout = 1s"))
    relay = FreezingRelay(cloud.port("listen"))
    try:
        edge = site.start("edge", site.edge_conf("agw", relay.port,
                                                 {"t": "t"}))
        edge.wait_log(r"event=tunnel_up")
        relay.freeze()
        # the edge notices by its keepalive, and comes back on a new
        # connection; the cloud then has two tunnels of agw, briefly
        edge.wait_log(r"event=tunnel_down cloud=\S+ reason=\"keepalive "
                      r"timeout\"", timeout=15)
        edge.wait_log(r"event=tunnel_up", count=2, timeout=15)
        cloud.wait_log(r"event=tunnel_reaped edge=agw tenant=A peer=\S+ "
                       r"reason=keepalive_timeout silent_ms=\d+ "
                       r"streams_open=0", timeout=10)
        assert eventually(lambda: len(tunnels_of(cloud, "agw")) == 1)
        assert value(scrape(cloud), "isthmus_tunnels_reaped_total") == 1
        assert exchange(edge.port("listener.t"), b"x") == b"A\nx"
    finally:
        relay.close()


def test_a_quiet_dead_tunnel_is_reaped_with_its_streams(site):
    a = site.backend("A")
    cloud, edges = up(site, {"A/t": [a]}, listeners_a={"t": "t"},
                      extra="metrics = 127.0.0.1:0\nkeepalive = 500ms\n"
                      "keepalive_timeout = 1s")
    edge = edges["agw"]
    dev = socket.create_connection(("127.0.0.1", edge.port("listener.t")))
    dev.settimeout(10)
    assert dev.recv(2) == b"A\n"
    assert eventually(lambda: sum(b["active"] for s in json.loads(run(
        "status", "--socket", cloud.ready["admin"], "--json",
        expect=0).stdout)["services"] for b in s["backends"]) == 1)
    edge.signal(signal.SIGSTOP)     # the host hangs: TCP stays up
    try:
        cloud.wait_log(r"event=tunnel_reaped edge=agw tenant=A peer=\S+ "
                       r"reason=keepalive_timeout silent_ms=\d+ "
                       r"streams_open=1", timeout=10)
        assert tunnels_of(cloud, "agw") == []
        # its stream's backend socket went with it
        st = json.loads(run("status", "--socket", cloud.ready["admin"],
                            "--json", expect=0).stdout)
        assert sum(b["active"] for s in st["services"]
                   for b in s["backends"]) == 0
    finally:
        edge.signal(signal.SIGCONT)
    dev.close()
    edge.wait_log(r"event=tunnel_up", count=2, timeout=20)
    assert exchange(edge.port("listener.t"), b"y") == b"A\ny"


def test_a_live_quiet_tunnel_is_kept(site):
    """An edge that answers PINGs keeps its tunnel, however quiet."""
    a = site.backend("A")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [a]}, extra="keepalive = 200ms\nkeepalive_timeout = 500ms"))
    e = H2Edge(cloud.port("listen"), site.pki / "agw.crt",
               site.pki / "agw.key", site.pki / "ca.crt")
    try:
        # h2 answers PINGs by itself; we send nothing else for 2 s
        e.wait(lambda evs: sum(isinstance(ev, h2.events.PingReceived)
                               for ev in evs) >= 4, timeout=10)
        assert not e.closed
        assert "event=tunnel_reaped" not in cloud.text()
    finally:
        e.close()


# -- item 9: caps per tunnel and per tenant ---------------------------------

def test_the_cloud_advertises_its_stream_limit(site):
    a = site.backend("A")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [a]}, extra="tunnel_max_streams = 77"))
    e = H2Edge(cloud.port("listen"), site.pki / "agw.crt",
               site.pki / "agw.key", site.pki / "ca.crt")
    try:
        assert e.wait(lambda evs: h2.settings.SettingCodes.
                      MAX_CONCURRENT_STREAMS in e.remote_settings)
        assert e.remote_settings[
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] == 78  # +manage
    finally:
        e.close()


def test_a_tenant_over_its_cap_gets_refused_streams(site):
    """tenant A may hold 3 streams open over all its edges; the 4th is
    refused (REFUSED_STREAM) before any backend is dialled, counted, and
    the other tenant is not affected."""
    a, b = site.backend("A"), site.backend("B")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [a], "B/t": [b]}, extra="metrics = 127.0.0.1:0"))
    text = cloud.conf.read_text()
    cloud.conf.write_text(text.replace("[tenant A]",
                                       "[tenant A]\nmax_streams = 3"))
    cloud.signal(signal.SIGHUP)
    cloud.wait_log(r"event=reloaded")
    port = cloud.port("listen")
    ea = H2Edge(port, site.pki / "agw.crt", site.pki / "agw.key",
                site.pki / "ca.crt")
    eb = H2Edge(port, site.pki / "bgw.crt", site.pki / "bgw.key",
                site.pki / "ca.crt")
    try:
        held = [ea.connect("t") for _ in range(3)]
        ea.flush()
        assert ea.wait(lambda evs: all(ea.status(s) == 200 for s in held))
        accepted = a.accepted
        extra = ea.connect("t")
        ea.flush()
        assert ea.wait(lambda evs: extra in ea.resets())
        assert ea.resets()[extra] == h2.errors.ErrorCodes.REFUSED_STREAM
        assert a.accepted == accepted         # no dial for it
        cloud.wait_log(r"event=stream_refused edge=agw tenant=A service=t "
                       r"reason=tenant_streams max_streams=3")
        assert value(scrape(cloud), "isthmus_streams_refused_total",
                     tenant="A", reason="tenant_streams") == 1
        # B is another customer: its streams go through
        sb = [eb.connect("t") for _ in range(4)]
        eb.flush()
        assert eb.wait(lambda evs: all(eb.status(s) == 200 for s in sb))
        # one of A's ends: A may open one again
        ea.send(held[0], b"", end=True)
        ea.flush()
        ea.wait(lambda evs: False, timeout=1)
        again = ea.connect("t")
        ea.flush()
        assert ea.wait(lambda evs: ea.status(again) == 200)
    finally:
        ea.close()
        eb.close()


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rapid_reset(cloud, site, streams=10000):
    """As an admitted edge, writes `streams` CONNECT HEADERS frames and
    then a RST_STREAM for each, in one burst (raw frames: the attacker
    ignores the advertised stream limit). Returns (peak descriptors of the
    cloud while it ran, its descriptors before)."""
    from hyperframe.frame import HeadersFrame, RstStreamFrame

    pid = cloud.proc.pid
    base = fd_count(pid)
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                peak[0] = max(peak[0], fd_count(pid))
            except OSError:
                pass
            time.sleep(0.0005)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    e = H2Edge(cloud.port("listen"), site.pki / "agw.crt",
               site.pki / "agw.key", site.pki / "ca.crt")
    try:
        e.pump()        # the cloud's SETTINGS, acknowledged
        block = e.conn.encoder.encode([(":method", "CONNECT"),
                                       (":authority", "t"),
                                       ("isthmus-device", "127.0.0.1:1")])
        ids = range(1, 2 * streams, 2)
        burst = b"".join(HeadersFrame(i, data=block,
                                      flags=["END_HEADERS"]).serialize()
                         for i in ids)
        burst += b"".join(RstStreamFrame(i, error_code=8).serialize()
                          for i in ids)
        try:
            e.sock.sendall(burst)
        except OSError:
            pass            # the cloud may end the session mid-burst
        deadline = time.time() + 5
        while not e.closed and time.time() < deadline:
            e.pump(timeout=0.1)
    finally:
        e.close()
        time.sleep(0.3)
        done.set()
        th.join()
    return peak[0], base


def test_a_rapid_reset_flood_costs_the_cloud_few_descriptors(site):
    a = site.backend("A")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": ([a], "health = none")}, extra="workers = 1"))
    peak, base = rapid_reset(cloud, site)
    print(f"rapid reset of 10000 streams: cloud descriptors {base} -> "
          f"peak {peak}")
    # at most tunnel_max_dials (64) connects in flight, and a few more
    assert peak - base <= 64 + 16, (peak, base)
    # the cloud still serves a real edge
    edge = site.start("edge", site.edge_conf("agw", cloud.port("listen"),
                                             {"t": "t"}))
    edge.wait_log(r"event=tunnel_up")
    assert exchange(edge.port("listener.t"), b"ok") == b"A\nok"


def test_dials_past_the_gate_wait_and_all_get_through(site):
    """With 4 dials in flight at most, 40 streams opened at once all
    reach the backend: waiting dials start as slots free up."""
    a = site.backend("A")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": ([a], "health = none")}, extra="tunnel_max_dials = 4"))
    e = H2Edge(cloud.port("listen"), site.pki / "agw.crt",
               site.pki / "agw.key", site.pki / "ca.crt")
    try:
        sids = [e.connect("t") for _ in range(40)]
        e.flush()
        assert e.wait(lambda evs: all(e.status(s) == 200 for s in sids))
        for s in sids:
            e.send(s, b"n%d" % s, end=True)
        e.flush()
        assert e.wait(lambda evs: all(e.data(s) == b"A\nn%d" % s
                                      for s in sids), timeout=20)
    finally:
        e.close()


def test_the_real_edge_waits_for_a_free_stream_slot(site):
    """With tunnel_max_streams = 2, a third device waits at the edge (its
    HEADERS held by nghttp2) instead of breaking the tunnel, and goes
    through once one of the first two is done."""
    a = site.backend("A")
    cloud, edges = up(site, {"A/t": [a]}, listeners_a={"t": "t"},
                      extra="tunnel_max_streams = 2")
    port = edges["agw"].port("listener.t")
    devs = []
    for _ in range(2):
        d = socket.create_connection(("127.0.0.1", port), timeout=10)
        assert d.recv(2) == b"A\n"
        devs.append(d)
    third = socket.create_connection(("127.0.0.1", port), timeout=10)
    third.settimeout(1)
    with pytest.raises(socket.timeout):
        third.recv(2)               # no slot yet
    devs[0].shutdown(socket.SHUT_WR)
    devs[0].settimeout(10)
    while devs[0].recv(100):
        pass
    devs[0].close()
    third.settimeout(10)
    assert third.recv(2) == b"A\n"
    third.sendall(b"late")
    assert third.recv(4) == b"late"
    assert "event=tunnel_down" not in edges["agw"].text()
    third.close()
    devs[1].close()
