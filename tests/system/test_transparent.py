"""Transparent mode: devices keep dialling their server's own address; the
site's firewall (nftables redirect) hands the connections to the edge,
which reads where each was going (SO_ORIGINAL_DST, IPv4 and IPv6) and
carries it to the service its table maps that address to. Built in
network namespaces the test makes:

  ns dev (device)        ns gw (edge, nftables)        ns cl (cloud, backends)
  10.77.0.2, fd77::2 --> 10.77.0.1, fd77::1
  default route: gw      redirect tcp -> :15001/:15002
                         10.78.0.1 ---------------->   10.78.0.2 (cloud)
                                                       203.0.113.10, 2001:db8::10
                                                       (the backends' own addresses)

The gateway has no route to 203.0.113.10 and does not forward: a device
reaches its server only through the tunnel."""

import json
import os
import subprocess
import sys

import pytest

from isthmus_testlib import BIN, run

BACKEND = r'''
import socket, sys, threading
log = open(sys.argv[1], "a", buffering=1)
def serve(s):
    while True:
        c, peer = s.accept()
        threading.Thread(target=one, args=(c, peer, s.getsockname()),
                         daemon=True).start()
def one(c, peer, local):
    c.settimeout(10)
    data = c.recv(65536)
    log.write("%s %s %r\n" % (local[0], local[1], data[:40]))
    if local[1] == 80:
        body = b"firmware for " + data.split(b"\r\n")[0]
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body)
    else:
        c.sendall(b"backend " + local[0].encode() + b": " + data)
    c.close()
for addr in sys.argv[2:]:
    host, port = addr.rsplit(":", 1)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host.strip("[]"), int(port)))
    s.listen(64)
    threading.Thread(target=serve, args=(s,), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
'''

DEVICE = r'''
import json, socket, sys
host, port, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
try:
    c = socket.create_connection((host, port), 5)
    c.settimeout(5)
    c.sendall(payload)
    got = b""
    while True:
        d = c.recv(65536)
        if not d:
            break
        got += d
    print(json.dumps({"got": got.decode(errors="replace")}))
except ConnectionResetError:
    print(json.dumps({"error": "reset"}))
except ConnectionRefusedError:
    print(json.dumps({"error": "refused"}))
except OSError as e:
    print(json.dumps({"error": str(e)}))
'''


def sh(*cmds):
    for c in cmds:
        subprocess.run(c, shell=True, check=True, capture_output=True,
                       timeout=30)


@pytest.fixture
def lan(tmp_path):
    """Three namespaces wired as in the module's picture; names in a
    dict. Removed, with their interfaces, after the test."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    tag = f"{os.getpid() % 100000}"
    ns = {"dev": f"isdev{tag}", "gw": f"isgw{tag}", "cl": f"iscl{tag}"}
    d, g, c = ns["dev"], ns["gw"], ns["cl"]
    procs = []
    try:
        sh(f"ip netns add {d}", f"ip netns add {g}", f"ip netns add {c}",
           f"ip link add vd netns {d} type veth peer name vg netns {g}",
           f"ip link add vc netns {c} type veth peer name vgc netns {g}")
        for n in (d, g, c):
            sh(f"ip -n {n} link set lo up")
        sh(f"ip -n {d} addr add 10.77.0.2/24 dev vd",
           f"ip -n {d} -6 addr add fd77::2/64 dev vd nodad",
           f"ip -n {d} link set vd up",
           f"ip -n {d} route add default via 10.77.0.1",
           f"ip -n {d} -6 route add default via fd77::1",
           f"ip -n {g} addr add 10.77.0.1/24 dev vg",
           f"ip -n {g} -6 addr add fd77::1/64 dev vg nodad",
           f"ip -n {g} addr add 10.78.0.1/24 dev vgc",
           f"ip -n {g} link set vg up", f"ip -n {g} link set vgc up",
           f"ip -n {c} addr add 10.78.0.2/24 dev vc",
           f"ip -n {c} link set vc up",
           f"ip -n {c} addr add 203.0.113.10/32 dev lo",
           f"ip -n {c} -6 addr add 2001:db8::10/128 dev lo nodad")
        rules = tmp_path / "redirect.nft"
        # The snippet docs/edge.md ships, with the test's interface.
        rules.write_text(
            "table inet isthmus {\n"
            "  chain prerouting {\n"
            "    type nat hook prerouting priority dstnat; policy accept;\n"
            '    iifname "vg" tcp dport 80 redirect to :15002\n'
            '    iifname "vg" meta l4proto tcp redirect to :15001\n'
            "  }\n"
            "}\n")
        sh(f"ip netns exec {g} nft -f {rules}")
        log = tmp_path / "backend.log"
        log.touch()
        be = subprocess.Popen(
            ["ip", "netns", "exec", c, sys.executable, "-c", BACKEND,
             str(log), "203.0.113.10:8883", "[2001:db8::10]:8883",
             "203.0.113.10:80"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(be)
        assert be.stdout.readline().strip() == "ready"
        ns["backend_log"] = log
        yield ns
    finally:
        for p in procs:
            p.stdin.close()
            p.kill()
            p.wait()
        for n in ns.values():
            if isinstance(n, str):
                subprocess.run(["ip", "netns", "del", n],
                               capture_output=True)


def device(lan, host, port, payload):
    res = subprocess.run(
        ["ip", "netns", "exec", lan["dev"], sys.executable, "-c", DEVICE,
         host, str(port), payload],
        capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


MAP = ("[listener lan]\nlisten = [::]:15001\ntransparent = yes\n"
       "map = 203.0.113.10:8883 telemetry,\n"
       "    [2001:db8::10]:8883 telemetry6\n\n"
       "[listener web]\nlisten = 0.0.0.0:15002\ntransparent = yes\n"
       "mode = http\nmap = 203.0.113.10:80 firmware\n")


def _start(site, lan):
    cloud_conf = site.cloud_conf({
        "A/telemetry": (["203.0.113.10:8883"], ""),
        "A/telemetry6": (["[2001:db8::10]:8883"], ""),
        "A/firmware": (["203.0.113.10:80"], "mode = http\nhealth = none")})
    cloud_conf.write_text(cloud_conf.read_text().replace(
        "listen = 127.0.0.1:0", "listen = 10.78.0.2:0"))
    cloud = site.start("cloud", cloud_conf, netns=lan["cl"])
    conf = site.edge_conf("agw", cloud.port("listen"), {})
    conf.write_text(conf.read_text().replace(
        "cloud = 127.0.0.1:", "cloud = 10.78.0.2:") + "\n" + MAP)
    edge = site.start("edge", conf, netns=lan["gw"])
    edge.wait_log(r"event=tunnel_up")
    return cloud, edge, conf


def test_devices_reach_their_servers_own_addresses_through_the_tunnel(
        site, lan):
    cloud, edge, conf = _start(site, lan)
    # IPv4: the device dials its server's own address and port.
    assert device(lan, "203.0.113.10", 8883, "reading 1") == {
        "got": "backend 203.0.113.10: reading 1"}
    # IPv6, through the same listener (dual-stack [::]).
    assert device(lan, "2001:db8::10", 8883, "reading 2") == {
        "got": "backend 2001:db8::10: reading 2"}
    # HTTP to port 80 goes to the HTTP-mode transparent listener.
    got = device(lan, "203.0.113.10", 80,
                 "GET /fw.bin HTTP/1.1\r\nHost: 203.0.113.10\r\n"
                 "Connection: close\r\n\r\n")["got"]
    assert got.startswith("HTTP/1.1 200 OK\r\n")
    assert got.endswith("firmware for GET /fw.bin HTTP/1.1")
    # The cloud carried all three to the services the table names.
    text = cloud.text()
    assert text.count("event=tunnel_up edge=agw tenant=A") == 1
    log = lan["backend_log"].read_text()
    assert "203.0.113.10 8883 b'reading 1'" in log
    assert "2001:db8::10 8883 b'reading 2'" in log
    st = json.loads(run("status", "-c", conf, "--json", expect=0).stdout)
    li = {x["name"]: x for x in st["listeners"]}
    assert li["lan"]["transparent"]["map"] == [
        {"destination": "203.0.113.10:8883", "service": "telemetry"},
        {"destination": "[2001:db8::10]:8883", "service": "telemetry6"}]
    assert li["lan"]["devices_total"] == 2
    assert li["web"]["devices_total"] == 1

    # A destination the table does not name: reset, logged with where it
    # was going, counted; nothing reaches the cloud.
    streams = cloud.text().count("stream_connected")
    for host in ("203.0.113.99", "2001:db8::99"):
        assert device(lan, host, 8883, "lost") == {"error": "reset"}
    edge.wait_log(r"event=device_refused listener=lan device=\S+ "
                  r"original_dst=203\.0\.113\.99:8883 reason=unmapped")
    edge.wait_log(r"event=device_refused listener=lan device=\S+ "
                  r"original_dst=\[2001:db8::99\]:8883 reason=unmapped")
    # Same address, other port: unmapped too.
    assert device(lan, "203.0.113.10", 8884, "x") == {"error": "reset"}
    st = json.loads(run("status", "-c", conf, "--json", expect=0).stdout)
    li = {x["name"]: x for x in st["listeners"]}
    assert li["lan"]["transparent"]["unmapped"] == 3
    assert "b'lost'" not in lan["backend_log"].read_text()
    assert cloud.text().count("stream_connected") == streams
    text = run("status", "-c", conf, expect=0).stdout
    assert "transparent: 3 refused as unmapped" in text
    assert "203.0.113.10:8883        -> telemetry" in text
    # A connection made to the listener itself, not redirected (from the
    # gateway's own host): refused as such.
    res = subprocess.run(
        ["ip", "netns", "exec", lan["gw"], sys.executable, "-c", DEVICE,
         "127.0.0.1", "15001", "direct"],
        capture_output=True, text=True, timeout=30)
    assert json.loads(res.stdout) == {"error": "reset"}
    edge.wait_log(r"event=device_refused listener=lan device=127\.0\.0\.1:"
                  r"\d+ original_dst=127\.0\.0\.1:15001 "
                  r"reason=not_redirected")
    # Nothing else was disturbed: the tunnel is the same, devices still
    # get through.
    assert device(lan, "203.0.113.10", 8883, "again") == {
        "got": "backend 203.0.113.10: again"}
    assert edge.text().count("event=tunnel_up") == 1

    # Without the edge, the device reaches nothing: no route around the
    # tunnel.
    edge.stop()
    assert "error" in device(lan, "203.0.113.10", 8883, "direct")
    assert "b'direct'" not in lan["backend_log"].read_text()


def test_doctor_checks_the_mapped_services(site, lan):
    _start(site, lan)
    conf = site.tmp / "edge-agw.conf"
    res = subprocess.run(["ip", "netns", "exec", lan["gw"],
                          str(BIN),
                          "doctor", "-c", str(conf), "--json"],
                         capture_output=True, text=True, timeout=60)
    out = json.loads(res.stdout)
    assert res.returncode == 0, res.stdout
    names = [s["name"] for s in out["steps"]]
    assert names[-3:] == ["service telemetry", "service telemetry6",
                          "service firmware"]


BAD = [
    ("transparent = yes\n", "map: a transparent listener needs its table"),
    ("transparent = yes\nservice = t\nmap = 192.0.2.1:80 t\n",
     "service: a transparent listener takes its services from map"),
    ("service = t\nmap = 192.0.2.1:80 t\n",
     "map: only for a listener with transparent = yes"),
    ("transparent = yes\nmap = server.example:80 t\n",
     "'server.example:80': the destination must be an IP address"),
    ("transparent = yes\nmap = 192.0.2.1:80\n",
     "'192.0.2.1:80' is not ADDRESS:PORT SERVICE"),
    ("transparent = yes\nmap = 192.0.2.1:80 bad/name\n",
     "invalid service name 'bad/name'"),
    ("transparent = yes\nmap = 192.0.2.1 t\n", "map: "),
    ("transparent = yes\nmap = 192.0.2.1:80 t, 192.0.2.1:80 u\n",
     "192.0.2.1:80 is mapped twice"),
    # the IPv4-mapped form is the same destination
    ("transparent = yes\nmap = 192.0.2.1:80 t,\n  [::ffff:192.0.2.1]:80 u\n",
     "[::ffff:192.0.2.1]:80 is mapped twice"),
    ("", "service: required in [listener lan]"),
]


@pytest.mark.parametrize("body,message", BAD)
def test_bad_tables_are_refused(site, body, message):
    conf = site.edge_conf("agw", 1, {})
    conf.write_text(conf.read_text() + "\n[listener lan]\nlisten = "
                    "127.0.0.1:0\n" + body)
    res = run("edge", "-c", conf, "--check", expect=2)
    line = conf.read_text().splitlines().index("[listener lan]") + 1
    assert f"{conf}:{line}: " in res.stderr, res.stderr
    assert message in res.stderr, res.stderr
    assert res.stdout == ""
