"""Helpers for tunnel tests: real isthmus cloud/edge processes, real TLS,
real sockets on 127.0.0.1, backends that are plain Python TCP servers.

Topology built by `two_customers` (the seeds' proof of concept):

    device --> edge agw (tenant A) ==TLS 1.3==> cloud --> A/telemetry: a1, a2
    device --> edge bgw (tenant B) ============>       --> B/telemetry: b1
"""

import json
import os
import pwd
import shlex
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from isthmus_testlib import BIN, SANITIZER_MARKERS, _env, run

READY_TIMEOUT = 20


class Backend:
    """A TCP server on 127.0.0.1:0. Each connection gets `tag` + newline
    first (so a test can tell backends apart), then an echo of what it
    receives; it half-closes after the client does."""

    def __init__(self, tag, port=0, http_status=None):
        self.tag = tag.encode()
        self.http_status = http_status
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.accepted = 0
        self.peers = []
        self._stop = False
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    def _serve(self):
        while not self._stop:
            try:
                c, peer = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.peers.append(peer)
            threading.Thread(target=self._handle, args=(c,),
                             daemon=True).start()

    def _handle(self, c):
        try:
            if self.http_status is not None:
                # an HTTP health endpoint: one status line, then close
                c.recv(4096)
                c.sendall(b"HTTP/1.1 %d X\r\nContent-Length: 0\r\n"
                          b"Connection: close\r\n\r\n" % self.http_status)
                return
            c.sendall(self.tag + b"\n")
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self._stop = True
        self.sock.close()


def free_port():
    """A port for a daemon to bind next (bound then closed: free now, but
    anyone may take it; for a port that must stay dead, use dead_port)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


_held = []


def dead_port(addr="127.0.0.1", port=0):
    """A port where a connection is refused for the rest of the run: it
    stays bound, without listening, so no other process can listen there
    and the kernel never hands it out as a source port (a port that was
    merely free could be taken by anything else on the machine). port:
    that one on addr (beside a daemon's on another address), else any."""
    s = socket.socket()
    s.bind((addr, port))
    _held.append(s)
    return s.getsockname()[1]


def with_etc(resolv_conf=None, hosts=None):
    """A command prefix: what follows runs in a mount namespace of its own
    where these files are /etc/resolv.conf and /etc/hosts (needs root).
    exec keeps the PID."""
    binds = [f"mount --bind {shlex.quote(str(src))} /etc/{name}"
             for name, src in (("resolv.conf", resolv_conf),
                               ("hosts", hosts)) if src]
    return ["unshare", "-m", "sh", "-c",
            " && ".join(binds + ['exec "$@"']), "sh"]


class Daemon:
    """isthmus cloud|edge with a config file; waits for its readiness line
    on stdout. stop() sends SIGTERM and expects exit 0 and no sanitizer
    report in the log. netns: run it in that network namespace (ip netns
    exec replaces itself with the daemon: the PID is the daemon's).
    resolv_conf, hosts: the files it sees as /etc/resolv.conf and
    /etc/hosts. wrap: a command prefix that execs the daemon (its PID
    stays). wait=False: returns at once; wait_ready() reads the line."""

    def __init__(self, kind, conf, tmp, env=None, netns=None,
                 resolv_conf=None, hosts=None, wrap=None, wait=True):
        self.kind = kind
        self.conf = conf
        self.log_path = Path(tmp) / f"{kind}-{conf.stem}.log"
        self.log = open(self.log_path, "w")
        prefix = ["ip", "netns", "exec", netns] if netns else []
        if resolv_conf or hosts:
            prefix += with_etc(resolv_conf, hosts)
        prefix += wrap or []
        self.proc = subprocess.Popen(
            prefix + [str(BIN), kind, "-c", str(conf), "-v"],
            stdout=subprocess.PIPE, stderr=self.log, text=True,
            env=_env(env), stdin=subprocess.DEVNULL)
        self.ready = self.wait_ready() if wait else None

    def wait_ready(self):
        self.ready = self._wait_ready()
        return self.ready

    def _wait_ready(self):
        deadline = time.time() + READY_TIMEOUT
        line = ""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("ready "):
                return dict(kv.split("=", 1) for kv in line.split()[2:])
            if line == "" and self.proc.poll() is not None:
                break
        raise AssertionError(f"{self.kind} not ready: {line!r}\n"
                             + self.text())

    def port(self, key):
        return int(self.ready[key].rsplit(":", 1)[1])

    def text(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_log(self, pattern, timeout=10, count=1):
        """Waits until `pattern` (a regex) matched `count` log lines."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = re.findall(pattern, self.text())
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in {self.kind} log:\n"
                             + self.text())

    def check_clean(self):
        text = self.text()
        for m in SANITIZER_MARKERS:
            assert m not in text, f"sanitizer report in {self.kind}:\n{text}"

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20):
        if self.log.closed:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.kind} did not stop on SIGTERM\n"
                                 + self.text())
        self.proc.stdout.close()
        self.log.close()
        self.check_clean()
        assert rc == 0, f"{self.kind} exited {rc}\n" + self.text()


def spki(path):
    res = run("pki", "show", "--json", path, expect=0)
    return json.loads(res.stdout)["spki_sha256"]


def exchange(port, payload=b"", timeout=10):
    """Connects to a device listener, sends payload, half-closes, and
    returns everything received until the other side closes."""
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got = bytearray()

    def reader():
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                got.extend(d)
        except OSError:
            return

    t = threading.Thread(target=reader)
    t.start()
    try:
        if payload:
            c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
    except OSError:
        pass    # a refused stream may close the connection first
    t.join(timeout)
    c.close()
    return bytes(got)


# Whom the daemons run as: the tests' own user. As root that is `user =
# root`, the explicit choice a daemon started as root needs (privdrop.h):
# the test directories are root's alone, so a daemon that became another
# user could not reach them. test_privdrop.py gives root up for real.
RUN_AS = pwd.getpwuid(os.geteuid()).pw_name


class Site:
    """The PKI and configs of a two-customer deployment in tmp."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.pki = self.tmp / "pki"
        # Made anew for each test by isthmus pki. Leak checking, which
        # costs each sanitized process about 50 ms at exit, is left to
        # test_pki.py here: this runs before most system tests, and
        # those four exits were a third of a short test's time.
        quick = {"ASAN_OPTIONS": "detect_leaks=0"}
        run("pki", "init", self.pki, expect=0, env=quick)
        run("pki", "issue", "cloud", "cloudgw", "--dns", "localhost",
            "--ip", "127.0.0.1", "--ca", self.pki, expect=0, env=quick)
        for edge, tenant in (("agw", "A"), ("bgw", "B")):
            run("pki", "issue", "edge", edge, "--tenant", tenant,
                "--ca", self.pki, expect=0, env=quick)
        self.daemons = []
        self.backends = []

    def backend(self, tag, **kw):
        b = Backend(tag, **kw)
        self.backends.append(b)
        return b

    def cloud_conf(self, services, edges=None, extra=""):
        """services: {"A/telemetry": [Backend|addr, ...]} or with options
        {"A/x": ([...], "balance = hash")}. edges: {name: (tenant, pin)}."""
        if edges is None:
            edges = {"agw": ("A", spki(self.pki / "agw.crt")),
                     "bgw": ("B", spki(self.pki / "bgw.crt"))}
        tenants = {}
        for name, (tenant, _) in edges.items():
            tenants.setdefault(tenant, []).append(name)
        lines = ["[cloud]", "listen = 127.0.0.1:0", f"user = {RUN_AS}",
                 f"cert = {self.pki}/cloudgw.crt",
                 f"key = {self.pki}/cloudgw.key",
                 f"ca = {self.pki}/ca.crt", f"crl = {self.pki}/crl.pem",
                 "drain_timeout = 5s", extra, ""]
        for tenant, names in tenants.items():
            lines += [f"[tenant {tenant}]", "edges = " + ", ".join(names), ""]
        for name, (_, pin) in edges.items():
            lines += [f"[edge {name}]", f"pin = {pin}", ""]
        for svc, spec in services.items():
            opts = ""
            if isinstance(spec, tuple):
                spec, opts = spec
            addrs = [b if isinstance(b, str) else b.addr for b in spec]
            lines += [f"[service {svc}]", "backends = " + ", ".join(addrs),
                      "connect_timeout = 1s", opts, ""]
        path = self.tmp / "cloud.conf"
        path.write_text("\n".join(lines))
        return path

    def edge_conf(self, edge, cloud_port, listeners, extra="", cert=None,
                  pin=None):
        """listeners: {name: service} or {name: (service, "key = v\n...")}."""
        cert = cert or self.pki / edge
        lines = ["[edge]", f"cloud = 127.0.0.1:{cloud_port}",
                 f"user = {RUN_AS}",
                 "server_name = localhost", f"cert = {cert}.crt",
                 f"key = {cert}.key", f"ca = {self.pki}/ca.crt",
                 f"cloud_pin = {pin or spki(self.pki / 'cloudgw.crt')}",
                 "reconnect_min = 50ms", "reconnect_max = 500ms",
                 "keepalive = 1s", "keepalive_timeout = 2s", extra, ""]
        if "admin_socket" not in extra:
            lines.insert(1, f"admin_socket = {edge}.sock")
        for name, svc in listeners.items():
            opts = ""
            if isinstance(svc, tuple):
                svc, opts = svc
            lines += [f"[listener {name}]", "listen = 127.0.0.1:0",
                      f"service = {svc}", opts, ""]
        path = self.tmp / f"edge-{edge}.conf"
        path.write_text("\n".join(lines))
        return path

    def start(self, kind, conf, env=None, netns=None, resolv_conf=None,
              hosts=None, wrap=None, wait=True):
        d = Daemon(kind, conf, self.tmp, env, netns, resolv_conf, hosts,
                   wrap, wait)
        self.daemons.append(d)
        return d

    def close(self):
        errors = []
        for d in reversed(self.daemons):
            try:
                d.stop()
            except AssertionError as e:
                errors.append(str(e))
        for b in self.backends:
            b.close()
        assert not errors, "\n".join(errors)


def up(site, services, listeners_a=None, listeners_b=None, **kw):
    """Starts the cloud with services and, for each listeners dict given,
    that customer's edge; returns once every edge's tunnel is up."""
    cloud = site.start("cloud", site.cloud_conf(services, **kw))
    port = cloud.port("listen")
    edges = {}
    for name, ls in (("agw", listeners_a), ("bgw", listeners_b)):
        if ls is not None:
            edges[name] = site.start("edge", site.edge_conf(name, port, ls))
    for e in edges.values():
        e.wait_log(r"event=tunnel_up")
    return cloud, edges


def scrape(daemon):
    """GET /metrics of a daemon started with `metrics = ...`, parsed with
    Debian's prometheus_client (a format error fails the test):
    {(name, ((label, value), ...)): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(
            f"http://{daemon.ready['metrics']}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith(
            "text/plain; version=0.0.4")
        text = r.read().decode()
    samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def eventually(cond, timeout=10):
    """Polls cond until true or timeout; returns its last answer."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()
