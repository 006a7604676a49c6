"""The cloud's fleet registry on PostgreSQL (state = postgresql://...),
the store several replicas share: the same registry as on SQLite through
connects, disconnects and a restart; the server stopped in the middle of
a run (devices flow, the store says it is away, and it comes back by
itself); a database from a newer isthmus refused untouched. Real cloud
and edges, a throwaway cluster (pg_lib)."""

import json

from isthmus_testlib import run
from pg_lib import pg_cluster, pg_url  # noqa: F401 (fixtures)
from tunnel_lib import eventually, exchange, scrape, up, value


def edges(cloud_conf, *extra, expect=0):
    res = run("edges", "-c", cloud_conf, "--json", *extra, expect=expect)
    return {e["edge"]: e for e in json.loads(res.stdout)["edges"]}


def with_password(url):
    """The URI with a password (trust authentication ignores it): it must
    never be shown."""
    return url.replace("postgresql://isthmus@", "postgresql://isthmus:"
                       "s3cret-pw@")


def test_registry_on_postgresql(site, pg_url):  # noqa: F811
    a1 = site.backend("A")
    b1 = site.backend("B")
    cloud, eds = up(site, {"A/t": [a1], "B/t": [b1]},
                    listeners_a={"t": "t"}, listeners_b={"t": "t"},
                    extra=f"state = {pg_url}")
    conf = cloud.conf
    reg = {}
    assert eventually(lambda: len(reg.update(edges(conf)) or reg) == 2
                      and all(e["up"] for e in reg.values()))
    assert reg["agw"]["tenant"] == "A" and reg["bgw"]["tenant"] == "B"
    assert reg["agw"]["peer"].startswith("127.0.0.1:")
    assert set(edges(conf, "--tenant", "A")) == {"agw"}
    assert exchange(eds["agw"].port("listener.t"), b"x") == b"A\nx"

    eds["bgw"].stop()
    assert eventually(lambda: not edges(conf)["bgw"]["up"])
    h = json.loads(run("edges", "-c", conf, "--history", "bgw", "--json",
                       expect=0).stdout)
    assert [x["up"] for x in h["history"]] == [False, True]
    assert h["history"][0]["reason"] == edges(conf)["bgw"]["last_reason"]

    # a restart keeps the registry; a cloud that stops writes its
    # tunnels' downs before it goes
    first = edges(conf)["agw"]["first_seen"]
    cloud.stop()
    cloud = site.start("cloud", conf)
    reg = edges(conf)
    assert set(reg) == {"agw", "bgw"}
    assert reg["agw"]["first_seen"] == first
    assert not reg["agw"]["up"] and reg["agw"]["last_reason"]
    eds["agw"].stop()
    site.start("edge", site.edge_conf("agw", cloud.port("listen"),
                                      {"t": "t"}))
    assert eventually(lambda: edges(conf)["agw"]["up"])
    assert edges(conf)["agw"]["first_seen"] == first


def test_postgresql_away_and_back(site, pg_cluster, pg_url):  # noqa: F811
    a1 = site.backend("A")
    cloud, eds = up(site, {"A/t": [a1]}, listeners_a={"t": "t"},
                    extra=f"state = {with_password(pg_url)}\n"
                    "metrics = 127.0.0.1:0")
    conf = cloud.conf
    assert eventually(lambda: edges(conf).get("agw", {}).get("up"))
    assert value(scrape(cloud), "isthmus_store_up") == 1

    pg_cluster.stop("immediate")
    # the store notices by itself, and says so
    assert eventually(lambda: value(scrape(cloud), "isthmus_store_up") == 0)
    res = run("edges", "-c", conf, expect=1)
    assert "state store is unavailable" in res.stderr
    assert "s3cret-pw" not in res.stderr
    # devices flow; an edge that goes and comes back is queued meanwhile
    assert exchange(eds["agw"].port("listener.t"), b"y") == b"A\ny"
    eds["agw"].stop()
    assert eventually(lambda: value(scrape(cloud), "isthmus_store_queued")
                      >= 1)
    eds["agw"] = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"t": "t"}))
    eds["agw"].wait_log(r"event=tunnel_up")
    assert exchange(eds["agw"].port("listener.t"), b"z") == b"A\nz"

    # back on the same socket: it reconnects and writes what waited
    pg_cluster.start()
    assert eventually(lambda: run("edges", "-c", conf).returncode == 0,
                      timeout=15)
    h = json.loads(run("edges", "-c", conf, "--history", "agw", "--json",
                       expect=0).stdout)
    assert [x["up"] for x in h["history"]][:3] == [True, False, True]
    assert edges(conf)["agw"]["up"]
    m = scrape(cloud)
    assert value(m, "isthmus_store_up") == 1
    assert value(m, "isthmus_store_queued") == 0
    assert value(m, "isthmus_store_dropped_total") == 0
    assert value(m, "isthmus_store_errors_total") >= 1
    assert "s3cret-pw" not in cloud.text()


def test_newer_schema_in_postgresql_is_refused_untouched(site, pg_cluster,
                                                         pg_url):  # noqa: F811
    db = pg_url.split("/")[3].split("?")[0]
    pg_cluster.psql("CREATE TABLE isthmus_schema (version INTEGER NOT NULL);"
                    "INSERT INTO isthmus_schema VALUES (99)", db)
    conf = site.cloud_conf({}, extra=f"state = {pg_url}")
    res = run("cloud", "-c", conf, expect=2)
    assert "schema version 99" in res.stderr
    assert "newer than this isthmus" in res.stderr
    tables = pg_cluster.psql("SELECT string_agg(tablename, ',') FROM "
                             "pg_tables WHERE schemaname = 'public'", db)
    assert tables == "isthmus_schema"
    assert pg_cluster.psql("SELECT string_agg(version::text, ',') FROM "
                           "isthmus_schema", db) == "99"


def test_postgresql_down_at_start_keeps_the_password_out_of_the_log(
        site, pg_cluster, pg_url):  # noqa: F811
    """The cloud starts while PostgreSQL is down: it runs anyway, says so
    without the URI's password, and takes the store when it comes."""
    a1 = site.backend("A")
    pg_cluster.stop("fast")
    try:
        cloud, eds = up(site, {"A/t": [a1]}, listeners_a={"t": "t"},
                        extra=f"state = {with_password(pg_url)}")
        cloud.wait_log(r'event=store_unavailable state="?postgresql://'
                       r'isthmus@')
        assert exchange(eds["agw"].port("listener.t"), b"q") == b"A\nq"
    finally:
        pg_cluster.start()

    def agw_up():
        res = run("edges", "-c", cloud.conf, "--json")
        return res.returncode == 0 and any(
            e["edge"] == "agw" and e["up"]
            for e in json.loads(res.stdout)["edges"])
    assert eventually(agw_up, timeout=20)
    assert "s3cret-pw" not in cloud.text()
