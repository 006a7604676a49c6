"""The management channel end to end: a real cloud with its state store,
a real edge, and `isthmus manage` / `isthmus audit` as an operator runs
them. Every kind of instruction goes down the edge's own tunnel and its
result comes back; the site's policy refuses what it does not list; an
edge that is down gets its instructions in order when it connects, or
they expire; the audit log has them all with their issuer."""

import getpass
import json
import os
import re
import time

import pytest

from http_lib import get
from isthmus_testlib import run
from pg_lib import pg_cluster, pg_url  # noqa: F401 (fixtures)
from tunnel_lib import eventually, exchange, scrape, up, value

FW = "/fw/phone-9.2.bin"
ALL = "manage = status, doctor, purge-cache, prefetch, reload, logs"


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request):
    """The store's line of cloud.conf, on each backend: the same
    instructions give the same audit on both."""
    if request.param == "sqlite":
        return "state = state.db"
    return "state = " + request.getfixturevalue("pg_url")


def manage(conf, *args, expect=0):
    res = run("manage", "-c", conf, "--json", *args, expect=expect)
    return json.loads(res.stdout)


def audit(conf, *args):
    res = run("audit", "-c", conf, "--json", *args, expect=0)
    return json.loads(res.stdout)["instructions"]


def me():
    return getpass.getuser()


def test_every_kind_round_trips_through_a_real_edge(cache_site):
    k = cache_site(edge_extra=ALL + "\n",
                   cloud_extra="state = state.db\nmetrics = 127.0.0.1:0")
    k.be.serve_file(FW, os.urandom(64 * 1024),
                    b"Cache-Control: max-age=3600\r\n", etag='"fw"')
    conf = k.cloud.conf
    k.cloud.wait_log(r"event=manage_hello edge=agw tenant=A version=\S+ "
                     r"accepts=status,doctor,purge-cache,prefetch,reload,"
                     r"logs")

    st = manage(conf, "agw", "status", "--wait", "20s")
    assert st["state"] == "ok" and st["issuer"] == me()
    assert st["tenant"] == "A" and st["edge"] == "agw"
    assert st["result"]["edge"] == "agw" or "tunnel" in json.dumps(
        st["result"])

    pf = manage(conf, "agw", "prefetch", f"http://device.example{FW}",
                "--wait", "20s")
    assert pf["state"] == "ok", pf
    assert pf["result"]["cached"] is True
    assert pf["result"]["bytes"] == 64 * 1024
    assert k.be.count(FW) == 1
    # the devices now get it from the edge's disk
    assert get(k.port, FW).status == 200
    assert k.be.count(FW) == 1

    pc = manage(conf, "agw", "purge-cache", "--wait", "20s")
    assert pc["state"] == "ok" and pc["result"]["purged"] == 1

    lg = manage(conf, "agw", "logs", "5", "--wait", "20s")
    assert lg["state"] == "ok"
    assert 1 <= len(lg["result"]["lines"]) <= 5
    assert all("event=" in x for x in lg["result"]["lines"])

    rl = manage(conf, "agw", "reload", "--wait", "20s")
    assert rl["state"] == "ok" and rl["result"]["reloaded"] is True
    k.edge.wait_log(r"event=reloaded")

    dr = manage(conf, "agw", "doctor", "--wait", "60s")
    assert dr["state"] in ("ok", "error"), dr
    assert dr["result"] is not None or dr["error"]

    # each received and answered is in the edge's own log
    for i in (st, pf, pc, lg, rl):
        k.edge.wait_log(rf"event=manage_instruction .*id={i['id']}")
    # and every one is in the audit log, newest first, with its issuer
    rows = audit(conf, "--edge", "agw")
    assert [r["id"] for r in rows][:6] == [dr["id"], rl["id"], lg["id"],
                                           pc["id"], pf["id"], st["id"]]
    assert {r["issuer"] for r in rows} == {me()}
    assert all(r["sent"] >= r["issued"] and r["done"] >= r["sent"]
               for r in rows)
    m = scrape(k.cloud)
    assert value(m, "isthmus_manage_instructions_total", kind="status",
                 outcome="ok") == 1
    assert value(m, "isthmus_manage_streams_open") == 1
    # the store's round trips are measured
    assert value(m, "isthmus_store_operation_seconds_count") >= 12
    assert 0 < value(m, "isthmus_store_operation_seconds_sum") <= \
        value(m, "isthmus_store_operation_seconds_count") * \
        value(m, "isthmus_store_operation_max_seconds")
    # the text forms
    res = run("manage", "-c", conf, "agw", "status", "--wait", expect=0)
    assert "outcome: ok" in res.stdout
    res = run("audit", "-c", conf, "--tenant", "A", expect=0)
    assert "prefetch" in res.stdout and me() in res.stdout
    # the version the edge reported reaches the registry
    res = run("edges", "-c", conf, "--json", expect=0)
    [e] = json.loads(res.stdout)["edges"]
    assert e["version"]


def test_the_sites_policy_refuses_what_it_does_not_list(site, state):
    a = site.backend("A")
    cloud, eds = up(site, {"A/t": [a]}, listeners_a={"t": "t"},
                    extra=state)
    res = run("manage", "-c", cloud.conf, "agw", "reload", "--wait", "20s",
              expect=1)
    assert "outcome: refused" in res.stdout
    assert "refused by the site's policy" in res.stdout
    res = run("manage", "-c", cloud.conf, "agw", "logs", "--wait", "20s",
              expect=1)
    assert "outcome: refused" in res.stdout
    eds["agw"].wait_log(r"event=manage_instruction .*kind=reload .*"
                        r"outcome=refused")
    # the default accepts status
    assert manage(cloud.conf, "agw", "status", "--wait",
                  "20s")["state"] == "ok"
    # the tunnel carried devices all along
    assert exchange(eds["agw"].port("listener.t"), b"x") == b"A\nx"
    # the edge's hello reached the registry, on either backend
    res = run("edges", "-c", cloud.conf, "--json", expect=0)
    [e] = json.loads(res.stdout)["edges"]
    assert e["version"] == run("--version", expect=0).stdout.split()[-1]


def test_manage_none_refuses_everything(site):
    a = site.backend("A")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [a]}, extra="state = state.db"))
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"t": "t"}, extra="manage = none"))
    edge.wait_log(r"event=tunnel_up")
    cloud.wait_log(r"event=manage_hello edge=agw .*accepts=none")
    r = manage(cloud.conf, "agw", "status", "--wait", "20s", expect=1)
    assert r["state"] == "refused"


def test_a_second_session_of_an_edge_ending_leaves_the_first_reachable(
        site):
    """Two processes with one edge's certificate (a re-dial before the
    old tunnel is found dead does the same): the newest session takes
    the instructions; when it ends, the one still up takes them again."""
    a = site.backend("A")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [a]}, extra="state = state.db"))
    port = cloud.port("listen")
    first = site.start("edge", site.edge_conf(
        "agw", port, {"t": "t"}, extra="manage = status"))
    first.wait_log(r"event=tunnel_up")
    cloud.wait_log(r"event=manage_hello edge=agw ")
    conf2 = site.edge_conf("agw", port, {"t": "t"},
                           extra="manage = status\nadmin_socket = agw2.sock")
    conf2 = conf2.rename(conf2.with_name("edge-agw2.conf"))
    second = site.start("edge", conf2)
    second.wait_log(r"event=tunnel_up")
    cloud.wait_log(r"event=manage_hello edge=agw ", count=2)
    r = manage(cloud.conf, "agw", "status", "--wait", "20s")
    assert r["state"] == "ok", r
    second.stop()
    site.daemons.remove(second)
    time.sleep(0.5)
    r = manage(cloud.conf, "agw", "status", "--wait", "20s")
    assert r["state"] == "ok", r
    first.wait_log(r"event=manage_instruction .*kind=status "
                   r".*state=received")


def test_a_down_edge_gets_its_instructions_in_order_or_they_expire(site,
                                                                 state):
    a = site.backend("A")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [a]}, extra=state + "\nmetrics = 127.0.0.1:0"))
    conf = cloud.conf
    first = manage(conf, "agw", "status")
    assert first["state"] == "waiting" and first["edge_connected"] is False
    short = manage(conf, "agw", "logs", "--ttl", "1s")
    second = manage(conf, "agw", "purge-cache")
    res = run("manage", "-c", conf, "agw", "status", expect=0)
    assert "the edge is not connected" in res.stdout
    # the short one expires while the edge is away
    time.sleep(2.5)
    assert eventually(lambda: audit(conf, "--id", short["id"])[0]["state"]
                      == "expired")
    # the other three wait (the text-form one too)
    assert eventually(lambda: value(scrape(cloud),
                                    "isthmus_manage_waiting") == 3)
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"t": "t"}, extra=ALL))
    edge.wait_log(r"event=tunnel_up")

    def done():
        rows = {r["id"]: r for r in audit(conf, "--edge", "agw")}
        return all(rows[i["id"]]["state"] not in ("waiting", "sent")
                   for i in (first, second))
    assert eventually(done, timeout=20)
    rows = {r["id"]: r for r in audit(conf, "--edge", "agw")}
    assert rows[first["id"]]["state"] == "ok"
    assert rows[short["id"]]["state"] == "expired"
    assert rows[short["id"]]["sent"] == 0
    assert eventually(lambda: value(scrape(cloud),
                                    "isthmus_manage_waiting") == 0)
    # delivered in the order they were issued
    assert rows[first["id"]]["sent"] <= rows[second["id"]]["sent"]
    log = edge.text()
    assert log.index(first["id"]) < log.index(second["id"])
    assert short["id"] not in log


def test_audit_filters(site, state):
    a, b = site.backend("A"), site.backend("B")
    cloud, eds = up(site, {"A/t": [a], "B/t": [b]}, listeners_a={"t": "t"},
                    listeners_b={"t": "t"}, extra=state)
    conf = cloud.conf
    ia = manage(conf, "agw", "status", "--wait", "20s")
    ib = manage(conf, "--tenant", "B", "bgw", "status", "--wait", "20s")
    assert ia["state"] == ib["state"] == "ok"
    assert [r["id"] for r in audit(conf, "--tenant", "A")] == [ia["id"]]
    assert [r["id"] for r in audit(conf, "--edge", "bgw")] == [ib["id"]]
    assert [r["id"] for r in audit(conf, "--id", ia["id"])] == [ia["id"]]
    assert len(audit(conf, "--since", "1h")) == 2
    assert audit(conf, "--since", "2099-01-01") == []
    assert len(audit(conf, "--limit", "1")) == 1
    # the result of one edge never shows up as the other's
    assert ia["result"] != ib["result"]


def test_manage_says_store_unavailable_and_devices_flow(site):
    """A store that cannot be written (its directory missing): nothing can
    be recorded, so nothing is sent, and manage says why; devices keep
    flowing; once it can be written, manage works again by itself."""
    a = site.backend("A")
    cloud, eds = up(site, {"A/t": [a]}, listeners_a={"t": "t"},
                    extra="state = later/state.db")
    conf = cloud.conf
    cloud.wait_log(r"event=store_unavailable")
    res = run("manage", "-c", conf, "agw", "status", expect=1)
    assert "store unavailable" in res.stderr
    assert "not recorded, so it was not sent" in res.stderr
    assert exchange(eds["agw"].port("listener.t"), b"y") == b"A\ny"
    assert "manage_issued" not in cloud.text()
    (site.tmp / "later").mkdir()
    assert eventually(lambda: run("manage", "-c", conf, "agw", "status",
                                  "--wait", "20s").returncode == 0,
                      timeout=20)


def test_postgresql_killed_mid_run(site, pg_cluster, pg_url):  # noqa: F811
    """PostgreSQL dies under a running cloud: devices keep flowing,
    manage says store unavailable (nothing sent), and once it is back
    manage works again by itself, and the instruction before the stop is
    still in the audit log."""
    a = site.backend("A")
    cloud, eds = up(site, {"A/t": [a]}, listeners_a={"t": "t"},
                    extra=f"state = {pg_url}")
    conf = cloud.conf
    before = manage(conf, "agw", "status", "--wait", "20s")
    assert before["state"] == "ok"
    pg_cluster.stop("immediate")
    assert eventually(lambda: "store unavailable" in run(
        "manage", "-c", conf, "agw", "status").stderr, timeout=15)
    assert exchange(eds["agw"].port("listener.t"), b"y") == b"A\ny"
    pg_cluster.start()
    assert eventually(lambda: run("manage", "-c", conf, "agw", "status",
                                  "--wait", "20s").returncode == 0,
                      timeout=20)
    rows = audit(conf, "--edge", "agw")
    assert before["id"] in [r["id"] for r in rows]
    assert all(r["state"] == "ok" for r in rows)


def test_waiting_instructions_reach_an_edge_that_came_while_the_store_was_away(
        site, pg_cluster, pg_url):  # noqa: F811
    """An instruction waits for a down edge; PostgreSQL goes; the edge
    connects (its waiting instructions cannot be read); PostgreSQL comes
    back: the cloud reads them by itself and the edge gets them."""
    a = site.backend("A")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [a]}, extra=f"state = {pg_url}"))
    conf = cloud.conf
    w = manage(conf, "agw", "status")
    assert w["state"] == "waiting"
    pg_cluster.stop("immediate")
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"t": "t"}))
    edge.wait_log(r"event=tunnel_up")
    cloud.wait_log(r"event=manage_waiting_unread edge=agw")
    pg_cluster.start()
    edge.wait_log(rf"event=manage_instruction .*id={w['id']}", timeout=20)
    assert eventually(lambda: audit(conf, "--id", w["id"])[0]["state"]
                      == "ok", timeout=20)
    assert len(re.findall("manage_waiting_unread", cloud.text())) == 1
