"""The cloud's side of the management channel against a hand-driven edge
(h2edge_lib.py), which can do what the real edge never does: open two
management streams, send oversized and malformed messages, answer
instructions it was not sent. Each bad message costs only the management
stream: the tunnel and its device streams go on."""

import json
import time

import h2.errors
import h2.events

from h2edge_lib import H2Edge, manage_lines, open_manage
from isthmus_testlib import run
from tunnel_lib import eventually, scrape, value

HELLO = b'{"v":1,"type":"hello","version":"9.9.9","accepts":["status"]}\n'


def edge_of(site, cloud, name="agw"):
    return H2Edge(cloud.port("listen"), site.pki / f"{name}.crt",
                  site.pki / f"{name}.key", site.pki / "ca.crt")


def cloud_with(site, extra=""):
    a = site.backend("A")
    return site.start("cloud", site.cloud_conf(
        {"A/t": [a]}, extra="metrics = 127.0.0.1:0\n" + extra))


def reset_code(e, sid):
    return e.resets().get(sid)


def test_the_cloud_takes_one_management_stream_per_tunnel(site):
    cloud = cloud_with(site)
    e = edge_of(site, cloud)
    try:
        sid = open_manage(e)
        assert e.wait(lambda evs: e.status(sid) is not None)
        assert e.status(sid) == 200
        resp = [ev for ev in e.events
                if isinstance(ev, h2.events.ResponseReceived)][0]
        assert dict(resp.headers)["content-type"] == "application/x-ndjson"
        e.send(sid, HELLO)
        e.flush()
        cloud.wait_log(r"event=manage_hello edge=agw tenant=A "
                       r"version=9\.9\.9 accepts=status")
        # a second one on the same tunnel: 409, the first stays
        sid2 = open_manage(e)
        assert e.wait(lambda evs: e.status(sid2) is not None)
        assert e.status(sid2) == 409
        e.conn.end_stream(sid2)
        e.flush()
        # another method at the same path: 405
        sid3 = open_manage(e, [(":method", "GET"), (":scheme", "https"),
                               (":authority", ".isthmus"),
                               (":path", "/manage")])
        e.conn.end_stream(sid3)
        e.flush()
        assert e.wait(lambda evs: e.status(sid3) is not None)
        assert e.status(sid3) == 405
        assert reset_code(e, sid) is None
        e.pump(0.3)
        m = scrape(cloud)
        assert value(m, "isthmus_manage_streams_open") == 1
        # it is the tunnel's own, not a device's
        assert value(m, "isthmus_streams_open", tenant="A") == 0
        st = json.loads(run("status", "-c", cloud.conf, "--json",
                            expect=0).stdout)
        assert [t["streams_open"] for t in st["tunnels"]] == [0]
    finally:
        e.close()
    assert eventually(lambda: value(scrape(cloud),
                                    "isthmus_manage_streams_open") == 0)
    cloud.wait_log(r"event=manage_closed edge=agw tenant=A")


def bad_message_costs_the_stream_only(site, payload, reason):
    a = site.backend("A")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [a]}, extra="metrics = 127.0.0.1:0"))
    e = edge_of(site, cloud)
    try:
        sid = open_manage(e)
        assert e.wait(lambda evs: e.status(sid) == 200)
        # a device stream, open across the bad message
        dev = e.connect("t")
        e.flush()
        assert e.wait(lambda evs: e.status(dev) == 200)
        e.send(sid, HELLO)
        off = 0
        while off < len(payload) and reset_code(e, sid) is None:
            e.send(sid, payload[off:off + 16384])
            e.flush()
            off += 16384
            e.pump(0.01)
        assert e.wait(lambda evs: reset_code(e, sid) is not None)
        assert reset_code(e, sid) == h2.errors.ErrorCodes.PROTOCOL_ERROR
        cloud.wait_log(r"event=manage_bad_message edge=agw tenant=A "
                       rf"reason={reason}")
        # the tunnel and the device stream go on
        e.send(dev, b"ping", end=True)
        e.flush()
        assert e.wait(lambda evs: e.data(dev).endswith(b"ping"))
        assert not e.closed
        assert value(scrape(cloud), "isthmus_manage_bad_messages_total",
                     reason=reason) == 1
        # and the edge may open another one
        sid2 = open_manage(e)
        assert e.wait(lambda evs: e.status(sid2) == 200)
    finally:
        e.close()


def test_an_oversized_line_resets_the_management_stream_only(site):
    bad_message_costs_the_stream_only(site, b"x" * (256 * 1024 + 10),
                                      "oversized")


def test_malformed_messages_reset_the_management_stream_only(site):
    bad_message_costs_the_stream_only(site, b"{not json\n", "malformed")


def test_each_kind_of_malformed_message_is_refused(site):
    cases = [
        b'[1,2]\n',
        b'{"v":2,"type":"hello","version":"1"}\n',
        b'{"v":1,"type":"bogus"}\n',
        b'{"v":1,"type":"hello"}\n',
        b'{"v":1,"type":"hello","version":"' + b"9" * 40 + b'"}\n',
        b'{"v":1,"type":"result","id":"ab","outcome":"timeout"}\n',
        b'{"v":1,"type":"result","id":"XYZ","outcome":"ok"}\n',
        b'{"v":1,"type":"result","id":"ab","outcome":"ok","error":7}\n',
        b'{"v":1,"v":1,"type":"hello","version":"1"}\n',
    ]
    cloud = cloud_with(site)
    e = edge_of(site, cloud)
    try:
        for i, c in enumerate(cases):
            sid = open_manage(e)
            e.send(sid, c)
            e.flush()
            assert e.wait(lambda evs: reset_code(e, sid) is not None), c
            assert value(scrape(cloud), "isthmus_manage_bad_messages_total",
                         reason="malformed") == i + 1
        assert not e.closed
    finally:
        e.close()


def test_a_result_for_no_instruction_is_ignored_and_counted(site):
    cloud = cloud_with(site)
    e = edge_of(site, cloud)
    try:
        sid = open_manage(e)
        e.send(sid, HELLO + b'{"v":1,"type":"result","id":"abcd",'
               b'"outcome":"ok","result":{}}\n')
        e.flush()
        cloud.wait_log(r"event=manage_unexpected_result edge=agw "
                       r"tenant=A id=abcd")
        assert value(scrape(cloud),
                     "isthmus_manage_unexpected_results_total") == 1
        assert reset_code(e, sid) is None
    finally:
        e.close()


def test_manage_refuses_what_it_cannot_send(site):
    """Without a state store nothing is sent (nothing could be audited);
    an unknown edge, another tenant's edge, an unknown kind and bad
    arguments are refused before anything is recorded."""
    cloud = cloud_with(site)
    res = run("manage", "-c", cloud.conf, "agw", "status", expect=1)
    assert "no state store" in res.stderr
    cloud.stop()
    cloud2 = site.start("cloud", site.cloud_conf(
        {"A/t": [site.backend("A")]}, extra="state = st.db"))
    conf = cloud2.conf
    for args, msg in [
            (["nosuch", "status"], "no edge 'nosuch'"),
            (["--tenant", "A", "bgw", "status"], "tenant 'A' has no edge"),
            (["agw", "frobnicate"], "unknown instruction kind"),
            (["agw", "status", "extra"], "status takes no argument"),
            (["agw", "prefetch"], "prefetch takes one URL"),
            (["agw", "logs", "5000"], "logs takes one count"),
            (["agw", "logs", "x"], "logs takes one count")]:
        res = run("manage", "-c", conf, *args, expect=1)
        assert msg in res.stderr, (args, res.stderr)
    assert "manage_issued" not in cloud2.text()
    res = run("manage", "-c", conf, "agw", expect=2)
    assert "name an edge and a kind" in res.stderr
    res = run("manage", "-c", conf, "../x", "status", expect=2)
    res = run("audit", "-c", conf, "--since", "yesterday-ish", expect=2)
    res = run("audit", "-c", conf, "--id", "NOTHEX", expect=2)


def result_line(iid, outcome="ok", result=None, error=None):
    m = {"v": 1, "type": "result", "id": iid, "outcome": outcome}
    if result is not None:
        m["result"] = result
    if error is not None:
        m["error"] = error
    return (json.dumps(m) + "\n").encode()


def test_instructions_reach_only_the_edge_they_name(site):
    """Two tenants' edges hold management streams; an instruction for A's
    edge goes down A's stream only, and B's edge cannot answer it."""
    a, b = site.backend("A"), site.backend("B")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [a], "B/t": [b]},
        extra="state = st.db\nmetrics = 127.0.0.1:0"))
    ea, eb = edge_of(site, cloud, "agw"), edge_of(site, cloud, "bgw")
    try:
        sa, sb = open_manage(ea), open_manage(eb)
        for e, s in ((ea, sa), (eb, sb)):
            e.send(s, HELLO)
            e.flush()
            assert e.wait(lambda evs: e.status(s) == 200)
        cloud.wait_log(r"event=manage_hello edge=bgw")
        res = run("manage", "-c", cloud.conf, "--json", "agw", "status",
                  expect=0)
        iid = json.loads(res.stdout)["id"]
        assert ea.wait(lambda evs: len(manage_lines(ea, sa)) == 1)
        [ins] = manage_lines(ea, sa)
        assert ins["v"] == 1 and ins["type"] == "instruction"
        assert ins["id"] == iid and ins["kind"] == "status"
        assert ins["args"] == [] and ins["issuer"]
        assert ins["deadline"] > ins["issued"] > 0
        eb.pump(0.5)
        assert manage_lines(eb, sb) == []
        # B answers A's instruction: ignored, counted
        eb.send(sb, result_line(iid, result={"forged": True}))
        eb.flush()
        cloud.wait_log(rf"event=manage_unexpected_result edge=bgw "
                       rf"tenant=B id={iid}")
        res = run("audit", "-c", cloud.conf, "--json", "--id", iid,
                  expect=0)
        assert json.loads(res.stdout)["instructions"][0]["state"] == "sent"
        # A's own answer is the one kept
        ea.send(sa, result_line(iid, result={"mine": 1}))
        ea.flush()

        def outcome():
            r = run("audit", "-c", cloud.conf, "--json", "--id", iid,
                    expect=0)
            return json.loads(r.stdout)["instructions"][0]
        assert eventually(lambda: outcome()["state"] == "ok")
        assert outcome()["result"] == {"mine": 1}
        assert value(scrape(cloud), "isthmus_manage_instructions_total",
                     kind="status", outcome="ok") == 1
    finally:
        ea.close()
        eb.close()


def test_an_unanswered_instruction_times_out(site):
    cloud = cloud_with(site, "state = st.db\ninstruction_timeout = 1s")
    e = edge_of(site, cloud)
    try:
        sid = open_manage(e)
        e.send(sid, HELLO)
        e.flush()
        assert e.wait(lambda evs: e.status(sid) == 200)
        cloud.wait_log(r"event=manage_hello edge=agw")
        t0 = time.time()
        res = run("manage", "-c", cloud.conf, "agw", "status", "--wait",
                  "30s", expect=1)
        assert "outcome: timeout" in res.stdout
        assert time.time() - t0 < 20
        assert e.wait(lambda evs: len(manage_lines(e, sid)) == 1)
        [ins] = manage_lines(e, sid)
        # a late answer changes nothing
        e.send(sid, result_line(ins["id"], result={}))
        e.flush()
        time.sleep(1)
        res = run("audit", "-c", cloud.conf, "--json", "--id", ins["id"],
                  expect=0)
        assert json.loads(res.stdout)["instructions"][0]["state"] == \
            "timeout"
        assert value(scrape(cloud), "isthmus_manage_instructions_total",
                     kind="status", outcome="timeout") == 1
    finally:
        e.close()


def test_an_edge_result_over_the_limit_resets_the_stream(site):
    cloud = cloud_with(site, "state = st.db")
    e = edge_of(site, cloud)
    try:
        sid = open_manage(e)
        e.send(sid, HELLO)
        e.flush()
        assert e.wait(lambda evs: e.status(sid) == 200)
        cloud.wait_log(r"event=manage_hello edge=agw")
        run("manage", "-c", cloud.conf, "agw", "logs", expect=0)
        assert e.wait(lambda evs: len(manage_lines(e, sid)) == 1)
        [ins] = manage_lines(e, sid)
        big = result_line(ins["id"], result={"x": "y" * (200 * 1024)})
        assert len(big) < 256 * 1024
        off = 0
        while off < len(big) and reset_code(e, sid) is None:
            e.send(sid, big[off:off + 16384])
            e.flush()
            off += 16384
            e.pump(0.01)
        assert e.wait(lambda evs: reset_code(e, sid) is not None)
        cloud.wait_log(r"event=manage_bad_message .*reason=malformed "
                       r'detail="result is over 192 KiB"')
        assert not e.closed
    finally:
        e.close()


def test_a_draining_cloud_ends_management_streams(site):
    """SIGTERM: the management stream never ends by itself, so the cloud
    ends it (CANCEL) and the tunnel closes with its last device stream,
    well before drain_timeout (5s here)."""
    cloud = cloud_with(site)
    e = edge_of(site, cloud)
    try:
        sid = open_manage(e)
        e.send(sid, HELLO)
        e.flush()
        assert e.wait(lambda evs: e.status(sid) == 200)
        cloud.wait_log(r"event=manage_hello edge=agw")
        t0 = time.time()
        cloud.stop()
        assert time.time() - t0 < 3
        e.pump(0.5)
        assert reset_code(e, sid) == h2.errors.ErrorCodes.CANCEL
    finally:
        e.close()


def test_manage_and_audit_help_and_usage():
    for cmd, words in (("manage", ["--wait", "--ttl", "purge-cache",
                                   "Exit status"]),
                       ("audit", ["--since", "--limit", "--edge"])):
        res = run(cmd, "--help", expect=0)
        assert all(w in res.stdout for w in words), res.stdout
        assert cmd in run("help", expect=0).stdout
    assert "give either --socket" in run("manage", "agw", "status",
                                         expect=2).stderr
    assert "--bogus" in run("audit", "--bogus", expect=2).stderr
    assert "--ttl 5" in run("manage", "--socket", "x", "agw", "status",
                            "--ttl", "5", expect=2).stderr
