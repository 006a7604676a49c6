"""The edge's side of the management channel (docs/protocol.md, 5) against
a fake cloud (managecloud_lib): the stream after admission, the hello,
instructions and their answers within the site's `manage` policy, and bad
input from the cloud, which resets that stream only."""

import re
import signal
import socket
import time

import pytest

from isthmus_testlib import run
from managecloud_lib import ManageCloud
from tunnel_lib import scrape, value, eventually


@pytest.fixture
def fake(site):
    made = []

    def make(**kw):
        f = ManageCloud(site.pki, **kw)
        made.append(f)
        return f
    yield make
    for f in made:
        f.close()


def start_edge(site, cloud, manage=None, extra=""):
    line = f"manage = {manage}\n" if manage is not None else ""
    conf = site.edge_conf(
        "agw", cloud.port,
        {"dev": "telemetry",
         "web": ("web", "mode = http\ncache = on\n")},
        extra=line + f"cache_dir = {site.tmp}/cache\n"
        "metrics = 127.0.0.1:0\n" + extra)
    edge = site.start("edge", conf)
    edge.wait_log(r"event=tunnel_up")
    return edge, conf


def echo(port, payload=b"ping\n"):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(payload)
        got = b""
        while len(got) < len(payload):
            d = c.recv(100)
            if not d:
                break
            got += d
        return got


def test_stream_hello_and_round_trips(site, fake):
    cloud = fake()
    edge, conf = start_edge(site, cloud, "status, purge-cache, logs, reload")
    st = cloud.stream()
    h = st.headers
    assert h[":method"] == "POST" and h[":path"] == "/manage"
    assert h[":authority"] == ".isthmus"
    assert h["content-type"] == "application/x-ndjson"
    assert eventually(lambda: st.messages)
    hello = st.messages[0]
    version = run("--version", expect=0).stdout.split()[-1]
    assert hello == {"v": 1, "type": "hello", "version": version,
                     "accepts": ["status", "purge-cache", "reload", "logs"]}

    r = cloud.result(cloud.instruct("status", id_="a1"))
    assert r["outcome"] == "ok"
    assert r["result"]["role"] == "edge" and r["result"]["edge"] == "agw"
    assert r["result"]["management"]["state"] == "up"

    r = cloud.result(cloud.instruct("purge-cache", id_="a2"))
    assert r["outcome"] == "ok" and r["result"] == {"purged": 0}

    r = cloud.result(cloud.instruct("logs", ["5"], id_="a3"))
    assert r["outcome"] == "ok" and not r["result"]["truncated"]
    assert 1 <= len(r["result"]["lines"]) <= 5
    assert all(line.startswith("ts=") for line in r["result"]["lines"])
    r = cloud.result(cloud.instruct("logs", ["0"], id_="a4"))
    assert r["outcome"] == "error"

    r = cloud.result(cloud.instruct("reload", id_="a5"))
    assert r == {"v": 1, "type": "result", "id": "a5", "outcome": "ok",
                 "result": {"reloaded": True}}
    edge.wait_log(r"event=reloaded")

    r = cloud.result(cloud.instruct("doctor", id_="a6"))
    assert r["outcome"] == "refused"
    assert r["error"] == "refused by the site's policy"
    r = cloud.result(cloud.instruct("frobnicate", id_="a7"))
    assert r["outcome"] == "error" and "unknown kind" in r["error"]
    r = cloud.result(cloud.instruct("status", id_="a8",
                                    deadline=int(time.time()) - 10))
    assert r["outcome"] == "expired" and "result" not in r

    edge.wait_log(r"event=manage_instruction id=a1 kind=status "
                  r"issuer=alice .*state=received")
    edge.wait_log(r"event=manage_instruction id=a6 kind=doctor "
                  r"issuer=alice outcome=refused")
    m = scrape(edge)
    assert value(m, "isthmus_edge_manage_stream_up") == 1
    assert value(m, "isthmus_edge_manage_instructions_total",
                 kind="status", outcome="ok") == 1
    assert value(m, "isthmus_edge_manage_instructions_total",
                 kind="doctor", outcome="refused") == 1
    assert value(m, "isthmus_edge_manage_instructions_total",
                 kind="unknown", outcome="error") == 1
    assert value(m, "isthmus_edge_manage_instructions_total",
                 kind="status", outcome="expired") == 1
    assert cloud.connects == 1


def test_policy_follows_reload_and_none(site, fake):
    cloud = fake()
    edge, conf = start_edge(site, cloud, "none")
    st = cloud.stream()
    assert eventually(lambda: st.messages)
    assert st.messages[0]["accepts"] == []
    r = cloud.result(cloud.instruct("status", id_="b1"))
    assert r["outcome"] == "refused"
    conf.write_text(conf.read_text().replace("manage = none",
                                             "manage = status"))
    edge.signal(signal.SIGHUP)
    edge.wait_log(r"event=reloaded")
    r = cloud.result(cloud.instruct("status", id_="b2"))
    assert r["outcome"] == "ok"
    # A bad configuration is the reload's answer, the running one kept.
    conf.write_text(conf.read_text().replace("manage = status",
                                             "manage = status, reload"))
    r = cloud.result(cloud.instruct("reload", id_="b3"))
    assert r["outcome"] == "refused"      # the running policy
    edge.signal(signal.SIGHUP)
    edge.wait_log(r"event=reloaded", count=2)
    conf.write_text(conf.read_text() + "\nbogus_key = 1\n")
    r = cloud.result(cloud.instruct("reload", id_="b4"))
    assert r["outcome"] == "error" and "bogus_key" in r["error"]


def test_bad_config_word(site, fake):
    cloud = fake()
    conf = site.edge_conf("agw", cloud.port, {"dev": "telemetry"},
                          extra="manage = status, sudo\n")
    res = run("edge", "-c", conf, "--check", expect=2)
    assert re.search(r"edge-agw\.conf:\d+: manage: 'sudo' is not one of",
                     res.stderr), res.stderr


def test_bad_lines_reset_only_the_stream(site, fake):
    cloud = fake()
    edge, _ = start_edge(site, cloud)
    dev = edge.port("listener.dev")
    first = cloud.stream(1)
    assert eventually(lambda: first.messages)
    assert echo(dev) == b"ping\n"

    cloud.send(b"x" * (300 * 1024) + b"\n")
    assert eventually(lambda: first.reset is not None)
    assert first.reset == 1                       # PROTOCOL_ERROR
    edge.wait_log(r"event=manage_bad_message reason=oversized")
    assert echo(dev) == b"ping\n"                 # the tunnel carries on
    t0 = time.time()
    second = cloud.stream(2)
    assert time.time() - t0 >= 0.5                # after a back-off
    assert eventually(lambda: second.messages)
    assert second.messages[0]["type"] == "hello"

    cloud.send(b'{"v":2,"type":"instruction","id":"c1","kind":"status"}\n')
    assert eventually(lambda: second.reset == 1)
    edge.wait_log(r"event=manage_bad_message reason=malformed")
    third = cloud.stream(3)
    assert eventually(lambda: third.messages)
    r = cloud.result(cloud.instruct("status", id_="c2"))
    assert r["outcome"] == "ok"
    assert echo(dev) == b"ping\n"
    m = scrape(edge)
    assert value(m, "isthmus_edge_manage_bad_messages_total",
                 reason="oversized") == 1
    assert value(m, "isthmus_edge_manage_bad_messages_total",
                 reason="malformed") == 1
    assert cloud.connects == 1                    # never reconnected
    assert "event=tunnel_down" not in edge.text()


def test_cloud_reset_stream_comes_back(site, fake):
    cloud = fake()
    edge, _ = start_edge(site, cloud)
    first = cloud.stream()
    assert eventually(lambda: first.messages)
    cloud.reset()
    edge.wait_log(r"event=manage_stream_down .*retry_in_ms=1000")
    second = cloud.stream(2)
    assert eventually(lambda: second.messages)
    r = cloud.result(cloud.instruct("status", id_="ab"))
    assert r["outcome"] == "ok"
    assert r["result"]["management"]["opens"] == 2
    assert cloud.connects == 1


def test_refused_stream_backs_off(site, fake):
    cloud = fake(status=404)
    edge, _ = start_edge(site, cloud)
    edge.wait_log(r"event=manage_refused status=404")
    cloud.stream(2, timeout=5)
    edge.wait_log(r"event=manage_stream_down .*retry_in_ms=2000")
    time.sleep(0.3)
    assert cloud.stream(1).messages == []     # no hello without a 200
    m = scrape(edge)
    assert value(m, "isthmus_edge_manage_stream_up") == 0
    assert cloud.connects == 1


def test_prefetch_fills_the_cache(site, fake):
    body = b"firmware" * 1000
    cloud = fake(files={"/fw.bin": body})
    edge, _ = start_edge(site, cloud)
    cloud.stream()
    r = cloud.result(cloud.instruct("prefetch", ["http://web/fw.bin"],
                                    id_="d1"))
    assert r["outcome"] == "ok", r
    assert r["result"] == {"url": "http://web/fw.bin", "status": 200,
                           "bytes": len(body), "cached": True}
    r = cloud.result(cloud.instruct("prefetch", ["http://web/none.bin"],
                                    id_="d2"))
    assert r["outcome"] == "error" and "404" in r["error"]
    r = cloud.result(cloud.instruct("prefetch", ["ftp://x/y"], id_="d3"))
    assert r["outcome"] == "error"
    r = cloud.result(cloud.instruct("purge-cache", ["http://web/fw.bin"],
                                    id_="d4"))
    assert r["outcome"] == "ok" and r["result"]["purged"] >= 1


def test_doctor_runs_as_a_child(site, fake):
    cloud = fake()
    edge, conf = start_edge(site, cloud)
    cloud.stream()
    cloud.send(
        b'{"v":1,"type":"instruction","id":"e1","kind":"doctor"}\n'
        b'{"v":1,"type":"instruction","id":"e2","kind":"doctor"}\n')
    r = cloud.result("e2")
    assert r["outcome"] == "error"
    assert r["error"] == "a doctor is already running"
    r = cloud.result("e1", timeout=60)
    assert r["outcome"] == "ok", r
    doc = r["result"]
    assert doc["config"] == str(conf)
    names = [s["name"] for s in doc["steps"]]
    assert "admission" in names
    edge.wait_log(r"event=manage_instruction id=e1 kind=doctor "
                  r"issuer=- outcome=ok")
    # The doctor's own tunnel came and went; the edge's stayed.
    assert "event=tunnel_down" not in edge.text()


def test_stream_follows_a_new_tunnel(site, fake):
    one, two = fake(), fake()
    edge, conf = start_edge(site, one)
    first = one.stream()
    assert eventually(lambda: first.messages)
    conf.write_text(conf.read_text().replace(
        f"cloud = 127.0.0.1:{one.port}", f"cloud = 127.0.0.1:{two.port}"))
    edge.signal(signal.SIGHUP)
    edge.wait_log(r"event=tunnel_switched")
    moved = two.stream()
    assert eventually(lambda: moved.messages)
    assert moved.messages[0]["type"] == "hello"
    assert eventually(lambda: first.reset is not None)   # not left open
    r = two.result(two.instruct("status", id_="f1"))
    assert r["outcome"] == "ok"
    assert r["result"]["tunnel"]["peer"] == f"127.0.0.1:{two.port}"
