"""Store and forward under chaos (docs/queue.md; issue 19's first test):
10,000 readings from 20 devices while the cloud is restarted (the tunnel
flaps), the backend is killed and started again, and the edge itself is
killed with SIGKILL, several times while devices hand readings over and
several times while it replays them. Afterwards every reading the edge
answered 2xx has reached the backend (the ledger, deduplicated by
Idempotency-Key), in order per device, and none it refused (503) is
there.

Half the devices use a listener with store_forward = on (straight
through while the path is healthy), half one with always (everything
queued first), each to a service of its own.
"""
import json
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from isthmus_testlib import run
from tunnel_lib import Daemon, free_port

HERE = Path(__file__).resolve().parent
DEVICES = 20
READINGS = 500
PACE = 0.02             # seconds between a device's readings: ~12 s
BUDGET = 240            # seconds for the whole test, at most


class Proc:
    """A process of the test's own (the ledger backend), restartable on
    the same port."""

    def __init__(self, argv):
        self.argv = argv
        self.p = None
        self.start()

    def start(self):
        self.p = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, text=True)
        assert self.p.stdout.readline().strip() == "ready"

    def kill(self):
        self.p.kill()
        self.p.wait()
        self.p.stdout.close()

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            self.p.wait(10)
        if not self.p.stdout.closed:
            self.p.stdout.close()


def fixed(conf, port):
    """The config with its listen port made fixed (so a restarted daemon
    is where it was)."""
    text = conf.read_text().replace("listen = 127.0.0.1:0",
                                    f"listen = 127.0.0.1:{port}", 1)
    conf.write_text(text)
    return conf


class Edge:
    """The edge, killed with SIGKILL and started again on the same
    config (its listeners on fixed ports)."""

    def __init__(self, site, conf):
        self.site, self.conf = site, conf
        self.kills = 0
        self.d = site.start("edge", conf)

    def kill(self):
        d = self.d
        d.proc.kill()
        d.proc.wait()
        d.proc.stdout.close()
        d.log.close()
        d.check_clean()
        self.site.daemons.remove(d)
        self.kills += 1

    def restart(self):
        self.d = self.site.start("edge", self.conf)

    def text(self):
        return self.d.text()


def post(conn, dev, n, service):
    body = json.dumps({"d": dev, "n": n, "pad": "x" * 64}).encode()
    conn.sendall(b"POST /reading HTTP/1.1\r\nHost: %s\r\n"
                 b"Content-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % (service.encode(),
                                                   len(body)) + body)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = conn.recv(4096)
        if not d:
            raise ConnectionError("closed")
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    need = int(m.group(1)) if m else 0
    while len(rest) < need:
        d = conn.recv(4096)
        if not d:
            raise ConnectionError("closed")
        rest += d
    close = re.search(rb"(?i)connection:\s*close", head) is not None
    return status, close


def device(dev, port, service, outcome, deadline):
    """Hands READINGS readings over, one after the other, as an old
    device does: a reading without an answer (the edge was killed) is
    not sent again; the next one follows."""
    conn = None
    for n in range(READINGS):
        if time.time() > deadline:
            break
        time.sleep(PACE)
        for attempt in range(100):
            try:
                if conn is None:
                    conn = socket.create_connection(("127.0.0.1", port),
                                                    timeout=20)
                break
            except OSError:
                conn = None
                time.sleep(0.1)
        if conn is None:
            outcome[(dev, n)] = "unknown"
            continue
        try:
            status, close = post(conn, dev, n, service)
            outcome[(dev, n)] = status
            if close:
                conn.close()
                conn = None
        except OSError:
            outcome[(dev, n)] = "unknown"
            conn.close()
            conn = None
    if conn is not None:
        conn.close()


def queue_depth(edge):
    res = run("status", "--json", "-c", edge.conf)
    if res.returncode != 0:
        return None
    q = json.loads(res.stdout).get("queue") or {}
    # Until the file is open (it is read after the start) the queue
    # says nothing of what waits in it.
    return q["waiting"] if q.get("up") else None


def test_nothing_answered_2xx_is_lost(site, tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    bport = free_port()
    backend = Proc([sys.executable, str(HERE / "ledger.py"), str(bport),
                    str(ledger)])
    try:
        chaos(site, backend, bport, ledger)
    finally:
        backend.stop()


def chaos(site, backend, bport, ledger):
    rng = random.Random(19)
    deadline = time.time() + BUDGET
    addr = f"127.0.0.1:{bport}"
    cport = free_port()
    services = {"A/meters": ([addr], "mode = http"),
                "A/counters": ([addr], "mode = http")}
    cconf = fixed(site.cloud_conf(services), cport)
    cloud = site.start("cloud", cconf)
    ports = {"on": free_port(), "always": free_port()}
    conf = site.edge_conf("agw", cport, {
        "on": ("meters", "mode = http\nstore_forward = on\n"
               "response_timeout = 2s"),
        "always": ("counters", "mode = http\nstore_forward = always")},
        extra="replay_streams = 4")
    text = conf.read_text()
    for name, port in ports.items():
        text = re.sub(r"(\[listener %s\]\nlisten = 127\.0\.0\.1:)0" % name,
                      r"\g<1>%d" % port, text)
    conf.write_text(text)
    edge = Edge(site, conf)
    edge.d.wait_log(r"event=tunnel_up")

    outcome = {}
    threads = []
    for dev in range(DEVICES):
        mode = "on" if dev % 2 == 0 else "always"
        svc = "meters" if mode == "on" else "counters"
        t = threading.Thread(target=device, args=(
            dev, ports[mode], svc, outcome, deadline - 90))
        t.start()
        threads.append(t)

    # Chaos while the devices hand their readings over.
    events = []
    edge_kills_accepting = 0
    while any(t.is_alive() for t in threads) and time.time() < deadline - 90:
        time.sleep(rng.uniform(0.4, 1.2))
        what = rng.choice(["cloud", "backend", "edge", "edge"])
        events.append(what)
        if what == "cloud":
            cloud.signal(signal.SIGKILL)
            cloud.proc.wait()
            cloud.proc.stdout.close()
            cloud.log.close()
            site.daemons.remove(cloud)
            time.sleep(rng.uniform(0.2, 1.5))
            cloud = site.start("cloud", cconf)
        elif what == "backend":
            backend.kill()
            time.sleep(rng.uniform(0.2, 2.0))
            backend.start()
        else:
            edge.kill()
            edge_kills_accepting += 1
            time.sleep(rng.uniform(0.05, 0.5))
            edge.restart()
    for t in threads:
        t.join(max(1, deadline - time.time()))
    assert not any(t.is_alive() for t in threads), "devices did not finish"

    # Chaos while the edge replays: the backend away long enough for a
    # backlog, then the edge killed twice while it drains it.
    backend.kill()
    time.sleep(2)
    backend.start()
    edge_kills_replaying = 0
    for _ in range(2):
        time.sleep(0.3)
        if queue_depth(edge) in (0, None):
            break
        edge.kill()
        edge_kills_replaying += 1
        time.sleep(0.2)
        edge.restart()

    print(f"devices done, draining; {deadline - time.time():.0f} s left",
          flush=True)
    while time.time() < deadline:
        if queue_depth(edge) == 0:
            break
        time.sleep(0.5)
    else:
        print("the queue did not drain in time")
    assert queue_depth(edge) == 0, "the queue did not drain:\n" + \
        edge.text()[-4000:]

    # What reached the backend, once per key.
    seen_keys = set()
    arrivals = {}
    for line in ledger.read_text().splitlines():
        rec = json.loads(line)
        assert rec["key"], "a request without Idempotency-Key"
        if rec["key"] in seen_keys:
            continue
        seen_keys.add(rec["key"])
        body = json.loads(rec["body"])
        arrivals.setdefault(body["d"], []).append(body["n"])

    answered = [k for k, v in outcome.items()
                if isinstance(v, int) and 200 <= v < 300]
    refused = [k for k, v in outcome.items() if v == 503]
    others = {v for v in outcome.values()
              if not (isinstance(v, int) and (200 <= v < 300 or v == 503))
              and v != "unknown"}
    assert not others, f"answers other than 2xx, 503 or none: {others}"
    assert len(outcome) == DEVICES * READINGS
    got = {(d, n) for d, ns in arrivals.items() for n in ns}
    lost = sorted(k for k in answered if k not in got)
    assert not lost, f"{len(lost)} readings answered 2xx never arrived: " \
        f"{lost[:10]}"
    present = sorted(k for k in refused if k in got)
    assert not present, f"refused readings arrived: {present[:10]}"
    for d, ns in arrivals.items():
        first = []
        for n in ns:
            if n not in first:
                first.append(n)
        assert first == sorted(first), f"device {d} out of order: {first}"
    assert edge_kills_accepting >= 3, events
    assert edge_kills_replaying >= 1
    queued = sum(1 for k in answered if outcome[k] == 202)
    assert queued > 100, "the chaos queued almost nothing"
    print(f"readings {len(outcome)} answered-2xx {len(answered)} "
          f"queued {queued} refused {len(refused)} "
          f"unknown {sum(1 for v in outcome.values() if v == 'unknown')} "
          f"events {events} edge kills {edge_kills_accepting}+"
          f"{edge_kills_replaying}")
