"""The cloud's fleet registry in its state store (state = FILE): every
edge it admitted, up or down, kept across a restart; a store that cannot
be written does not stop a tunnel; a store from a newer isthmus is
refused untouched. Real cloud and edges, a real SQLite file."""

import json
import signal
import sqlite3
import time

from isthmus_testlib import run
from tunnel_lib import eventually, exchange, scrape, up, value


def edges(cloud_conf, *extra, expect=0):
    res = run("edges", "-c", cloud_conf, "--json", *extra, expect=expect)
    return {e["edge"]: e for e in json.loads(res.stdout)["edges"]}


def serial_of(site, edge):
    res = run("pki", "show", "--json", site.pki / f"{edge}.crt", expect=0)
    return json.loads(res.stdout)["serial"]


def test_registry_through_connect_disconnect_and_restart(site):
    a1 = site.backend("A")
    b1 = site.backend("B")
    t0 = int(time.time())
    cloud, eds = up(site, {"A/t": [a1], "B/t": [b1]},
                    listeners_a={"t": "t"}, listeners_b={"t": "t"},
                    extra="state = state.db")
    conf = cloud.conf
    reg = {}
    assert eventually(lambda: len(reg.update(edges(conf)) or reg) == 2
                      and all(e["up"] for e in reg.values()))
    a = reg["agw"]
    assert a["tenant"] == "A" and reg["bgw"]["tenant"] == "B"
    assert a["serial"] == serial_of(site, "agw")
    assert a["not_after"] > t0 + 86400
    assert a["peer"].startswith("127.0.0.1:")
    assert t0 - 1 <= a["first_seen"] <= a["up_since"] <= time.time() + 1
    assert a["last_reason"] is None
    assert (site.tmp / "state.db").stat().st_mode & 0o777 == 0o600

    # one tenant only
    assert set(edges(conf, "--tenant", "A")) == {"agw"}
    # the data path is untouched by the registry
    assert exchange(eds["agw"].port("listener.t"), b"x") == b"A\nx"

    # an edge that goes is down, with why, and stays listed
    eds["bgw"].stop()
    assert eventually(lambda: not edges(conf)["bgw"]["up"])
    b = edges(conf)["bgw"]
    assert b["up_since"] == 0 and b["last_reason"]
    text = run("edges", "-c", conf, expect=0).stdout
    assert "bgw" in text and "down" in text and "agw" in text

    # its history: newest first, the down with why, the up before it
    h = json.loads(run("edges", "-c", conf, "--history", "bgw", "--json",
                       expect=0).stdout)
    assert h["edge"] == "bgw" and h["tenant"] == "B"
    assert [x["up"] for x in h["history"]] == [False, True]
    assert h["history"][0]["reason"] == b["last_reason"]
    assert h["history"][1]["peer"].startswith("127.0.0.1:")
    assert h["history"][0]["at"] >= h["history"][1]["at"]
    text = run("edges", "-c", conf, "--history", "bgw", "--tenant", "B",
               expect=0).stdout
    assert "edge bgw of tenant B" in text and "down" in text
    # an edge the configuration does not know needs its tenant named
    res = run("edges", "-c", conf, "--history", "zgw", expect=1)
    assert "name its tenant" in res.stderr
    h = json.loads(run("edges", "-c", conf, "--history", "zgw", "--tenant",
                       "A", "--json", expect=0).stdout)
    assert h["history"] == []

    # a restart keeps the registry; the tunnels it held went down with it
    first = edges(conf)["agw"]["first_seen"]
    eds["agw"].stop()
    cloud.stop()
    cloud = site.start("cloud", conf)
    reg = edges(conf)
    assert set(reg) == {"agw", "bgw"}
    assert not reg["agw"]["up"]
    assert reg["agw"]["first_seen"] == first
    assert reg["agw"]["last_reason"]

    # a cloud killed with tunnels up: the next start marks them down
    eds = {"agw": site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"t": "t"}))}
    assert eventually(lambda: edges(conf)["agw"]["up"])
    cloud.proc.kill()
    cloud.proc.wait()
    cloud.proc.stdout.close()
    cloud.log.close()
    cloud = site.start("cloud", conf)
    agw = edges(conf)["agw"]
    assert not agw["up"] and agw["last_reason"] == "cloud_restarted"


def test_store_that_cannot_be_written_stops_no_tunnel(site):
    a1 = site.backend("A")
    cloud, eds = up(site, {"A/t": [a1]}, listeners_a={"t": "t"},
                    extra="state = later/state.db\nmetrics = 127.0.0.1:0")
    cloud.wait_log(r"event=store_unavailable state=\S*later/state\.db")
    assert value(scrape(cloud), "isthmus_store_up") == 0
    # devices flow; the operator is told the store is not there
    assert exchange(eds["agw"].port("listener.t"), b"y") == b"A\ny"
    res = run("edges", "-c", cloud.conf, expect=1)
    assert "state store is unavailable" in res.stderr
    assert "later/state.db" in res.stderr
    # it comes back by itself, with what happened meanwhile
    (site.tmp / "later").mkdir()
    assert eventually(lambda: run("edges", "-c", cloud.conf).returncode == 0
                      and edges(cloud.conf).get("agw", {}).get("up"),
                      timeout=15)
    m = scrape(cloud)
    assert value(m, "isthmus_store_up") == 1
    assert value(m, "isthmus_store_errors_total") >= 1
    assert value(m, "isthmus_store_written_total") >= 1
    assert value(m, "isthmus_store_dropped_total") == 0
    assert value(m, "isthmus_store_queued") == 0


def test_state_from_a_newer_isthmus_is_refused_untouched(site):
    db = site.tmp / "state.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE isthmus_schema (version INTEGER NOT NULL)")
    con.execute("INSERT INTO isthmus_schema VALUES (99)")
    con.commit()
    con.close()
    before = db.read_bytes()
    conf = site.cloud_conf({}, extra="state = state.db")
    res = run("cloud", "-c", conf, expect=2)
    assert "schema version 99" in res.stderr
    assert "newer than this isthmus" in res.stderr
    assert db.read_bytes() == before


def test_edges_without_a_store_and_bad_requests(site):
    cloud, _ = up(site, {})
    res = run("edges", "-c", cloud.conf, expect=1)
    assert "state = FILE" in res.stderr
    res = run("edges", "-c", cloud.conf, "--tenant", "not a name",
              expect=2)
    assert "not a tenant name" in res.stderr
    res = run("edges", "-c", cloud.conf, "--history", "a/b", expect=2)
    assert "not an edge name" in res.stderr
    res = run("status", "-c", cloud.conf, "--tenant", "A", expect=2)
    assert "--tenant" in res.stderr
    # the daemon is unharmed
    assert json.loads(run("status", "-c", cloud.conf, "--json",
                          expect=0).stdout)["role"] == "cloud"
    cloud.signal(signal.SIGHUP)
    cloud.wait_log(r"event=reloaded")
