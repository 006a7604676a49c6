"""The cloud's worker event loops (`workers = N|auto`): tunnels are handed
to the workers in turn, traffic, reload and drain reach every worker, and
counters that several threads update add up exactly."""

import json
import os
import signal
import socket
import threading

from isthmus_testlib import run
from tunnel_lib import eventually, exchange, scrape, spki, up, value


def cloud_status(cloud):
    return json.loads(run("status", "--socket", cloud.ready["admin"],
                          "--json", expect=0).stdout)


def spread(cloud):
    return [w["tunnels"] for w in cloud_status(cloud)["workers"]]


def test_tunnels_spread_and_counters_add_up(site):
    a1, b1 = site.backend("A"), site.backend("B")
    cloud, edges = up(site, {"A/t": [a1], "B/t": [b1]},
                      listeners_a={"t": "t"}, listeners_b={"t": "t"},
                      extra="workers = 2\nmetrics = 127.0.0.1:0")
    cloud.wait_log(r"event=ready .* workers=2")
    # two tunnels, one per worker: each worker's loop carries one of them
    assert eventually(lambda: spread(cloud) == [1, 1]), spread(cloud)
    m = scrape(cloud)
    assert value(m, "isthmus_worker_tunnels", worker="0") == 1
    assert value(m, "isthmus_worker_tunnels", worker="1") == 1
    # streams through both workers at once
    n = 40
    results = []

    def one(edge, tag, i):
        payload = f"{tag}-{i}".encode() * 100
        results.append(exchange(edges[edge].port("listener.t"), payload)
                       == tag.encode() + b"\n" + payload)

    threads = [threading.Thread(target=one, args=(e, t, i))
               for i in range(n) for e, t in (("agw", "A"), ("bgw", "B"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [True] * (2 * n)
    # the counters both threads updated are exact
    m = scrape(cloud)
    for tenant in ("A", "B"):
        assert value(m, "isthmus_streams_opened_total", tenant=tenant,
                     service="t") == n
    st = cloud_status(cloud)
    assert st["streams_opened"] == 2 * n
    assert sum(t["streams_total"] for t in st["tunnels"]) == 2 * n


def test_reload_rechecks_tunnels_in_every_worker(site):
    a1, b1 = site.backend("A"), site.backend("B")
    cloud, edges = up(site, {"A/t": [a1], "B/t": [b1]},
                      listeners_a={"t": "t"}, listeners_b={"t": "t"},
                      extra="workers = 2")
    assert eventually(lambda: spread(cloud) == [1, 1])
    # both edges re-pinned: whichever worker holds a tunnel drops it
    for e, t in (("agw", "A"), ("bgw", "B")):
        run("pki", "issue", "edge", e, "--tenant", t, "--ca", site.pki,
            "--out", site.tmp / f"{e}2", expect=0)
    site.cloud_conf({"A/t": [a1], "B/t": [b1]},
                    edges={"agw": ("A", spki(site.tmp / "agw2.crt")),
                           "bgw": ("B", spki(site.tmp / "bgw2.crt"))},
                    extra="workers = 2")
    cloud.signal(signal.SIGHUP)
    cloud.wait_log(r"event=reloaded")
    cloud.wait_log(r"event=tunnel_revoked edge=agw reason=pin_mismatch")
    cloud.wait_log(r"event=tunnel_revoked edge=bgw reason=pin_mismatch")
    assert eventually(lambda: spread(cloud) == [0, 0])
    # and they cannot come back with the old key
    edges["agw"].wait_log(r"reason=refused_by_cloud")


def test_drain_reaches_every_worker(site):
    a1, b1 = site.backend("A"), site.backend("B")
    cloud, edges = up(site, {"A/t": [a1], "B/t": [b1]},
                      listeners_a={"t": "t"}, listeners_b={"t": "t"},
                      extra="workers = 2")
    assert eventually(lambda: spread(cloud) == [1, 1])
    conns = []
    for e, tag in (("agw", b"A\n"), ("bgw", b"B\n")):
        c = socket.create_connection(("127.0.0.1",
                                      edges[e].port("listener.t")))
        c.settimeout(10)
        assert c.recv(2) == tag
        conns.append(c)
    cloud.signal(signal.SIGTERM)
    cloud.wait_log(r"event=draining")
    # a stream in each worker still works during the drain...
    for c in conns:
        c.sendall(b"still here")
        assert c.recv(100) == b"still here"
    conns[0].shutdown(socket.SHUT_WR)
    assert conns[0].recv(100) == b""
    assert cloud.proc.poll() is None    # the other worker is not done
    conns[1].shutdown(socket.SHUT_WR)
    assert conns[1].recv(100) == b""
    # ...and once both are done the cloud exits 0 (checked by stop())
    cloud.proc.wait(10)
    assert cloud.proc.returncode == 0
    for c in conns:
        c.close()


def test_workers_default_is_one_per_cpu(site):
    a1 = site.backend("A")
    cloud, _ = up(site, {"A/t": [a1]}, listeners_a={"t": "t"})
    n = len(os.sched_getaffinity(0))
    cloud.wait_log(rf"event=ready .* workers={min(n, 64)}\b")
    assert len(cloud_status(cloud)["workers"]) == min(n, 64)


def test_workers_bad_values(site):
    for bad in ("0", "65", "many", "-1", "2.5"):
        conf = site.cloud_conf({"A/t": ["127.0.0.1:9"]},
                               extra=f"workers = {bad}")
        res = run("cloud", "-c", conf, "--check", expect=2)
        assert (f"workers: '{bad}' is not 'auto' or an integer between 1 "
                "and 64") in res.stderr, res.stderr
    conf = site.cloud_conf({"A/t": ["127.0.0.1:9"]}, extra="workers = auto")
    run("cloud", "-c", conf, "--check", expect=0)


def test_cloud_issues_no_session_tickets(site):
    """Every tunnel is a full handshake: a resumed session would skip the
    checks that admit an edge (CRL, pin, tenancy)."""
    import ssl

    cloud = site.start("cloud", site.cloud_conf({"A/t": ["127.0.0.1:9"]}))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(site.pki / "ca.crt")
    ctx.load_cert_chain(site.pki / "agw.crt", site.pki / "agw.key")
    ctx.set_alpn_protocols(["isthmus/1"])
    with socket.create_connection(("127.0.0.1", cloud.port("listen")),
                                  timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            # the cloud's SETTINGS: admitted; any ticket came before it
            assert s.recv(9)
            s.settimeout(0.5)
            try:
                s.recv(4096)
            except (socket.timeout, ssl.SSLError):
                pass
            assert s.session is None or not s.session.has_ticket
            assert not s.session_reused
