"""The cloud's data side of readiness tests (docs/protocol.md, section 6)
against hand-driven edges (h2edge_lib.py): the instruction's params, the
throughput streams at .isthmus and each of their refusals, and the UDP
reflector, which answers only a good probe of a live test and counts why
it dropped every other datagram.

   agw (tenant A) ==TLS/HTTP2==> cloud  /readiness/down, /readiness/up
   bgw (tenant B) ==TLS/HTTP2==>        (agw's test is not bgw's)
   python UDP socket ----------> cloud readiness_udp (127.0.0.1:0)
"""

import hashlib
import hmac
import json
import os
import re
import socket
import struct
import time

import h2.errors
import h2.events

from h2edge_lib import H2Edge, manage_lines, open_manage
from isthmus_testlib import run
from tunnel_lib import eventually, scrape, value

HELLO = (b'{"v":1,"type":"hello","version":"9.9.9",'
         b'"accepts":["status","readiness"]}\n')

# A profile that measures everything but the path, small enough to move
# quickly: 256 KiB down, 128 KiB up, 50 probes.
VOICE = """[readiness voice]
path = off
pings = 5
down = 256k
up = 128k
udp = on
udp_rate = 50
udp_duration = 1s
udp_size = 172
budget = 2M
delay = 100ms, 300ms
"""
# Only the UDP train, and a deadline a few seconds away: what runs out.
QUICK = """[readiness quick]
path = off
pings = 0
down = 0
up = 0
udp_rate = 50
udp_duration = 1s
"""


def start_cloud(site, extra="", profiles=VOICE, edge_lines=None,
                udp=True):
    """A cloud with a state store, metrics, the reflector on port 0 and
    the profiles; edge_lines: {edge: "key = value"} added to [edge E]."""
    a = site.backend("A")
    conf = site.cloud_conf(
        {"A/t": [a]}, extra="state = st.db\nmetrics = 127.0.0.1:0\n"
        + ("readiness_udp = 127.0.0.1:0\n" if udp else "") + extra)
    text = conf.read_text()
    for edge, line in (edge_lines or {}).items():
        text = re.sub(rf"(\[edge {edge}\]\npin = \S+\n)",
                      lambda m: m.group(1) + line + "\n", text)
    conf.write_text(text + "\n" + profiles)
    return site.start("cloud", conf)


def edge_of(site, cloud, name="agw"):
    e = H2Edge(cloud.port("listen"), site.pki / f"{name}.crt",
               site.pki / f"{name}.key", site.pki / "ca.crt")
    sid = open_manage(e)
    e.send(sid, HELLO)
    e.flush()
    assert e.wait(lambda evs: e.status(sid) == 200)
    cloud.wait_log(rf"event=manage_hello edge={name}")
    e.manage = sid
    return e


def issue(cloud, e, *args):
    """isthmus manage agw readiness ARGS; the instruction as the edge
    read it on its management stream."""
    res = run("manage", "-c", cloud.conf, "--json", "agw", "readiness",
              *args, expect=0)
    iid = json.loads(res.stdout)["id"]
    assert e.wait(lambda evs: any(m["id"] == iid
                                  for m in manage_lines(e, e.manage)))
    return [m for m in manage_lines(e, e.manage) if m["id"] == iid][0]


def request(e, path, test, nbytes, method=None, end=True, extra=()):
    sid = e.conn.get_next_available_stream_id()
    hdrs = [(":method", method or ("GET" if path.endswith("down")
                                   else "POST")),
            (":scheme", "https"), (":authority", ".isthmus"),
            (":path", path)]
    if test is not None:
        hdrs.append(("isthmus-test", test))
    if nbytes is not None:
        hdrs.append(("isthmus-bytes", str(nbytes)))
    e.conn.send_headers(sid, hdrs + list(extra), end_stream=end)
    e.flush()
    return sid


def upload(e, sid, data, end=True):
    """Sends data on sid as the flow-control windows let it."""
    off = 0
    deadline = time.time() + 30
    while off < len(data) and time.time() < deadline:
        if sid in e.resets():
            return
        room = min(e.conn.local_flow_control_window(sid),
                   e.conn.max_outbound_frame_size, len(data) - off)
        if room <= 0:
            e.pump(0.05)
            continue
        e.conn.send_data(sid, data[off:off + room])
        off += room
        e.flush()
    assert off == len(data)
    if end:
        e.conn.end_stream(sid)
        e.flush()


def response(e, sid):
    for ev in e.events:
        if isinstance(ev, h2.events.ResponseReceived) and \
                ev.stream_id == sid:
            return dict(ev.headers)
    return None


def ended(e, sid):
    return any(isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid
               for ev in e.events)


def refused(e, sid, status):
    """sid was answered status with isthmus-refused and no body."""
    assert e.wait(lambda evs: response(e, sid) is not None), sid
    h = response(e, sid)
    assert int(h[":status"]) == status, h
    assert h["isthmus-refused"] == "bad_request"
    assert e.wait(lambda evs: ended(e, sid))
    assert e.data(sid) == b""


def max_seconds(p, udp):
    """readiness_max_seconds (common/readiness.c), as the contract says."""
    s = 30 if p["path"] else 0
    if p["pings"]:
        s += -(-p["pings"] * p["ping_interval_ms"] // 1000) + 5
    if udp and p["udp"]:
        s += -(-p["udp_duration_ms"] // 1000) + 3
    s += 60 if p["down"] else 0
    s += 60 if p["up"] else 0
    return s


def test_a_readiness_instruction_carries_its_profile_and_a_fresh_key(site):
    cloud = start_cloud(site, extra="readiness_udp_host = 203.0.113.5\n")
    e = edge_of(site, cloud)
    try:
        ins = issue(cloud, e, "voice")
        assert ins["kind"] == "readiness" and ins["args"] == ["voice"]
        p = ins["params"]["profile"]
        assert p == {
            "name": "voice", "path": False, "pings": 5,
            "ping_interval_ms": 250, "down": 262144, "up": 131072,
            "udp": True, "udp_rate": 50, "udp_duration_ms": 1000,
            "udp_size": 172, "budget": 2097152,
            "thresholds": {"delay_ms": [100, 300], "jitter_ms": [30, 50],
                           "loss_pct": [1, 3], "down_mbps": [10, 2],
                           "up_mbps": [5, 1], "mos": [4.0, 3.6],
                           "dns_ms": [200, 1000],
                           "connect_ms": [200, 1000],
                           "handshake_ms": [500, 2000]}}
        udp = ins["params"]["udp"]
        assert udp["port"] == cloud.port("readiness_udp")
        assert udp["host"] == "203.0.113.5"
        assert re.fullmatch(r"[0-9a-f]{64}", udp["key"])
        # the deadline leaves room for the whole test (60s + 131s)
        assert abs(ins["deadline"] - ins["issued"] -
                   (60 + max_seconds(p, True))) <= 2
        assert len(json.dumps(ins["params"])) <= 16 * 1024
        # a second test of the same edge: another id, another key
        ins2 = issue(cloud, e, "voice")
        assert ins2["params"]["udp"]["key"] != udp["key"]
        assert cloud.ready["readiness_udp"].startswith("127.0.0.1:")
        cloud.wait_log(r"event=ready .*readiness_udp=127\.0\.0\.1:\d+")
        assert value(scrape(cloud), "isthmus_readiness_tests_live") == 2
    finally:
        e.close()
    # the key is never logged nor stored
    cloud.stop()
    for k in (udp["key"], ins2["params"]["udp"]["key"]):
        assert k not in cloud.text()
        for f in site.tmp.glob("st.db*"):
            assert k.encode() not in f.read_bytes()


def test_the_profile_is_the_one_named_else_the_schedule_else_default(site):
    cloud = start_cloud(site, profiles=VOICE + "\n[readiness quiet]\n"
                        "udp = off\n", edge_lines={
                            "agw": "readiness = quiet every 1h"})
    e = edge_of(site, cloud)
    try:
        ins = issue(cloud, e)
        assert ins["params"]["profile"]["name"] == "quiet"
        assert "udp" not in ins["params"]      # the profile has none
        ins = issue(cloud, e, "default")
        assert ins["params"]["profile"]["name"] == "default"
        assert ins["params"]["profile"]["pings"] == 20
        assert "host" not in ins["params"]["udp"]
    finally:
        e.close()
    cloud.stop()
    # no schedule: the default; no readiness_udp: no udp
    cloud = start_cloud(site, udp=False)
    assert "readiness_udp" not in cloud.ready
    e = edge_of(site, cloud)
    try:
        ins = issue(cloud, e)
        assert ins["params"]["profile"]["name"] == "default"
        assert "udp" not in ins["params"]
        assert abs(ins["deadline"] - ins["issued"] - (60 + max_seconds(
            ins["params"]["profile"], False))) <= 2
    finally:
        e.close()


def test_down_and_up_move_exactly_the_bytes_asked(site):
    cloud = start_cloud(site)
    e = edge_of(site, cloud)
    try:
        iid = issue(cloud, e, "voice")["id"]
        down = request(e, "/readiness/down", iid, 262144)
        assert e.wait(lambda evs: ended(e, down), timeout=20)
        h = response(e, down)
        assert h[":status"] == "200" and h["content-length"] == "262144"
        assert e.data(down) == bytes(262144)
        up = request(e, "/readiness/up", iid, 100000, end=False)
        upload(e, up, os.urandom(100000))
        assert e.wait(lambda evs: ended(e, up), timeout=20)
        h = response(e, up)
        assert h[":status"] == "200"
        assert h["isthmus-bytes"] == "100000"
        assert 0 < int(h["isthmus-usec"]) < 20_000_000
        assert up not in e.resets()
        # each direction runs once
        refused(e, request(e, "/readiness/down", iid, 1), 409)
        again = request(e, "/readiness/up", iid, 1, end=False)
        upload(e, again, b"x")
        refused(e, again, 409)
        m = scrape(cloud)
        assert value(m, "isthmus_readiness_bytes_total",
                     direction="down") == 262144
        assert value(m, "isthmus_readiness_bytes_total",
                     direction="up") == 100000
        cloud.wait_log(r"event=readiness_flow_end edge=agw tenant=A "
                       rf"test={iid} direction=up bytes=100000 "
                       r"complete=yes")
        # the management stream and the tunnel went on
        assert e.resets().get(e.manage) is None and not e.closed
    finally:
        e.close()


def test_a_large_download_is_flow_controlled(site):
    """8 MiB down while the edge reads slowly: the cloud keeps to the
    stream's window and its own mark, never the whole body in memory
    (the sanitizer build would show a leak, the RSS a buffer)."""
    cloud = start_cloud(site, profiles=VOICE.replace(
        "down = 256k", "down = 8M").replace("budget = 2M", "budget = 20M"))
    e = edge_of(site, cloud)
    try:
        iid = issue(cloud, e, "voice")["id"]
        down = request(e, "/readiness/down", iid, 8 << 20)
        assert e.wait(lambda evs: ended(e, down), timeout=60)
        assert len(e.data(down)) == 8 << 20
        assert value(scrape(cloud), "isthmus_readiness_bytes_total",
                     direction="down") == 8 << 20
    finally:
        e.close()


def test_each_refusal_of_a_throughput_stream(site):
    cloud = start_cloud(site, profiles=VOICE + "\n" + QUICK)
    ea = edge_of(site, cloud, "agw")
    eb = edge_of(site, cloud, "bgw")
    try:
        iid = issue(cloud, ea, "voice")["id"]
        # no such test
        refused(ea, request(ea, "/readiness/down", "0" * 32, 10), 404)
        # agw's test is not bgw's
        refused(eb, request(eb, "/readiness/down", iid, 10), 404)
        refused(eb, request(eb, "/readiness/up", iid, 10), 404)
        # over what the test may move that way (and it did not run)
        refused(ea, request(ea, "/readiness/down", iid, 262145), 413)
        refused(ea, request(ea, "/readiness/up", iid, 131073), 413)
        # a missing or bad field
        for test, n in ((None, 10), (iid, None), (iid.upper(), 10),
                        (iid[:30], 10), (iid, 0), (iid, "12x"),
                        (iid, -1), (iid, 1 << 40)):
            refused(ea, request(ea, "/readiness/down", test, n), 400)
        # another method
        refused(ea, request(ea, "/readiness/down", iid, 10,
                            method="POST"), 405)
        # an up body longer than it said: reset
        up = request(ea, "/readiness/up", iid, 1000, end=False)
        upload(ea, up, bytes(5000), end=False)
        assert ea.wait(lambda evs: up in ea.resets())
        assert ea.resets()[up] == h2.errors.ErrorCodes.PROTOCOL_ERROR
        cloud.wait_log(r"event=readiness_flow_reset edge=agw .*"
                       r'reason="body longer than isthmus-bytes"')
        # the down direction is still there to run, whole
        down = request(ea, "/readiness/down", iid, 1000)
        assert ea.wait(lambda evs: ended(ea, down))
        assert ea.data(down) == bytes(1000)
        # after the deadline: no test any more (the quick one's is 5s
        # away with instruction_timeout = 1s: 1s + 1s udp + 3s)
        assert not ea.closed and not eb.closed
    finally:
        ea.close()
        eb.close()


def probe(key, test, seq, size=172, sent=None, typ=1, ver=1,
          magic=b"ISRT", length=None, count=0, cloud_t=0, mac=None):
    head = magic + bytes([ver, typ]) + struct.pack(
        "!H", size if length is None else length) + test + struct.pack(
        "!IIQQ", seq, count, sent if sent is not None else
        time.monotonic_ns() // 1000, cloud_t)
    tag = mac if mac is not None else \
        hmac.new(key, head, hashlib.sha256).digest()[:16]
    return head + tag + bytes(size - 64)


def check_echo(key, p, echo, count):
    assert len(echo) == len(p)
    assert echo[:5] == p[:5] and echo[5] == 2
    assert echo[6:8] == p[6:8]
    assert echo[8:28] == p[8:28]                # test and seq
    assert struct.unpack("!I", echo[28:32])[0] == count
    assert echo[32:40] == p[32:40]              # the edge's clock
    cloud_t = struct.unpack("!Q", echo[40:48])[0]
    assert cloud_t > 0
    assert hmac.compare_digest(
        echo[48:64], hmac.new(key, echo[:48], hashlib.sha256).digest()[:16])
    assert echo[64:] == bytes(len(p) - 64)
    return cloud_t


class Prober:
    def __init__(self, cloud):
        self.addr = ("127.0.0.1", cloud.port("readiness_udp"))
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.settimeout(5)

    def send(self, d):
        self.s.sendto(d, self.addr)

    def echo(self):
        return self.s.recv(4096)

    def only(self, good):
        """Sends good (after whatever was sent before it) and returns the
        first answer: good's echo, proving that nothing before it was
        answered (the socket is in order on loopback)."""
        self.send(good)
        got = self.echo()
        assert got[24:28] == good[24:28] and got[8:24] == good[8:24], \
            "a datagram before it was answered"
        return got


def test_the_reflector_echoes_good_probes_and_drops_the_rest(site):
    cloud = start_cloud(site, extra="instruction_timeout = 1s\n",
                        profiles=VOICE + "\n" + QUICK)
    e = edge_of(site, cloud)
    u = Prober(cloud)
    dev = None
    try:
        ins = issue(cloud, e, "quick")
        key = bytes.fromhex(ins["params"]["udp"]["key"])
        test = bytes.fromhex(ins["id"])
        assert ins["deadline"] - ins["issued"] <= 6
        # a device stream, open across it all
        dev = e.connect("t")
        e.flush()
        assert e.wait(lambda evs: e.status(dev) == 200)
        # good probes of each size, each echoed with every field right
        p0 = probe(key, test, 0)
        u.send(p0)
        t0 = check_echo(key, p0, u.echo(), 1)
        p1 = probe(key, test, 1, size=64)
        u.send(p1)
        t1 = check_echo(key, p1, u.echo(), 2)
        p2 = probe(key, test, 2, size=1200)
        t2 = check_echo(key, p2, u.only(p2), 3)
        assert t0 <= t1 <= t2
        # replayed, past the count, a bad MAC, another test, malformed
        u.send(p0)                                      # duplicate
        u.send(probe(key, test, 50))                    # over_count
        u.send(probe(key, test, 49, mac=bytes(16)))     # bad_mac
        u.send(probe(os.urandom(32), test, 3))          # bad_mac
        u.send(probe(key, os.urandom(16), 3))           # unknown_test
        good = probe(key, test, 3)
        malformed = [
            good[:63], good + b"\0" * 2000, probe(key, test, 4, size=1201),
            probe(key, test, 4, magic=b"ISRU"), probe(key, test, 4, ver=2),
            probe(key, test, 4, typ=2), probe(key, test, 4, length=173),
            b"GET / HTTP/1.0\r\n\r\n", b""]
        for d in malformed:
            u.send(d)
        check_echo(key, good, u.only(good), 4)
        m = scrape(cloud)
        want = {"echoed": 4, "duplicate": 1, "over_count": 1, "bad_mac": 2,
                "unknown_test": 1, "malformed": len(malformed)}
        for result, n in want.items():
            assert value(m, "isthmus_readiness_udp_probes_total",
                         result=result) == n, result
        # a flood of junk leaves the tunnel, its streams and the
        # reflector as they were (the kernel may drop what overflows the
        # socket's buffer, a good probe too: the next one gets through)
        for _ in range(2000):
            u.send(os.urandom(100))
        u.s.settimeout(1)
        for seq in range(5, 15):
            p5 = probe(key, test, seq)
            try:
                got = u.only(p5)
                break
            except socket.timeout:
                continue
        else:
            raise AssertionError("no echo after the flood")
        u.s.settimeout(5)
        taken = struct.unpack("!I", got[28:32])[0]
        assert 5 <= taken <= seq + 1
        check_echo(key, p5, got, taken)
        e.send(dev, b"ping", end=True)
        e.flush()
        assert e.wait(lambda evs: e.data(dev).endswith(b"ping"))
        assert e.resets().get(e.manage) is None and not e.closed
        # the quick profile moves no bytes: 413 while it lives ...
        refused(e, request(e, "/readiness/down", ins["id"], 1), 413)
        # ... and after its deadline (and the grace) it is gone
        left = ins["deadline"] + 5 - time.time()
        assert left < 12
        time.sleep(max(0, left) + 1.2)
        refused(e, request(e, "/readiness/down", ins["id"], 1), 404)
        u.send(probe(key, test, 6))
        other = issue(cloud, e, "quick")
        okey = bytes.fromhex(other["params"]["udp"]["key"])
        good = probe(okey, bytes.fromhex(other["id"]), 0)
        check_echo(okey, good, u.only(good), 1)
        m = scrape(cloud)
        assert value(m, "isthmus_readiness_udp_probes_total",
                     result="unknown_test") == 2
        assert value(m, "isthmus_readiness_tests_live") == 1
    finally:
        e.close()


def test_a_test_that_reported_takes_nothing_more(site):
    """Once the edge sent the test's result, its probes and streams are
    refused at once, not only after the deadline."""
    cloud = start_cloud(site)
    e = edge_of(site, cloud)
    u = Prober(cloud)
    try:
        ins = issue(cloud, e, "voice")
        key = bytes.fromhex(ins["params"]["udp"]["key"])
        test = bytes.fromhex(ins["id"])
        p0 = probe(key, test, 0)
        check_echo(key, p0, u.only(p0), 1)
        e.send(e.manage, (json.dumps({
            "v": 1, "type": "result", "id": ins["id"], "outcome": "ok",
            "result": {"profile": "voice", "verdict": "pass"}}) +
            "\n").encode())
        e.flush()
        cloud.wait_log(rf"event=manage_result edge=agw tenant=A "
                       rf"id={ins['id']} kind=readiness outcome=ok")
        u.send(probe(key, test, 1))
        other = issue(cloud, e, "voice")
        okey = bytes.fromhex(other["params"]["udp"]["key"])
        good = probe(okey, bytes.fromhex(other["id"]), 0)
        check_echo(okey, good, u.only(good), 1)
        assert value(scrape(cloud), "isthmus_readiness_udp_probes_total",
                     result="unknown_test") == 1
        refused(e, request(e, "/readiness/down", ins["id"], 10), 404)
        assert value(scrape(cloud), "isthmus_readiness_tests_live") == 1
    finally:
        e.close()


def test_manage_refuses_an_unknown_profile_at_once(site):
    cloud = start_cloud(site)
    for args, msg in (
            (["nosuch"], "no readiness profile 'nosuch' in this cloud's "
             "configuration (it has: default, voice)"),
            (["voice", "default"], "readiness takes at most one profile")):
        res = run("manage", "-c", cloud.conf, "agw", "readiness", *args,
                  expect=1)
        assert msg in res.stderr, res.stderr
    assert "manage_issued" not in cloud.text()
    res = run("manage", "-c", cloud.conf, "--json", "agw", "readiness",
              expect=0)
    assert json.loads(res.stdout)["state"] == "waiting"


def line_of(text, needle):
    return text.split("\n").index(needle) + 1


def test_check_refuses_bad_profiles_and_schedules_with_file_and_line(site):
    conf = site.cloud_conf({"A/t": [site.backend("A")]},
                           extra="readiness_udp = 127.0.0.1:0")
    base = conf.read_text()
    ok = base.replace("[tenant A]\n", "[tenant A]\nreadiness = voice "
                      "every 6h\n") + "\n" + VOICE
    conf.write_text(ok)
    run("cloud", "-c", conf, "--check", expect=0)
    head = line_of(ok, "[readiness voice]")
    cases = [
        ({"budget = 2M": "budget = 1M", "down = 256k": "down = 1M"},
         rf"{conf}:{head}: \[readiness voice\]: the test would move about "
         r"\d+ bytes on the wire .*over its budget of 1048576"),
        ({"delay = 100ms, 300ms": "delay = 400ms, 150ms"},
         rf"{conf}:{head + 10}: delay: "),
        ({"udp_size = 172": "udp_size = 2000"},
         rf"{conf}:{head + 8}: udp_size: "),
        ({"pings = 5": "frobnicate = 1"},
         rf"{conf}:{head + 2}: frobnicate: unknown key"),
        ({"udp_rate = 50": "udp_rate = 1000", "udp_duration = 1s":
          "udp_duration = 120s", "budget = 2M": "budget = 1G"},
         rf"{conf}:{head}: \[readiness voice\]: udp_rate x udp_duration "
         r"is 120000 packets; at most 100000"),
    ]
    for edits, want in cases:
        text = ok
        for a, b in edits.items():
            assert a in text
            text = text.replace(a, b)
        conf.write_text(text)
        res = run("cloud", "-c", conf, "--check", expect=2)
        assert re.search(want, res.stderr), (want, res.stderr)
    tenant = line_of(base, "[tenant A]")
    for sched, line, want in (
            ("readiness = video every 6h", tenant, "no profile 'video'"),
            ("readiness = voice every 5s", tenant + 1, "readiness: "),
            ("readiness = voice each 6h", tenant + 1, "PROFILE every"),
            ("readiness = voice every 8d", tenant + 1, "readiness: ")):
        conf.write_text(base.replace("[tenant A]\n", f"[tenant A]\n"
                                     f"{sched}\n") + "\n" + VOICE)
        res = run("cloud", "-c", conf, "--check", expect=2)
        assert re.search(rf"{conf}:{line}: readiness: ", res.stderr), \
            (sched, res.stderr)
        assert want in res.stderr
    # an edge's own schedule, checked the same way
    edge = line_of(base, "[edge agw]")
    conf.write_text(base.replace("[edge agw]\n", "[edge agw]\nreadiness = "
                                 "nosuch every 1h\n"))
    res = run("cloud", "-c", conf, "--check", expect=2)
    assert f"{conf}:{edge}: readiness: no profile 'nosuch'" in res.stderr
