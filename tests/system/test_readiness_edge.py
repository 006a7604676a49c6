"""The edge's readiness test (docs/readiness.md) against a fake cloud
(readycloud_lib) whose conditions the test imposes: PING answers held
back a known time, UDP probes echoed, dropped one in ten each way or
never answered, throughput endpoints that count what they move. The
result document's shape and figures, the site's policy and limits, one
test at a time, a result kept across a lost management stream, and the
cloud's schedule in `isthmus status`.

    edge agw ==TLS 1.3==> ReadyCloud (management stream, PING, .isthmus)
             --UDP------> UdpEcho (readiness_udp)
"""

import json
import math
import re
import signal
import time

import pytest

from isthmus_testlib import run
from readycloud_lib import ReadyCloud, UdpEcho, default_profile
from test_manage_edge import start_edge
from tunnel_lib import eventually, scrape, value

MEASURES = ["dns", "tcp", "proxy", "tls", "rtt", "udp", "down", "up",
            "voice"]
ID = "5f0c1d2e3f405162738495a6b7c8d9e0"


@pytest.fixture
def fake(site):
    made = []

    def cloud(**kw):
        c = ReadyCloud(site.pki, **kw)
        made.append(c)
        return c

    def udp(**kw):
        u = UdpEcho(**kw)
        made.append(u)
        return u
    yield cloud, udp
    for f in made:
        f.close()


def quick(**kw):
    """A profile that runs in seconds: 20 PINGs 20 ms apart, 100 probes
    over 1 s, 1 MiB each way."""
    p = dict(name="voice", pings=20, ping_interval_ms=20, down=1 << 20,
             up=1 << 20, udp_rate=100, udp_duration_ms=1000)
    p.update(kw)
    return default_profile(**p)


def plan(p, udp=True):
    """docs/readiness.md, "The budget"."""
    b = math.ceil((p["down"] + p["up"]) * 108 / 100)
    if p["udp"] and udp:
        packets = p["udp_rate"] * p["udp_duration_ms"] // 1000
        b += 2 * packets * (p["udp_size"] + 48)
    return b + p["pings"] * 100


def ready_edge(site, cloud, manage="status, readiness", extra=""):
    edge, conf = start_edge(site, cloud, manage, extra)
    st = cloud.stream()
    assert eventually(lambda: st.messages)
    return edge, conf


def voice_of(rtt, jitter, loss):
    """docs/readiness.md's E-model, for the figures the edge reported."""
    ta = rtt / 2 + 2 * jitter + 20
    id_ = 0.024 * ta + (0.11 * (ta - 177.3) if ta > 177.3 else 0)
    r = 93.2 - id_ - 95 * loss / (loss + 25.1)
    return ta, r, 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)


def test_result_shape_and_figures(site, fake):
    mk_cloud, mk_udp = fake
    cloud = mk_cloud(ping_delay=0.05)     # 50 ms imposed on PINGs
    udp = mk_udp(drop_every=10)           # every 10th lost on the way up
    edge, conf = ready_edge(site, cloud)
    p = quick()
    t0 = time.time()
    rx = cloud.rx
    cloud.readiness(ID, p, udp=udp.params(), args=["voice"])
    r = cloud.result(ID, timeout=60)
    rx = cloud.rx - rx
    assert r["outcome"] == "ok", r
    doc = r["result"]
    assert list(doc) == ["profile", "started", "seconds", "verdict",
                         "budget", "plan", "measures", "samples"]
    assert doc["profile"] == "voice"
    assert t0 - 1 <= doc["started"] <= t0 + 5
    assert 1 < doc["seconds"] < 30
    assert doc["budget"] == p["budget"] and doc["plan"] == plan(p)
    m = doc["measures"]
    assert list(m) == MEASURES
    ats = [m[k]["at"] for k in MEASURES]
    assert ats == sorted(ats) and ats[0] >= 0

    # the path: the doctor's steps on a connection of their own
    for k in ("dns", "tcp", "tls"):
        assert m[k]["verdict"] == "pass" and m[k]["ms"] >= 0, m[k]
    assert m["tls"]["ms"] > 0
    assert m["proxy"] == {"verdict": "skipped", "at": m["dns"]["at"],
                          "detail": "no proxy"}

    # PINGs: the 50 ms the fake held each answer, within 20 ms
    rtt = m["rtt"]
    assert rtt["count"] == 20 and rtt["received"] == 20
    assert 49 <= rtt["min_ms"] <= rtt["median_ms"] <= rtt["p95_ms"] \
        <= rtt["max_ms"]
    assert 49 <= rtt["median_ms"] <= 70, rtt
    assert rtt["jitter_ms"] < 10 and rtt["verdict"] == "pass"
    assert len(doc["samples"]["rtt_ms"]) == 20
    assert min(doc["samples"]["rtt_ms"]) == rtt["min_ms"]

    # UDP: 100 probes, every 10th dropped before the cloud counts it
    u = m["udp"]
    assert u["sent"] == 100 and u["received"] == 90, u
    assert u["loss_pct"] == 10.0
    assert 9 <= u["up_loss_pct"] <= 10.1 and u["down_loss_pct"] == 0
    assert u["duplicates"] == 0 and u["reordered"] == 0
    assert u["jitter_ms"] == max(u["up_jitter_ms"], u["down_jitter_ms"])
    assert u["median_ms"] < 40          # not delayed: only PINGs are
    assert u["verdict"] == "fail"       # 10 % over the 3 % fail
    assert "blocked" not in u
    assert len(doc["samples"]["udp_rtt_ms"]) == 90
    assert udp.probes == 100

    # throughput: exactly what the profile asked, each way
    for k in ("down", "up"):
        assert m[k]["bytes"] == 1 << 20, m[k]
        assert m[k]["mbps"] > 0 and m[k]["seconds"] > 0
        assert m[k]["verdict"] in ("pass", "warn", "fail")
        assert abs(m[k]["mbps"] - 8 * (1 << 20) / m[k]["seconds"] / 1e6) \
            < 0.05 * m[k]["mbps"] + 0.1
    assert cloud.up_counted == [1 << 20]
    paths = [(path, h["isthmus-test"], h["isthmus-bytes"], h[":method"])
             for path, h in cloud.ready_requests]
    assert paths == [("/readiness/down", ID, str(1 << 20), "GET"),
                     ("/readiness/up", ID, str(1 << 20), "POST")]

    # the voice estimate, from the train's figures
    v = m["voice"]
    assert v["estimate"] is True and v["codec"] == "G.711"
    assert v["detail"] == "from the UDP train"
    assert v["loss_pct"] == u["loss_pct"]
    ta, rr, mos = voice_of(u["median_ms"], u["jitter_ms"], u["loss_pct"])
    assert abs(v["delay_ms"] - ta) < 0.1 and abs(v["r"] - rr) < 0.1
    assert abs(v["mos"] - mos) < 0.011
    assert v["verdict"] == "fail"       # MOS about 3.4 < 3.6
    assert doc["verdict"] == "fail"     # the worst

    # Never more on the wire than the plan: what reached the cloud on
    # the tunnel (HTTP/2, with TLS's 22 bytes a record at most 16 KiB)
    # and the probes with their headers.
    assert rx * 1.002 + udp.probes * (172 + 48) <= doc["plan"], rx
    done = edge.wait_log(rf"event=readiness_done id={ID} profile=voice "
                         r"verdict=fail ms=\d+ spent=(\d+) plan=(\d+)")
    assert int(done[0][0]) <= int(done[0][1]) == doc["plan"]
    edge.wait_log(rf"event=manage_instruction id={ID} kind=readiness "
                  r"issuer=alice outcome=ok")
    assert value(scrape(edge), "isthmus_edge_manage_instructions_total",
                 kind="readiness", outcome="ok") == 1
    assert "event=tunnel_down" not in edge.text()


def test_udp_loss_on_the_way_down(site, fake):
    mk_cloud, mk_udp = fake
    cloud = mk_cloud()
    udp = mk_udp(drop_every=10, drop="down")   # counted, echo lost
    ready_edge(site, cloud)
    p = quick(path=False, pings=0, down=0, up=0, budget=1 << 20)
    cloud.readiness(ID, p, udp=udp.params())
    m = cloud.result(ID, timeout=30)["result"]["measures"]
    u = m["udp"]
    assert u["sent"] == 100 and u["received"] == 90
    assert u["loss_pct"] == 10.0 and u["up_loss_pct"] == 0
    assert 9 <= u["down_loss_pct"] <= 10.1, u
    for k in ("dns", "tcp", "proxy", "tls"):
        assert m[k] == {"verdict": "skipped",
                        "detail": "not in the profile (path = off)"}
    assert m["rtt"]["verdict"] == "skipped"
    assert m["down"]["verdict"] == m["up"]["verdict"] == "skipped"
    assert cloud.ready_requests == []


def test_udp_blocked_and_the_rest_goes_on(site, fake):
    mk_cloud, mk_udp = fake
    cloud = mk_cloud(ping_delay=0.02)
    udp = mk_udp(silent=True)             # a firewall eats the echoes
    ready_edge(site, cloud)
    p = quick(path=False)
    cloud.readiness(ID, p, udp=udp.params())
    doc = cloud.result(ID, timeout=60)["result"]
    m = doc["measures"]
    assert m["udp"] == {
        "verdict": "fail", "at": m["udp"]["at"], "blocked": True,
        "sent": 100, "received": 0,
        "detail": f"UDP blocked: no echo to 100 probes to "
                  f"127.0.0.1:{udp.port}"}
    assert udp.probes == 100              # they left; nothing came back
    assert "udp_rtt_ms" not in doc["samples"]
    assert m["rtt"]["received"] == 20 and m["rtt"]["median_ms"] >= 19
    assert m["down"]["bytes"] == m["up"]["bytes"] == 1 << 20
    assert m["voice"]["detail"].startswith("from the PINGs' round trip")
    assert m["voice"]["loss_pct"] == 0
    assert doc["verdict"] == "fail"


def test_policy_limits_and_bad_params(site, fake):
    mk_cloud, mk_udp = fake
    cloud = mk_cloud()
    udp = mk_udp()
    edge, conf = ready_edge(site, cloud, manage=None)   # the default
    p = quick(path=False, pings=2, down=0, up=0, budget=1 << 20)
    cloud.readiness("a1", p, udp=udp.params())
    r = cloud.result("a1")
    assert r["outcome"] == "refused"
    assert r["error"] == "refused by the site's policy"

    conf.write_text(conf.read_text().replace(
        "[edge]\n", "[edge]\nmanage = status, readiness\n"
        "readiness_max_bytes = 5M\nreadiness_udp = off\n", 1))
    edge.signal(signal.SIGHUP)
    edge.wait_log(r"event=reloaded")

    # a budget over the site's readiness_max_bytes: refused, with why
    cloud.readiness("a2", quick(budget=10 << 20), udp=udp.params())
    r = cloud.result("a2")
    assert r["outcome"] == "refused"
    assert r["error"] == (
        f"profile 'voice' may move {10 << 20} bytes, over this edge's "
        f"readiness_max_bytes ({5 << 20}): the site allows less")
    assert "result" not in r

    # readiness_udp = off: the train is skipped, the rest runs
    cloud.readiness("a3", p, udp=udp.params())
    r = cloud.result("a3", timeout=30)
    assert r["outcome"] == "ok", r
    assert r["result"]["measures"]["udp"] == {
        "verdict": "skipped", "detail": "readiness_udp = off at this edge"}
    assert r["result"]["plan"] == plan(p, udp=False)
    assert r["result"]["measures"]["rtt"]["received"] == 2
    assert udp.probes == 0

    # params that are not a profile: error, with what is wrong
    cloud.instruct("readiness", id_="a5")
    r = cloud.result("a5")
    assert r["outcome"] == "error" and "profile" in r["error"]
    bad = quick()
    bad["pings"] = 5000
    cloud.readiness("a6", bad)
    r = cloud.result("a6")
    assert r["outcome"] == "error" and "pings" in r["error"]
    # params of the wrong type make the line malformed (the stream goes)
    cloud.instruct("readiness", id_="a7", params=[1])
    edge.wait_log(r"event=manage_bad_message reason=malformed "
                  r"error=.*params")


def test_the_cloud_refuses_a_stream(site, fake):
    mk_cloud, _ = fake
    cloud = mk_cloud(down_status=404, up_status=409)
    ready_edge(site, cloud)
    p = quick(path=False, pings=0)
    cloud.readiness(ID, p)              # no "udp": the cloud has no port
    m = cloud.result(ID, timeout=30)["result"]["measures"]
    assert m["udp"] == {"verdict": "skipped",
                        "detail": "the cloud has no readiness_udp port"}
    assert m["down"]["verdict"] == "fail"
    assert m["down"]["detail"] == "the cloud answered 404 (no_test)"
    assert m["up"]["detail"] == "the cloud answered 409 (no_test)"
    assert "bytes" not in m["down"]
    assert m["voice"] == {"verdict": "fail", "at": m["voice"]["at"],
                          "detail": "no round trip was measured to "
                                    "estimate it from"}


def test_one_test_at_a_time(site, fake):
    mk_cloud, _ = fake
    cloud = mk_cloud()
    edge, _ = ready_edge(site, cloud)
    p = quick(path=False, pings=15, ping_interval_ms=100, down=0, up=0,
              udp=False, budget=1 << 20)
    cloud.readiness("b1", p)
    cloud.readiness("b2", p)
    r = cloud.result("b2")
    assert r["outcome"] == "error"
    assert r["error"] == "a readiness test is already running (b1)"
    st = json.loads(run("status", "-c", site.tmp / "edge-agw.conf",
                        "--json", expect=0).stdout)
    assert st["management"]["readiness_running"] == "b1"
    r = cloud.result("b1", timeout=30)
    assert r["outcome"] == "ok" and r["result"]["measures"]["rtt"][
        "count"] == 15
    # and the next one runs
    cloud.readiness("b3", p)
    assert cloud.result("b3", timeout=30)["outcome"] == "ok"


def test_result_kept_for_the_next_stream(site, fake):
    mk_cloud, _ = fake
    cloud = mk_cloud()
    edge, conf = ready_edge(site, cloud)
    p = quick(path=False, pings=20, ping_interval_ms=100, down=0, up=0,
              udp=False, budget=1 << 20)
    cloud.readiness(ID, p)
    edge.wait_log(rf"event=readiness_start id={ID}")
    # The stream goes, and the cloud refuses the next ones for a while.
    cloud.status = 404
    cloud.reset()
    edge.wait_log(rf"event=readiness_kept id={ID} "
                  r"action=\"kept for the next stream\"", timeout=30)
    st = json.loads(run("status", "-c", conf, "--json",
                        expect=0).stdout)["management"]
    assert st["readiness_kept"] == 1 and st["readiness_running"] is None
    assert "1 readiness result kept for the next stream" in \
        run("status", "-c", conf, expect=0).stdout
    n = len(cloud.streams)
    cloud.status = 200
    s = cloud.stream(n + 1, timeout=70)
    assert eventually(lambda: len(s.messages) >= 2, timeout=10)
    hello, kept = s.messages[:2]
    assert hello["type"] == "hello"
    assert kept["type"] == "kept" and kept["id"] == ID
    assert set(kept) == {"v", "type", "id", "result"}
    assert kept["result"]["measures"]["rtt"]["count"] == 20
    # once: not on the first stream, not again
    assert not [m for m in cloud.stream(1).messages
                if m.get("id") == ID]
    edge.wait_log(r"event=readiness_kept_sent count=1")
    st = json.loads(run("status", "-c", conf, "--json",
                        expect=0).stdout)["management"]
    assert st["readiness_kept"] == 0


def test_kept_now_when_a_new_stream_is_up(site, fake):
    mk_cloud, _ = fake
    cloud = mk_cloud()
    edge, _ = ready_edge(site, cloud)
    p = quick(path=False, pings=30, ping_interval_ms=100, down=0, up=0,
              udp=False, budget=1 << 20)
    cloud.readiness(ID, p)
    edge.wait_log(rf"event=readiness_start id={ID}")
    cloud.reset()                       # back after 1 s, before the end
    second = cloud.stream(2)
    m = cloud.kept(ID, 2, timeout=30)
    assert second.messages[0]["type"] == "hello"
    assert m["result"]["measures"]["rtt"]["received"] == 30
    edge.wait_log(rf"event=readiness_kept id={ID} "
                  r"action=\"sent on the stream now open\"")


def test_schedule_in_status_and_log(site, fake):
    mk_cloud, _ = fake
    cloud = mk_cloud()
    edge, conf = ready_edge(site, cloud)
    st = json.loads(run("status", "-c", conf, "--json",
                        expect=0).stdout)["management"]
    assert st["readiness_next"] is None and st["readiness_profile"] is None
    nxt = 1765003600
    cloud.schedule("voice", 21600, nxt)
    edge.wait_log(r"event=readiness_schedule profile=voice every_s=21600 "
                  r"next=2025-12-06T06:46:40Z")
    st = json.loads(run("status", "-c", conf, "--json",
                        expect=0).stdout)["management"]
    assert st["readiness_profile"] == "voice"
    assert st["readiness_every"] == 21600
    assert st["readiness_next"] == "2025-12-06T06:46:40Z"
    assert st["readiness_running"] is None and st["readiness_kept"] == 0
    text = run("status", "-c", conf, expect=0).stdout
    assert re.search(r"readiness tests: profile voice every 21600 s, next "
                     r"2025-12-06T06:46:40Z \(due \d+ s\)", text), text
    cloud.schedule(None)
    edge.wait_log(r"event=readiness_schedule profile=none")
    st = json.loads(run("status", "-c", conf, "--json",
                        expect=0).stdout)["management"]
    assert st["readiness_next"] is None and st["readiness_every"] is None
    assert "readiness tests: none scheduled by the cloud" in \
        run("status", "-c", conf, expect=0).stdout


def test_behind_a_proxy_the_path_times_its_connect(site, fake, proxies):
    """The path measures go the way the tunnel goes: through the site's
    proxy, whose CONNECT is timed (it is not skipped)."""
    mk_cloud, _ = fake
    cloud = mk_cloud()
    tp = proxies()
    ready_edge(site, cloud, extra=f"proxy = http://127.0.0.1:{tp.port}\n")
    p = quick(pings=3, down=0, up=0, udp=False, budget=1 << 20)
    cloud.readiness(ID, p)
    m = cloud.result(ID, timeout=60)["result"]["measures"]
    assert m["proxy"]["verdict"] == "pass" and m["proxy"]["ms"] > 0, m
    assert m["tcp"]["verdict"] == "pass" and m["tls"]["verdict"] == "pass"
    # the tunnel's CONNECT, and the path's own second one
    assert tp.text().count(f"CONNECT 127.0.0.1:{cloud.port}") >= 2
