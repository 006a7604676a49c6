"""Collectors (docs/trust.md, "Collectors"): the edge polls device HTTPS
APIs and delivers each answer through the tunnel.

    device (python ssl, self-signed) <-- edge --tunnel--> cloud --> backend
        127.0.0.1:port                collector [x]           HTTPBackend

Every device here is a small HTTPS server of the test with a certificate
the test makes (no host name in it, as devices have); the backend records
what the cloud forwards. Intervals are 1 s and timeouts 1-2 s, so each
outcome shows within a few seconds.
"""

import datetime
import hashlib
import ipaddress
import json
import os
import re
import signal
import socket
import ssl
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from http_lib import HTTPBackend
from isthmus_testlib import run
from tunnel_lib import eventually, scrape, value

BODY = b'{"temperature": 21.5}'


# --- Certificates --------------------------------------------------------

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(tmp, stem, cn, issuer=None, dns=None, valid=(-1, 365)):
    """A certificate for cn (self-signed unless issuer=(cert, key)), with
    no host name unless dns, valid from and to those days from now;
    writes STEM.crt and STEM.key, returns
    (crt path, key path, sha256:HEX of its DER)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(cn))
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now + datetime.timedelta(days=valid[0]))
         .not_valid_after(now + datetime.timedelta(days=valid[1])))
    if issuer is None:
        b = b.issuer_name(_name(cn))
        sign = key
    else:
        b = b.issuer_name(issuer[0].subject)
        sign = issuer[1]
    if dns == "CA":
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=0),
                            critical=True)
    elif dns is not None and dns.startswith("IP:"):
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address(dns[3:]))]),
            critical=False)
    elif dns is not None:
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(dns)]), critical=False)
    cert = b.sign(sign, hashes.SHA256())
    crt, keyp = tmp / f"{stem}.crt", tmp / f"{stem}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyp.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    fp = "sha256:" + hashlib.sha256(
        cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return crt, keyp, fp, cert, key


# --- A device -------------------------------------------------------------

class Device:
    """An HTTPS API on 127.0.0.1. mode: ok (answers body), hang_tcp (never
    speaks TLS), hang_http (TLS, then silence), big (more than asked
    for), garbage (TLS, then no HTTP). Records TCP connections, finished
    handshakes and every request it read."""

    def __init__(self, tmp, stem, mode="ok", port=0, cert=None,
                 max_version=None):
        if cert is None:
            cert = make_cert(tmp, stem, f"DEV-{stem}")
        self.crt, self.key, self.fp = cert[0], cert[1], cert[2]
        self.mode = mode
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(self.crt, self.key)
        if max_version is not None:
            self.ctx.maximum_version = max_version
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.handshakes = 0
        self.ended = 0              # held connections the edge closed
        self.requests = []          # (method, path, {header: value}, body)
        self.raw = bytearray()      # every byte read after a handshake
        self.lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._handle, args=(c,),
                             daemon=True).start()

    def _hold(self, s):
        """Reads until the edge gives up."""
        try:
            while not self._stop.is_set() and s.recv(4096):
                pass
        except OSError:
            pass
        with self.lock:
            self.ended += 1

    def _read_request(self, s):
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                return None
            buf += d
            with self.lock:
                self.raw += d
        head, body = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        method, path, _ = lines[0].split(" ")
        hdrs = {}
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        while len(body) < n:
            d = s.recv(65536)
            if not d:
                break
            body += d
        return method, path, hdrs, body

    def _handle(self, c):
        c.settimeout(15)
        try:
            if self.mode == "hang_tcp":
                self._hold(c)
                return
            s = self.ctx.wrap_socket(c, server_side=True)
            with self.lock:
                self.handshakes += 1
            if self.mode == "hang_http":
                self._hold(s)
                return
            if self.mode == "garbage":
                s.sendall(b"\x16\x03 this is no HTTP at all\r\n\r\n")
                s.close()
                return
            req = self._read_request(s)
            if req is None:
                return
            with self.lock:
                self.requests.append(req)
            body = BODY if self.mode == "ok" else b"x" * 5000
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json"
                      b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            s.close()
        except (OSError, ValueError):
            pass
        finally:
            c.close()

    def close(self):
        self._stop.set()
        try:    # wakes the accept() (close alone leaves it listening)
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


# --- The site ----------------------------------------------------------------

def collector(name, url, trust="tofu", extra="", interval="1s",
              timeout="1s"):
    return (f"\n[collector {name}]\nurl = {url}\nservice = telemetry\n"
            f"interval = {interval}\ntimeout = {timeout}\n"
            f"trust = {trust}\n{extra}\n")


class Collecting:
    """A cloud with the HTTP service A/telemetry (identity_headers off:
    the collector's fields come regardless) on a recording backend, and
    edge agw with the collectors given."""

    def __init__(self, site, collectors, extra="", cloud_extra=""):
        self.site = site
        self.backend = HTTPBackend()
        self.backend.handler = lambda req: (200, b"taken")
        site.backends.append(self.backend)
        self.cloud = site.start("cloud", site.cloud_conf(
            {"A/telemetry": ([self.backend.addr], "mode = http")},
            extra=cloud_extra))
        self.conf = site.edge_conf("agw", self.cloud.port("listen"), {},
                                   extra="metrics = 127.0.0.1:0\n" + extra)
        self.conf.write_text(self.conf.read_text() + collectors)
        self.edge = None
        self.start()

    def start(self):
        self.edge = self.site.start("edge", self.conf)
        self.edge.wait_log(r"event=tunnel_up")

    def deliveries(self, name):
        with self.backend.lock:
            return [r for r in self.backend.requests
                    if r.header("x-isthmus-collector") == name]

    def outcomes(self, name, outcome):
        return re.findall(rf"event=collect collector={name} "
                          rf"outcome={outcome}\b.*", self.edge.text())

    def metric(self, name, **labels):
        return value(scrape(self.edge), name, **labels)

    def trust(self, *args, expect=0):
        return run("trust", "-c", self.conf, *args, expect=expect)


def entries(col):
    res = col.trust("list", "--json")
    return json.loads(res.stdout)["entries"]


# --- Tests ----------------------------------------------------------------------

def test_pin_delivers_with_the_collector_fields(site):
    dev = Device(site.tmp, "meter")
    site.backends.append(dev)
    col = Collecting(site, collector(
        "meter-1", f"https://127.0.0.1:{dev.port}/api/v1/reports?latest=1",
        trust=f"pin {dev.fp}", extra="target = /ingest"))
    assert eventually(lambda: len(col.deliveries("meter-1")) >= 2, 10)
    d = col.deliveries("meter-1")[0]
    assert d.method == "POST" and d.path == "/ingest"
    assert d.body == BODY
    assert d.header("content-type") == "application/json"
    assert d.header("x-isthmus-collector-url") == \
        f"https://127.0.0.1:{dev.port}/api/v1/reports?latest=1"
    assert d.header("x-isthmus-collector-fingerprint") == dev.fp
    assert d.header("x-isthmus-collector-status") == "200"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
                        d.header("x-isthmus-collector-time"))
    # identity_headers is off: no tenant, but the collector's fields
    assert d.header("x-isthmus-tenant") is None
    method, path, hdrs, _ = dev.requests[0]
    assert (method, path) == ("GET", "/api/v1/reports?latest=1")
    assert hdrs["host"] == f"127.0.0.1:{dev.port}"
    assert hdrs["connection"] == "close"
    # pin: approved in advance, no trust store
    assert not (col.conf.parent / "state" / "trust.db").exists()
    assert col.metric("isthmus_collections_total", outcome="ok") >= 2
    assert col.metric("isthmus_collected_bytes_total") >= 2 * len(BODY)
    assert col.metric("isthmus_collectors") == 1
    status = json.loads(run("status", "-c", col.conf, "--json",
                            expect=0).stdout)["collectors"]
    assert status["list"][0]["name"] == "meter-1"
    assert status["list"][0]["fingerprint"] == dev.fp


def test_each_failure_ends_with_its_outcome_while_a_healthy_one_delivers(
        site):
    good = Device(site.tmp, "good")
    hang_tcp = Device(site.tmp, "htcp", mode="hang_tcp")
    hang_http = Device(site.tmp, "hhttp", mode="hang_http")
    big = Device(site.tmp, "big", mode="big")
    garbage = Device(site.tmp, "garbage", mode="garbage")
    # A device that offers only TLS 1.2, against a collector that asks
    # for 1.3 at least (Debian's OpenSSL refuses to serve TLS 1.1 at all,
    # so "older than allowed" is shown one version up).
    old = Device(site.tmp, "old", max_version=ssl.TLSVersion.TLSv1_2)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead = closed.getsockname()[1]
    closed.close()
    devs = [good, hang_tcp, hang_http, big, garbage, old]
    site.backends.extend(devs)

    def c(name, d, extra="", timeout="1s"):
        return collector(name, f"https://127.0.0.1:{d.port}/x",
                         trust=f"pin {d.fp}", extra=extra, timeout=timeout)

    col = Collecting(site, c("good", good)
                     + c("htcp", hang_tcp) + c("hhttp", hang_http)
                     + c("big", big, "max_response = 1K")
                     + c("garbage", garbage)
                     + c("old", old, "tls_min_version = 1.3")
                     + collector("dead", f"https://127.0.0.1:{dead}/x",
                                 trust=f"pin {good.fp}", timeout="1s")
                     # a name no resolver knows (RFC 6761): refused by
                     # the resolver, or no answer within the timeout
                     + collector("noname", "https://no-such-meter.invalid/x",
                                 trust=f"pin {good.fp}", timeout="1s"))
    start = time.time()
    for name, outcome in (("htcp", "timeout"), ("hhttp", "timeout"),
                          ("big", "too_large"),
                          ("garbage", "bad_response"),
                          ("old", "connect"), ("dead", "connect"),
                          ("noname", "(?:connect|timeout)")):
        assert eventually(lambda: col.outcomes(name, outcome), 8), \
            (name, outcome, col.edge.text())
    assert time.time() - start < 8
    # within its bound: timeout = 1 s
    for line in col.outcomes("htcp", "timeout"):
        assert int(re.search(r"ms=(\d+)", line).group(1)) < 1500
    assert "resolving" not in col.outcomes("htcp", "timeout")[0]
    # a name that does not resolve says which
    assert "no-such-meter.invalid" in \
        col.outcomes("noname", "(?:connect|timeout)")[0]
    assert "waiting for the answer" in col.outcomes("hhttp", "timeout")[0]
    # the OpenSSL reason is in the line
    assert re.search(r"TLS handshake failed: .*(version|protocol)",
                     col.outcomes("old", "connect")[0]), \
        col.outcomes("old", "connect")
    n = len(col.deliveries("good"))
    assert eventually(lambda: len(col.deliveries("good")) >= n + 2, 6)
    assert not col.outcomes("good", r"(?!ok)\w+")
    assert col.metric("isthmus_collections_total", outcome="timeout") >= 2
    assert col.metric("isthmus_collections_total",
                      outcome="too_large") >= 1
    assert col.metric("isthmus_collection_seconds_count") >= 1
    assert not hang_tcp.handshakes


def test_pin_mismatch_and_ca_with_host_names(site):
    ca = make_cert(site.tmp, "devca", "Device Vendor CA", dns="CA")
    right = make_cert(site.tmp, "right", "localhost",
                      issuer=(ca[3], ca[4]), dns="localhost")
    wrong = make_cert(site.tmp, "wrong", "other.example",
                      issuer=(ca[3], ca[4]), dns="other.example")
    # an address in the URL is checked against the certificate's IP SAN
    by_ip = make_cert(site.tmp, "byip", "meter", issuer=(ca[3], ca[4]),
                      dns="IP:127.0.0.1")
    other_ip = make_cert(site.tmp, "otherip", "meter",
                         issuer=(ca[3], ca[4]), dns="IP:192.0.2.7")
    d_right = Device(site.tmp, "r", cert=right)
    d_wrong = Device(site.tmp, "w", cert=wrong)
    d_pin = Device(site.tmp, "p")
    d_ip = Device(site.tmp, "i", cert=by_ip)
    d_oip = Device(site.tmp, "o", cert=other_ip)
    site.backends.extend([d_right, d_wrong, d_pin, d_ip, d_oip])
    col = Collecting(
        site,
        collector("ca-ok", f"https://localhost:{d_right.port}/a",
                  trust=f"ca {ca[0]}")
        + collector("ca-bad", f"https://localhost:{d_wrong.port}/a",
                    trust=f"ca {ca[0]}")
        + collector("pin-bad", f"https://127.0.0.1:{d_pin.port}/a",
                    trust=f"pin {d_right.fp}")
        + collector("ip-ok", f"https://127.0.0.1:{d_ip.port}/a",
                    trust=f"ca {ca[0]}")
        + collector("ip-bad", f"https://127.0.0.1:{d_oip.port}/a",
                    trust=f"ca {ca[0]}"))
    assert eventually(lambda: col.deliveries("ca-ok"), 8), col.edge.text()
    assert eventually(lambda: col.outcomes("ca-bad", "untrusted"), 8)
    assert "hostname mismatch" in col.outcomes("ca-bad", "untrusted")[0]
    assert eventually(lambda: col.outcomes("pin-bad", "untrusted"), 8)
    assert eventually(lambda: col.deliveries("ip-ok"), 8), col.edge.text()
    assert eventually(lambda: col.outcomes("ip-bad", "untrusted"), 8)
    assert "IP address mismatch" in col.outcomes("ip-bad", "untrusted")[0]
    assert not d_wrong.requests and not d_pin.requests
    assert not d_oip.requests
    assert not d_wrong.raw and not d_pin.raw and not d_oip.raw


def test_tofu_learn_approve_mismatch_forget_restart(site):
    secret = site.tmp / "meter.secret"
    secret.write_text("admin:s3cr3t-pw\n")
    os.chmod(secret, 0o600)
    dev = Device(site.tmp, "meter")
    site.backends.append(dev)
    url = f"https://127.0.0.1:{dev.port}/api"
    col = Collecting(site, collector("meter-1", url,
                                     extra=f"auth = basic {secret}"))
    # learning: a handshake only, no request, no credential
    col.edge.wait_log(r"event=trust_learned .*kind=api", timeout=8)
    assert eventually(lambda: col.outcomes("meter-1", "learned"), 5)
    assert eventually(lambda: dev.connections >= 1, 5)
    time.sleep(0.5)
    assert not dev.requests and not dev.raw
    [e] = entries(col)
    assert e["state"] == "pending" and e["cert_sha256"] == dev.fp
    assert e["peer"] == f"127.0.0.1:{dev.port}" and e["scope"] == "meter-1"
    # not contacted again while it waits
    seen = dev.connections
    time.sleep(1.5)
    assert dev.connections == seen
    col.trust("approve", str(e["id"]), "--fingerprint", dev.fp)
    assert eventually(lambda: col.deliveries("meter-1"), 5), col.edge.text()
    # the site's log says what the CLI decided, and who
    col.edge.wait_log(r"event=trust_decision id=%d action=approve .*"
                      r"fingerprint=%s by=local:\S+ source=store"
                      % (e["id"], dev.fp))
    d = col.deliveries("meter-1")[0]
    assert d.header("x-isthmus-collector-fingerprint") == dev.fp
    assert d.body == BODY
    assert dev.requests[0][2]["authorization"] == \
        "Basic YWRtaW46czNjcjN0LXB3"
    assert "s3cr3t" not in col.edge.text()
    assert "YWRtaW46" not in col.edge.text()

    # a man in the middle on the device's address
    dev.close()
    mitm = Device(site.tmp, "mitm", port=dev.port)
    site.backends.append(mitm)
    assert eventually(lambda: col.outcomes("meter-1", "mismatch"), 5)
    col.edge.wait_log(r"event=trust_mismatch .*seen=" + mitm.fp)
    time.sleep(0.3)
    assert not mitm.requests and not mitm.raw
    states = {x["state"] for x in entries(col)}
    assert states == {"approved", "changed"}
    assert col.metric("isthmus_trust_mismatches_total", kind="api") >= 1
    assert col.metric("isthmus_collections_total", outcome="mismatch") >= 1
    # the real device again; the changed entry forgotten
    mitm.close()
    dev2 = Device(site.tmp, "meter2", port=dev.port,
                  cert=(dev.crt, dev.key, dev.fp))
    site.backends.append(dev2)
    changed = [x for x in entries(col) if x["state"] == "changed"][0]
    col.trust("forget", str(changed["id"]))
    assert eventually(lambda: dev2.requests, 5), col.edge.text()
    col.edge.wait_log(r"event=trust_decision id=%d action=forget "
                      % changed["id"])
    # the store outlives the edge
    col.edge.stop()
    n = len(col.deliveries("meter-1"))
    col.start()
    assert eventually(lambda: len(col.deliveries("meter-1")) > n, 6)
    assert not col.outcomes("meter-1", "learned")[1:]


def test_cloud_approves_an_expired_pin_then_the_site_refuses_expired(site):
    """A device whose self-signed certificate ran out (it cannot renew
    it) is approved from the cloud: accepted by default, said expired;
    trust_expired = refuse then refuses it before any request."""
    cert = make_cert(site.tmp, "old", "DMU801-OLD", valid=(-800, -30))
    dev = Device(site.tmp, "old", cert=cert)
    site.backends.append(dev)
    col = Collecting(site, collector(
        "meter-1", f"https://127.0.0.1:{dev.port}/api"),
        extra="manage = status, trust\n", cloud_extra="state = state.db")
    col.cloud.wait_log(r"event=manage_hello edge=agw .*trust")
    col.edge.wait_log(r"event=trust_learned .*kind=api", timeout=8)

    def remote(*args, expect=0):
        res = run("manage", "-c", col.cloud.conf, "--json", "agw", "trust",
                  *args, "--wait", "20s", expect=expect)
        return json.loads(res.stdout)
    r = remote("list", "--pending")
    [e] = r["result"]["entries"]
    assert (e["cert_sha256"], e["state"], e["expired"]) == \
        (dev.fp, "pending", True)
    r = remote("approve", str(e["id"]), "--fingerprint", dev.fp)
    assert r["state"] == "ok", r
    assert r["result"]["entry"]["decided_by"].startswith("cloud:")
    # accepted past its dates (trust_expired = accept, the default)
    assert eventually(lambda: col.deliveries("meter-1"), 6), col.edge.text()
    col.edge.wait_log(r"event=trust_expired id=%d " % e["id"])
    assert col.metric("isthmus_trust_expired") == 1
    # the site refuses expired certificates from now on
    col.conf.write_text(col.conf.read_text().replace(
        "manage = status, trust\n",
        "manage = status, trust\ntrust_expired = refuse\n"))
    col.edge.signal(signal.SIGHUP)
    col.edge.wait_log(r"event=reloaded")
    seen = len(dev.requests)
    col.edge.wait_log(r"event=collect collector=meter-1 outcome=untrusted "
                      r".*verdict expired", timeout=6)
    time.sleep(1.2)
    assert len(dev.requests) <= seen + 1     # one poll may have been on
    n = len(dev.requests)
    time.sleep(1.2)
    assert len(dev.requests) == n


@pytest.mark.parametrize("section, needle", [
    ("url = http://127.0.0.1/x", "https://"),
    ("url = https://u:p@127.0.0.1/x", "no credentials in the URL"),
    ("url = https://127.0.0.1/x\nauth = basic {loose}",
     "loose.secret can be read by others (mode 0644): chmod 600"),
    ("url = https://127.0.0.1/x\ntrust = ca no-such-ca.pem",
     "no-such-ca.pem"),
    ("url = https://127.0.0.1/x\ntrust = trust-me", "trust"),
    ("url = https://127.0.0.1/x\nheader = no colon here", "header"),
    ("url = https://127.0.0.1/x\nbody = {{}}", "body"),
    ("url = https://127.0.0.1/x\ninterval = 5s\ntimeout = 10s", "timeout"),
])
def test_config_refusals_name_the_line(site, section, needle):
    loose = site.tmp / "loose.secret"
    loose.write_text("a:b\n")
    os.chmod(loose, 0o644)
    conf = site.edge_conf("agw", 9, {})
    text = conf.read_text()
    line = text.count("\n") + 3
    conf.write_text(text + "\n[collector c]\nservice = telemetry\n"
                    + section.format(loose=loose) + "\n")
    res = run("edge", "-c", conf, "--check", expect=2)
    err = res.stderr
    assert f"{conf}:" in err and needle in err, err
    assert re.search(rf"{re.escape(str(conf))}:(\d+)", err)
    assert int(re.search(rf"{re.escape(str(conf))}:(\d+)",
                         err).group(1)) >= line - 1


def test_a_short_interval_takes_it_as_default_timeout(site):
    """timeout unset: 10 s, or the interval when shorter (no refusal)."""
    conf = site.edge_conf("agw", 9, {})
    conf.write_text(conf.read_text() + "\n[collector c]\nservice = t\n"
                    "url = https://127.0.0.1/x\ninterval = 2s\n")
    run("edge", "-c", conf, "--check", expect=0)


def test_reload_ends_a_poll_and_a_tunnel_down_is_undelivered(site):
    hang = Device(site.tmp, "hang", mode="hang_http")
    good = Device(site.tmp, "good")
    site.backends.extend([hang, good])
    slow = collector("slow", f"https://127.0.0.1:{hang.port}/x",
                     trust=f"pin {hang.fp}", interval="5s", timeout="5s")
    col = Collecting(site, slow)
    assert eventually(lambda: hang.handshakes >= 1, 8)
    # the reload removes the collector mid-poll and adds another
    text = col.conf.read_text().replace(slow, "")
    col.conf.write_text(text + collector(
        "good", f"https://127.0.0.1:{good.port}/x", trust=f"pin {good.fp}"))
    col.edge.signal(signal.SIGHUP)
    col.edge.wait_log(r"event=reloaded .*changed=\S*collectors")
    assert eventually(lambda: col.deliveries("good"), 5), col.edge.text()
    assert not col.outcomes("slow", r"\w+")     # aborted, not an outcome
    assert eventually(lambda: hang.ended >= 1, 3)   # its connection closed
    assert col.metric("isthmus_collectors") == 1
    # the cloud goes: answers are polled and counted undelivered
    col.cloud.stop()
    assert eventually(lambda: col.outcomes("good", "undelivered"), 6)
    assert good.requests
