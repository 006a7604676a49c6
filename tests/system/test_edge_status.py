"""What the customer's IT sees of an edge: `isthmus status -c edge.conf`
(text and JSON, over the edge's owner-only admin socket), its /metrics, and
the rate limit on log lines that devices cause."""

import json
import os
import re
import socket
import stat

from isthmus_testlib import run
from tunnel_lib import (eventually, dead_port, exchange, scrape, spki, up,
                        value)


METRICS = "metrics = 127.0.0.1:0"


def status(edge, as_json=True):
    args = ["status", "-c", edge.conf] + (["--json"] if as_json else [])
    out = run(*args, expect=0).stdout
    return json.loads(out) if as_json else out


def test_edge_status_when_up(site):
    a1 = site.backend("A")
    cloud, edges = up(site, {"A/t": [a1]}, listeners_a={"t": "t", "u": "t"})
    edge = edges["agw"]
    assert stat.S_IMODE(os.stat(edge.ready["admin"]).st_mode) == 0o600
    assert exchange(edge.port("listener.t"), b"hello") == b"A\nhello"
    held = socket.create_connection(("127.0.0.1", edge.port("listener.u")),
                                    timeout=10)
    assert held.recv(2) == b"A\n"
    st = status(edge)
    assert st["role"] == "edge"
    assert (st["edge"], st["tenant"]) == ("agw", "A")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                        st["certificate_not_after"])
    tun = st["tunnel"]
    assert tun["state"] == "up"
    assert tun["peer"] == f"127.0.0.1:{cloud.port('listen')}"
    assert "CN=cloudgw" in tun["cloud_subject"]
    assert tun["connects"] == 1 and tun["attempts"] == 0
    assert tun["streams_open"] == 1
    assert tun["bytes_to_cloud"] == 5 and tun["bytes_from_cloud"] == 9
    ls = {li["name"]: li for li in st["listeners"]}
    assert ls["t"]["devices_total"] == 1 and ls["t"]["streams_open"] == 0
    assert ls["u"]["devices_total"] == 1 and ls["u"]["streams_open"] == 1
    assert ls["t"]["listen"] == edge.ready["listener.t"]
    assert ls["t"]["service"] == "t"
    assert st["pending"] == 0
    text = status(edge, as_json=False)
    assert "edge gateway agw of tenant A" in text
    assert "up " in text and "CN=cloudgw" in text
    assert re.search(r"t\s+127\.0\.0\.1:\d+\s+-> t\s+1 devices, 0 open", text)
    # --socket finds the same daemon
    assert json.loads(run("status", "--socket", edge.ready["admin"],
                          "--json", expect=0).stdout)["edge"] == "agw"
    held.close()


def test_edge_status_explains_why_the_tunnel_is_down(site):
    edge = site.start("edge", site.edge_conf("agw", dead_port(), {"t": "t"},
                                             extra=METRICS))
    edge.wait_log(r"event=connect_failed .*reason=connect "
                  r"error=\"Connection refused\"")
    st = status(edge)
    assert st["tunnel"]["state"] in ("waiting", "connecting")
    assert st["tunnel"]["attempts"] >= 1
    assert st["tunnel"]["last_error"] == "Connection refused"
    assert st["tunnel"]["peer"] == ""
    text = status(edge, as_json=False)
    assert re.search(r"Tunnel to 127\.0\.0\.1:\d+: (DOWN|CONNECTING)", text)
    assert "last error: Connection refused" in text
    m = scrape(edge)
    assert value(m, "isthmus_tunnel_up") == 0
    assert value(m, "isthmus_tunnel_connect_failures_total",
                 reason="connect") >= 1
    assert value(m, "isthmus_tunnel_connect_failures_total",
                 reason="pin_mismatch") == 0


def test_edge_status_names_a_pin_mismatch(site):
    cloud = site.start("cloud", site.cloud_conf({"A/t": [site.backend("A")]}))
    wrong = spki(site.pki / "agw.crt")  # a real pin, of another key
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"t": "t"}, pin=wrong, extra=METRICS))
    edge.wait_log(r"event=connect_failed .*reason=pin_mismatch")
    st = status(edge)
    port = cloud.port("listen")
    assert st["tunnel"]["last_error"].startswith(
        f"127.0.0.1:{port} presented a certificate issued by CN=isthmus "
        "root CA, a CA in ca, but it is not the pinned one (subject "
        "CN=cloudgw")
    assert f"key {spki(site.pki / 'cloudgw.crt')}; cloud_pin {wrong})" \
        in st["tunnel"]["last_error"]
    assert "change cloud_pin only if the cloud's operator says its key " \
        "changed" in st["tunnel"]["last_error"]
    assert value(scrape(edge), "isthmus_tunnel_connect_failures_total",
                 reason="pin_mismatch") >= 1


def test_edge_status_when_the_cloud_refuses_the_edge(site):
    # the cloud does not know agw: its alert is what the edge reports
    edges = {"bgw": ("B", spki(site.pki / "bgw.crt"))}
    cloud = site.start("cloud", site.cloud_conf({"B/t": [site.backend("B")]},
                                                edges=edges))
    edge = site.start("edge", site.edge_conf("agw", cloud.port("listen"),
                                             {"t": "t"}, extra=METRICS))
    cloud.wait_log(r"event=handshake_failed .*edge=agw reason=unknown_edge")
    # in TLS 1.3 the refusal comes after the edge's Finished: the edge
    # must not take that for a tunnel, and must back off
    edge.wait_log(r"event=connect_failed .*reason=refused_by_cloud "
                  r"error=\"the cloud refused this edge's certificate \(")
    edge.wait_log(r"event=reconnect_scheduled in_ms=\d+ attempt=3")
    assert "event=tunnel_up" not in edge.text()
    st = status(edge)
    assert st["tunnel"]["state"] in ("waiting", "connecting")
    assert "its operator must list this edge" in st["tunnel"]["last_error"]
    assert st["tunnel"]["connects"] == 0
    assert value(scrape(edge), "isthmus_tunnel_connect_failures_total",
                 reason="refused_by_cloud") >= 3


def test_edge_metrics(site):
    a1 = site.backend("A")
    cloud = site.start("cloud", site.cloud_conf({"A/t": [a1]}))
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"t": "t", "bad": "nosuch"},
        extra=METRICS))
    edge.wait_log(r"event=tunnel_up")
    for _ in range(3):
        assert exchange(edge.port("listener.t"), b"abc") == b"A\nabc"
    assert exchange(edge.port("listener.bad"), b"x") == b""
    edge.wait_log(r"event=stream_refused listener=bad service=nosuch "
                  r"device=\S+ status=403 reason=unknown_service")
    # keepalive is 1 s in these configs: wait for one round trip
    assert eventually(lambda: ("isthmus_tunnel_keepalive_rtt_seconds", ())
                      in scrape(edge), timeout=5)
    m = scrape(edge)
    assert value(m, "isthmus_build_info", role="edge",
                 version=run("--version").stdout.split()[1]) == 1
    assert value(m, "isthmus_tunnel_up") == 1
    assert value(m, "isthmus_tunnel_connects_total") == 1
    assert value(m, "isthmus_tunnel_drops_total") == 0
    assert 0 < value(m, "isthmus_tunnel_keepalive_rtt_seconds") < 2
    assert value(m, "isthmus_device_connections_total", listener="t",
                 service="t") == 3
    assert value(m, "isthmus_device_connections_total", listener="bad",
                 service="nosuch") == 1
    assert value(m, "isthmus_streams_refused_total", listener="bad",
                 service="nosuch", reason="unknown_service") == 1
    assert value(m, "isthmus_streams_refused_total", listener="t",
                 service="t", reason="unknown_service") == 0
    assert value(m, "isthmus_streams_open", listener="t", service="t") == 0
    # the refused device's byte never left the edge (it waits for a 2xx)
    assert value(m, "isthmus_tunnel_bytes_total", direction="to_cloud") == 9
    assert value(m, "isthmus_tunnel_bytes_total",
                 direction="from_cloud") == 15
    assert value(m, "isthmus_certificate_not_after_seconds",
                 certificate="edge") > 0
    assert value(m, "isthmus_certificate_not_after_seconds",
                 certificate="cloud") > 0
    assert value(m, "isthmus_devices_pending") == 0


def test_device_floods_are_rate_limited_in_the_log(site):
    # no cloud and no waiting: every device is dropped at once
    edge = site.start("edge", site.edge_conf(
        "agw", dead_port(), {"t": "t"},
        extra=METRICS + "\npending_timeout = 0s"))
    n = 200
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", edge.port("listener.t")),
                                     timeout=10)
        assert c.recv(1) == b""     # closed by the edge
        c.close()
    assert eventually(lambda: value(scrape(edge),
                                    "isthmus_devices_dropped_total",
                                    listener="t", service="t") == n)

    def reported():
        return sum(int(c) for c in re.findall(
            r"event=log_suppressed suppressed_event=device_dropped "
            r"count=(\d+)", edge.text()))

    logged = len(re.findall(r"event=device_dropped ", edge.text()))
    assert 20 <= logged < n
    assert eventually(lambda: logged + reported() == n)


def test_edge_metrics_must_be_loopback(site):
    conf = site.edge_conf("agw", 7443, {"t": "t"},
                          extra="metrics = 0.0.0.0:9100")
    res = run("edge", "-c", conf, "--check", expect=2)
    line = conf.read_text().splitlines().index("metrics = 0.0.0.0:9100") + 1
    assert res.stderr.strip() == (
        f"{conf}:{line}: metrics: '0.0.0.0:9100' is not a loopback address "
        "(use 127.0.0.1, [::1] or localhost)")


def test_edge_admin_socket_in_use_is_refused(site):
    edge = site.start("edge", site.edge_conf("agw", dead_port(), {"t": "t"}))
    other = site.edge_conf("bgw", dead_port(), {"t": "t"},
                           extra=f"admin_socket = {edge.ready['admin']}")
    res = run("edge", "-c", other, expect=1)
    assert "in use by a running daemon" in res.stderr
    assert status(edge)["edge"] == "agw"


def test_status_config_errors(site, tmp_path):
    # neither kind of config
    odd = tmp_path / "odd.conf"
    odd.write_text("[something]\nx = 1\n")
    res = run("status", "-c", odd, expect=2)
    assert res.stderr.strip() == \
        f"isthmus status: {odd} has neither a [cloud] nor an [edge] section"
    # an edge config whose daemon is not running
    conf = site.edge_conf("agw", 7443, {"t": "t"})
    res = run("status", "-c", conf, expect=1)
    assert "cannot connect" in res.stderr and "agw.sock" in res.stderr
    # a broken edge config: its errors, with line numbers
    conf.write_text(conf.read_text() + "\nbogus = 1\n")
    res = run("status", "-c", conf, expect=2)
    assert re.search(r"edge-agw\.conf:\d+: bogus: unknown key", res.stderr)


def test_edge_sighup_is_not_fatal(site):
    """SIGHUP with the same configuration reloads it and changes nothing:
    the tunnel and an open stream are untouched."""
    import signal

    a1 = site.backend("A")
    cloud, edges = up(site, {"A/t": [a1]}, listeners_a={"t": "t"})
    edge = edges["agw"]
    c = socket.create_connection(("127.0.0.1", edge.port("listener.t")),
                                 timeout=10)
    assert c.recv(2) == b"A\n"
    edge.signal(signal.SIGHUP)
    edge.wait_log(r"event=reloaded .*changed=none")
    c.sendall(b"still")
    assert c.recv(5) == b"still"
    c.close()
    assert exchange(edge.port("listener.t"), b"new") == b"A\nnew"
    assert status(edge)["tunnel"]["connects"] == 1
    assert edge.proc.poll() is None
