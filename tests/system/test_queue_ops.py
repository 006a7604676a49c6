"""Operating the store-and-forward queue (docs/queue.md, "Operating it")
with real processes: an edge whose listener queues every POST
(store_forward = always), devices that hand it readings, and

  isthmus queue -c edge.conf list|show|retry|drop      (at the edge)
  isthmus manage -c cloud.conf EDGE queue ...          (from the cloud)

    device --POST--> edge [queue.db] ==tunnel==> cloud --> backend
                      ^ admin socket               ^ admin socket
              isthmus queue                 isthmus manage

The CLI asks the running edge on its admin socket; with no edge it opens
the file itself, and is refused while an edge holds the queue's lock.
Waiting requests are made with the cloud down (they stay); dead letters
with a backend that answers 404 (the queue gives up on them).
"""

import getpass
import json
import re
import time

from http_lib import HTTPBackend, device, read_response
from isthmus_testlib import run
from tunnel_lib import dead_port, eventually

USER = getpass.getuser()
SECRET = "Bearer s3cr3t-t0ken"


def post(port, path, body, headers=b""):
    """One POST as a device; the Response."""
    s, conn = device(port)
    try:
        s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\n"
                  b"Host: meter.example\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n" % len(body) + headers +
                  b"\r\n" + body)
        return read_response(conn)
    finally:
        s.close()


def queue(conf, *args, expect=None):
    return run("queue", "-c", conf, *args, expect=expect)


def queue_json(conf, *args):
    return json.loads(queue(conf, *args, "--json", expect=0).stdout)


def listener(extra=""):
    return ("telemetry", "mode = http\nstore_forward = always\n" + extra)


def edge_conf(site, port, extra=""):
    return site.edge_conf("agw", port, {"meters": listener()},
                          extra=f"state_dir = {site.tmp}/state\n" + extra)


def start_edge(site, conf):
    """The edge, once its queue file is open."""
    edge = site.start("edge", conf)
    edge.wait_log(r"event=queue_open ")
    return edge


def readings(edge, n, auth_on=None):
    """n readings POSTed to the edge's listener, each answered 202."""
    port = edge.port("listener.meters")
    for i in range(n):
        hdr = b"Authorization: %s\r\n" % SECRET.encode() \
            if i == auth_on else b""
        r = post(port, f"/readings/{i}", b'{"seq": %d, "kwh": 1.5}' % i,
                 hdr)
        assert r.status == 202, (r.status, r.body)


# -- usage -------------------------------------------------------------------

def test_usage_errors_say_what_is_wrong_and_do_nothing(site):
    conf = edge_conf(site, dead_port())
    cases = [
        ((), "say list, show, retry or drop"),
        (("purge",), "'purge' is not a queue command"),
        (("show",), "queue show takes one request id"),
        (("show", "--dead"), "queue show takes one request id, not --dead"),
        (("retry",), "queue retry takes one request id or --dead"),
        (("drop",), "queue drop takes one request id or --dead"),
        (("drop", "dead"), "'dead' is not a request id"),
        (("drop", "0"), "'0' is not a request id"),
        (("show", "x1"), "'x1' is not a request id"),
        (("drop", "7", "--dead"), "queue drop takes one request id or "
                                  "--dead"),
        (("list", "7"), "queue list takes --dead and nothing else"),
        (("show", "1", "2"), "unexpected argument '2'"),
        (("list", "--bogus"), "unknown option '--bogus'"),
    ]
    for args, msg in cases:
        res = queue(conf, *args, expect=2)
        first = res.stderr.splitlines()[0]
        assert first.startswith("isthmus queue: ") and msg in first, \
            (args, res.stderr)
        assert "usage: isthmus queue" in res.stderr
        assert res.stdout == ""
    res = run("queue", "list", expect=2)
    assert "-c FILE is needed" in res.stderr
    res = run("queue", "-c", site.tmp / "nothing.conf", "list", expect=2)
    assert "nothing.conf" in res.stderr
    # nothing was made: no state directory, no queue file
    assert not (site.tmp / "state").exists()
    res = run("queue", "--help", expect=0)
    assert res.stdout.startswith("usage: isthmus queue -c FILE list")
    assert re.search(r"^  queue +list, retry or drop",
                     run("help", expect=0).stdout, re.M)


def test_without_an_edge_or_a_queue_there_is_nothing_queued(site):
    conf = edge_conf(site, dead_port())
    assert queue(conf, "list", expect=0).stdout == "no request waits\n"
    assert queue(conf, "list", "--dead", expect=0).stdout == \
        "no dead letter\n"
    assert queue_json(conf, "list") == {
        "kind": "queue", "command": "list", "state": "waiting", "total": 0,
        "truncated": False, "entries": []}
    res = queue(conf, "show", "1", expect=1)
    assert res.stderr.startswith("isthmus queue: ")
    assert "request 1" in res.stderr or "no queue" in res.stderr


# -- at the edge -------------------------------------------------------------

def test_the_local_cli_with_the_edge_running_and_without_it(site):
    """The cloud is down: every reading waits in the queue."""
    conf = edge_conf(site, dead_port())
    edge = start_edge(site, conf)
    readings(edge, 3, auth_on=1)

    # list: the table, oldest first, and the JSON of queue.h
    lst = queue_json(conf, "list")
    assert (lst["kind"], lst["command"], lst["state"], lst["total"],
            lst["truncated"]) == ("queue", "list", "waiting", 3, False)
    ents = lst["entries"]
    assert [e["target"] for e in ents] == \
        ["/readings/0", "/readings/1", "/readings/2"]
    ids = [e["id"] for e in ents]
    assert ids == sorted(ids)
    for e in ents:
        assert (e["state"], e["listener"], e["service"], e["method"],
                e["reason"], e["dead_at"]) == \
            ("waiting", "meters", "telemetry", "POST", None, None)
        assert e["device"].startswith("127.0.0.1:")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
                            e["accepted"])
        assert e["bytes"] > 0 and e["attempts"] >= 0
    text = queue(conf, "list", expect=0).stdout
    rows = [ln.split() for ln in text.splitlines()[1:]
            if ln[:1].isdigit() and len(ln.split()) > 3]
    assert [(int(r[0]), r[1], r[3], r[-1]) for r in rows] == \
        [(e["id"], "telemetry", "POST", e["target"]) for e in ents]
    assert text.splitlines()[0].split()[:3] == ["ID", "SERVICE", "DEVICE"]
    assert text.endswith("\n3 waiting\n")

    # show: the fields with the credentials hidden, the body as text
    sh = queue_json(conf, "show", str(ids[1]))
    ent = sh["entry"]
    assert (sh["kind"], sh["command"], ent["id"]) == \
        ("queue", "show", ids[1])
    fields = dict((k, v) for k, v in ent["fields"])
    assert fields["authorization"] == "(hidden)"
    assert SECRET not in json.dumps(sh)
    assert ent["body"] == '{"seq": 1, "kwh": 1.5}'
    assert ent["key"].startswith('"') and len(ent["key"]) > 30
    text = queue(conf, "show", str(ids[1]), expect=0).stdout
    assert re.search(rf"^id +{ids[1]}$", text, re.M)
    assert re.search(r"^target +/readings/1$", text, re.M)
    assert "  authorization: (hidden)\n" in text
    assert SECRET not in text
    assert text.endswith('body:\n{"seq": 1, "kwh": 1.5}\n')

    # an id that is not there, a retry of a request that is not dead
    res = queue(conf, "show", "999999", expect=1)
    assert res.stderr.startswith("isthmus queue: ") and "999999" in \
        res.stderr
    queue(conf, "retry", str(ids[0]), expect=1)

    # drop: gone, and the edge logs who did it
    res = queue(conf, "drop", str(ids[0]), expect=0)
    assert res.stdout == f"request {ids[0]} dropped\n"
    edge.wait_log(rf"event=queue_dropped .*{ids[0]}.*by=local:{USER}")
    assert [e["id"] for e in queue_json(conf, "list")["entries"]] == \
        ids[1:]
    dropped = queue_json(conf, "drop", str(ids[1]))
    assert dropped == {"kind": "queue", "command": "drop",
                       "ids": [ids[1]], "count": 1}

    # no edge: the file itself, the same answers
    edge.stop()
    lst = queue_json(conf, "list")
    assert [e["id"] for e in lst["entries"]] == [ids[2]]
    assert queue_json(conf, "show", str(ids[2]))["entry"]["body"] == \
        '{"seq": 2, "kwh": 1.5}'
    res = queue(conf, "drop", str(ids[2]), expect=0)
    assert res.stdout == f"request {ids[2]} dropped\n"
    assert re.search(rf"event=queue_dropped .*by=local:{USER}", res.stderr)
    assert queue(conf, "list", expect=0).stdout == "no request waits\n"
    queue(conf, "show", str(ids[2]), expect=1)


def test_show_escapes_what_a_terminal_would_act_on(site):
    """A body and a field with ESC, a C1 control and U+202E (which
    reverses the text after it): the text form escapes each, the JSON
    keeps them as they are."""
    conf = edge_conf(site, dead_port())
    edge = start_edge(site, conf)
    body = "kwh=1\x1b[2J \u009b1m \u202e9.1=hwk \u2066x\u2069".encode()
    res = post(edge.port("listener.meters"), "/evil", body,
               "X-Note: a\u202eb\r\n".encode())
    assert res.status == 202
    (ent,) = queue_json(conf, "list")["entries"]
    sh = queue_json(conf, "show", str(ent["id"]))["entry"]
    assert sh["body"] == body.decode()
    text = queue(conf, "show", str(ent["id"]), expect=0).stdout
    for raw in ("\x1b", "\u009b", "\u202e", "\u2066", "\u2069"):
        assert raw not in text, repr(raw)
    assert "kwh=1\\x1b[2J \\xc2\\x9b1m \\u202e9.1=hwk \\u2066x\\u2069" in text
    assert "x-note: a\\u202eb" in text


def test_offline_is_refused_while_an_edge_holds_the_queue(site):
    """Another config on the same state_dir whose admin socket no edge
    serves: the CLI opens the file, and the running edge's lock says
    no; nothing changes."""
    conf = edge_conf(site, dead_port())
    edge = start_edge(site, conf)
    readings(edge, 1)
    other = site.tmp / "other.conf"
    other.write_text(conf.read_text().replace("admin_socket = agw.sock",
                                              "admin_socket = other.sock"))
    for args in (("list",), ("drop", "--dead")):
        res = queue(other, *args, expect=1)
        assert res.stderr.startswith("isthmus queue: ") and \
            "queue.lock is held by another process" in res.stderr, \
            res.stderr
    assert queue_json(conf, "list")["total"] == 1


def test_an_edge_without_a_queue_says_so(site):
    """Running or not, an edge whose configuration never queues says so
    in the same words and exit status; a file left from when it queued
    is read either way."""
    conf = site.edge_conf("agw", dead_port(), {"t": "telemetry"},
                          extra=f"state_dir = {site.tmp}/state")
    edge = site.start("edge", conf)
    online = queue(conf, "list", expect=1)
    assert "this edge keeps no queue" in online.stderr
    edge.stop()
    site.daemons.remove(edge)
    offline = queue(conf, "list", expect=1)
    assert offline.stderr == online.stderr
    # It queued once: what waits is listed whether it runs or not.
    qconf = edge_conf(site, dead_port())
    edge = start_edge(site, qconf)
    readings(edge, 2)
    edge.stop()
    site.daemons.remove(edge)
    site.start("edge", conf)
    online = queue_json(conf, "list")
    assert online["total"] == 2
    site.daemons[-1].stop()
    site.daemons.pop()
    assert queue_json(conf, "list") == online


# -- from the cloud ----------------------------------------------------------

def manage(conf, *args, expect=None):
    res = run("manage", "-c", conf, "--json", "agw", "queue", *args,
              "--wait", "20s", expect=expect)
    return json.loads(res.stdout)


def dead_cloud(site, extra):
    """A cloud with a management store whose telemetry backend refuses
    every reading (404) until told otherwise, and its edge agw."""
    be = HTTPBackend()
    site.backends.append(be)
    be.status = 404
    be.handler = lambda req: (be.status, b"no such meter", b"")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/telemetry": ([be], "mode = http\nhealth = none")},
        extra="state = state.db"))
    conf = edge_conf(site, cloud.port("listen"), extra)
    edge = start_edge(site, conf)
    edge.wait_log(r"event=tunnel_up")
    return cloud, be, edge, conf


def dead_letters(conf, n):
    assert eventually(lambda: queue_json(conf, "list", "--dead")["total"]
                      == n, timeout=20)
    return queue_json(conf, "list", "--dead")["entries"]


def test_dead_letters_from_the_cloud(site):
    cloud, be, edge, conf = dead_cloud(site, "manage = status, queue")
    cloud.wait_log(r"event=manage_hello edge=agw .*accepts=status,queue")
    cc = cloud.conf
    readings(edge, 3)
    dead = dead_letters(conf, 3)
    ids = [e["id"] for e in dead]
    assert {(e["reason"], e["last_status"]) for e in dead} == \
        {("refused", 404)}

    # list --dead through the cloud: the queue's JSON, and the text
    r = manage(cc, "list", "--dead", expect=0)
    assert r["state"] == "ok", r
    assert [e["id"] for e in r["result"]["entries"]] == ids
    assert r["result"]["state"] == "dead"
    res = run("manage", "-c", cc, "agw", "queue", "list", "--dead",
              "--wait", "20s", expect=0)
    assert "outcome: ok" in res.stdout
    assert re.search(rf"^{ids[0]} +telemetry .* refused +/readings/0$",
                     res.stdout, re.M), res.stdout
    assert "3 dead letters" in res.stdout
    sh = manage(cc, "show", str(ids[0]), expect=0)
    assert sh["result"]["entry"]["body"] == '{"seq": 0, "kwh": 1.5}'

    # arguments the cloud refuses before recording anything
    before = len(json.loads(run("audit", "-c", cc, "--json",
                                expect=0).stdout)["instructions"])
    for args, msg in ((("show", "x1"), "'x1' is not a request id"),
                      (("purge",), "'purge' is not a queue command"),
                      (("list", "everything"), "queue list takes --dead")):
        res = run("manage", "-c", cc, "agw", "queue", *args, expect=1)
        assert msg in res.stderr, (args, res.stderr)
    for args, msg in ((("drop", "dead"), "say --dead"),
                      (("show", "1", "--dead"), "--dead goes with queue "
                                                "list")):
        res = run("manage", "-c", cc, "agw", "queue", *args, expect=2)
        assert msg in res.stderr, (args, res.stderr)
    assert len(json.loads(run("audit", "-c", cc, "--json",
                              expect=0).stdout)["instructions"]) == before

    # retry one once the backend takes them: delivered, gone
    be.status = 200
    r = manage(cc, "retry", str(ids[0]), expect=0)
    assert r["result"] == {"kind": "queue", "command": "retry",
                           "ids": [ids[0]], "count": 1}
    assert eventually(lambda: be.count("/readings/0", "POST") == 2,
                      timeout=20)
    assert [e["id"] for e in dead_letters(conf, 2)] == ids[1:]
    # drop one: logged at the edge with the cloud's operator
    res = run("manage", "-c", cc, "agw", "queue", "drop", str(ids[1]),
              "--wait", "20s", expect=0)
    assert f"request {ids[1]} dropped" in res.stdout
    edge.wait_log(rf"event=queue_dropped .*by=cloud:{USER}")
    # the rest again, from the edge itself
    res = queue(conf, "retry", "--dead", expect=0)
    assert res.stdout.startswith(f"request {ids[2]} waits again")
    assert eventually(lambda: be.count("/readings/2", "POST") == 2,
                      timeout=20)
    assert eventually(lambda: queue_json(conf, "list", "--dead")["total"]
                      == 0 and queue_json(conf, "list")["total"] == 0,
                      timeout=20)
    assert be.count("/readings/1", "POST") == 1
    r = manage(cc, "drop", "--dead", expect=0)
    assert r["result"]["count"] == 0

    rows = json.loads(run("audit", "-c", cc, "--edge", "agw", "--json",
                          expect=0).stdout)["instructions"]
    q = [(r["state"], r["args"]) for r in rows if r["kind"] == "queue"]
    assert ("ok", ["drop", str(ids[1])]) in q
    assert ("ok", ["retry", str(ids[0])]) in q
    assert ("ok", ["drop", "dead"]) in q


def test_what_does_not_fit_an_answer_is_cut_and_says_so(site):
    """A management result carries 192 KiB: a show keeps the start of
    its body, a list its oldest entries. At the edge nothing is cut."""
    cloud, be, edge, conf = dead_cloud(site, "manage = queue")
    port = edge.port("listener.meters")
    big = '"' + "x" * 300000 + '"'
    assert post(port, "/big", big.encode()).status == 202
    for i in range(120):
        r = post(port, f"/r/{'y' * 1500}/{i}", b"{}")
        assert r.status == 202, r.status
    dead = dead_letters(conf, 121)
    ids = [e["id"] for e in dead]

    ent = manage(cloud.conf, "show", str(ids[0]), expect=0)["result"]["entry"]
    assert ent["body_truncated"] is True
    assert 150000 < len(ent["body"]) < 192 * 1024
    assert big.startswith(ent["body"])
    res = run("manage", "-c", cloud.conf, "agw", "queue", "show",
              str(ids[0]), "--wait", "20s", expect=0)
    assert re.search(r"^body \(its first \d+ bytes; isthmus queue show at "
                     r"the edge shows it all\):$", res.stdout, re.M)
    assert queue_json(conf, "show", str(ids[0]))["entry"]["body"] == big

    lst = manage(cloud.conf, "list", "--dead", expect=0)["result"]
    assert lst["truncated"] is True and lst["total"] == 121
    got = [e["id"] for e in lst["entries"]]
    assert 50 < len(got) < 121 and got == ids[:len(got)]
    res = run("manage", "-c", cloud.conf, "agw", "queue", "list", "--dead",
              "--wait", "20s", expect=0)
    assert f"the oldest {len(got)} of 121 shown" in res.stdout
    local = queue_json(conf, "list", "--dead")
    assert local["truncated"] is False and len(local["entries"]) == 121

    r = manage(cloud.conf, "drop", "--dead", expect=0)["result"]
    assert r["count"] == 121 and r["ids"] == ids
    assert queue(conf, "list", "--dead", expect=0).stdout == \
        "no dead letter\n"


def test_a_site_whose_policy_does_not_list_queue_refuses_it(site):
    cloud, be, edge, conf = dead_cloud(site, "")
    readings(edge, 1)
    ids = [e["id"] for e in dead_letters(conf, 1)]
    for args in (("list",), ("drop", str(ids[0]))):
        r = manage(cloud.conf, *args, expect=1)
        assert r["state"] == "refused", r
        assert "refused by the site's policy" in r["error"]
    edge.wait_log(r"event=manage_instruction .*kind=queue .*outcome=refused")
    assert "queue_dropped" not in edge.text()
    assert queue_json(conf, "list", "--dead")["total"] == 1
    # queue is a word the policy knows, and not a default one
    res = run("edge", "-c", conf, "--check", expect=0)
    assert res.stdout.endswith(": ok\n")
    bad = site.tmp / "bad.conf"
    bad.write_text(conf.read_text().replace(
        "state_dir", "manage = status, queues\nstate_dir"))
    res = run("edge", "-c", bad, "--check", expect=2)
    assert "'queues' is not one of" in res.stderr and "queue" in res.stderr
