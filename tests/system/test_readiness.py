"""Readiness tests end to end: a real cloud with its store, a real edge in
a network namespace whose link the test impairs (delay by a relay, loss
and blocked UDP by nftables, rate by tbf), and `isthmus manage ...
readiness` and `isthmus readiness` as an operator runs them. What the
edge measures must match what was imposed, within the tolerances
docs/readiness.md states; the schedule runs by itself and spreads a
fleet; results survive a restart on both store backends; a result whose
stream went away is kept and arrives late; a test stays within its
budget on the wire."""

import json
import re
import time

import pytest

from isthmus_testlib import run
from netimpair_lib import link, wait_for  # noqa: F401 (fixture)
from pg_lib import pg_cluster, pg_url  # noqa: F401 (fixtures)
from tunnel_lib import free_port, scrape, spki, value

NAME = "cloud.readiness.test"

# Each test's own profile: small, so the suite stays quick.
LAB = """
[readiness lab]
path = on
pings = 20
ping_interval = 50ms
down = 512k
up = 512k
udp = on
udp_rate = 100
udp_duration = 10s
budget = 4M
"""

RATE = """
[readiness rate]
path = off
pings = 5
ping_interval = 20ms
down = 6M
up = 6M
udp = off
budget = 14M
"""

TINY = """
[readiness tiny]
path = off
pings = 3
ping_interval = 10ms
down = 64k
up = 64k
udp = off
budget = 1M
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request):
    if request.param == "sqlite":
        return "state = state.db"
    return "state = " + request.getfixturevalue("pg_url")


def manage(conf, *args, expect=0):
    res = run("manage", "-c", conf, "--json", *args, expect=expect)
    return json.loads(res.stdout)


def report(conf, *args):
    res = run("readiness", "-c", conf, "--format", "json", *args, expect=0)
    return json.loads(res.stdout)


def cloud_conf(site, extra, edges=None, listen="127.0.0.1:0"):
    conf = site.cloud_conf({"A/t": (["127.0.0.1:9"], "health = none")},
                           edges=edges,
                           extra="state = state.db\n"
                           "metrics = 127.0.0.1:0\n"
                           "readiness_udp = 127.0.0.1:0\n")
    text = conf.read_text().replace("listen = 127.0.0.1:0",
                                    f"listen = {listen}")
    conf.write_text(text + extra)
    return conf


def edge_in(site, link, cloud_port, name="agw", extra=""):
    """The edge in the link's namespace, its cloud a name that resolves
    to the far end of the link (where the relay listens)."""
    conf = site.edge_conf(name, cloud_port, {"t": "t"},
                          extra="manage = status, readiness\n" + extra)
    conf.write_text(conf.read_text().replace(
        f"cloud = 127.0.0.1:{cloud_port}", f"cloud = {NAME}:{cloud_port}"))
    hosts = site.tmp / "hosts"
    hosts.write_text(f"{link.HOST_IP} {NAME}\n127.0.0.1 localhost\n")
    edge = site.start("edge", conf, netns=link.ns, hosts=hosts)
    edge.wait_log(r"event=tunnel_up")
    return edge


def test_the_measures_match_the_delay_and_loss_imposed(site, link):
    """50 ms each way (100 ms round trip) and 5 % of the UDP probes lost
    on the way up: the PINGs and the UDP train see 100 +- 10 ms, and the
    train 3 to 7 % loss over 1,000 probes; every other figure is there
    with its verdict."""
    conf = cloud_conf(site, LAB)
    cloud = site.start("cloud", conf)
    port, uport = cloud.port("listen"), cloud.port("readiness_udp")
    link.relay(50, tcp=[(port, port)], udp=[(uport, uport)])
    link.udp_loss(5, uport)
    edge_in(site, link, port)
    cloud.wait_log(r"event=manage_hello edge=agw .*readiness")

    r = manage(conf, "agw", "readiness", "lab", "--wait", "120s")
    assert r["state"] == "ok", r
    res = r["result"]
    m = res["measures"]
    assert res["profile"] == "lab"
    for k in ("dns", "tcp", "tls"):
        assert m[k]["verdict"] in ("pass", "warn"), m[k]
        assert m[k]["ms"] >= 0
    # the relay answers the SYN itself; TLS 1.3 takes a round trip
    assert m["tls"]["ms"] >= 90
    assert m["proxy"]["verdict"] == "skipped"
    assert 90 <= m["rtt"]["median_ms"] <= 110, m["rtt"]
    assert m["rtt"]["received"] == m["rtt"]["count"] == 20
    assert m["rtt"]["min_ms"] <= m["rtt"]["median_ms"] <= m["rtt"]["p95_ms"]
    assert m["rtt"]["p95_ms"] <= m["rtt"]["max_ms"]
    u = m["udp"]
    assert u["sent"] == 1000
    assert 3 <= u["loss_pct"] <= 7, u
    assert 3 <= u["up_loss_pct"] <= 7 and u["down_loss_pct"] <= 1, u
    assert 90 <= u["median_ms"] <= 110, u
    assert u["jitter_ms"] < 10
    assert m["down"]["bytes"] == 512 * 1024 and m["up"]["bytes"] == 512 * 1024
    assert m["voice"]["estimate"] is True and 1 <= m["voice"]["mos"] <= 4.5
    assert len(res["samples"]["rtt_ms"]) == 20
    # the first 500 probes' round trips, the lost ones left out
    assert 450 <= len(res["samples"]["udp_rtt_ms"]) <= 500
    # 5 % loss is between the default warn (1 %) and fail (3 %)... over
    assert u["verdict"] == "fail" and res["verdict"] == "fail"
    # stored, and in the report with the operator who asked
    [t] = report(conf, "agw")["tests"]
    assert t["id"] == r["id"] and t["profile"] == "lab"
    assert t["verdict"] == "fail" and t["late"] is False
    assert t["result"]["measures"]["udp"]["sent"] == 1000
    # the gauges have the edge's latest
    mt = scrape(cloud)
    assert 0.09 <= value(mt, "isthmus_readiness_rtt_seconds", tenant="A",
                         edge="agw") <= 0.11
    assert 0.03 <= value(mt, "isthmus_readiness_loss_ratio", tenant="A",
                         edge="agw") <= 0.07
    assert value(mt, "isthmus_readiness_tests_total", verdict="fail") == 1


def test_goodput_matches_the_rate_imposed_and_the_budget_holds(site, link):
    """tbf at 20 Mbit/s both ways: goodput 14 to 21 Mbit/s each way; and
    what the site's link carried during the test (nftables counts it),
    both ways, stays within the profile's budget."""
    conf = cloud_conf(site, RATE)
    cloud = site.start("cloud", conf)
    port = cloud.port("listen")
    link.relay(0, tcp=[(port, port)])
    link.rate(20)
    edge_in(site, link, port)
    cloud.wait_log(r"event=manage_hello edge=agw .*readiness")
    time.sleep(1)
    before = link.bytes()
    r = manage(conf, "agw", "readiness", "rate", "--wait", "120s")
    after = link.bytes()
    assert r["state"] == "ok", r
    m = r["result"]["measures"]
    assert 14 <= m["down"]["mbps"] <= 21, m["down"]
    assert 14 <= m["up"]["mbps"] <= 21, m["up"]
    moved = (after[0] - before[0]) + (after[1] - before[1])
    assert 12 * 2**20 <= moved <= r["result"]["budget"] == 14 * 2**20, moved


def test_udp_blocked_is_said_and_the_rest_goes_on(site, link):
    conf = cloud_conf(site, TINY.replace("udp = off", "udp = on\n"
                                         "udp_rate = 50\nudp_duration = 2s"))
    cloud = site.start("cloud", conf)
    port, uport = cloud.port("listen"), cloud.port("readiness_udp")
    link.relay(0, tcp=[(port, port)], udp=[(uport, uport)])
    link.block_udp(uport)
    edge_in(site, link, port)
    cloud.wait_log(r"event=manage_hello edge=agw .*readiness")
    r = manage(conf, "agw", "readiness", "tiny", "--wait", "60s")
    m = r["result"]["measures"]
    assert m["udp"]["blocked"] is True and m["udp"]["verdict"] == "fail"
    assert m["udp"]["received"] == 0 and m["udp"]["sent"] == 100
    assert "UDP blocked" in m["udp"]["detail"]
    assert m["rtt"]["received"] == 3 and m["rtt"]["verdict"] == "pass"
    assert m["down"]["bytes"] == 64 * 1024
    assert r["result"]["verdict"] == "fail"
    mt = scrape(cloud)
    assert value(mt, "isthmus_readiness_loss_ratio", tenant="A",
                 edge="agw") == 1


def test_behind_a_proxy_the_proxys_time_is_reported(site, proxies):
    conf = cloud_conf(site, TINY.replace("path = off", "path = on"))
    cloud = site.start("cloud", conf)
    port = cloud.port("listen")
    px = proxies(connect_ports=(port,))
    econf = site.edge_conf("agw", port, {"t": "t"},
                           extra="manage = readiness\n"
                           f"proxy = http://127.0.0.1:{px.port}\n")
    edge = site.start("edge", econf)
    edge.wait_log(r"event=tunnel_up")
    cloud.wait_log(r"event=manage_hello edge=agw .*readiness")
    r = manage(conf, "agw", "readiness", "tiny", "--wait", "60s")
    m = r["result"]["measures"]
    assert m["proxy"]["verdict"] == "pass" and m["proxy"]["ms"] >= 0, m
    assert m["tcp"]["verdict"] == "pass" and m["tls"]["verdict"] == "pass"
    # the proxy saw the doctor's second connection and the tunnel's
    assert px.text().count(f"CONNECT 127.0.0.1:{port}") >= 2 or \
        px.text().count("CONNECT") >= 2


def test_results_survive_a_restart(site, state):
    conf = site.cloud_conf({"A/t": (["127.0.0.1:9"], "health = none")},
                           extra=f"{state}\nmetrics = 127.0.0.1:0\n")
    conf.write_text(conf.read_text().replace(
        "listen = 127.0.0.1:0", f"listen = 127.0.0.1:{free_port()}") + TINY)
    cloud = site.start("cloud", conf)
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"t": "t"},
        extra="manage = readiness\n"))
    edge.wait_log(r"event=tunnel_up")
    cloud.wait_log(r"event=manage_hello edge=agw .*readiness")
    r = manage(conf, "agw", "readiness", "tiny", "--wait", "60s")
    assert r["state"] == "ok", r
    cloud.stop()
    cloud = site.start("cloud", conf)
    tests = report(conf)["tests"]
    assert [t["id"] for t in tests] == [r["id"]]
    assert tests[0]["result"] == r["result"]
    assert tests[0]["verdict"] == r["result"]["verdict"]


def test_a_result_whose_stream_went_away_arrives_kept(site):
    """The cloud restarts while the edge tests: the edge keeps the result
    and sends it on its next management stream; the store takes it as
    late, once."""
    slow = TINY.replace("pings = 3", "pings = 10").replace(
        "ping_interval = 10ms", "ping_interval = 400ms")
    conf = site.cloud_conf({"A/t": (["127.0.0.1:9"], "health = none")},
                           extra="state = state.db\nmetrics = 127.0.0.1:0\n")
    conf.write_text(conf.read_text().replace(
        "listen = 127.0.0.1:0", f"listen = 127.0.0.1:{free_port()}") + slow)
    cloud = site.start("cloud", conf)
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"t": "t"},
        extra="manage = readiness\n"))
    edge.wait_log(r"event=tunnel_up")
    cloud.wait_log(r"event=manage_hello edge=agw .*readiness")
    r = manage(conf, "agw", "readiness", "tiny")
    edge.wait_log(rf"event=manage_instruction id={r['id']}")
    time.sleep(1)
    cloud.stop()
    cloud = site.start("cloud", conf)
    cloud.wait_log(rf"event=readiness_kept edge=agw tenant=A id={r['id']}",
                   timeout=30)
    tests = wait_for(lambda: report(conf)["tests"], timeout=10)
    [t] = tests
    assert t["id"] == r["id"] and t["late"] is True
    # the PINGs the restart cut short are counted lost, not invented
    m = t["result"]["measures"]["rtt"]
    assert m["count"] == 10 and m["received"] < 10
    assert value(scrape(cloud), "isthmus_readiness_kept_total") == 1


def fleet(site, n):
    edges = {}
    for i in range(n):
        name = f"e{i}"
        run("pki", "issue", "edge", name, "--tenant", "A", "--ca", site.pki,
            expect=0)
        edges[name] = ("A", spki(site.pki / f"{name}.crt"))
    return edges


def test_the_schedule_runs_and_spreads_a_fleet(site):
    """Six edges every 10 s: each is tested about every 10 s by the
    schedule alone, not all at one instant, and each is told its next
    test."""
    edges = fleet(site, 6)
    conf = cloud_conf(site, TINY, edges=edges)
    conf.write_text(conf.read_text().replace(
        "[tenant A]\n", "[tenant A]\nreadiness = tiny every 10s\n", 1))
    cloud = site.start("cloud", conf)
    port = cloud.port("listen")
    ds = []
    for name in edges:
        ds.append(site.start("edge", site.edge_conf(
            name, port, {}, extra="manage = readiness\n")))
    for d in ds:
        d.wait_log(r"event=tunnel_up")
    ds[0].wait_log(r"event=readiness_schedule profile=tiny every_s=10",
                   timeout=15)

    def by_edge():
        per = {}
        for t in report(conf)["tests"]:
            assert t["issuer"] == "schedule"
            per.setdefault(t["edge"], []).append(t["at"])
        return per
    # each edge's first slot comes within 10 s, its second 10 s later
    wait_for(lambda: len(by_edge()) == len(edges) and
             all(len(v) >= 2 for v in by_edge().values()), timeout=30,
             step=1)
    per = by_edge()
    assert set(per) == set(edges), per
    for name, ats in per.items():
        assert 2 <= len(ats) <= 3, (name, ats)
        gaps = [b - a for a, b in zip(ats, ats[1:])]
        assert all(8 <= g <= 12 for g in gaps), (name, ats)
    firsts = sorted(a[0] % 10 for a in per.values())
    assert len(set(firsts)) >= 3, firsts
    # what each edge was told, in its status
    res = run("status", "-c", ds[0].conf, "--json", expect=0)
    st = json.loads(res.stdout)
    assert re.search(r'"readiness_next"', json.dumps(st))
