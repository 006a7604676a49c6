#!/usr/bin/python3
"""make bench: one device-to-backend chain built four ways on 127.0.0.1 and
measured in turn, with the others stopped:

  isthmus   device -> isthmus edge ==TLS 1.3/HTTP2==> isthmus cloud -> backend
  haproxy   device -> haproxy (tcp, ssl client) ==TLS 1.3==> haproxy (ssl) -> backend
  stunnel   device -> stunnel client ==TLS 1.3==> stunnel server -> backend
  direct    device -> backend

Every TLS hop is mutual TLS 1.3 with Ed25519 certificates from
`isthmus pki`. Peers and load tools are Debian's (haproxy, stunnel4, nginx,
iperf3, wrk). Each measure runs --repeat times; the table shows the median
and the spread (min..max), and the ratios isthmus/HAProxy and
isthmus/stunnel. Written to bench/results/latest.md.

No measure here is a pass/fail test: the targets of issue 4 are read off
the ratios.
"""

import argparse
import hashlib
import json
import os
import platform
import pwd
import re
import resource
import shutil
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import reportbench

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CHAINS = ("isthmus", "haproxy", "stunnel", "direct")
TICK = os.sysconf("SC_CLK_TCK")
NOFILE = 20000


MEASURES = ("bulk", "requests", "churn", "http", "idle", "admission",
            "cache", "manage", "report")
# measures that build no chain of gateways: each runs on its own
STANDALONE = {"cache", "report"}
# the manage measure: instructions sent one after another to edges of the
# ADMIT_EDGES held, each waited for
MANAGE_ROUNDS = 300
ADMIT_EDGES = 1000
# the cache measure: one file of CACHE_SIZE bytes, fetched through the
# isthmus edge's cache and through nginx proxy_cache
CACHE_SIDES = ("isthmus", "nginx")
CACHE_SIZE = 1 << 20
CACHE_PATH = "/firmware.bin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(NOFILE, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def listening(port):
    """True if something listens on TCP port (read from /proc, so the
    check opens no connection that a backend would see as a client)."""
    want = f":{port:04X} "
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and (f[1] + " ").endswith(want):
                return True
    return False


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if listening(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def cpu_seconds(pid):
    return sum(cpu_split(pid))


def cpu_split(pid):
    """(utime, stime) of pid in seconds."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(f[11]) / TICK, int(f[12]) / TICK


def rss_kb(pid, field="VmRSS"):
    """VmRSS (or VmHWM: the peak) of pid, in KB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def child_pid(parent, prefix, timeout=10):
    """The child of parent whose command line starts with prefix (nginx's
    worker process), found from /proc."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if int(stat[1]) == parent and cmd.decode(
                    errors="replace").startswith(prefix):
                return int(d.name)
        time.sleep(0.05)
    raise RuntimeError(f"no {prefix!r} child of {parent}")


def http_get(port, path):
    """GET http://127.0.0.1:port/path: (status, headers, body). Errors
    become RuntimeError, which attempt() reports."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                    timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
    except OSError as e:
        raise RuntimeError(f"GET 127.0.0.1:{port}{path}: {e}") from None


def prom_value(text, name, **labels):
    """The value of one sample of a Prometheus text page (0 if absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    sample = name + (f"{{{want}}}" if want else "")
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


def parse_wrk(out):
    """wrk --latency output: (req/s, requests, p50 ms, p99 ms, non-2xx/3xx
    responses, socket errors)."""
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    n = re.search(r"(\d+) requests in", out)
    if not m or not n:
        raise RuntimeError("wrk: no result: " + out.strip()[-200:])
    lat = {}
    for pct in ("50", "99"):
        p = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not p:
            raise RuntimeError(f"wrk: no p{pct} latency")
        v = float(p.group(1))
        lat[pct] = v / 1000 if p.group(2) == "us" else \
            v * 1000 if p.group(2) == "s" else v
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), "
                     r"write (\d+), timeout (\d+)", out)
    return (float(m.group(1)), int(n.group(1)), lat["50"], lat["99"],
            int(non2xx.group(1)) if non2xx else 0,
            sum(map(int, errs.groups())) if errs else 0)


class Proc:
    """A daemon of the bench, stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, name, argv, tmp, ready_port=None, **kw):
        self.name = name
        self.log = open(Path(tmp) / f"{name}.log", "w")
        argv = [str(a) for a in argv]
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=self.log,
                                  stdin=subprocess.DEVNULL,
                                  preexec_fn=raise_nofile, **kw)
        if ready_port is not None:
            try:
                wait_port(ready_port)
            except RuntimeError as e:
                self.stop()
                raise RuntimeError(f"{name}: {e}:\n" + (
                    Path(tmp) / f"{name}.log").read_text()) from None

    @property
    def pid(self):
        return self.p.pid

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = Path(args.bin).resolve()
        self.tmp = Path(tempfile.mkdtemp(prefix="isthmus-bench-"))
        self.pki = self.tmp / "pki"
        self.procs = []
        self.commands = {}
        self.failures = []

    # -- setup ------------------------------------------------------------

    def isthmus(self, *args):
        return subprocess.run([str(self.bin), *map(str, args)], check=True,
                              capture_output=True, text=True).stdout

    def make_pki(self):
        self.isthmus("pki", "init", self.pki)
        self.isthmus("pki", "issue", "cloud", "cloudgw", "--dns", "localhost",
                     "--ip", "127.0.0.1", "--ca", self.pki)
        self.isthmus("pki", "issue", "edge", "site1", "--tenant", "bench",
                     "--ca", self.pki)
        for n in ("cloudgw", "site1"):  # HAProxy wants cert + key in one
            (self.pki / f"{n}.pem").write_text(
                (self.pki / f"{n}.crt").read_text()
                + (self.pki / f"{n}.key").read_text())

    def spki(self, name):
        return json.loads(self.isthmus("pki", "show", "--json",
                                       self.pki / f"{name}.crt"))["spki_sha256"]

    def start(self, name, argv, ready_port=None, **kw):
        p = Proc(name, argv, self.tmp, ready_port, **kw)
        self.procs.append(p)
        self.commands[name] = shlex.join(map(str, argv))
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs = []

    def backends(self, kind):
        """kind 'iperf' or 'http': the backend, its port."""
        port = free_port()
        if kind == "iperf":
            self.start("iperf3-server", ["iperf3", "-s", "-p", port],
                       port)
        elif kind == "http":
            conf = self.tmp / "nginx.conf"
            conf.write_text(NGINX_CONF.format(tmp=self.tmp, port=port))
            self.start("nginx", ["nginx", "-c", conf, "-p", self.tmp], port)
        else:
            self.sink_count = self.tmp / "sink.count"
            self.sink_count.write_text("0")
            self.start("sink", [sys.executable, HERE / "sink.py", str(port),
                                self.sink_count], port)
        return port

    def wait_tunnel(self, sock, timeout=10):
        """Until the edge's `isthmus status` says the tunnel is up."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = subprocess.run([str(self.bin), "status", "--socket",
                                  str(sock), "--json"], capture_output=True,
                                 text=True).stdout
            if out and json.loads(out)["tunnel"]["state"] == "up":
                return
            time.sleep(0.05)
        raise RuntimeError("the isthmus tunnel did not come up")

    def chain(self, name, backend, mode="tcp", edge_extra="",
              listener_extra=""):
        """Starts chain `name` in front of backend; returns (device port,
        [gateway pids]). mode: the isthmus listener and service mode;
        edge_extra, listener_extra: more lines for the isthmus edge's
        [edge] and [listener app] sections."""
        if name == "direct":
            return backend, []
        front, mid = free_port(), free_port()
        t, pki = self.tmp, self.pki
        if name == "isthmus":
            cloud = t / "cloud.conf"
            cloud.write_text(CLOUD_CONF.format(
                port=mid, pki=pki, sock="cloud.sock", pin=self.spki("site1"), backend=backend,
                workers=self.args.workers, mode=mode))
            edge = t / "edge.conf"
            edge.write_text(EDGE_CONF.format(
                port=mid, front=front, pki=pki, pin=self.spki("cloudgw"),
                mode=mode, extra=edge_extra, listener_extra=listener_extra))
            c = self.start("isthmus-cloud", [self.bin, "cloud", "-c", cloud,
                                             "-q"], mid)
            e = self.start("isthmus-edge", [self.bin, "edge", "-c", edge,
                                            "-q"], front)
            self.wait_tunnel(t / "edge.sock")
            return front, [e.pid, c.pid]
        if name == "haproxy":
            ec, cc = t / "haproxy-edge.cfg", t / "haproxy-cloud.cfg"
            ec.write_text(HAPROXY_EDGE.format(front=front, mid=mid, pki=pki))
            cc.write_text(HAPROXY_CLOUD.format(mid=mid, backend=backend,
                                               pki=pki))
            c = self.start("haproxy-cloud", ["haproxy", "-db", "-f", cc], mid)
            e = self.start("haproxy-edge", ["haproxy", "-db", "-f", ec], front)
            return front, [e.pid, c.pid]
        if name == "stunnel":
            ec, cc = t / "stunnel-edge.conf", t / "stunnel-cloud.conf"
            ec.write_text(STUNNEL_EDGE.format(front=front, mid=mid, pki=pki,
                                              tmp=t))
            cc.write_text(STUNNEL_CLOUD.format(mid=mid, backend=backend,
                                               pki=pki, tmp=t))
            c = self.start("stunnel-cloud", ["stunnel4", cc], mid)
            e = self.start("stunnel-edge", ["stunnel4", ec], front)
            return front, [e.pid, c.pid]
        raise ValueError(name)

    # -- measures ---------------------------------------------------------

    def iperf(self, port, parallel):
        cmd = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t",
               str(self.args.seconds), "-P", str(parallel), "-J"]
        self.commands[f"bulk P{parallel}"] = " ".join(cmd)
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=self.args.seconds + 30)
        res = json.loads(out.stdout)
        if "error" in res:
            raise RuntimeError(res["error"])
        end = res["end"]["sum_received"]
        return end["bits_per_second"] / 1e9, end["bytes"]

    def wrk(self, port, close):
        cmd = ["wrk", "-t1", "-c50", f"-d{self.args.seconds}s", "--latency",
               f"http://127.0.0.1:{port}/"]
        if close:
            cmd[1:1] = ["-H", "Connection: close"]
        self.commands["churn" if close else "requests"] = " ".join(cmd)
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=self.args.seconds + 30).stdout
        rps, total, p50, p99, non2xx, _ = parse_wrk(out)
        if non2xx > total // 100:
            raise RuntimeError(f"wrk: Non-2xx or 3xx responses: {non2xx}")
        return rps, total, p50, p99

    def idle(self, port, pids, n):
        """RSS growth per idle device connection, in KB, per gateway."""
        before = [rss_kb(p) for p in pids]
        cmd = [sys.executable, HERE / "hold.py", str(port), str(n)]
        self.commands["idle"] = " ".join(map(str, cmd))
        h = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                             preexec_fn=raise_nofile)
        line = h.stdout.readline()     # "held N" once all are connected
        # every hop has its connection once the backend holds all n
        deadline = time.time() + 60
        while time.time() < deadline and \
                int(self.sink_count.read_text() or 0) < n:
            time.sleep(0.2)
        reached = int(self.sink_count.read_text() or 0)
        time.sleep(0.5)
        after = [rss_kb(p) for p in pids]
        h.send_signal(signal.SIGTERM)
        h.wait(30)
        if not line.startswith("held") or reached < n:
            raise RuntimeError(f"{line.strip()!r}; the backend holds "
                               f"{reached} of {n}")
        return [(a - b) / n for a, b in zip(after, before)]

    def make_edges(self):
        """ADMIT_EDGES edge certificates of tenant bench (once per run) and
        their pins, for the admission measure."""
        if getattr(self, "edge_pins", None):
            return self.edge_pins
        from concurrent.futures import ThreadPoolExecutor
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        d = self.tmp / "edges"
        d.mkdir(exist_ok=True)
        t0 = time.time()

        def issue(i):
            self.isthmus("pki", "issue", "edge", f"site{i}", "--tenant",
                         "bench", "--ca", self.pki, "--out", d / f"site{i}")
            cert = x509.load_pem_x509_certificate(
                (d / f"site{i}.crt").read_bytes())
            spki = cert.public_key().public_bytes(
                serialization.Encoding.DER,
                serialization.PublicFormat.SubjectPublicKeyInfo)
            return "sha256:" + hashlib.sha256(spki).hexdigest()

        with ThreadPoolExecutor(4) as ex:
            pins = list(ex.map(issue, range(1, ADMIT_EDGES + 1)))
        # the pin computed here is the one isthmus computes
        if pins[0] != json.loads(self.isthmus(
                "pki", "show", "--json", d / "site1.crt"))["spki_sha256"]:
            raise RuntimeError("edge pin mismatch")
        self.edge_dir, self.edge_pins = d, pins
        print(f"  {ADMIT_EDGES} edge certificates in "
              f"{time.time() - t0:.1f} s", file=sys.stderr, flush=True)
        return pins

    def admit(self, port, pid):
        """ADMIT_EDGES tunnels, one per certificate, against the gateway
        pid listening on port: (handshakes/s, per CPU-second)."""
        cmd = [self.bin.parent / "bench" / "admit", "--connect", f"127.0.0.1:{port}", "--ca",
               self.pki / "ca.crt", "--dir", self.edge_dir, "--prefix",
               "site", "--count", ADMIT_EDGES, "--concurrency", "32",
               "--timeout", "60"]
        self.commands["admission"] = " ".join(map(str, cmd))
        cpu0 = cpu_seconds(pid)
        out = subprocess.run(list(map(str, cmd)), capture_output=True,
                             text=True, timeout=90)
        cpu = cpu_seconds(pid) - cpu0
        res = json.loads(out.stdout)
        if res["admitted"] != ADMIT_EDGES:
            raise RuntimeError(f"admitted {res['admitted']} of "
                               f"{ADMIT_EDGES}: {res['first_error']}")
        return res["rate"], ADMIT_EDGES / cpu if cpu > 0 else None

    def manage_measure(self):
        """The management channel (isthmus only: no peer has one): the
        cloud holds ADMIT_EDGES edges (bench/manage_edges.py); its memory
        with and without their management streams, and the round trip of
        MANAGE_ROUNDS instructions (admin socket -> store -> edge ->
        store -> admin socket), one at a time over the edges."""
        import socket as sk

        pins = self.make_edges()
        edges = ",\n    ".join(f"site{i + 1}" for i in range(len(pins)))
        pinlines = "".join(f"[edge site{i + 1}]\npin = {p}\n\n"
                           for i, p in enumerate(pins))
        out, rss = {}, {}
        for manage in (False, True):
            self.stop_all()
            port, t = free_port(), self.tmp
            sock = t / f"cloud-manage{int(manage)}.sock"
            conf = t / f"cloud-manage{int(manage)}.conf"
            conf.write_text(ADMIT_CLOUD_CONF.format(
                port=port, pki=self.pki, workers=self.args.workers,
                sock=sock, edges=edges, pins=pinlines).replace(
                "[tenant bench]", f"state = {t}/manage{int(manage)}.db\n"
                "\n[tenant bench]"))
            cloud = self.start("isthmus-cloud", [
                self.bin, "cloud", "-c", conf, "-q"], port)
            holder = self.start("manage-edges", [
                sys.executable, HERE / "manage_edges.py", "--connect",
                f"127.0.0.1:{port}", "--dir", self.edge_dir, "--count",
                ADMIT_EDGES, "--ca", self.pki / "ca.crt"] +
                (["--manage"] if manage else []))
            log = t / "manage-edges.log"
            deadline = time.time() + 300
            while "held" not in log.read_text():
                if holder.p.poll() is not None or time.time() > deadline:
                    raise RuntimeError("manage-edges: " + log.read_text())
                time.sleep(0.2)
            time.sleep(2)
            rss[manage] = rss_kb(cloud.pid)
            if not manage:
                continue
            rtts = []
            for i in range(MANAGE_ROUNDS):
                req = json.dumps({"edge": f"site{1 + (i * 7) % ADMIT_EDGES}",
                                  "kind": "status", "wait": 10000})
                t0 = time.perf_counter()
                c = sk.socket(sk.AF_UNIX, sk.SOCK_STREAM)
                c.connect(str(sock))
                c.sendall(f"manage {req}\n".encode())
                ans = b""
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    ans += d
                c.close()
                rtts.append((time.perf_counter() - t0) * 1000)
                if json.loads(ans).get("state") != "ok":
                    raise RuntimeError(f"manage: {ans[:200]!r}")
            rtts.sort()
            out["manage_p50_ms"] = rtts[len(rtts) // 2]
            out["manage_p99_ms"] = rtts[int(len(rtts) * 0.99) - 1]
        out["manage_stream_kb"] = (rss[True] - rss[False]) / ADMIT_EDGES
        return out

    def admission_chain(self, name, workers):
        """The cloud side alone, in front of a backend: isthmus with all
        the edges pinned, or the HAProxy listener before a greeter."""
        pins = self.make_edges()
        port, t, pki = free_port(), self.tmp, self.pki
        if name == "isthmus":
            conf = t / "cloud-admit.conf"
            conf.write_text(ADMIT_CLOUD_CONF.format(
                port=port, pki=pki, workers=workers, sock="cloud-admit.sock",
                edges=",\n    ".join(f"site{i + 1}"
                                      for i in range(len(pins))),
                pins="".join(f"[edge site{i + 1}]\npin = {p}\n\n"
                             for i, p in enumerate(pins))))
            return port, self.start("isthmus-cloud", [
                self.bin, "cloud", "-c", conf, "-q"], port).pid
        greeter = free_port()
        self.start("greeter", [sys.executable, HERE / "greeter.py",
                               greeter], greeter)
        cfg = t / "haproxy-admit.cfg"
        cfg.write_text(HAPROXY_ADMIT.format(port=port, pki=pki,
                                            backend=greeter))
        return port, self.start("haproxy-cloud", ["haproxy", "-db", "-f",
                                                  cfg], port).pid

    def measure(self, name):
        """Every measure of chain `name`, once; returns {measure: value}."""
        r = {}

        def bulk(parallel):
            port, pids = self.chain(name, self.backends("iperf"))
            cpu0 = [cpu_seconds(p) for p in pids]
            gbps, nbytes = self.iperf(port, parallel)
            r[f"bulk{parallel}"] = gbps
            if parallel == 1 and pids:
                used = [cpu_seconds(p) - c for p, c in zip(pids, cpu0)]
                r["cpu_per_gb"] = sum(used) / (nbytes / 1e9)
                # pids are [edge, cloud]: where the cost is
                r["cpu_per_gb_edge"] = used[0] / (nbytes / 1e9)
                r["cpu_per_gb_cloud"] = used[1] / (nbytes / 1e9)

        def requests(close, mode="tcp"):
            port, pids = self.chain(name, self.backends("http"), mode)
            cpu0 = sum(cpu_seconds(p) for p in pids)
            rps, total, p50, p99 = self.wrk(port, close)
            key = "churn" if close else "rps"
            if mode == "http":
                key = "http_rps"
                r["http_p99_ms"] = p99
            r[key] = rps
            if not close and mode == "tcp":
                r["p50_ms"], r["p99_ms"] = p50, p99
            if pids:
                r[f"cpu_per_1k_{key}"] = (sum(cpu_seconds(p) for p in pids)
                                          - cpu0) / (total / 1000)

        def idle():
            port, pids = self.chain(name, self.backends("sink"))
            r["idle_edge_kb"], r["idle_cloud_kb"] = self.idle(
                port, pids, self.args.idle)

        only = self.args.only
        for parallel in (1, 8):
            if "bulk" in only:
                self.attempt(name, f"bulk -P {parallel}",
                             lambda: bulk(parallel))
        for close in (False, True):
            what = "churn" if close else "requests"
            if what in only:
                self.attempt(name, what, lambda: requests(close))
        if name == "isthmus" and "http" in only:
            # The edge parses each request and the cloud keeps backend
            # connections alive: HTTP mode against the TCP mode above.
            self.attempt(name, "requests, HTTP mode",
                         lambda: requests(False, "http"))
        def admission(key, workers):
            port, pid = self.admission_chain(name, workers)
            r[key], r[key + "_cpu"] = self.admit(port, pid)

        if name in ("isthmus", "haproxy") and "admission" in only:
            self.attempt(name, "admission",
                         lambda: admission("admit", self.args.workers))
            if name == "isthmus":
                self.attempt(name, "admission, 1 worker",
                             lambda: admission("admit_w1", "1"))
        if name == "isthmus" and "manage" in only:
            self.attempt(name, "management", lambda: r.update(
                self.manage_measure()))
        if name != "direct" and self.args.idle > 0 and "idle" in only:
            self.attempt(name, "idle memory", idle)
        return r

    # -- the cache measure: isthmus edge cache against nginx proxy_cache ---

    def cache_file(self):
        """The file of the cache measure (CACHE_SIZE random bytes, once per
        run) in a directory the origin serves: (directory, sha256)."""
        if getattr(self, "www", None) is None:
            self.www = self.tmp / "www"
            self.www.mkdir()
            data = os.urandom(CACHE_SIZE)
            (self.www / CACHE_PATH.lstrip("/")).write_bytes(data)
            self.cache_sha = hashlib.sha256(data).hexdigest()
        return self.www, self.cache_sha

    def origin(self, d):
        """The origin nginx in directory d: the file with Cache-Control:
        max-age=3600 and an ETag, each request logged to
        d/origin-access.log. Returns its port."""
        www, _ = self.cache_file()
        port = free_port()
        conf = d / "origin.conf"
        conf.write_text(NGINX_ORIGIN_CONF.format(d=d, port=port, www=www))
        self.start("nginx-origin", ["nginx", "-e", d / "origin-error.log",
                                    "-c", conf, "-p", d, "-g",
                                    "daemon off;"], port)
        return port

    @staticmethod
    def origin_fetches(d):
        """How many times the origin in d was asked for the file."""
        try:
            lines = (d / "origin-access.log").read_text().splitlines()
        except FileNotFoundError:
            return 0
        return sum(1 for l in lines if l.split()[:1] == [CACHE_PATH])

    def check_body(self, port, what):
        """One GET of the file through port: 200 and the file's bytes."""
        status, _, body = http_get(port, CACHE_PATH)
        if status != 200:
            raise RuntimeError(f"{what}: GET {CACHE_PATH} answered {status}")
        if hashlib.sha256(body).hexdigest() != self.cache_sha:
            raise RuntimeError(f"{what}: the body ({len(body)} bytes) is "
                               "not the file's (sha256 differs)")

    def cache_wrk(self, port):
        cmd = ["wrk", "-t2", "-c16", f"-d{self.args.seconds}s", "--latency",
               f"http://127.0.0.1:{port}{CACHE_PATH}"]
        self.commands["cache"] = " ".join(cmd)
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=self.args.seconds + 30).stdout
        rps, total, p50, p99, non2xx, errors = parse_wrk(out)
        if non2xx or errors:
            raise RuntimeError(f"wrk: {non2xx} non-2xx/3xx responses, "
                               f"{errors} socket errors")
        return rps, total, p50, p99

    def cache_measure(self, side):
        """The cache hit path of side ('isthmus': edge listener cache = on
        before an HTTP-mode cloud service; 'nginx': proxy_cache), both
        before the same origin nginx: {measure: value}."""
        d = Path(tempfile.mkdtemp(prefix=f"cache-{side}-", dir=self.tmp))
        origin = self.origin(d)
        cloud = scrape = None
        if side == "isthmus":
            mport = free_port()
            port, (pid, cloud) = self.chain(
                "isthmus", origin, "http",
                edge_extra=f"cache_dir = {d}/edge-cache\n"
                "cache_max_size = 1g\n"
                f"metrics = 127.0.0.1:{mport}\n",
                listener_extra="cache = on\n")
            wait_port(mport)

            def scrape():
                status, _, body = http_get(mport, "/metrics")
                if status != 200:
                    raise RuntimeError(f"edge /metrics answered {status}")
                text = body.decode()
                return {k: prom_value(text, "isthmus_cache_requests_total",
                                      result=k)
                        for k in ("hit", "miss", "coalesced", "revalidated",
                                  "stale", "bypass")}
        else:
            port = free_port()
            conf = d / "proxy.conf"
            conf.write_text(NGINX_CACHE_CONF.format(
                d=d, port=port, origin=origin,
                # as root, the worker would become nobody, which may not
                # enter the bench's 0700 temporary directory
                user="user root;\n" if os.geteuid() == 0 else ""))
            master = self.start("nginx-proxy-cache", [
                "nginx", "-e", d / "proxy-error.log", "-c", conf, "-p", d,
                "-g", "daemon off;"], port)
            pid = child_pid(master.pid, "nginx: worker process")

        # the first GET fills the cache, the second is a hit; the origin
        # serves the file once
        self.check_body(port, f"{side}, first GET")
        self.check_body(port, f"{side}, second GET")
        if self.origin_fetches(d) != 1:
            raise RuntimeError(f"{side}: the origin served the file "
                               f"{self.origin_fetches(d)} times while "
                               "warming, not once")
        if scrape:
            m = scrape()
            if m["miss"] != 1 or m["hit"] != 1:
                raise RuntimeError(f"edge cache after warming: {m}")
        user0, sys0 = cpu_split(pid)
        cloud0 = cpu_seconds(cloud) if cloud else 0
        rps, total, p50, p99 = self.cache_wrk(port)
        user1, sys1 = cpu_split(pid)
        cpu = user1 - user0 + sys1 - sys0
        r = {"rps": rps, "mbps": rps * CACHE_SIZE / (1 << 20),
             "p50_ms": p50, "p99_ms": p99,
             "cpu_per_1k": cpu / (total / 1000),
             "user_pct": 100 * (user1 - user0) / cpu if cpu else 0.0,
             "rss_peak_mb": rss_kb(pid, "VmHWM") / 1024}
        fetched = self.origin_fetches(d)
        if fetched != 1:
            raise RuntimeError(f"{side}: the origin served the file "
                               f"{fetched} times, not once")
        if scrape:
            r["cloud_cpu"] = cpu_seconds(cloud) - cloud0
            m = scrape()
            others = {k: v for k, v in m.items()
                      if k not in ("hit", "miss") and v}
            # wrk counts the answers it read to the end; the edge may have
            # begun one more per connection when wrk stopped
            if m["miss"] != 1 or others or \
                    not total + 1 <= m["hit"] <= total + 1 + 16:
                raise RuntimeError(f"edge cache after {total} requests of "
                                   f"wrk: {m}")
            r["hits"], r["requests"] = m["hit"] - 1, total
        return r

    def run(self):
        self.make_pki()
        results = {c: {} for c in self.args.chains}
        self.cache_results = {s: {} for s in CACHE_SIDES}
        try:
            for i in range(self.args.repeat):
                if self.args.only - STANDALONE:
                    for c in self.args.chains:
                        print(f"[{i + 1}/{self.args.repeat}] {c} ...",
                              file=sys.stderr, flush=True)
                        for k, v in self.measure(c).items():
                            results[c].setdefault(k, []).append(v)
                if "cache" not in self.args.only:
                    continue
                for side in CACHE_SIDES:
                    print(f"[{i + 1}/{self.args.repeat}] cache, {side} ...",
                          file=sys.stderr, flush=True)
                    r = self.attempt(side, "cache",
                                     lambda: self.cache_measure(side))
                    for k, v in (r or {}).items():
                        self.cache_results[side].setdefault(k, []).append(v)
            if "report" in self.args.only:
                # the readiness report needs no gateway running: its own
                # repeats, once (bench/reportbench.py)
                print("readiness report ...", file=sys.stderr, flush=True)
                self.report_results = self.attempt(
                    "isthmus", "readiness report",
                    lambda: reportbench.measure(self.args.bin,
                                                self.args.repeat))
        finally:
            self.stop_all()
        return results

    def attempt(self, chain, what, fn):
        """Runs one measure; a failure is reported in the table's notes
        and the run goes on."""
        try:
            return fn()
        except (RuntimeError, ValueError, AttributeError,
                subprocess.TimeoutExpired, json.JSONDecodeError) as e:
            msg = f"{chain} {what}: {str(e).splitlines()[0]}"
            print("  failed: " + msg, file=sys.stderr, flush=True)
            self.failures.append(msg)
            return None
        finally:
            self.stop_all()


# measure key, label, unit, higher is better
ROWS = [
    ("bulk1", "bulk, 1 connection (iperf3)", "Gbit/s", True),
    ("bulk8", "bulk, 8 connections (iperf3 -P 8)", "Gbit/s", True),
    ("rps", "small requests (wrk -c50, keep-alive)", "req/s", True),
    ("p50_ms", "  latency p50", "ms", False),
    ("p99_ms", "  latency p99", "ms", False),
    ("churn", "connection churn (Connection: close)", "req/s", True),
    ("http_rps", "small requests, isthmus in HTTP mode (wrk -c50)", "req/s",
     True),
    ("http_p99_ms", "  latency p99", "ms", False),
    ("cpu_per_1k_http_rps", "  CPU of both gateways per 1000 requests",
     "s", False),
    ("idle_edge_kb", "idle memory per device connection, edge", "KB",
     False),
    ("idle_cloud_kb", "idle memory per device connection, cloud", "KB",
     False),
    ("cpu_per_gb", "CPU of both gateways per GB (bulk, 1 conn)", "s", False),
    ("cpu_per_gb_edge", "  of which the edge gateway", "s", False),
    ("cpu_per_gb_cloud", "  of which the cloud gateway", "s", False),
    ("cpu_per_1k_rps", "CPU of both gateways per 1000 requests", "s",
     False),
    ("cpu_per_1k_churn", "CPU per 1000 new connections", "s", False),
    ("admit", f"tunnel admission, {ADMIT_EDGES:,} distinct edge "
     "certificates", "handshakes/s", True),
    ("admit_cpu", "  per CPU-second of the cloud gateway", "handshakes",
     True),
    ("admit_w1", "  isthmus cloud with workers = 1", "handshakes/s", True),
    ("admit_w1_cpu", "    per CPU-second", "handshakes", True),
    ("manage_p50_ms", f"instruction round trip p50, {ADMIT_EDGES:,} edges "
     "held (isthmus only)", "ms", False),
    ("manage_p99_ms", "  p99", "ms", False),
    ("manage_stream_kb", "memory per idle management stream, cloud", "KB",
     False),
]


def fmt(v):
    if v is None:
        return "–"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def cell(vals):
    if not vals:
        return "–", None
    med = statistics.median(vals)
    if len(vals) == 1:
        return fmt(med), med
    return f"{fmt(med)} ({fmt(min(vals))}..{fmt(max(vals))})", med


def tool_versions():
    def first(cmd, start=""):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True)
        except OSError:
            return "not found"
        lines = [l.strip() for l in (out.stdout + out.stderr).splitlines()
                 if l.strip().lower().startswith(start)]
        return lines[0] if lines else "unknown"
    return {
        "isthmus": None,
        "haproxy": first(["haproxy", "-v"]),
        "stunnel": first(["stunnel4", "-version"], "stunnel "),
        "nginx": first(["nginx", "-v"]),
        "iperf3": first(["iperf3", "--version"]),
        "wrk": first(["wrk", "--version"]),
        "openssl": first(["openssl", "version"]),
    }


def crypto_ceiling():
    """openssl speed of the negotiated suite: the crypto ceiling."""
    out = subprocess.run(["openssl", "speed", "-seconds", "2", "-bytes",
                          "16384", "-evp", "aes-256-gcm"],
                         capture_output=True, text=True).stdout
    m = re.search(r"^AES-256-GCM\s+([\d.]+)k", out, re.M | re.I)
    return float(m.group(1)) * 1000 * 8 / 1e9 if m else None


def report(bench, results, versions):
    cpu = next((l.split(":", 1)[1].strip() for l in
                Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    versions["isthmus"] = bench.isthmus("--version").strip()
    chains = bench.args.chains
    lines = [
        "# make bench: isthmus side by side with HAProxy and stunnel",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- CPU: {cpu}, {os.cpu_count()} cores (client, gateways and "
        "backend share them)",
        f"- each measure {bench.args.repeat}x, {bench.args.seconds} s; "
        "median (min..max)",
        "- mutual TLS 1.3, Ed25519 certificates from `isthmus pki`, "
        "all on 127.0.0.1",
        f"- isthmus cloud workers: {bench.args.workers}",
    ]
    ceiling = crypto_ceiling()
    if ceiling:
        lines.append(f"- crypto ceiling: one core seals {ceiling:.1f} "
                     "Gbit/s of AES-256-GCM (openssl speed -evp "
                     "aes-256-gcm, 16 KB blocks)")
    iso = results.get("isthmus", {})
    if iso.get("http_rps") and iso.get("rps"):
        lines.append("- isthmus HTTP mode over TCP mode, small requests: "
                     f"{statistics.median(iso['http_rps']) / statistics.median(iso['rps']):.2f}"
                     " (HTTP mode parses every request at the edge and "
                     "keeps the backend connections alive at the cloud)")
    rows = ROWS if bench.args.only - STANDALONE else []
    if rows:
        lines += ["", "| measure | unit | " + " | ".join(chains)
                  + " | isthmus/HAProxy | isthmus/stunnel |",
                  "|---|---|" + "---|" * (len(chains) + 2)]
    for key, label, unit, higher in rows:
        cells, meds = [], {}
        for c in chains:
            text, med = cell(results[c].get(key, []))
            cells.append(text)
            meds[c] = med
        ratios = []
        for peer in ("haproxy", "stunnel"):
            a, b = meds.get("isthmus"), meds.get(peer)
            ratios.append(f"{a / b:.2f}" if a and b else "–")
        lines.append(f"| {label} | {unit} | " + " | ".join(cells) + " | "
                     + " | ".join(ratios) + " |")
    if "cache" in bench.args.only:
        lines += cache_report(bench)
    if getattr(bench, "report_results", None):
        lines += reportbench.lines(bench.report_results, bench.args.repeat,
                                   bench.args.bin)
    if bench.failures:
        lines += ["", "Measures that failed (not in the medians):", ""]
        lines += [f"- {f}" for f in bench.failures]
    lines += ["", "Ratios are isthmus over the peer: above 1 is better for "
              "throughput rows, below 1 for latency, memory and CPU rows.",
              "", "## Versions", ""]
    lines += [f"- {k}: {v}" for k, v in versions.items()]
    lines += ["", "## Commands", ""]
    lines += [f"- {k}: `{v}`" for k, v in bench.commands.items()]
    lines += ["", "Configs of the peers are in bench/bench.py "
              "(HAPROXY_*, STUNNEL_*, NGINX_CONF, NGINX_ORIGIN_CONF, "
              "NGINX_CACHE_CONF)."]
    return "\n".join(lines) + "\n"


# the cache measure's rows: key, label, unit
CACHE_ROWS = [
    ("rps", "1 MB cache hits (wrk -t2 -c16, keep-alive)", "req/s"),
    ("mbps", "  throughput (req/s x 1 MB)", "MB/s"),
    ("p50_ms", "  latency p50", "ms"),
    ("p99_ms", "  latency p99", "ms"),
    ("cpu_per_1k", "CPU of the proxy process per 1000 requests", "s"),
    ("rss_peak_mb", "peak RSS of the proxy process (VmHWM)", "MB"),
]


def cache_report(bench):
    """The section of the cache measure: isthmus edge cache against nginx
    proxy_cache, ratios isthmus/nginx."""
    res = bench.cache_results
    iso = res["isthmus"]
    lines = [
        "", "## Edge HTTP cache: isthmus against nginx proxy_cache", "",
        f"- one file of {CACHE_SIZE:,} random bytes (1 MB = 2^20 bytes) "
        "from an origin nginx with `expires 1h` (`Cache-Control: "
        "max-age=3600`) and its ETag; both proxies stand before the same "
        "origin config, each with a fresh cache directory per run",
        "- isthmus: wrk -> isthmus edge (listener `mode = http`, "
        "`cache = on`, `cache_dir` on the local disk) ==TLS 1.3==> isthmus "
        "cloud (service `mode = http`) -> origin; a hit is answered by the "
        "edge alone",
        "- nginx: wrk -> nginx (`proxy_cache`, `proxy_cache_valid 200 1h`, "
        "HTTP/1.1 upstream keepalive to the origin, `sendfile on`, "
        "`tcp_nopush on`, no access log) -> origin; `worker_processes 1` "
        "because the isthmus edge is single-threaded",
        "- before wrk, on each side, two GETs (the first a miss that fills "
        "the cache) each checked to be 200 with the file's SHA-256",
        f"- load: `wrk -t2 -c16 -d{bench.args.seconds}s --latency` on the "
        "file's URL; CPU is utime+stime of the proxy process (the isthmus "
        "edge; the nginx worker) during wrk, per 1000 requests wrk "
        "completed; peak RSS is that process's VmHWM after wrk",
    ]
    if iso.get("hits"):
        hits, reqs = sum(iso["hits"]), sum(iso["requests"])
        lines.append(
            f"- hits: over the isthmus runs the edge counted {hits:,.0f} "
            "`isthmus_cache_requests_total{result=\"hit\"}` for the "
            f"{reqs:,} requests wrk completed, and `{{result=\"miss\"}}` "
            "was 1 in each run; on both sides the origin's access log "
            "showed exactly one request for the file per run")
    user = [statistics.median(res[s_]["user_pct"]) for s_ in CACHE_SIDES
            if res[s_].get("user_pct")]
    if len(user) == len(CACHE_SIDES):
        lines.append(
            "- user-space share of the proxy's CPU (median): isthmus "
            f"{user[0]:.1f} %, nginx {user[1]:.1f} %; the rest is kernel "
            "time: both send the body with sendfile, and on loopback the "
            "receive path of the TCP segments is mostly charged to the "
            "sender, so the CPU row varies with scheduling. wrk shares the "
            "machine's cores with the proxy")
    if iso.get("cloud_cpu"):
        lines.append("- the isthmus cloud used "
                     f"{statistics.median(iso['cloud_cpu']):.3g} CPU-s "
                     "(median) during wrk: hits do not cross the tunnel")
    lines += ["", "| measure | unit | isthmus | nginx | isthmus/nginx |",
              "|---|---|---|---|---|"]
    for key, label, unit in CACHE_ROWS:
        a, am = cell(iso.get(key, []))
        b, bm = cell(res["nginx"].get(key, []))
        ratio = f"{am / bm:.2f}" if am and bm else "–"
        lines.append(f"| {label} | {unit} | {a} | {b} | {ratio} |")
    return lines


# The daemons run as the bench's own user: `user = root` when it runs as
# root, the explicit choice a daemon started as root needs.
RUN_AS = pwd.getpwuid(os.geteuid()).pw_name

CLOUD_SECTION = """\
[cloud]
listen = 127.0.0.1:{port}
user = """ + RUN_AS + """
cert = {pki}/cloudgw.crt
key = {pki}/cloudgw.key
ca = {pki}/ca.crt
crl = {pki}/crl.pem
admin_socket = {sock}
workers = {workers}
"""

CLOUD_CONF = CLOUD_SECTION + """\

[tenant bench]
edges = site1

[edge site1]
pin = {pin}

[service bench/app]
backends = 127.0.0.1:{backend}
health = none
mode = {mode}
"""

EDGE_CONF = """\
[edge]
cloud = 127.0.0.1:{port}
user = """ + RUN_AS + """
server_name = localhost
cert = {pki}/site1.crt
key = {pki}/site1.key
ca = {pki}/ca.crt
cloud_pin = {pin}
admin_socket = edge.sock
{extra}
[listener app]
listen = 127.0.0.1:{front}
service = app
mode = {mode}
{listener_extra}"""

HAPROXY_COMMON = """\
global
    maxconn 9500
    log stderr format short local0 err
defaults
    mode tcp
    timeout connect 5s
    timeout client 5m
    timeout server 5m
"""

HAPROXY_EDGE = HAPROXY_COMMON + """\
frontend devices
    bind 127.0.0.1:{front}
    default_backend cloud
backend cloud
    server cloud 127.0.0.1:{mid} ssl crt {pki}/site1.pem ca-file {pki}/ca.crt verify required verifyhost localhost ssl-min-ver TLSv1.3
"""

HAPROXY_CLOUD = HAPROXY_COMMON + """\
frontend edges
    bind 127.0.0.1:{mid} ssl crt {pki}/cloudgw.pem ca-file {pki}/ca.crt verify required ssl-min-ver TLSv1.3
    default_backend app
backend app
    server app 127.0.0.1:{backend}
"""

STUNNEL_EDGE = """\
foreground = yes
pid =
output = {tmp}/stunnel-edge.out
debug = 3
[devices]
client = yes
accept = 127.0.0.1:{front}
connect = 127.0.0.1:{mid}
cert = {pki}/site1.crt
key = {pki}/site1.key
CAfile = {pki}/ca.crt
verifyChain = yes
checkHost = localhost
sslVersionMin = TLSv1.3
"""

STUNNEL_CLOUD = """\
foreground = yes
pid =
output = {tmp}/stunnel-cloud.out
debug = 3
[edges]
accept = 127.0.0.1:{mid}
connect = 127.0.0.1:{backend}
cert = {pki}/cloudgw.crt
key = {pki}/cloudgw.key
CAfile = {pki}/ca.crt
verifyChain = yes
requireCert = yes
sslVersionMin = TLSv1.3
"""

NGINX_ORIGIN_CONF = """\
master_process off;
worker_processes 1;
pid {d}/origin.pid;
error_log {d}/origin-error.log error;
events {{ worker_connections 4096; }}
http {{
    log_format fetch '$request_uri $status $body_bytes_sent';
    access_log {d}/origin-access.log fetch;
    client_body_temp_path {d}/origin-body;
    proxy_temp_path {d}/origin-proxy;
    fastcgi_temp_path {d}/origin-fcgi;
    uwsgi_temp_path {d}/origin-uwsgi;
    scgi_temp_path {d}/origin-scgi;
    sendfile on;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root {www};
        location / {{ expires 1h; }}
    }}
}}
"""

# nginx proxy_cache in front of the origin: the peer of the isthmus edge
# cache. One worker, as the isthmus edge is one thread.
NGINX_CACHE_CONF = """\
{user}worker_processes 1;
pid {d}/proxy.pid;
error_log {d}/proxy-error.log error;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {d}/proxy-body;
    proxy_temp_path {d}/proxy-temp;
    fastcgi_temp_path {d}/proxy-fcgi;
    uwsgi_temp_path {d}/proxy-uwsgi;
    scgi_temp_path {d}/proxy-scgi;
    proxy_cache_path {d}/proxy-cache levels=1:2 keys_zone=fw:10m max_size=1g inactive=60m use_temp_path=off;
    upstream origin {{
        server 127.0.0.1:{origin};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://origin;
            proxy_cache fw;
            proxy_cache_valid 200 1h;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log error;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


ADMIT_CLOUD_CONF = CLOUD_SECTION + """\

[tenant bench]
edges = {edges}

{pins}[service bench/app]
backends = 127.0.0.1:9
health = none
"""

HAPROXY_ADMIT = HAPROXY_COMMON + """\
frontend edges
    bind 127.0.0.1:{port} ssl crt {pki}/cloudgw.pem ca-file {pki}/ca.crt verify required ssl-min-ver TLSv1.3
    default_backend greeter
backend greeter
    server greeter 127.0.0.1:{backend}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=REPO / "build/release/isthmus")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--idle", type=int, default=9000,
                    help="idle device connections held (0: skip)")
    ap.add_argument("--workers", default="auto",
                    help="the isthmus cloud's workers (default auto)")
    ap.add_argument("--chains", default=",".join(CHAINS))
    ap.add_argument("--only", default=",".join(MEASURES),
                    help="measure groups to run (default: all of "
                    + ",".join(MEASURES) + ")")
    ap.add_argument("--out", default=HERE / "results/latest.md")
    args = ap.parse_args()
    args.chains = [c for c in args.chains.split(",") if c]
    args.only = set(m for m in args.only.split(",") if m)
    if not args.only <= set(MEASURES):
        ap.error(f"--only: choose among {','.join(MEASURES)}")
    raise_nofile()
    b = Bench(args)
    versions = tool_versions()
    try:
        results = b.run()
        text = report(b, results, versions)
    finally:
        shutil.rmtree(b.tmp, ignore_errors=True)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
