"""PROXY protocol v2 as real consumers read it: Debian's nginx
(`listen ... proxy_protocol`, $proxy_protocol_addr) and HAProxy
(`accept-proxy`, %[src]) as backends of a `proxy_protocol = yes` service.

    device (127.0.0.1 | ::1) --> edge agw ==TLS 1.3==> cloud
        --PROXY v2 + HTTP/1.0--> nginx | haproxy on 127.0.0.1 or [::1]

Each backend answers with the device address and port it read from the
header; every pair of families is tried, the mixed ones being those that
need TCP over IPv6 with the IPv4 side mapped (::ffff:a.b.c.d). nginx and
HAProxy run in the foreground as this user, with their own config, pid and
log files in the test's directory, on free ports.
"""

import shutil
import socket
import subprocess
import time

import pytest

from isthmus_testlib import run


# /usr/sbin may not be on an unprivileged user's PATH.
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def free_port_on(host):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bracket(host):
    return f"[{host}]" if ":" in host else host


class _Server:
    """A real server in the foreground, stopped by its PID."""

    name = "server"

    def __init__(self, tmp, host):
        self.tmp = tmp
        self.host = host
        self.port = free_port_on(host)
        self.addr = f"{bracket(host)}:{self.port}"
        self.log_path = tmp / f"{self.name}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.argv(), stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection((host, self.port), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"{self.name} did not start:\n" + self.text())

    def text(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()


class Nginx(_Server):
    name = "nginx"

    def argv(self):
        t = self.tmp
        conf = t / "nginx.conf"
        temp = "".join(f"    {k}_temp_path {t}/nginx-{k};\n" for k in
                       ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf.write_text(f"""daemon off;
master_process off;
worker_processes 1;
pid {t}/nginx.pid;
error_log {t}/nginx-error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {t}/nginx-access.log;
{temp}    server {{
        listen {self.addr} proxy_protocol;
        location / {{
            return 200 "$proxy_protocol_addr $proxy_protocol_port\\n";
        }}
    }}
}}
""")
        return [NGINX, "-p", str(t), "-c", str(conf), "-e",
                str(t / "nginx-error.log")]

    def text(self):
        err = self.tmp / "nginx-error.log"
        return super().text() + (err.read_text(errors="replace")
                                 if err.exists() else "")


class HAProxy(_Server):
    name = "haproxy"

    def argv(self):
        conf = self.tmp / "haproxy.cfg"
        conf.write_text(f"""global
    log stderr format raw local0 info
    pidfile {self.tmp}/haproxy.pid
defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend fe
    bind {self.addr} accept-proxy
    http-request return status 200 content-type text/plain lf-string "%[src] %[src_port]\\n"
""")
        return [HAPROXY, "-db", "-f", str(conf)]


def device_on(site, server, device_host):
    """A TCP service A/pp whose backend is server, and an edge listener on
    device_host; returns (edge, listener port)."""
    cloud = site.start("cloud", site.cloud_conf(
        {"A/pp": ([server.addr], "proxy_protocol = yes\nhealth = none")}))
    conf = site.edge_conf("agw", cloud.port("listen"), {"pp": "pp"})
    conf.write_text(conf.read_text().replace(
        "listen = 127.0.0.1:0", f"listen = {bracket(device_host)}:0"))
    edge = site.start("edge", conf)
    edge.wait_log(r"event=tunnel_up")
    return edge, edge.port("listener.pp")


def ask(host, port):
    """GET / from host: the answer's body and the device's own port."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    c = socket.socket(fam)
    c.settimeout(10)
    c.connect((host, port))
    sport = c.getsockname()[1]
    c.sendall(b"GET / HTTP/1.0\r\nHost: pp\r\n\r\n")
    got = b""
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += d
    except OSError:
        pass        # HAProxy resets on a header it refuses
    c.close()
    return got, sport


# (device, backend): the same family, and each mixed pair.
PAIRS = [("127.0.0.1", "127.0.0.1"), ("::1", "::1"),
         ("127.0.0.1", "::1"), ("::1", "127.0.0.1")]


@pytest.mark.parametrize("kind", [Nginx, HAProxy], ids=["nginx", "haproxy"])
@pytest.mark.parametrize("device,backend", PAIRS,
                         ids=["v4-v4", "v6-v6", "v4-v6", "v6-v4"])
def test_real_consumers_read_the_device_address(site, tmp_path, kind, device,
                                                backend):
    server = kind(tmp_path, backend)
    try:
        edge, port = device_on(site, server, device)
        got, sport = ask(device, port)
        head, _, body = got.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), (got, server.text())
        # An IPv4 device behind an IPv6 header is mapped, as HAProxy's
        # own sender writes it.
        want = device if device == "::1" or backend == device else \
            "::ffff:" + device
        assert body.decode().split() == [want, str(sport)], server.text()
        # Neither complained about a header (HAProxy's words, nginx's).
        for complaint in ("invalid PROXY protocol header", "broken header"):
            assert complaint not in server.text()
    finally:
        server.stop()


def test_proxy_protocol_on_an_http_service_is_refused(site):
    conf = site.cloud_conf({"A/web": (["127.0.0.1:9"],
                                      "mode = http\nproxy_protocol = yes")})
    res = run("cloud", "-c", conf, "--check", expect=2)
    line = next(i for i, l in enumerate(conf.read_text().splitlines(), 1)
                if l == "[service A/web]")
    assert res.stderr.strip() == (
        f"{conf}:{line}: proxy_protocol: a mode = http service sends no "
        "PROXY header (one backend connection carries many devices' "
        "requests); use identity_headers = yes for the device's address")
    # The same service in TCP mode, or in HTTP mode without it, is fine.
    conf = site.cloud_conf({"A/web": (["127.0.0.1:9"],
                                      "mode = tcp\nproxy_protocol = yes")})
    run("cloud", "-c", conf, "--check", expect=0)
    conf = site.cloud_conf({"A/web": (["127.0.0.1:9"], "mode = http")})
    run("cloud", "-c", conf, "--check", expect=0)
