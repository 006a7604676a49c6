"""The tunnel, tenant isolation and load balancing, with real processes.
See tunnel_lib.py for the topology."""

import hashlib
import os
import signal
import socket
import time

import pytest

from isthmus_testlib import run
from tunnel_lib import dead_port, exchange, free_port, spki, up


def test_two_customers_isolated(site):
    a1 = site.backend("A-server")
    b1 = site.backend("B-server")
    cloud, edges = up(site, {"A/telemetry": [a1], "B/telemetry": [b1],
                             "B/billing": [b1]},
                      listeners_a={"tel": "telemetry", "bill": "billing"},
                      listeners_b={"tel": "telemetry"})
    # each customer's device reaches its own server under the same name
    assert exchange(edges["agw"].port("listener.tel"), b"ts=1") == \
        b"A-server\nts=1"
    assert exchange(edges["bgw"].port("listener.tel"), b"ts=2") == \
        b"B-server\nts=2"
    # A asking for a service only B has: refused, nothing reaches B
    before = b1.accepted
    assert exchange(edges["agw"].port("listener.bill"), b"x") == b""
    cloud.wait_log(r"event=stream_refused edge=agw tenant=A "
                   r"service=billing reason=unknown_service")
    assert b1.accepted == before


def test_bulk_integrity_and_half_close(site):
    a1 = site.backend("A")
    _, edges = up(site, {"A/bulk": [a1]}, listeners_a={"bulk": "bulk"})
    data = os.urandom(8 * 1024 * 1024)
    got = exchange(edges["agw"].port("listener.bulk"), data, timeout=60)
    # the backend only finishes (and replies EOF) after our half-close
    # reached it: the whole echo proves both directions and both FINs
    assert got[:2] == b"A\n"
    assert hashlib.sha256(got[2:]).digest() == hashlib.sha256(data).digest()


def test_many_streams_share_one_tunnel(site):
    a1 = site.backend("A")
    cloud, edges = up(site, {"A/t": [a1]}, listeners_a={"t": "t"})
    port = edges["agw"].port("listener.t")
    socks = [socket.create_connection(("127.0.0.1", port))
             for _ in range(50)]
    for i, s in enumerate(socks):
        s.sendall(b"n=%d" % i)
        s.shutdown(socket.SHUT_WR)
    for i, s in enumerate(socks):
        s.settimeout(10)
        buf = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            buf += d
        assert buf == b"A\nn=%d" % i
        s.close()
    assert len(cloud.wait_log(r"event=tunnel_up")) == 1


def test_refused_backend_is_retried_on_the_next(site):
    a2 = site.backend("A2")
    dead = f"127.0.0.1:{dead_port()}"
    cloud, edges = up(site, {"A/t": [dead, a2]}, listeners_a={"t": "t"})
    for i in range(4):
        assert exchange(edges["agw"].port("listener.t"), b"x") == b"A2\nx"
    cloud.wait_log(r"event=backend_failed tenant=A service=t backend="
                   + dead.replace(".", r"\.") + r" reason=refused")


def test_no_backend_closes_the_device_at_once(site):
    cloud, edges = up(site, {"A/t": [f"127.0.0.1:{dead_port()}"]},
                      listeners_a={"t": "t"})
    t0 = time.time()
    assert exchange(edges["agw"].port("listener.t"), b"x") == b""
    assert time.time() - t0 < 5       # closed, not hung until a timeout
    cloud.wait_log(r"event=stream_refused edge=agw tenant=A service=t "
                   r"reason=no_backend")


@pytest.mark.parametrize("balance,expect", [
    ("round-robin", "spread"), ("hash", "sticky"), ("least-conn", "spread")])
def test_balance(site, balance, expect):
    b1, b2 = site.backend("one"), site.backend("two")
    _, edges = up(site, {"A/t": ([b1, b2], f"balance = {balance}")},
                  listeners_a={"t": "t"})
    seen = [exchange(edges["agw"].port("listener.t")).strip()
            for _ in range(10)]
    if expect == "sticky":
        # every connection of the one device address lands on one backend
        assert len(set(seen)) == 1, seen
    else:
        assert seen.count(b"one") == 5 and seen.count(b"two") == 5, seen


def test_unknown_edge_is_refused(site):
    run("pki", "issue", "edge", "cgw", "--tenant", "A", "--ca", site.pki,
        expect=0)
    cloud = site.start("cloud", site.cloud_conf({"A/t": [site.backend("A")]}))
    site.start("edge", site.edge_conf("cgw", cloud.port("listen"), {"t": "t"}))
    cloud.wait_log(r"event=handshake_failed peer=\S+ edge=cgw "
                   r"reason=unknown_edge")
    assert "event=tunnel_up" not in cloud.text()


def test_pin_mismatch_is_refused(site):
    cloud = site.start("cloud", site.cloud_conf({"A/t": [site.backend("A")]}))
    # a new key for agw, signed by the same CA: the name is right, the
    # certificate is not the pinned one
    run("pki", "issue", "edge", "agw", "--tenant", "A", "--ca", site.pki,
        "--force", expect=0)
    edge = site.start("edge", site.edge_conf("agw", cloud.port("listen"),
                                             {"t": "t"}))
    cloud.wait_log(r"event=handshake_failed peer=\S+ edge=agw "
                   r"reason=pin_mismatch")
    # and the edge keeps retrying with backoff, never admitted
    edge.wait_log(r"event=reconnect_scheduled", count=2)
    assert "event=tunnel_up" not in cloud.text()


def test_tenant_mismatch_is_refused(site):
    # a certificate that says agw belongs to tenant B
    run("pki", "issue", "edge", "agw", "--tenant", "B", "--ca", site.pki,
        "--out", site.tmp / "agw-b", expect=0)
    edges = {"agw": ("A", spki(site.tmp / "agw-b.crt"))}
    cloud = site.start("cloud", site.cloud_conf({"A/t": [site.backend("A")]},
                                                edges=edges))
    site.start("edge", site.edge_conf("agw", cloud.port("listen"), {"t": "t"},
                                      cert=site.tmp / "agw-b"))
    cloud.wait_log(r"edge=agw reason=tenant_mismatch")


def test_revoked_edge_is_refused(site):
    run("pki", "revoke", site.pki / "agw.crt", "--ca", site.pki, expect=0)
    cloud = site.start("cloud", site.cloud_conf({"A/t": [site.backend("A")]}))
    site.start("edge", site.edge_conf("agw", cloud.port("listen"), {"t": "t"}))
    cloud.wait_log(r"event=handshake_failed peer=\S+ edge=\S+ "
                   r"reason=revoked")


def crl_for(site, last_days, next_days, key=None, revoked=()):
    """A CRL of the site's CA valid from now+last_days to now+next_days,
    signed with key (default: the CA's own), written as the cloud's crl."""
    import datetime
    import types

    from cryptography.hazmat.primitives.serialization import Encoding
    from isthmus_testlib import build_crl, crl_number, load_cert, load_crl
    from isthmus_testlib import load_key, now

    ca = types.SimpleNamespace(cert=load_cert(site.pki / "ca.crt"),
                               private_key=key or load_key(site.pki /
                                                           "ca.key"))
    day = datetime.timedelta(days=1)
    number = crl_number(load_crl(site.pki / "crl.pem")) + 1
    crl = build_crl(ca, last=now() + last_days * day,
                    nxt=now() + next_days * day, number=number,
                    revoked=revoked)
    (site.pki / "crl.pem").write_bytes(crl.public_bytes(Encoding.PEM))


@pytest.mark.parametrize("last,nxt,reason", [
    (-10, -1, "crl_expired"),       # the CRL is past its nextUpdate
    (1, 10, "untrusted"),           # not valid yet
])
def test_crl_out_of_its_period_refuses_edges(site, last, nxt, reason):
    crl_for(site, last, nxt)
    cloud = site.start("cloud", site.cloud_conf({"A/t": [site.backend("A")]}))
    site.start("edge", site.edge_conf("agw", cloud.port("listen"), {"t": "t"}))
    cloud.wait_log(rf"event=handshake_failed peer=\S+ edge=\S+ "
                   rf"reason={reason}")
    assert "event=tunnel_up" not in cloud.text()


def test_crl_with_a_forged_signature_refuses_edges(site):
    """The CRL signature is checked once at load when a CA of the bundle
    signed it; a CRL that names our CA but is signed by another key gets
    no such shortcut: every edge is refused, none waved through."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    crl_for(site, -1, 10, key=ed25519.Ed25519PrivateKey.generate())
    cloud = site.start("cloud", site.cloud_conf({"A/t": [site.backend("A")]}))
    site.start("edge", site.edge_conf("agw", cloud.port("listen"), {"t": "t"}))
    cloud.wait_log(r"event=handshake_failed peer=\S+ edge=\S+ "
                   r"reason=untrusted")
    assert "event=tunnel_up" not in cloud.text()


def test_fresh_crl_listing_the_edge_refuses_it(site):
    from isthmus_testlib import load_cert

    crl_for(site, -1, 10,
            revoked=[load_cert(site.pki / "agw.crt").serial_number])
    a = site.backend("A")
    cloud = site.start("cloud", site.cloud_conf({"A/t": [a]}))
    site.start("edge", site.edge_conf("agw", cloud.port("listen"), {"t": "t"}))
    bgw = site.start("edge", site.edge_conf("bgw", cloud.port("listen"),
                                            {"t": "t"}))
    cloud.wait_log(r"event=handshake_failed peer=\S+ edge=\S+ "
                   r"reason=revoked")
    bgw.wait_log(r"event=tunnel_up")    # the CRL itself is accepted


def test_edge_from_another_ca_is_refused(site, tmp_path):
    other = tmp_path / "other"
    run("pki", "init", other, expect=0)
    run("pki", "issue", "edge", "agw", "--tenant", "A", "--ca", other,
        expect=0)
    edges = {"agw": ("A", spki(other / "agw.crt"))}
    cloud = site.start("cloud", site.cloud_conf({"A/t": [site.backend("A")]},
                                                edges=edges))
    site.start("edge", site.edge_conf("agw", cloud.port("listen"), {"t": "t"},
                                      cert=other / "agw"))
    cloud.wait_log(r"reason=untrusted")


def test_edge_refuses_unpinned_cloud(site):
    cloud = site.start("cloud", site.cloud_conf({"A/t": [site.backend("A")]}))
    wrong = spki(site.pki / "bgw.crt")
    edge = site.start("edge", site.edge_conf("agw", cloud.port("listen"),
                                             {"t": "t"}, pin=wrong))
    edge.wait_log(r"event=connect_failed .*reason=pin_mismatch .*is not the "
                  r"pinned one \(.*, key sha256:[0-9a-f]{64}; cloud_pin "
                  + wrong)
    assert "event=tunnel_up" not in edge.text()
    assert "event=tunnel_up" not in cloud.text()


def test_device_waits_for_the_tunnel(site):
    a1 = site.backend("A")
    port = free_port()
    edge = site.start("edge", site.edge_conf("agw", port, {"t": "t"},
                                             extra="pending_timeout = 20s"))
    edge.wait_log(r"event=connect_failed")
    c = socket.create_connection(("127.0.0.1", edge.port("listener.t")))
    c.sendall(b"early")
    c.shutdown(socket.SHUT_WR)
    # now the cloud comes up on the port the edge dials
    conf = site.cloud_conf({"A/t": [a1]})
    conf.write_text(conf.read_text().replace("127.0.0.1:0",
                                             f"127.0.0.1:{port}"))
    site.start("cloud", conf)
    c.settimeout(20)
    buf = b""
    while True:
        d = c.recv(4096)
        if not d:
            break
        buf += d
    assert buf == b"A\nearly"


def test_pending_device_is_closed_after_timeout(site):
    edge = site.start("edge", site.edge_conf("agw", dead_port(), {"t": "t"},
                                             extra="pending_timeout = 300ms"))
    t0 = time.time()
    assert exchange(edge.port("listener.t"), b"x") == b""
    assert time.time() - t0 < 10
    edge.wait_log(r"event=device_dropped listener=t service=t device=\S+ "
                  r"reason=\"tunnel down\"")


def test_sigterm_drains_open_streams(site):
    a1 = site.backend("A")
    cloud, edges = up(site, {"A/t": [a1]}, listeners_a={"t": "t"})
    c = socket.create_connection(("127.0.0.1", edges["agw"].port("listener.t")))
    c.settimeout(10)
    assert c.recv(2) == b"A\n"
    cloud.signal(signal.SIGTERM)
    cloud.wait_log(r"event=draining")
    # the open stream still works during the drain...
    c.sendall(b"still here")
    assert c.recv(100) == b"still here"
    c.shutdown(socket.SHUT_WR)
    assert c.recv(100) == b""
    # ...and once it is done the cloud exits 0 (checked by stop())
    cloud.proc.wait(10)
    assert cloud.proc.returncode == 0


def test_sigterm_before_admission_is_quiet(site, fakes):
    """SIGTERM after the TLS handshake but before the cloud's SETTINGS:
    the edge ends at once, and says nothing of a refusal that never
    happened (it did, once: the unfinished session was shut down as a
    tunnel and its end read as the cloud refusing the edge)."""
    fake = fakes(site.pki / "cloudgw.crt", site.pki / "cloudgw.key",
                 site.pki / "ca.crt", hold=True)
    edge = site.start("edge", site.edge_conf(
        "agw", fake.port, {"t": "t"}, extra="handshake_timeout = 20s\n"))
    deadline = time.time() + 10
    while not fake.handshakes and time.time() < deadline:
        time.sleep(0.02)
    assert fake.handshakes and fake.handshakes[0][0] is not None
    time.sleep(0.2)
    edge.stop()
    text = edge.text()
    assert "event=connect_failed" not in text, text
    assert "refused_by_cloud" not in text, text


def test_check_config(site):
    good = site.cloud_conf({"A/t": ["127.0.0.1:9"]})
    res = run("cloud", "-c", good, "--check", expect=0)
    assert "ok" in res.stdout
    bad = site.tmp / "bad.conf"
    bad.write_text(good.read_text().replace("[tenant B]", "[tenant B]\n"
                                            "bogus = 1")
                   + "\n[service C/x]\nbackends = 127.0.0.1:9\n")
    res = run("cloud", "-c", bad, "--check", expect=2)
    lines = res.stderr.strip().splitlines()
    assert any(l.startswith(f"{bad}:") and "bogus: unknown key" in l
               for l in lines), res.stderr
    assert any("tenant 'C' has no [tenant C] section" in l
               for l in lines), res.stderr
    edge_bad = site.tmp / "edge-bad.conf"
    edge_bad.write_text("[edge]\ncloud = nowhere\n")
    res = run("edge", "-c", edge_bad, "--check", expect=2)
    assert f"{edge_bad}:2: cloud:" in res.stderr


def test_edge_in_two_tenants_is_a_config_error(site):
    conf = site.cloud_conf({"A/t": ["127.0.0.1:9"]})
    conf.write_text(conf.read_text().replace("edges = bgw", "edges = bgw, agw"))
    res = run("cloud", "-c", conf, "--check", expect=2)
    assert "edge 'agw' is already in tenant A" in res.stderr


def test_reload_bad_config_keeps_running(site):
    a1 = site.backend("A")
    cloud, edges = up(site, {"A/t": [a1]}, listeners_a={"t": "t"})
    conf = cloud.conf
    good = conf.read_text()
    conf.write_text(good + "\n[bogus]\n")
    cloud.signal(signal.SIGHUP)
    cloud.wait_log(r"event=reload_failed")
    cloud.wait_log(r"event=config_error error=\S+:\d+: \[bogus\]: unknown "
                   r"section")
    # the old configuration still serves, on the same tunnel
    assert exchange(edges["agw"].port("listener.t"), b"ok") == b"A\nok"
    assert "event=tunnel_down" not in cloud.text()
    assert len(edges["agw"].wait_log(r"event=tunnel_up")) == 1


def test_reload_adds_service_and_drops_repinned_edge(site):
    a1, b1 = site.backend("A"), site.backend("B")
    cloud, edges = up(site, {"A/t": [a1], "B/t": [b1]},
                      listeners_a={"t": "t", "new": "new"},
                      listeners_b={"t": "t"})
    assert exchange(edges["agw"].port("listener.new"), b"x") == b""
    # a new service for A, and bgw re-pinned to another key
    run("pki", "issue", "edge", "bgw", "--tenant", "B", "--ca", site.pki,
        "--out", site.tmp / "bgw2", expect=0)
    conf = site.cloud_conf({"A/t": [a1], "A/new": [a1], "B/t": [b1]},
                           edges={"agw": ("A", spki(site.pki / "agw.crt")),
                                  "bgw": ("B", spki(site.tmp / "bgw2.crt"))})
    assert conf == cloud.conf
    cloud.signal(signal.SIGHUP)
    cloud.wait_log(r"event=reloaded")
    cloud.wait_log(r"event=tunnel_revoked edge=bgw reason=pin_mismatch")
    assert exchange(edges["agw"].port("listener.new"), b"x") == b"A\nx"
    # agw's tunnel was never dropped
    assert len(edges["agw"].wait_log(r"event=tunnel_up")) == 1
    edges["bgw"].wait_log(r"event=tunnel_down")


def test_examples_are_valid(site):
    """examples/*.conf, with real pins filled in, pass --check."""
    examples = __import__("isthmus_testlib").REPO / "examples"
    subs = {"AGW_SPKI_PIN": spki(site.pki / "agw.crt")[7:],
            "BGW_SPKI_PIN": spki(site.pki / "bgw.crt")[7:],
            "CLOUD_SPKI_PIN": spki(site.pki / "cloudgw.crt")[7:]}
    for name, kind in (("cloud.conf", "cloud"), ("edge-agw.conf", "edge"),
                       ("edge-bgw.conf", "edge")):
        text = (examples / name).read_text()
        for k, v in subs.items():
            text = text.replace(k, v)
        path = site.tmp / name
        path.write_text(text)
        res = run(kind, "-c", path, "--check", expect=0)
        assert "ok" in res.stdout


def test_health_check_tcp_down_and_up(site):
    one, two = site.backend("one"), site.backend("two")
    opts = ("health = tcp\nhealth_interval = 200ms\nhealth_timeout = 150ms\n"
            "health_fall = 2\nhealth_rise = 2")
    cloud, edges = up(site, {"A/t": ([one, two], opts)},
                      listeners_a={"t": "t"})
    port = one.port
    one.close()
    cloud.wait_log(r"event=backend_down tenant=A service=t backend=127\.0\.0"
                   rf"\.1:{port} reason=refused")
    failed_before = cloud.text().count("event=backend_failed")
    # down: every stream goes to "two" without trying "one" first
    for _ in range(6):
        assert exchange(edges["agw"].port("listener.t")) == b"two\n"
    assert cloud.text().count("event=backend_failed") == failed_before
    # back on the same port: up again after `rise` good checks
    site.backend("one-again", port=port)
    cloud.wait_log(r"event=backend_up tenant=A service=t backend=127\.0\.0"
                   rf"\.1:{port}")
    seen = {exchange(edges["agw"].port("listener.t")) for _ in range(6)}
    assert seen == {b"one-again\n", b"two\n"}


def test_health_check_http_status(site):
    sick = site.backend("sick", http_status=500)
    well = site.backend("well", http_status=204)
    opts = ("health = http\nhealth_path = /healthz\n"
            "health_interval = 200ms\nhealth_fall = 1\nhealth_rise = 1")
    cloud, _ = up(site, {"A/t": ([sick, well], opts)}, listeners_a={"t": "t"})
    cloud.wait_log(rf"event=backend_down tenant=A service=t "
                   rf"backend=127\.0\.0\.1:{sick.port} reason=\"http status\"")
    time.sleep(0.6)
    assert f"backend=127.0.0.1:{well.port} reason" not in cloud.text()


def test_all_backends_down_refuses_at_once(site):
    b = site.backend("b")
    opts = "health_interval = 200ms\nhealth_fall = 1"
    cloud, edges = up(site, {"A/t": ([b], opts)}, listeners_a={"t": "t"})
    b.close()
    cloud.wait_log(r"event=backend_down")
    t0 = time.time()
    assert exchange(edges["agw"].port("listener.t"), b"x") == b""
    assert time.time() - t0 < 5
    cloud.wait_log(r"reason=no_backend")


def _pp2_backend():
    """A backend that parses the PROXY v2 header with Python's struct and
    answers with what it found, as JSON."""
    import json
    import struct
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)

    def handle(c):
        hdr = b""
        while len(hdr) < 16:
            hdr += c.recv(16 - len(hdr))
        sig, ver_cmd, fam, length = struct.unpack("!12sBBH", hdr)
        body = b""
        while len(body) < length:
            body += c.recv(length - len(body))
        out = {"sig": sig == b"\r\n\r\n\x00\r\nQUIT\n", "ver_cmd": ver_cmd,
               "fam": fam}
        if fam == 0x11:
            src, dst, sport, dport = struct.unpack("!4s4sHH", body[:12])
            out.update(src=socket.inet_ntoa(src), sport=sport,
                       dst=socket.inet_ntoa(dst), dport=dport)
            body = body[12:]
        tlvs = {}
        while body:
            t, n = struct.unpack("!BH", body[:3])
            tlvs[hex(t)] = body[3:3 + n].decode()
            body = body[3 + n:]
        out["tlvs"] = tlvs
        c.sendall(json.dumps(out).encode())
        c.shutdown(socket.SHUT_WR)
        while c.recv(4096):
            pass
        c.close()

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(c,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return srv


def test_proxy_protocol_v2(site):
    import json

    srv = _pp2_backend()
    port = srv.getsockname()[1]
    try:
        cloud, edges = up(site, {"A/t": ([f"127.0.0.1:{port}"],
                                         "proxy_protocol = yes\nhealth = none")},
                          listeners_a={"t": "t"})
        c = socket.create_connection(("127.0.0.1",
                                      edges["agw"].port("listener.t")))
        device_port = c.getsockname()[1]
        c.shutdown(socket.SHUT_WR)
        c.settimeout(10)
        data = b""
        while True:
            d = c.recv(4096)
            if not d:
                break
            data += d
        got = json.loads(data)
        assert got["sig"] and got["ver_cmd"] == 0x21 and got["fam"] == 0x11
        # the device's own address and port, as the edge saw them
        assert got["src"] == "127.0.0.1" and got["sport"] == device_port
        assert got["dst"] == "127.0.0.1" and got["dport"] == port
        assert got["tlvs"] == {"0xe0": "A", "0xe1": "agw"}
    finally:
        srv.close()


def test_keepalive_notices_a_frozen_cloud(site):
    a1 = site.backend("A")
    cloud, edges = up(site, {"A/t": [a1]}, listeners_a={"t": "t"})
    edge = edges["agw"]
    # a cloud that stops answering without closing anything (a dead host,
    # a dropped route): only the PING keepalive can tell
    cloud.signal(signal.SIGSTOP)
    try:
        edge.wait_log(r"event=tunnel_down cloud=\S+ reason=\"keepalive "
                      r"timeout\"", timeout=15)
        edge.wait_log(r"event=reconnect_scheduled")
    finally:
        cloud.signal(signal.SIGCONT)
    edge.wait_log(r"event=tunnel_up", count=2, timeout=20)
    assert exchange(edge.port("listener.t"), b"back") == b"A\nback"


def test_status(site):
    import json
    import stat

    a1, a2 = site.backend("a1"), site.backend("a2")
    b1 = site.backend("b1")
    cloud, edges = up(site, {"A/t": ([a1, a2], "health = none"),
                             "B/t": [b1]},
                      listeners_a={"t": "t"}, listeners_b={"t": "t"})
    sock = cloud.ready["admin"]
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    # one stream held open through agw
    c = socket.create_connection(("127.0.0.1",
                                  edges["agw"].port("listener.t")))
    c.settimeout(10)
    assert c.recv(3) in (b"a1\n", b"a2\n")
    c.sendall(b"12345")
    assert c.recv(5) == b"12345"
    st = json.loads(run("status", "--socket", sock, "--json",
                        expect=0).stdout)
    tunnels = {t["edge"]: t for t in st["tunnels"]}
    assert set(tunnels) == {"agw", "bgw"}
    assert tunnels["agw"]["tenant"] == "A" and tunnels["bgw"]["tenant"] == "B"
    assert tunnels["agw"]["streams_open"] == 1
    assert tunnels["agw"]["bytes_in"] == 5 and tunnels["agw"]["bytes_out"] >= 8
    assert tunnels["bgw"]["streams_open"] == 0
    assert tunnels["agw"]["peer"].startswith("127.0.0.1:")
    svc = {(s["tenant"], s["name"]): s for s in st["services"]}
    backends = svc[("A", "t")]["backends"]
    assert sum(b["active"] for b in backends) == 1
    assert all(b["healthy"] for b in backends)
    # the text form names the same things, found through the config
    text = run("status", "-c", cloud.conf, expect=0).stdout
    assert "2 tunnels up" in text
    assert "agw" in text and "tenant A" in text and a1.addr in text
    c.close()


def test_status_errors(site, tmp_path):
    res = run("status", "--socket", tmp_path / "nope.sock", expect=1)
    assert "cannot connect" in res.stderr
    res = run("status", expect=2)
    assert "--socket" in res.stderr


def test_admin_socket_in_use_is_refused(site):
    cloud = site.start("cloud", site.cloud_conf({"A/t": ["127.0.0.1:9"]}))
    res = run("cloud", "-c", cloud.conf, expect=1)
    assert "in use by a running daemon" in res.stderr
    # the first one still answers
    run("status", "-c", cloud.conf, expect=0)


def _frames(sock, until, timeout=10):
    """Reads HTTP/2 frames from sock until until(type, flags, stream,
    payload) is true; returns every frame read."""
    import struct
    buf, seen = b"", []
    deadline = time.time() + timeout
    sock.settimeout(0.2)
    while time.time() < deadline:
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            ftype, flags = buf[3], buf[4]
            sid = struct.unpack(">I", buf[5:9])[0] & 0x7fffffff
            frame = (ftype, flags, sid, buf[9:9 + n])
            buf = buf[9 + n:]
            seen.append(frame)
            if until(*frame):
                return seen
        try:
            d = sock.recv(65536)
        except socket.timeout:
            continue
        if not d:
            break
        buf += d
    return seen


def test_edge_never_accepts_a_stream_from_the_cloud(site):
    """A fake cloud with a genuine certificate opens a CONNECT stream
    towards the edge: the edge refuses it."""
    import ssl
    srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv.minimum_version = ssl.TLSVersion.TLSv1_3
    srv.load_cert_chain(site.pki / "cloudgw.crt", site.pki / "cloudgw.key")
    srv.load_verify_locations(site.pki / "ca.crt")
    srv.verify_mode = ssl.CERT_REQUIRED
    srv.set_alpn_protocols(["isthmus/1"])
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    edge = site.start("edge", site.edge_conf(
        "agw", lsock.getsockname()[1], {"t": "t"}))
    lsock.settimeout(10)
    raw, _ = lsock.accept()
    with srv.wrap_socket(raw, server_side=True) as s:
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        got = b""
        while len(got) < len(preface):
            got += s.recv(len(preface) - len(got))
        assert got == preface
        s.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")    # SETTINGS
        edge.wait_log(r"event=tunnel_up")
        # HEADERS on stream 2 (server-initiated): CONNECT to "t", with
        # HPACK literals of the static names :method (2), :authority (1)
        block = b"\x02\x07CONNECT" + b"\x01\x01t"
        s.sendall(len(block).to_bytes(3, "big") + b"\x01\x05"
                  + (2).to_bytes(4, "big") + block)
        seen = _frames(s, lambda t, f, sid, p: t in (3, 7)
                       or (t == 1 and sid == 2))
    lsock.close()
    # the answer is RST_STREAM(REFUSED_STREAM) on stream 2, or GOAWAY with
    # PROTOCOL_ERROR; never a response
    codes = [int.from_bytes(p[:4], "big") for t, _, sid, p in seen
             if t == 3 and sid == 2]
    codes += [int.from_bytes(p[4:8], "big") for t, _, _, p in seen if t == 7]
    assert codes and codes[0] in (1, 7), seen
    assert not any(t == 1 and sid == 2 for t, _, sid, _ in seen), seen


def test_a_trickled_handshake_is_cut_at_handshake_timeout(site):
    """A peer sending its ClientHello a byte at a time restarts every read
    timeout; the cloud still ends the handshake at handshake_timeout, so
    such peers cannot hold its slots. Others are admitted meanwhile."""
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [site.backend("A")]}, extra="handshake_timeout = 1s"))
    c = socket.create_connection(("127.0.0.1", cloud.port("listen")), 5)
    c.settimeout(0.3)
    closed = False
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40
    try:
        for i in range(len(hello)):     # 40 x 0.3s = 12s at most
            try:
                c.sendall(hello[i:i + 1])
                if c.recv(1) == b"":
                    closed = True
                    break
            except socket.timeout:
                continue
            except OSError:
                closed = True
                break
    finally:
        c.close()
    assert closed, "the cloud kept a trickled handshake open"
    cloud.wait_log(r"event=handshake_failed peer=127\.0\.0\.1:\d+ edge=- "
                   r"reason=timeout")
    edge = site.start("edge", site.edge_conf("agw", cloud.port("listen"),
                                             {"t": "t"}))
    edge.wait_log(r"event=tunnel_up")
