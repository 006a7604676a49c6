"""Store and forward (docs/queue.md): a device's POST or PUT the path
cannot take now is kept on the edge's disk, answered 202 once there, and
replayed in order, with its Idempotency-Key and X-Isthmus-Accepted, when
the path is back.

    device --HTTP/1.1--> edge agw [listener meters] ==TLS 1.3==> cloud
                         STATE_DIR/queue.db                        |
                                                 A/telemetry: backend (records
                                                 each request's key and time)

Real edge and cloud processes, real TLS, real sockets on 127.0.0.1 with
free ports; the backend is http_lib's, told per test how to answer. The
cloud listens on a port of its own choosing that stays the same across
its restarts, so the edge's tunnel comes back by itself.
"""

import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import time

import pytest

from http_lib import HTTPBackend, device, get, read_response
from isthmus_testlib import run
from tunnel_lib import eventually, free_port, scrape, value

UUID_KEY = re.compile(r'^"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-'
                      r'[89ab][0-9a-f]{3}-[0-9a-f]{12}"$')
ACCEPTED_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def post(port, path, body, headers=b"", method=b"POST"):
    """One request on a fresh connection; the Response."""
    s, conn = device(port)
    try:
        s.sendall(method + b" " + path.encode() + b" HTTP/1.1\r\n"
                  b"Host: meter.example\r\nContent-Length: %d\r\n"
                  % len(body) + headers + b"\r\n" + body)
        return read_response(conn)
    finally:
        s.close()


class Rig:
    """A cloud with the service A/telemetry (mode = http) on one recording
    backend, and edge agw with the HTTP listener meters for it; the
    queue in tmp/state."""

    def __init__(self, site, listener_opts, svc_opts, edge_extra,
                 cloud_extra, state_dir):
        self.site = site
        self.be = HTTPBackend()
        self.state = state_dir or site.tmp / "state"
        self.cloud_port = free_port()
        self.svc_opts = svc_opts
        self.cloud_extra = cloud_extra
        self.cloud = None
        self.start_cloud()
        self.conf = site.edge_conf(
            "agw", self.cloud_port,
            {"meters": ("telemetry", "mode = http\n" + listener_opts)},
            extra=f"state_dir = {self.state}\nmetrics = 127.0.0.1:0\n"
            + edge_extra)
        self.edge = None
        self.start_edge()

    def cloud_conf(self):
        conf = self.site.cloud_conf(
            {"A/telemetry": ([self.be], "mode = http\nhealth = none\n"
                             + self.svc_opts)}, extra=self.cloud_extra)
        conf.write_text(conf.read_text().replace(
            "listen = 127.0.0.1:0", f"listen = 127.0.0.1:{self.cloud_port}"))
        return conf

    def start_cloud(self):
        self.cloud = self.site.start("cloud", self.cloud_conf())

    def stop_cloud(self):
        self.cloud.stop()
        self.site.daemons.remove(self.cloud)
        self.cloud = None

    def start_edge(self, wait_tunnel=True):
        self.edge = self.site.start("edge", self.conf)
        if wait_tunnel and self.cloud is not None:
            self.edge.wait_log(r"event=tunnel_up")
        if re.search(r"store_forward = (on|always)", self.conf.read_text()):
            # The file opens on the queue's thread, after "ready".
            self.edge.wait_log(r"event=queue_open")
        self.port = self.edge.port("listener.meters")
        return self.edge

    def stop_edge(self):
        self.edge.stop()
        self.site.daemons.remove(self.edge)

    def kill_edge(self):
        """SIGKILL: no drain, no last commit; the log stays readable."""
        self.edge.proc.kill()
        self.edge.proc.wait()
        self.edge.proc.stdout.close()
        self.edge.log.close()
        self.site.daemons.remove(self.edge)

    def post(self, path, body, headers=b"", method=b"POST"):
        return post(self.port, path, body, headers, method)

    def got(self, path_prefix="/"):
        """The backend's requests under path_prefix, in arrival order."""
        with self.be.lock:
            return [r for r in self.be.requests
                    if r.path.startswith(path_prefix)]

    def metrics(self):
        return scrape(self.edge)

    def status(self):
        return json.loads(run("status", "-c", self.conf, "--json",
                              expect=0).stdout)

    def close(self):
        self.be.close()


@pytest.fixture
def rig(site):
    """rig(listener_opts="store_forward = on\\n", svc_opts="",
    edge_extra="", cloud_extra="", state_dir=None) -> Rig, started."""
    made = []

    def start(listener_opts="store_forward = on\n", svc_opts="",
              edge_extra="", cloud_extra="", state_dir=None):
        r = Rig(site, listener_opts, svc_opts, edge_extra, cloud_extra,
                state_dir)
        made.append(r)
        return r

    yield start
    for r in made:
        r.close()


def test_healthy_path_goes_straight_through_with_a_key(rig):
    r = rig()
    # A POST: the backend's own answer, with a key the edge made.
    res = r.post("/reading/1", b"21.5",
                 b"X-Isthmus-Accepted: 2000-01-01T00:00:00.000Z\r\n"
                 b"Isthmus-Accepted: forged\r\n")
    assert res.status == 404          # http_lib's answer for an unknown path
    first = r.got("/reading/1")[0]
    key = first.header("idempotency-key")
    assert UUID_KEY.match(key), key
    # A device cannot claim when its request was accepted, and a direct
    # request was not queued: no such field reaches the backend.
    assert first.header("x-isthmus-accepted") is None
    assert first.header("isthmus-accepted") is None
    assert first.body == b"21.5"
    # A device's own key is the one the backend gets.
    res = r.post("/reading/2", b"22", b'Idempotency-Key: "mine-1"\r\n')
    assert r.got("/reading/2")[0].header("idempotency-key") == '"mine-1"'
    # Two requests, two keys; GET is not store and forward: no key.
    r.post("/reading/3", b"23")
    keys = {q.header("idempotency-key") for q in r.got("/reading/")}
    assert len(keys) == 3
    get(r.port, "/status/200")
    assert r.got("/status/200")[0].header("idempotency-key") is None
    m = r.metrics()
    assert value(m, "isthmus_store_forward_requests_total",
                 listener="meters", service="telemetry",
                 outcome="direct") == 3
    assert value(m, "isthmus_store_forward_requests_total",
                 listener="meters", service="telemetry",
                 outcome="queued") == 0


def test_answers_carry_the_service_mark_and_the_edge_learns_it(rig):
    """store_forward on the cloud's service: every answer says so, the
    device never sees the mark, and a listener left at `service` queues
    once it heard it."""
    r = rig(listener_opts="", svc_opts="store_forward = on\n")
    r.be.handler = lambda req: (200, b"ok", b"")
    res = r.post("/first", b"1")
    assert res.status == 200
    assert res.header("isthmus-store-forward") is None
    assert r.got("/first")[0].header("idempotency-key") is None  # not yet
    r.edge.wait_log(r"event=store_forward_learned .*service=telemetry")
    res = r.post("/second", b"2")
    assert res.status == 200
    assert UUID_KEY.match(r.got("/second")[0].header("idempotency-key"))


def test_always_queues_first_and_answers_once_on_disk(rig):
    r = rig(listener_opts="store_forward = always\n"
            "store_forward_status = 200\n")
    s, conn = device(r.port)
    try:
        # Two pipelined readings on one kept-alive connection.
        s.sendall(b"POST /a HTTP/1.1\r\nHost: m\r\nContent-Length: 1\r\n\r\n1"
                  b"PUT /b HTTP/1.1\r\nHost: m\r\nContent-Length: 1\r\n\r\n2")
        answers = [read_response(conn), read_response(conn)]
        for a in answers:
            assert a.status == 200
            assert a.header("content-type") == "text/plain"
            assert UUID_KEY.match(a.header("idempotency-key"))
            assert a.header("idempotency-key").encode() in a.body
            assert a.header("connection") is None     # kept alive
        # The connection goes on after them.
        s.sendall(b"POST /c HTTP/1.1\r\nHost: m\r\nContent-Length: 1\r\n\r\n3")
        assert read_response(conn).status == 200
    finally:
        s.close()
    assert eventually(lambda: [q.path for q in r.got()] == ["/a", "/b", "/c"])
    for q, a in zip(r.got(), answers):
        assert q.header("idempotency-key") == a.header("idempotency-key")
        assert ACCEPTED_TIME.match(q.header("x-isthmus-accepted"))
    assert [q.method for q in r.got()] == ["POST", "PUT", "POST"]


def test_a_body_over_queue_max_body_is_413(rig):
    r = rig(edge_extra="queue_max_body = 2k\n")
    res = r.post("/big", b"x" * 4096)
    assert res.status == 413
    assert b"queue_max_body" in res.body
    # Chunked, over the bound only as it comes: the same.
    s, conn = device(r.port)
    try:
        s.sendall(b"POST /big HTTP/1.1\r\nHost: m\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            s.sendall(b"400\r\n" + b"y" * 1024 + b"\r\n")
        s.sendall(b"0\r\n\r\n")
        assert read_response(conn).status == 413
    except (BrokenPipeError, ConnectionResetError):
        pass        # the edge answered and closed before the rest
    finally:
        s.close()
    assert r.got("/big") == []


def test_check_refuses_confidential_store_forward(site):
    conf = site.cloud_conf({"A/telemetry": (["127.0.0.1:9"],
                                            "mode = http\nconfidential = yes\n"
                                            "store_forward = on\n")})
    res = run("cloud", "-c", conf, "--check", expect=2)
    line = next(i for i, ln in enumerate(conf.read_text().splitlines(), 1)
                if ln.startswith("[service A/telemetry]"))
    assert f"{conf}:{line}" in res.stderr
    assert "store_forward" in res.stderr and "confidential" in res.stderr


def test_check_refuses_store_forward_on_a_tcp_listener(site):
    conf = site.edge_conf("agw", 1, {"t": ("telemetry", "store_forward = on\n")})
    res = run("edge", "-c", conf, "--check", expect=2)
    line = next(i for i, ln in enumerate(conf.read_text().splitlines(), 1)
                if ln.startswith("[listener t]"))
    assert f"{conf}:{line}" in res.stderr
    assert "store_forward" in res.stderr and "mode = http" in res.stderr


def keys_of(answers):
    return [a.header("idempotency-key") for a in answers]


def test_tunnel_down_queues_at_once_then_replays_in_order(rig):
    # A long pending_timeout: a queued request must not wait for it.
    r = rig(edge_extra="pending_timeout = 30s\n")
    r.be.handler = lambda req: (201, b"taken", b"")
    r.stop_cloud()
    r.edge.wait_log(r"event=tunnel_down")
    t0 = time.monotonic()
    answers = [r.post(f"/r/{i}", b"reading %d" % i) for i in range(6)]
    assert time.monotonic() - t0 < 5
    assert [a.status for a in answers] == [202] * 6
    assert all(UUID_KEY.match(k) for k in keys_of(answers))
    assert r.got() == []
    r.start_cloud()
    assert eventually(lambda: len(r.got("/r/")) >= 6, 30), r.edge.text()
    got = r.got("/r/")
    assert [q.path for q in got] == [f"/r/{i}" for i in range(6)]
    assert [q.header("idempotency-key") for q in got] == keys_of(answers)
    assert [q.body for q in got] == [b"reading %d" % i for i in range(6)]
    times = [q.header("x-isthmus-accepted") for q in got]
    assert all(ACCEPTED_TIME.match(t) for t in times) and times == sorted(times)
    # Once taken, nothing waits; the counters say what happened.
    assert eventually(lambda: r.status()["queue"]["waiting"] == 0)
    st = r.status()
    assert st["queue"]["up"] is True
    assert st["queue"]["accepted"] == 6 and st["queue"]["replayed"] == 6
    assert st["listeners"][0]["store_forward"] == {
        "mode": "on", "direct": 0, "queued": 6, "refused": 0}
    m = r.metrics()
    assert value(m, "isthmus_edge_queue_replayed_total") == 6
    assert value(m, "isthmus_edge_queue_depth", state="waiting") == 0
    assert value(m, "isthmus_edge_queue_up") == 1
    # The path is healthy again: straight through.
    assert r.post("/r/live", b"x").status == 201


def test_backend_503_is_queued_not_passed_on_and_replayed(rig):
    r = rig()
    failing = {"on": True}

    def handler(req):
        if failing["on"]:
            failing["on"] = False        # the next attempt is taken
            return (503, b"a bad minute", b"")
        return (200, b"ok", b"")
    r.be.handler = handler
    res = r.post("/r/1", b"42")
    assert res.status == 202, res.body
    assert eventually(lambda: len(r.got("/r/1")) == 2, 20), r.edge.text()
    direct, replay = r.got("/r/1")
    assert direct.header("idempotency-key") == res.header("idempotency-key")
    assert replay.header("idempotency-key") == res.header("idempotency-key")
    assert direct.header("x-isthmus-accepted") is None
    assert ACCEPTED_TIME.match(replay.header("x-isthmus-accepted"))
    # A backend's other failures are the device's: a 500 goes through.
    r.be.handler = lambda req: (500, b"broken", b"")
    assert r.post("/r/2", b"43").status == 500


def test_a_backend_that_hangs_past_response_timeout_is_queued(rig):
    r = rig(listener_opts="store_forward = on\nresponse_timeout = 1s\n")
    calls = []

    def handler(req):
        calls.append(req.path)
        if len(calls) == 1:
            time.sleep(4)               # the direct attempt hangs
        return (200, b"ok", b"")
    r.be.handler = handler
    t0 = time.monotonic()
    res = r.post("/slow", b"7")
    took = time.monotonic() - t0
    assert res.status == 202 and 0.9 < took < 3.5, took
    key = res.header("idempotency-key")
    assert eventually(lambda: any(q.header("x-isthmus-accepted")
                                  for q in r.got("/slow")), 20)
    assert {q.header("idempotency-key") for q in r.got("/slow")} == {key}


def test_a_backend_slower_than_response_timeout_gets_longer_waits(rig):
    """A backend that always takes 1.6 s, with response_timeout = 1s:
    each replay its lane waited for in vain waits twice as long, so the
    second replay hears the answer and the backend is not sent the
    request again and again."""
    r = rig(listener_opts="store_forward = on\nresponse_timeout = 1s\n")
    calls = []

    def handler(req):
        calls.append(req.path)
        time.sleep(1.6)
        return (200, b"ok", b"")
    r.be.handler = handler
    assert r.post("/patient", b"8").status == 202
    assert eventually(lambda: r.status()["queue"]["waiting"] == 0, 30), \
        (calls, r.edge.text()[-2000:])
    # The direct attempt, one replay cut off at 1 s, one heard at 2 s.
    assert len(calls) == 3, calls
    time.sleep(2)
    assert len(calls) == 3, calls
    assert r.status()["queue"]["replayed"] == 1


def test_a_4xx_on_replay_is_a_dead_letter_never_sent_again(rig):
    r = rig(listener_opts="store_forward = always\n")
    r.be.handler = lambda req: ((422, b"bad reading", b"")
                                if req.path == "/bad" else (201, b"", b""))
    assert r.post("/bad", b"nonsense").status == 202
    assert r.post("/good", b"12").status == 202
    assert eventually(lambda: len(r.got("/good")) == 1, 20)
    r.edge.wait_log(r"event=queue_dead .*status=422")
    time.sleep(3)                       # a retry would have come by now
    assert len(r.got("/bad")) == 1
    st = r.status()["queue"]
    assert st["dead"] == 1 and st["waiting"] == 0
    assert st["dead_letters"]["refused"] == 1
    assert value(r.metrics(), "isthmus_edge_queue_dead_total",
                 reason="refused") == 1


def test_a_full_queue_answers_503_before_accepting(rig):
    r = rig(listener_opts="store_forward = always\n",
            edge_extra="queue_max_size = 64k\nqueue_max_body = 32k\n")
    r.stop_cloud()
    answers = []
    for i in range(12):
        answers.append(r.post(f"/q/{i}", b"%02d" % i + b"x" * 8190))
    statuses = [a.status for a in answers]
    assert 202 in statuses and 503 in statuses, statuses
    first_refused = statuses.index(503)
    assert all(s == 503 for s in statuses[first_refused:])
    refused = answers[first_refused]
    assert int(refused.header("retry-after")) > 0
    assert b"full" in refused.body
    assert refused.header("idempotency-key") is None
    r.edge.wait_log(r"event=queue_refused listener=meters .*reason=full")
    assert value(r.metrics(), "isthmus_edge_queue_refused_total",
                 reason="full") == 12 - first_refused
    # What was accepted is delivered; what was refused never is.
    r.start_cloud()
    assert eventually(lambda: len(r.got("/q/")) >= first_refused, 30)
    time.sleep(1)
    assert [q.path for q in r.got("/q/")] == [
        f"/q/{i}" for i in range(first_refused)]


def test_the_queue_file_is_private_and_keeps_no_body_once_delivered(rig):
    r = rig(listener_opts="store_forward = always\n")
    r.be.handler = lambda req: (204, b"", b"")
    marker = b"SECRET-READING-" + os.urandom(8).hex().encode()
    # Small bodies, and ones past a page (SQLite's overflow pages).
    for i in range(5):
        pad = b"." * (6000 if i % 2 else 10)
        assert r.post(f"/p/{i}", marker + b"-%d" % i + pad).status == 202
    assert eventually(lambda: len(r.got("/p/")) == 5, 20)
    assert eventually(lambda: r.status()["queue"]["replayed"] == 5)
    assert r.status()["queue"]["dead"] == 0
    assert stat.S_IMODE(os.stat(r.state).st_mode) == 0o700
    db = r.state / "queue.db"
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    r.stop_edge()
    for f in r.state.iterdir():
        assert stat.S_IMODE(os.stat(f).st_mode) & 0o077 == 0, f
        assert marker not in f.read_bytes(), f"a body is left in {f}"


def waiting_rig(rig, n, **kw):
    """A rig whose cloud is down, with n readings queued (keys returned)."""
    r = rig(listener_opts="store_forward = always\n", **kw)
    r.be.handler = lambda req: (201, b"", b"")
    r.stop_cloud()
    answers = [r.post(f"/w/{i}", b"reading-%d" % i) for i in range(n)]
    assert [a.status for a in answers] == [202] * n
    return r, keys_of(answers)


def test_a_corrupt_record_is_reported_and_skipped(rig):
    r, keys = waiting_rig(rig, 4)
    r.stop_edge()
    db = sqlite3.connect(r.state / "queue.db")
    with db:
        (victim,) = db.execute("SELECT id FROM entries WHERE target = "
                               "'/w/1'").fetchone()
        db.execute("UPDATE entries SET body = ? WHERE id = ?",
                   (b"reading-X", victim))
        # The sum covers whom and under which key it goes too.
        (keyed,) = db.execute("SELECT id FROM entries WHERE target = "
                              "'/w/3'").fetchone()
        db.execute("UPDATE entries SET key = '\"x\"' WHERE id = ?",
                   (keyed,))
    db.close()
    r.start_cloud()
    r.start_edge()
    r.edge.wait_log(rf"event=queue_corrupt id={victim} service=telemetry")
    r.edge.wait_log(rf"event=queue_corrupt id={keyed} service=telemetry")
    assert eventually(lambda: len(r.got("/w/")) == 2, 20), r.edge.text()
    time.sleep(1)
    got = r.got("/w/")
    assert [q.path for q in got] == ["/w/0", "/w/2"]
    assert all(b"X" not in q.body for q in got)
    st = r.status()["queue"]
    assert st["dead"] == 2 and st["dead_letters"]["corrupt"] == 2


def test_a_torn_wal_tail_is_reported_and_the_rest_replayed(rig):
    r, keys = waiting_rig(rig, 4)
    r.kill_edge()
    wal = r.state / "queue.db-wal"
    assert wal.exists() and wal.stat().st_size > 0
    with open(wal, "ab") as f:
        f.write(os.urandom(1000))       # a frame cut short by a power loss
    r.start_cloud()
    r.start_edge()
    r.edge.wait_log(r"event=queue_torn_tail .*bytes=1000")
    assert eventually(lambda: len(r.got("/w/")) == 4, 20), r.edge.text()
    assert [q.header("idempotency-key") for q in r.got("/w/")] == keys


@pytest.fixture
def small_fs(tmp_path):
    """A 4 MB tmpfs (the tests run as root; the queue keeps 2 MiB of its
    file system free); skipped where mounting is not permitted.
    Unmounted after the test."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700",
                          "tmpfs", str(mnt)], capture_output=True)
    if res.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: " + res.stderr.decode())
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_refuses_before_accepting_and_recovers(rig, small_fs):
    state = small_fs / "state"
    r = rig(listener_opts="store_forward = always\n", state_dir=state)
    r.stop_cloud()
    accepted = []
    for i in range(3):
        a = r.post(f"/d/{i}", b"small-%d" % i)
        assert a.status == 202
        accepted.append(f"/d/{i}")
    # Something else fills the disk.
    filler = small_fs / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    big = b"B" * (512 * 1024)        # the log must grow for it
    refused = r.post("/d/big", big)
    assert refused.status == 503, refused.body
    assert int(refused.header("retry-after")) > 0
    r.edge.wait_log(r"event=queue_refused .*reason=disk")
    assert value(r.metrics(), "isthmus_edge_queue_refused_total",
                 reason="disk") >= 1
    # Space again: acceptance resumes.
    filler.unlink()
    assert eventually(lambda: r.post("/d/after", b"again").status == 202, 20)
    accepted.append("/d/after")
    r.start_cloud()
    assert eventually(lambda: len(r.got("/d/")) >= len(accepted), 30)
    time.sleep(1)
    assert [q.path for q in r.got("/d/")] == accepted
    r.stop_edge()


def test_a_reload_that_turns_store_forward_on_opens_the_queue(rig):
    r = rig(listener_opts="store_forward = off\n")
    assert "queue" not in r.status()
    r.conf.write_text(r.conf.read_text().replace("store_forward = off",
                                                 "store_forward = on"))
    r.edge.signal(signal.SIGHUP)
    r.edge.wait_log(r"event=reloaded")
    assert eventually(lambda: r.status().get("queue", {}).get("up"))
    r.stop_cloud()
    r.edge.wait_log(r"event=tunnel_down")
    assert r.post("/z", b"1").status == 202
    r.start_cloud()
    assert eventually(lambda: len(r.got("/z")) == 1, 20)


def test_waiting_requests_survive_a_drain_and_a_restart(rig):
    r, keys = waiting_rig(rig, 3)
    t0 = time.monotonic()
    r.stop_edge()                       # SIGTERM: drains, exits 0
    assert time.monotonic() - t0 < 10
    r.start_cloud()
    r.start_edge()
    r.edge.wait_log(r"event=queue_open .*waiting=3")
    assert eventually(lambda: len(r.got("/w/")) == 3, 20), r.edge.text()
    assert [q.header("idempotency-key") for q in r.got("/w/")] == keys


def test_a_new_reading_goes_behind_those_waiting(rig):
    """on: while earlier readings wait in the queue, a new one is queued
    behind them rather than sent ahead, so the backend takes them in the
    order the device sent them."""
    r = rig()
    failing = {"on": True}
    r.be.handler = lambda req: ((503, b"busy", b"") if failing["on"]
                                else (201, b"", b""))
    assert r.post("/o/0", b"first").status == 202       # its attempt: 503
    assert r.post("/o/1", b"second").status == 202      # behind it
    assert all(q.header("x-isthmus-accepted") for q in r.got("/o/1"))
    failing["on"] = False
    assert eventually(lambda: len(r.got("/o/1")) == 1, 20), r.edge.text()
    seen = [q.path for q in r.got("/o/")]
    # Sent once, from the queue, after the one before it was taken.
    assert seen[-1] == "/o/1" and seen[-2] == "/o/0", seen
    assert eventually(lambda: r.status()["queue"]["waiting"] == 0)
    # The queue is empty again: straight through.
    assert r.post("/o/2", b"third").status == 201


def test_a_device_that_hangs_up_after_its_request_still_has_it_delivered(rig):
    """The request was read whole: the queue keeps it even when the device
    is gone before its answer (sfq_forget), and the edge stays clean."""
    r = rig(listener_opts="store_forward = always\n")
    r.be.handler = lambda req: (201, b"", b"")
    for i in range(5):
        s, _ = device(r.port)
        s.sendall(b"POST /gone/%d HTTP/1.1\r\nHost: m\r\n"
                  b"Content-Length: 4\r\n\r\nbye%d" % (i, i))
        s.close()
    assert eventually(lambda: len(r.got("/gone/")) == 5, 20), r.edge.text()
    assert sorted(q.body for q in r.got("/gone/")) == [
        b"bye%d" % i for i in range(5)]


def test_a_confidential_service_is_never_queued(rig):
    """A listener's on cannot queue a service whose answers carry the
    cloud's confidential mark: once it was seen, its requests pass as
    without store and forward, the tunnel down included."""
    r = rig(svc_opts="confidential = yes\n",
            edge_extra="pending_timeout = 1s\n")
    r.be.handler = lambda req: (200, b"ok", b"")
    assert r.post("/c/1", b"1").status == 200     # the mark is learned
    r.edge.wait_log(r"event=store_forward_learned service=telemetry "
                    r"mode=off confidential=yes")
    assert r.post("/c/2", b"2").status == 200
    assert r.got("/c/2")[0].header("idempotency-key") is None
    r.edge.wait_log(r"event=store_forward_refused service=telemetry "
                    r"reason=confidential")
    r.stop_cloud()
    r.edge.wait_log(r"event=tunnel_down")
    assert r.post("/c/3", b"3").status == 503     # after pending_timeout
    assert r.status()["queue"]["accepted"] == 0


def test_sigterm_while_requests_are_written_answers_them_first(rig):
    """A drain does not cut off a device whose request is being written
    to the queue: the edge answers it (after the fsync) before it exits.
    Twenty devices POST in a loop on an always listener with the cloud
    away; SIGTERM comes while they do. Every device that got 202 has its
    request in the file, and none got a cut answer."""
    import threading
    r = rig(listener_opts="store_forward = always\n")
    r.stop_cloud()
    r.edge.wait_log(r"event=tunnel_down")
    answers, cut = [], []
    stop = threading.Event()

    def one(i):
        n = 0
        while not stop.is_set() and n < 200:
            body = b"dev%02d-%03d" % (i, n)
            try:
                s, conn = device(r.port, timeout=10)
            except OSError:
                return              # the listener is closed: draining
            try:
                s.sendall(b"POST /t HTTP/1.1\r\nHost: m\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(body) + body)
                resp = read_response(conn)
                answers.append((resp.status, body))
            except Exception:
                cut.append(body)
            finally:
                s.close()
            n += 1

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    r.edge.signal(signal.SIGTERM)
    stop.set()
    for t in threads:
        t.join(30)
    rc = r.edge.proc.wait(30)
    assert rc == 0, r.edge.text()
    r.site.daemons.remove(r.edge)
    r.edge.proc.stdout.close()
    r.edge.log.close()
    r.edge.check_clean()
    accepted = {b for s, b in answers if s == 202}
    assert len(accepted) > 50, (len(answers), len(cut))
    con = sqlite3.connect(f"file:{r.state}/queue.db?mode=ro", uri=True)
    stored = {row[0] for row in con.execute("SELECT body FROM entries")}
    con.close()
    assert accepted <= stored, sorted(accepted - stored)[:5]
    # Nothing was written without its device hearing 202: a request the
    # drain found on its way to the file was answered before the exit.
    assert stored <= accepted, sorted(stored - accepted)[:5]
    assert all(s in (202, 503) for s, _ in answers), \
        {s for s, _ in answers}


@pytest.mark.parametrize("kind", ["fifo", "symlink", "mode644", "dir777"])
def test_a_queue_file_the_edge_must_not_use_is_refused_at_once(site, kind):
    """A FIFO (whose open would wait for a writer), a symbolic link (to a
    file elsewhere), a file others may read and a state_dir others may
    write to are each refused with their reason, left as they were, and
    the edge goes on: an on listener's requests go straight through."""
    be = HTTPBackend()
    try:
        cport = free_port()
        cconf = site.cloud_conf({"A/telemetry": ([be], "mode = http\n"
                                                 "health = none")})
        cconf.write_text(cconf.read_text().replace(
            "listen = 127.0.0.1:0", f"listen = 127.0.0.1:{cport}"))
        site.start("cloud", cconf)
        state = site.tmp / "state"
        state.mkdir(mode=0o700)
        db = state / "queue.db"
        victim = site.tmp / "victim"
        if kind == "fifo":
            os.mkfifo(db, 0o600)
        elif kind == "symlink":
            victim.write_bytes(b"")
            os.chmod(victim, 0o644)
            db.symlink_to(victim)
        elif kind == "dir777":
            os.chmod(state, 0o777)
        else:
            db.write_bytes(b"")
            os.chmod(db, 0o644)
        conf = site.edge_conf("agw", cport, {"meters": (
            "telemetry", "mode = http\nstore_forward = on\n")},
            extra=f"state_dir = {state}\n")
        edge = site.start("edge", conf)
        reason = {"fifo": "not a regular file",
                  "symlink": "a symbolic link",
                  "mode644": "others than its owner",
                  "dir777": r"may be written by others .*mode 0777"}[kind]
        edge.wait_log(r"event=queue_unavailable .*" + reason)
        edge.wait_log(r"event=tunnel_up")
        be.handler = lambda req: (201, b"", b"")
        assert post(edge.port("listener.meters"), "/f", b"x").status == 201
        if kind == "symlink":
            assert db.is_symlink() and victim.read_bytes() == b""
        elif kind == "mode644":
            assert stat.S_IMODE(db.stat().st_mode) == 0o644
            assert db.read_bytes() == b""
        elif kind == "dir777":
            assert stat.S_IMODE(state.stat().st_mode) == 0o777
            assert list(state.iterdir()) == []
        else:
            assert stat.S_ISFIFO(db.lstat().st_mode)
        assert not any(p.name.startswith("queue.db-")
                       for p in state.iterdir())
    finally:
        be.close()


def test_a_device_key_that_is_not_one_quoted_string_is_refused(rig):
    r = rig()
    r.be.handler = lambda req: (201, b"", b"")
    for bad in (b"Idempotency-Key: \r\n", b'Idempotency-Key: ""\r\n',
                b'Idempotency-Key: "a"\r\nIdempotency-Key: "b"\r\n',
                b'Idempotency-Key: "a", "b"\r\n', b"Idempotency-Key: k\r\n"):
        resp = r.post("/k", b"x", headers=bad)
        assert resp.status == 400, bad
        assert b"Idempotency-Key" in resp.body
    assert r.got("/k") == []
    resp = r.post("/k", b"x", headers=b'Idempotency-Key: "meter-7-0042"\r\n')
    assert resp.status == 201
    assert r.got("/k")[0].header("idempotency-key") == '"meter-7-0042"'


def test_store_forward_status_without_a_body_is_refused_by_check(site):
    for status in (204, 205):
        conf = site.edge_conf("agw", 1, {"meters": (
            "telemetry", "mode = http\nstore_forward = on\n"
            f"store_forward_status = {status}\n")})
        res = run("edge", "-c", conf, "--check")
        assert res.returncode == 2, res.stderr
        assert re.search(r"edge-agw\.conf:\d+: .*store_forward_status.*"
                         r"carry no body", res.stderr), res.stderr


def test_a_head_the_tunnel_could_not_carry_is_refused_not_queued(rig):
    """A listener may take a head larger than the tunnel carries (64 KiB
    of fields): queued, it would wait at the head of its order until it
    expired. It is answered 431 and nothing is kept; a large head that
    fits goes on."""
    r = rig(listener_opts="store_forward = always\nmax_header_size = 1m\n"
            "max_headers = 1000\n")
    r.be.handler = lambda req: (201, b"", b"")
    big = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"v" * 1000) for i in range(70))
    resp = r.post("/big", b"x", headers=big)
    assert resp.status == 431 and b"tunnel" in resp.body
    fits = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"v" * 1000) for i in range(40))
    assert r.post("/fits", b"x", headers=fits).status == 202
    assert eventually(lambda: len(r.got("/fits")) == 1, 20), r.edge.text()
    assert r.got("/big") == []
    assert r.status()["queue"]["dead"] == 0


def test_queue_max_body_over_queue_max_size_is_refused_by_check(site):
    conf = site.edge_conf("agw", 1, {"meters": (
        "telemetry", "mode = http\nstore_forward = on\n")},
        extra="queue_max_size = 64k\nqueue_max_body = 1m\n")
    res = run("edge", "-c", conf, "--check")
    assert res.returncode == 2, res.stderr
    assert "queue_max_body" in res.stderr and "queue_max_size" in res.stderr


def slow_device(port, path, head_extra, first):
    """A device that sends a store-and-forward request's head and the
    first bytes of its body, then goes quiet: (socket, Conn)."""
    s, conn = device(port)
    s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: m\r\n"
              + head_extra + b"\r\n" + first)
    return s, conn


def test_slow_devices_cannot_hold_more_than_queue_max_memory(rig):
    """Bodies read whole are held in memory: all of them together stay
    within queue_max_memory, a request past it is refused 503 before it
    is read, and the slow ones get request_timeout for the whole
    request, not per byte; then the memory is free again."""
    r = rig(listener_opts="store_forward = always\nrequest_timeout = 3s\n",
            edge_extra="queue_max_memory = 60k\nqueue_max_body = 16k\n")
    slow = [slow_device(r.port, f"/slow/{i}",
                        b"Content-Length: 16384\r\n", b"s" * 10)
            for i in range(3)]
    # A chunked one holds what it has read so far: 10 KiB of it.
    chunked = slow_device(r.port, "/slow/chunked",
                          b"Transfer-Encoding: chunked\r\n",
                          b"2800\r\n" + b"c" * 0x2800 + b"\r\n")
    slow.append(chunked)
    assert eventually(lambda: r.status()["queue"]["holding"] ==
                      3 * 16384 + 0x2800, 10)
    assert value(r.metrics(), "isthmus_edge_queue_memory_bytes") == \
        3 * 16384 + 0x2800
    # A new request whose length would go past the bound: refused before
    # its body is read, and told when to come back.
    refused = r.post("/fast/0", b"f" * 4096)
    assert refused.status == 503, refused.body
    assert b"queue_max_memory" in refused.body
    assert int(refused.header("retry-after")) > 0
    assert refused.header("connection") == "close"
    # The chunked one going past it mid-body (14 KiB, under
    # queue_max_body): refused too.
    s, conn = chunked
    try:
        s.sendall(b"1000\r\n" + b"c" * 0x1000 + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert read_response(conn).status == 503
    r.edge.wait_log(r"event=queue_refused listener=meters .*reason=memory")
    assert value(r.metrics(), "isthmus_edge_queue_refused_total",
                 reason="memory") == 2
    # A small request still fits in what is left.
    assert r.post("/fast/1", b"tiny").status == 202
    # The slow ones run out of time for the whole request (3 s from
    # their first byte), however they trickle: 408, nothing kept.
    for s, conn in slow[:3]:
        s.sendall(b"more")
        res = read_response(conn)
        assert res.status == 408
        assert b"not received whole in time" in res.body
        s.close()
    chunked[0].close()
    assert eventually(lambda: r.status()["queue"]["holding"] == 0, 10)
    assert r.post("/fast/2", b"f" * 2048).status == 202
    assert eventually(lambda: len(r.got("/fast/")) == 2, 20)
    assert [q.path for q in r.got("/")] == ["/fast/1", "/fast/2"]
    assert r.status()["queue"]["refused"]["memory"] == 2


def test_a_trickled_body_gets_request_timeout_for_the_whole_request(rig):
    """Without store and forward a body may take as long as it keeps
    coming; read whole, it is held in memory, so the whole request has
    request_timeout: a device sending a byte every 0.2 s is answered 408
    long before it is done."""
    r = rig(listener_opts="store_forward = on\nrequest_timeout = 2s\n")
    r.be.handler = lambda req: (200, b"ok", b"")
    s, conn = slow_device(r.port, "/trickle", b"Content-Length: 40\r\n", b"")
    cut = False
    try:
        for _ in range(40):         # 8 s of trickle
            s.sendall(b"t")
            time.sleep(0.2)
    except (BrokenPipeError, ConnectionResetError):
        cut = True
    res = read_response(conn) if not cut else None
    s.close()
    if res is not None:
        assert res.status == 408, res.status
    r.edge.wait_log(r"event=http_refused listener=meters .*status=408 "
                    r"reason=\"store-and-forward request not received whole")
    assert r.got("/trickle") == []
    # The listener goes on: a request sent at once is taken.
    assert r.post("/after", b"ok").status == 200


def test_queue_max_body_over_queue_max_memory_is_refused_by_check(site):
    conf = site.edge_conf("agw", 1, {"meters": (
        "telemetry", "mode = http\nstore_forward = on\n")},
        extra="queue_max_memory = 512k\nqueue_max_body = 1m\n")
    res = run("edge", "-c", conf, "--check")
    assert res.returncode == 2, res.stderr
    assert "queue_max_body: must not be over queue_max_memory" in \
        res.stderr, res.stderr


def test_a_disk_the_queue_itself_filled_drains_and_takes_again(rig, small_fs):
    """The queue fills its own small disk (no one else's file to
    remove): refused 503 once full; when the cloud is back every accepted
    request is delivered once and deleted, the disk is free again, new
    requests are taken, and a restart sends nothing twice."""
    state = small_fs / "state"
    r = rig(listener_opts="store_forward = always\n", state_dir=state,
            edge_extra="queue_max_size = 64m\n")
    r.be.handler = lambda req: (200, b"ok", b"")
    r.stop_cloud()
    accepted = []
    for i in range(200):
        a = r.post(f"/w/{i}", b"%03d" % i + b"w" * (32 * 1024 - 3))
        if a.status != 202:
            assert a.status == 503, a.status
            assert b"disk" in a.body
            break
        accepted.append(f"/w/{i}")
    else:
        pytest.fail("a 4 MB disk took 200 readings of 32 KiB")
    assert len(accepted) > 10
    r.edge.wait_log(r"event=queue_refused .*reason=disk")
    r.start_cloud()
    assert eventually(lambda: len(r.got("/w/")) >= len(accepted), 60)
    assert eventually(lambda: r.status()["queue"]["waiting"] == 0, 20)
    # Taken again once the deletions are on disk.
    assert eventually(lambda: r.post("/w/after", b"again").status == 202,
                      30), r.edge.text()[-3000:]
    assert eventually(lambda: len(r.got("/w/")) >= len(accepted) + 1, 20)
    assert [q.path for q in r.got("/w/")] == accepted + ["/w/after"]
    # Nothing is left in the file to be sent again.
    r.stop_edge()
    r.start_edge()
    time.sleep(2)
    st = r.status()["queue"]
    assert st["waiting"] == 0 and st["unsaved"] == 0
    assert len(r.got("/w/")) == len(accepted) + 1
