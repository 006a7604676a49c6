"""The cloud's /metrics (Prometheus text format on a loopback listener) and
the rate limit on log lines that peers cause. The exposition is parsed with
Debian's prometheus_client (tunnel_lib.scrape), so a format error fails the
test."""

import re
import signal
import socket
import ssl
import urllib.error
import urllib.request

import pytest

from isthmus_testlib import run
from tunnel_lib import eventually, exchange, scrape, up, value


METRICS = "metrics = 127.0.0.1:0"


def tls_handshake(port, pki, cert):
    """One TLS 1.3 handshake as an edge presenting cert; returns once the
    cloud has answered (an alert, or the tunnel's first frames)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(pki / "ca.crt")
    ctx.load_cert_chain(f"{cert}.crt", f"{cert}.key")
    ctx.set_alpn_protocols(["isthmus/1"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            try:
                s.recv(1)   # TLS 1.3: the verdict comes after Finished
            except (ssl.SSLError, OSError):
                pass


def test_metrics_count_what_happened(site):
    a1 = site.backend("A")
    cloud, edges = up(site, {"A/t": ([a1], "health = none"),
                             "B/t": [site.backend("B")]},
                      listeners_a={"t": "t", "bad": "nosuch"},
                      extra=METRICS)
    port = edges["agw"].port("listener.t")
    for i in range(3):
        assert exchange(port, b"x" * 100) == b"A\n" + b"x" * 100
    assert exchange(edges["agw"].port("listener.bad"), b"y") == b""
    cloud.wait_log(r"event=stream_refused .*reason=unknown_service")
    # an edge name no tenant has
    run("pki", "issue", "edge", "cgw", "--tenant", "C", "--ca", site.pki,
        expect=0)
    tls_handshake(cloud.port("listen"), site.pki, site.pki / "cgw")
    cloud.wait_log(r"event=handshake_failed .*reason=unknown_edge")

    m = scrape(cloud)
    assert value(m, "isthmus_build_info", role="cloud",
                 version=run("--version").stdout.split()[1]) == 1
    assert value(m, "isthmus_tunnels_up", tenant="A") == 1
    assert value(m, "isthmus_tunnels_up", tenant="B") == 0
    assert value(m, "isthmus_handshakes_admitted_total") == 1
    assert value(m, "isthmus_handshakes_failed_total",
                 reason="unknown_edge") == 1
    assert value(m, "isthmus_handshakes_failed_total",
                 reason="pin_mismatch") == 0
    assert value(m, "isthmus_streams_opened_total", tenant="A",
                 service="t") == 3
    assert value(m, "isthmus_streams_opened_total", tenant="B",
                 service="t") == 0
    assert value(m, "isthmus_streams_refused_total", tenant="A",
                 reason="unknown_service") == 1
    assert value(m, "isthmus_streams_refused_total", tenant="A",
                 reason="no_backend") == 0
    assert value(m, "isthmus_streams_refused_total", tenant="B",
                 reason="unknown_service") == 0
    # the devices sent 300 bytes and got 3 * (2 + 100) back
    assert value(m, "isthmus_tunnel_bytes_total", tenant="A",
                 direction="from_edge") == 300
    assert value(m, "isthmus_tunnel_bytes_total", tenant="A",
                 direction="to_edge") == 306
    assert value(m, "isthmus_backend_up", tenant="A", service="t",
                 backend=a1.addr) == 1
    assert value(m, "isthmus_backend_streams_total", tenant="A",
                 service="t", backend=a1.addr) == 3
    assert value(m, "isthmus_backend_active_streams", tenant="A",
                 service="t", backend=a1.addr) == 0
    # the name a device asked for never becomes a label
    assert not [k for k in m if "nosuch" in str(k)]


def test_metrics_live_streams_and_backend_health(site):
    a1 = site.backend("A")
    dead = "127.0.0.1:9"    # discard port: nothing listens on it here
    cloud, edges = up(site, {"A/t": ([a1, dead], "balance = round-robin\n"
                                     "health = none")},
                      listeners_a={"t": "t"}, extra=METRICS)
    c = socket.create_connection(("127.0.0.1", edges["agw"].port(
        "listener.t")), timeout=10)
    assert c.recv(2) == b"A\n"
    m = scrape(cloud)
    assert value(m, "isthmus_streams_open", tenant="A") == 1
    assert value(m, "isthmus_backend_active_streams", tenant="A",
                 service="t", backend=a1.addr) == 1
    c.close()
    # round-robin sends some streams to the dead backend first: each is
    # retried on a1 and counted as a connect failure of the dead one
    for _ in range(4):
        assert exchange(edges["agw"].port("listener.t"), b"z") == b"A\nz"
    m = scrape(cloud)
    assert value(m, "isthmus_backend_connect_failures_total", tenant="A",
                 service="t", backend=dead) >= 2
    assert value(m, "isthmus_backend_connect_failures_total", tenant="A",
                 service="t", backend=a1.addr) == 0
    assert value(m, "isthmus_backend_streams_total", tenant="A",
                 service="t", backend=a1.addr) == 5


def test_metrics_backend_down(site):
    a1 = site.backend("A")
    cloud, _ = up(site, {"A/t": ([a1], "health_interval = 100ms\n"
                                 "health_fall = 1")}, extra=METRICS)
    a1.close()
    cloud.wait_log(r"event=backend_down")
    assert value(scrape(cloud), "isthmus_backend_up", tenant="A",
                 service="t", backend=a1.addr) == 0


def test_metrics_survive_reload(site):
    a1 = site.backend("A")
    cloud, edges = up(site, {"A/t": [a1]}, listeners_a={"t": "t"},
                      extra=METRICS)
    for _ in range(2):
        assert exchange(edges["agw"].port("listener.t"), b"1") == b"A\n1"
    before = scrape(cloud)
    # the same config plus a service: counters carry over
    conf = cloud.conf.read_text() + "\n[service A/u]\nbackends = " \
        + a1.addr + "\n"
    cloud.conf.write_text(conf)
    cloud.signal(signal.SIGHUP)
    cloud.wait_log(r"event=reloaded")
    after = scrape(cloud)
    for key in (("isthmus_streams_opened_total",
                 (("service", "t"), ("tenant", "A"))),
                ("isthmus_tunnel_bytes_total",
                 (("direction", "from_edge"), ("tenant", "A"))),
                ("isthmus_backend_streams_total",
                 (("backend", a1.addr), ("service", "t"), ("tenant", "A")))):
        assert after[key] == before[key] >= 2, key
    assert value(after, "isthmus_streams_opened_total", tenant="A",
                 service="u") == 0
    assert value(after, "isthmus_tunnels_up", tenant="A") == 1


def test_metrics_http_answers(site):
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": ["127.0.0.1:9"]}, extra=METRICS))
    base = f"http://{cloud.ready['metrics']}"
    req = urllib.request.Request(base + "/metrics", method="HEAD")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200 and r.read() == b""
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(base + "/", timeout=10)
    assert ei.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(urllib.request.Request(
            base + "/metrics", data=b"x", method="POST"), timeout=10)
    assert ei.value.code == 405 and ei.value.headers["Allow"] == "GET, HEAD"
    # a garbage request line is answered and nothing else is disturbed
    with socket.create_connection(("127.0.0.1",
                                   cloud.port("metrics")), timeout=10) as s:
        s.sendall(b"\x00\x01 nonsense\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400")
    assert scrape(cloud)[("isthmus_handshakes_admitted_total", ())] == 0
    # without `metrics` there is no listener and no key in the ready line
    assert "metrics" not in site.start("cloud", site.cloud_conf(
        {"A/t": ["127.0.0.1:9"]}, extra="admin_socket = other.sock")).ready


@pytest.mark.parametrize("addr", ["0.0.0.0:9100", "192.0.2.1:9100",
                                  "example.com:9100", "[::]:9100"])
def test_metrics_must_be_loopback(site, addr):
    conf = site.cloud_conf({"A/t": ["127.0.0.1:9"]}, extra=f"metrics = {addr}")
    res = run("cloud", "-c", conf, "--check", expect=2)
    line = next(i for i, l in enumerate(conf.read_text().splitlines(), 1)
                if l.startswith("metrics"))
    assert res.stderr.strip() == (
        f"{conf}:{line}: metrics: '{addr}' is not a loopback address "
        "(use 127.0.0.1, [::1] or localhost)")


@pytest.mark.parametrize("addr", ["127.0.0.1:0", "127.9.9.9:0", "[::1]:0",
                                  "localhost:0"])
def test_metrics_loopback_forms_accepted(site, addr):
    conf = site.cloud_conf({"A/t": ["127.0.0.1:9"]}, extra=f"metrics = {addr}")
    run("cloud", "-c", conf, "--check", expect=0)


def test_peer_misbehaviour_log_is_rate_limited(site):
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": ["127.0.0.1:9"]}, extra=METRICS))
    n = 300
    for _ in range(n):  # connect and leave without a ClientHello
        socket.create_connection(("127.0.0.1", cloud.port("listen")),
                                 timeout=10).close()
    cloud.wait_log(r"event=log_suppressed suppressed_event=handshake_failed")

    def counted():
        return value(scrape(cloud), "isthmus_handshakes_failed_total",
                     reason="closed")

    def reported():
        return sum(int(c) for c in re.findall(
            r"event=log_suppressed suppressed_event=handshake_failed "
            r"count=(\d+)", cloud.text()))

    # every failure is counted, whatever was logged
    assert eventually(lambda: counted() == n)
    logged = len(re.findall(r"event=handshake_failed .*reason=closed",
                            cloud.text()))
    assert 20 <= logged < n
    # the suppressed lines are reported by number (once a second): lines
    # written plus lines reported is every failure
    assert eventually(lambda: logged + reported() == n), \
        (logged, reported(), cloud.text())
    # a real edge is still admitted, and its tunnel logged
    edge = site.start("edge", site.edge_conf("agw", cloud.port("listen"),
                                             {"t": "t"}))
    edge.wait_log(r"event=tunnel_up")
    cloud.wait_log(r"event=tunnel_up edge=agw")
