"""isthmus doctor: the path from an edge to its cloud, step by step, with
real daemons. A healthy site passes every step (exit 0); each broken step
fails with its explanation, the later steps are skipped with the reason,
and the exit status is 1."""

import datetime
import json
import re
import socket
import ssl
import subprocess
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import isthmus_testlib as lib
from fakes_lib import H2Relay
from isthmus_testlib import CA, build_leaf, now, run, write_cert
from test_interception import split_cloud
from tunnel_lib import dead_port, eventually, exchange, spki, with_etc

STEPS = ["config", "clock", "dns", "tcp", "proxy", "tls", "certificate",
         "alpn", "admission", "round_trip"]


def doctor(conf, *extra, expect=None, env=None):
    """Runs doctor --json and returns (exit status, {step: step}, order)."""
    res = run("doctor", "-c", conf, "--json", *extra, expect=expect, env=env)
    out = json.loads(res.stdout)
    assert out["ok"] == (res.returncode == 0), res.stdout
    steps = {s["name"]: s for s in out["steps"]}
    return res.returncode, steps, [s["name"] for s in out["steps"]], out


def assert_failed_at(conf, name, *needles):
    """The doctor fails at step name with every needle in its detail; all
    earlier steps passed (or did not apply), all later ones are skipped
    with the reason. Returns the steps."""
    rc, steps, order, out = doctor(conf, expect=1)
    assert out["failed"] == name, json.dumps(out, indent=1)
    i = order.index(name)
    for s in order[:i]:
        assert steps[s]["verdict"] in ("pass", "n/a", "warn"), steps[s]
    assert steps[name]["verdict"] == "fail"
    for n in needles:
        assert n in steps[name]["detail"], steps[name]["detail"]
    for s in order[i + 1:]:
        assert steps[s]["verdict"] == "skipped", steps[s]
        assert steps[s]["detail"] == f"not run: {name} failed"
        assert steps[s]["us"] is None
    return steps


def _cloud(site, **kw):
    return site.start("cloud", site.cloud_conf(
        {"A/t": ([site.backend("a-t")], ""),
         "A/web": ([site.backend("a-web")], "mode = http\nhealth = none")},
        **kw))


def _conf(site, port, extra="", listeners=None, **kw):
    return site.edge_conf("agw", port, listeners or {
        "t": "t", "w": ("web", "mode = http")}, extra=extra, **kw)


def test_healthy_site_passes_every_step(site):
    cloud = _cloud(site)
    conf = _conf(site, cloud.port("listen"))
    # Beside the running edge, which it must not disturb.
    edge = site.start("edge", conf)
    edge.wait_log(r"event=tunnel_up")
    rc, steps, order, out = doctor(conf, expect=0)
    assert order == STEPS + ["service t", "service web"]
    assert out["failed"] is None
    for name in order:
        want = "n/a" if name == "proxy" else "pass"
        assert steps[name]["verdict"] == want, steps[name]
    for name in ("config", "clock", "dns", "tcp", "tls", "admission",
                 "round_trip", "service t", "service web"):
        assert steps[name]["us"] > 0, steps[name]
    port = cloud.port("listen")
    assert steps["config"]["detail"].endswith(
        f"edge 'agw' of tenant 'A', 2 listeners, cloud 127.0.0.1:{port}")
    assert steps["tcp"]["detail"] == f"connected to the cloud at " \
        f"127.0.0.1:{port}"
    assert steps["tls"]["detail"] == "TLSv1.3, TLS_AES_256_GCM_SHA384, x25519"
    pin = spki(site.pki / "cloudgw.crt")
    assert f"its key matches cloud_pin {pin}" in steps["certificate"]["detail"]
    assert "'CN=cloudgw' issued by 'CN=isthmus root CA'" in \
        steps["certificate"]["detail"]
    assert steps["alpn"]["detail"] == "isthmus/1"
    assert steps["admission"]["detail"].startswith(
        "admitted as edge 'agw' of tenant 'A', connected from 127.0.0.1:")
    assert "reached: backend 127.0.0.1:" in steps["service t"]["detail"]
    assert "(1/1 healthy)" in steps["service web"]["detail"]
    # The cloud answered the doctor itself and logged it.
    assert cloud.text().count("event=diagnostic edge=agw tenant=A") == 3
    # The text form says the same.
    res = run("doctor", "-c", conf, expect=0)
    assert res.stdout.splitlines()[-1] == \
        "All checks passed: this edge can reach its cloud and its services."
    assert "  n/a   proxy" in res.stdout
    # The running edge's tunnel was not touched: it still carries devices.
    assert exchange(edge.port("listener.t"), b"hi") == b"a-t\nhi"
    assert edge.text().count("event=tunnel_up") == 1


def test_path_only(site):
    """--path: config to alpn, no tunnel (a readiness test times its dns,
    tcp, proxy and tls steps)."""
    cloud = _cloud(site)
    conf = _conf(site, cloud.port("listen"))
    rc, steps, order, out = doctor(conf, "--path", expect=0)
    assert order == STEPS[:STEPS.index("alpn") + 1]
    for name in ("dns", "tcp", "tls"):
        assert steps[name]["verdict"] == "pass" and steps[name]["us"] > 0
    assert steps["proxy"]["verdict"] == "n/a"
    res = run("doctor", "-c", conf, "--path", expect=0)
    assert res.stdout.splitlines()[-1] == \
        "All path checks passed: this edge reaches its cloud's tunnel port."
    # It asked the cloud nothing on a tunnel.
    assert "event=diagnostic" not in cloud.text()
    # A refused port fails at tcp, the rest skipped, as without --path.
    conf2 = _conf(site, dead_port())
    res = run("doctor", "-c", conf2, "--path", "--json", expect=1)
    out = json.loads(res.stdout)
    assert out["failed"] == "tcp"
    assert [s["name"] for s in out["steps"]][-1] == "alpn"


def test_bad_config_fails_first(site):
    conf = site.tmp / "edge.conf"
    conf.write_text("[edge]\ncloud = 127.0.0.1:1\nfrobnicate = yes\n")
    steps = assert_failed_at(conf, "config",
                             f"{conf}:3: frobnicate: unknown key")
    assert list(steps) == STEPS + ["services"]


def test_usage_errors(site):
    res = run("doctor", expect=2)
    assert "-c FILE is required" in res.stderr
    res = run("doctor", "-c", "x", "--frob", expect=2)
    assert "--frob" in res.stderr
    assert "Exit status: 0 every step passed" in run(
        "doctor", "--help", expect=0).stdout


def _edge_cert(site, name, nb, na):
    """An edge certificate for agw of tenant A from the site's CA with the
    given dates (pki issue refuses dates in the past)."""
    key = ed25519.Ed25519PrivateKey.generate()
    cert = build_leaf(CA(site.pki), cn="agw", nb=nb, na=na, leaf_key=key,
                      san_uris=("isthmus://A/edge/agw",))
    write_cert(cert, site.tmp / f"{name}.crt")
    (site.tmp / f"{name}.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (site.tmp / f"{name}.key").chmod(0o600)    # keys others read: refused
    return site.tmp / name


@pytest.mark.parametrize("kind", ["future", "expired"])
def test_clock_against_the_edge_certificate(site, kind):
    t = now()
    if kind == "future":
        nb, na = t + datetime.timedelta(days=3), t + datetime.timedelta(
            days=40)
    else:
        nb, na = t - datetime.timedelta(days=40), t - datetime.timedelta(
            days=2)
    cert = _edge_cert(site, kind, nb, na)
    conf = _conf(site, dead_port(), cert=cert)
    stamp = (nb if kind == "future" else na).strftime("%Y-%m-%d %H:%M:%S UTC")
    if kind == "future":
        assert_failed_at(conf, "clock", "this edge's certificate is valid "
                         f"only from {stamp}: the clock is behind (fix NTP)")
    else:
        assert_failed_at(conf, "clock", f"this edge's certificate expired "
                         f"on {stamp}")


def test_certificate_close_to_expiry_is_a_warning(site):
    cloud = _cloud(site)
    t = now()
    cert = _edge_cert(site, "soon", t - datetime.timedelta(days=300),
                      t + datetime.timedelta(days=10))
    conf = _conf(site, cloud.port("listen"), cert=cert)
    (site.tmp / "cloud.conf").write_text((site.tmp / "cloud.conf").read_text(
        ).replace(spki(site.pki / "agw.crt"), spki(f"{cert}.crt")))
    cloud.signal(1)
    cloud.wait_log(r"event=reloaded")
    rc, steps, _, _ = doctor(conf, expect=0)
    assert steps["clock"]["verdict"] == "warn"
    assert "this edge's certificate expires in 9 days" in \
        steps["clock"]["detail"] or "expires in 10 days" in \
        steps["clock"]["detail"]


# libfaketime shifts the wall clock of one process; the monotonic clock
# (libevent's timers) is left alone. ASan must be told that a library
# preloaded before it is intended.
FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


@pytest.mark.parametrize("offset,word", [(-120, "behind"),
                                         (+120, "ahead of")])
def test_clock_skew_against_the_cloud_is_a_warning(site, offset, word):
    """The edge's clock is off by two minutes: still inside every
    certificate's validity (backdated 5 minutes), so the tunnel works, but
    admission says by how much and in which direction."""
    cloud = _cloud(site)
    conf = _conf(site, cloud.port("listen"))
    env = {"LD_PRELOAD": FAKETIME, "FAKETIME": f"{offset:+d}",
           "DONT_FAKE_MONOTONIC": "1",
           "ASAN_OPTIONS": "verify_asan_link_order=0"}
    rc, steps, order, _ = doctor(conf, expect=0, env=env)
    adm = steps["admission"]
    assert adm["verdict"] == "warn", adm
    assert adm["detail"].startswith("admitted as edge 'agw' of tenant 'A'")
    # 120 s give or take the time the doctor took to get there
    m = re.search(r"; but the local clock is (\d+) s (behind|ahead of) "
                  r"the cloud's: fix NTP$", adm["detail"])
    assert m and m.group(2) == word and 118 <= int(m.group(1)) <= 122, adm
    for name in order:
        if name != "admission":
            assert steps[name]["verdict"] in ("pass", "n/a"), steps[name]
    # Within 30 s is no news.
    env["FAKETIME"] = f"{offset // 10:+d}"
    _, steps, _, _ = doctor(conf, expect=0, env=env)
    assert steps["admission"]["verdict"] == "pass", steps["admission"]


@pytest.fixture
def resolver(dns):
    """Runs the doctor with /etc/resolv.conf pointing at a FakeDNS (in a
    mount namespace of its own): run(conf, names) -> (steps, dns)."""
    server, rc_file = dns

    def go(conf, names, expect, nameserver=server.addr):
        rc_file.write_text(f"nameserver {nameserver}\n"
                           "options timeout:1 attempts:1\n")
        server.names = names
        server.asked.clear()
        res = subprocess.run(
            with_etc(rc_file) +
            [str(lib.BIN), "doctor", "-c", str(conf), "--json"],
            capture_output=True, text=True, timeout=60, env=lib._env())
        assert res.returncode == expect, res.stdout + res.stderr
        assert "Sanitizer" not in res.stderr, res.stderr
        out = json.loads(res.stdout)
        return {s["name"]: s for s in out["steps"]}, server
    return go


def test_dns_names_the_cloud_and_its_failure(site, resolver):
    cloud = _cloud(site)
    conf = _conf(site, cloud.port("listen"))
    text = conf.read_text()
    # A name the resolver knows: the doctor resolves it through it.
    conf.write_text(text.replace("cloud = 127.0.0.1:",
                                 "cloud = cloud.doctor.test:"))
    steps, dns = resolver(conf, {"cloud.doctor.test": "127.0.0.1"}, 0)
    assert steps["dns"]["detail"] == "cloud.doctor.test resolves to 127.0.0.1"
    assert ("cloud.doctor.test", 1) in dns.asked
    assert steps["service t"]["verdict"] == "pass"
    # One it does not: dns fails, the rest is skipped.
    conf.write_text(text.replace("cloud = 127.0.0.1:",
                                 "cloud = nowhere.doctor.test:"))
    steps, dns = resolver(conf, {}, 1)
    assert steps["dns"]["verdict"] == "fail"
    assert steps["dns"]["detail"].startswith(
        "cannot resolve nowhere.doctor.test: "), steps["dns"]
    assert steps["tcp"]["detail"] == "not run: dns failed"


def test_tcp_refused(site):
    port = dead_port()
    assert_failed_at(_conf(site, port), "tcp",
                     f"cannot connect to the cloud 127.0.0.1:{port}: "
                     f"127.0.0.1:{port}: Connection refused")


def test_through_a_proxy_and_a_proxy_that_refuses(site, proxies):
    cloud = _cloud(site)
    port = cloud.port("listen")
    tp = proxies()
    conf = _conf(site, port, f"proxy = http://127.0.0.1:{tp.port}\n")
    rc, steps, _, _ = doctor(conf, expect=0)
    assert steps["tcp"]["detail"] == \
        f"connected to the proxy at 127.0.0.1:{tp.port}"
    assert steps["proxy"]["detail"] == (
        f"the proxy http://127.0.0.1:{tp.port} answered 200 to CONNECT "
        f"127.0.0.1:{port}: a tunnel to the cloud")
    assert f"CONNECT 127.0.0.1:{port}" in tp.text()
    # A proxy that allows CONNECT to port 443 only.
    strict = proxies(connect_ports=(443,))
    conf = _conf(site, port, f"proxy = http://127.0.0.1:{strict.port}\n")
    assert_failed_at(conf, "proxy", f"refused CONNECT to 127.0.0.1:{port} "
                     "(403 Access violation): ask IT to allow CONNECT")
    # And one that wants credentials.
    auth = proxies(auth=("site", "secret"))
    conf = _conf(site, port, f"proxy = http://127.0.0.1:{auth.port}\n")
    assert_failed_at(conf, "proxy", "requires authentication",
                     f"give proxy = http://USER:PASSWORD@127.0.0.1:"
                     f"{auth.port}")


def test_not_tls(site):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)

    def serve():
        try:
            c, _ = srv.accept()
            c.recv(4096)
            c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            c.close()
        except OSError:
            pass
    threading.Thread(target=serve, daemon=True).start()
    port = srv.getsockname()[1]
    try:
        assert_failed_at(_conf(site, port), "tls",
                         f"127.0.0.1:{port} does not speak TLS",
                         "is this the cloud's tunnel port?")
    finally:
        srv.close()


def test_interception_is_named(site, fakes):
    cloud = _cloud(site)
    port = cloud.port("listen")
    other = CA.init(site.tmp / "inspect-ca", "--name", "Corp Inspection CA")
    run("pki", "issue", "cloud", "intercept", "--dns", "localhost", "--ip",
        "127.0.0.1", "--ca", other.dir, expect=0)
    mitm = fakes(other.dir / "intercept.crt", other.dir / "intercept.key",
                 site.pki / "ca.crt", proxy=True)
    conf = _conf(site, port, f"proxy = http://127.0.0.1:{mitm.port}\n")
    steps = assert_failed_at(
        conf, "certificate", "interception: TLS interception suspected: "
        f"127.0.0.1:{port} presented a certificate for localhost issued by "
        "CN=Corp Inspection CA",
        "Mutual TLS cannot pass through inspection: ask IT to exempt "
        f"127.0.0.1:{port} from TLS inspection")
    assert steps["tls"]["detail"].startswith("TLSv1.3 server hello; this "
                                             "edge stopped the handshake")
    assert mitm.handshakes and all(c is None for c, _ in mitm.handshakes)
    assert mitm.bytes_after == 0
    assert "tunnel_up" not in cloud.text()


def test_interceptor_whose_root_is_in_ca_is_named(site, fakes):
    """IT trusted the inspection box's root (it is in ca): the doctor's
    certificate step names its issuer and asks for the exemption before
    any change of cloud_pin, as the daemon does."""
    cloud = _cloud(site)
    port = cloud.port("listen")
    other = CA.init(site.tmp / "inspect-ca", "--name", "Corp Inspection CA")
    run("pki", "issue", "cloud", "intercept", "--dns", "localhost", "--ip",
        "127.0.0.1", "--ca", other.dir, expect=0)
    bundle = site.tmp / "ca-bundle.crt"
    bundle.write_bytes((site.pki / "ca.crt").read_bytes()
                       + (other.dir / "ca.crt").read_bytes())
    mitm = fakes(other.dir / "intercept.crt", other.dir / "intercept.key",
                 site.pki / "ca.crt", proxy=True)
    conf = _conf(site, port, f"proxy = http://127.0.0.1:{mitm.port}\n")
    conf.write_text(conf.read_text().replace(
        f"ca = {site.pki}/ca.crt", f"ca = {bundle}"))
    shown = json.loads(run("pki", "show", "--json",
                           other.dir / "intercept.crt", expect=0).stdout)
    assert_failed_at(
        conf, "certificate", f"pin_mismatch: 127.0.0.1:{port} presented a "
        "certificate issued by CN=Corp Inspection CA, a CA in ca, but it is "
        "not the pinned one (subject CN=intercept, issuer CN=Corp "
        f"Inspection CA, certificate {shown['cert_sha256']}, key "
        f"{shown['spki_sha256']}; cloud_pin {spki(site.pki / 'cloudgw.crt')})",
        f"ask IT to exempt 127.0.0.1:{port} from TLS inspection",
        "change cloud_pin only if the cloud's operator says its key changed")
    assert all(c is None for c, _ in mitm.handshakes)


def _fp_der(site, der, name):
    path = site.tmp / f"{name}.crt"
    path.write_text(ssl.DER_cert_to_PEM_cert(der))
    return json.loads(run("pki", "show", "--json", path, expect=0).stdout)


def test_interceptor_that_refuses_our_hello_is_probed(site, proxies, fakes,
                                                     sslsplit):
    """Behind the site's proxy, a real sslsplit that cannot do X25519
    aborts the handshake before showing any certificate. The doctor says
    that something answered instead of the cloud, then probes once with
    more groups and no client certificate, and names the certificate that
    sslsplit forged, with every fact."""
    box, upstream = split_cloud(site, fakes, sslsplit)
    tp = proxies()
    conf = _conf(site, box.port, f"proxy = http://127.0.0.1:{tp.port}\n")
    steps = assert_failed_at(
        conf, "tls", f"through the proxy http://127.0.0.1:{tp.port}, "
        f"127.0.0.1:{box.port} refused this edge's TLS offer before showing "
        "any certificate (sslv3 alert handshake failure): an isthmus cloud "
        "never does this, so something on the path answered instead of the "
        f"cloud", f"Ask IT to exempt 127.0.0.1:{box.port} from TLS "
        "inspection",
        "Then a probe handshake offering more key exchanges "
        "(X25519:P-256:P-384:P-521:X448:ffdhe2048) and TLS 1.2, without a "
        "client certificate, was shown a certificate: interception: TLS "
        f"interception suspected: 127.0.0.1:{box.port} presented a "
        "certificate for localhost issued by CN=Corp Inspection CA")
    forged = _fp_der(site, box.presented(), "forged")
    pin = spki(site.pki / "cloudgw.crt")
    assert "(subject CN=cloudgw, issuer CN=Corp Inspection CA, certificate " \
        f"{forged['cert_sha256']}, key {forged['spki_sha256']}; cloud_pin " \
        f"{pin})" in steps["tls"]["detail"]
    # Both handshakes went through the proxy; neither showed sslsplit a
    # client certificate, so nothing of the edge's went further.
    assert tp.text().count(f"CONNECT 127.0.0.1:{box.port}") >= 2
    assert upstream.handshakes
    assert all(c is None for c, _ in upstream.handshakes)


def test_the_probe_shows_no_client_certificate(site, fakes):
    """A server with the cloud's own certificate and key that takes P-256
    only, and records what the doctor sends: the first handshake is
    refused, the probe passes the certificate check and completes without
    a client certificate, so a box on the path learns nothing of the
    edge's."""
    fake = fakes(site.pki / "cloudgw.crt", site.pki / "cloudgw.key",
                 site.pki / "ca.crt", curve="prime256v1")
    conf = _conf(site, fake.port)
    assert_failed_at(
        conf, "tls", f"127.0.0.1:{fake.port} refused this edge's TLS offer "
        "before showing any certificate (sslv3 alert handshake failure)",
        "was shown the pinned cloud certificate 'CN=cloudgw' issued by "
        "'CN=isthmus root CA' (TLSv1.3): what answers holds the cloud's "
        "key but not its TLS settings")
    assert eventually(lambda: len(fake.handshakes) == 2), fake.handshakes
    assert fake.handshakes[0][1] is not None      # no shared group
    assert fake.handshakes[1] == (None, None)     # the probe: no cert
    assert fake.bytes_after == 0


def test_not_an_isthmus_cloud(site, fakes):
    # The cloud's own certificate and key, but no ALPN: a TLS server that
    # is not the tunnel endpoint (a web server on the same host, say).
    fake = fakes(site.pki / "cloudgw.crt", site.pki / "cloudgw.key",
                 site.pki / "ca.crt", alpn=None)
    assert_failed_at(_conf(site, fake.port), "alpn",
                     "the server does not speak the isthmus protocol (it "
                     "chose no protocol, not isthmus/1)")


def test_edge_not_admitted(site):
    # Tenant A has another edge, not agw.
    cloud = _cloud(site, edges={"other": ("A", spki(site.pki / "bgw.crt"))})
    pin = spki(site.pki / "agw.crt")
    assert_failed_at(_conf(site, cloud.port("listen")), "admission",
                     "the cloud refused this edge (",
                     "its operator must list this edge, pinned, in a "
                     "tenant", f"(edge 'agw', tenant 'A', pin {pin})")
    cloud.wait_log(r"event=handshake_failed .*edge=agw reason=unknown_edge")


def test_edge_from_an_address_the_cloud_does_not_allow(site):
    """The cloud's [edge agw] has from = 192.0.2.0/24: the doctor says
    the address is what the cloud refused, not the name or the pin."""
    cloud = _cloud(site)
    cloud.conf.write_text(cloud.conf.read_text().replace(
        "[edge agw]", "[edge agw]\nfrom = 192.0.2.0/24"))
    cloud.signal(__import__("signal").SIGHUP)
    cloud.wait_log(r"event=reloaded")
    assert_failed_at(_conf(site, cloud.port("listen")), "admission",
                     "the cloud refused this edge (sslv3 alert bad "
                     "certificate)", "not the address it came from",
                     "add this site's public address to the edge's `from`")
    cloud.wait_log(r"event=handshake_failed .*edge=agw reason=source_address")


def test_cloud_that_stops_answering_pings(site):
    cloud = _cloud(site)
    p = site.pki
    relay = H2Relay(cloud.port("listen"), p / "cloudgw.crt",
                    p / "cloudgw.key", p / "agw.crt", p / "agw.key",
                    p / "ca.crt", drop=lambda t, flags: t == 6 and flags & 1)
    try:
        assert_failed_at(_conf(site, relay.port), "round_trip",
                         "no answer to PING within keepalive_timeout")
        assert 6 in relay.dropped
    finally:
        relay.close()


def test_services_each_checked(site):
    dead = dead_port()
    cloud = site.start("cloud", site.cloud_conf({
        "A/t": ([site.backend("a-t")], ""),
        "A/down": ([f"127.0.0.1:{dead}"], "health = none"),
        "A/web": ([site.backend("a-web")], "mode = http\nhealth = none"),
        "B/theirs": ([site.backend("b")], "")}))
    conf = _conf(site, cloud.port("listen"), listeners={
        "t": "t", "d": "down", "w": "web", "x": "theirs"})
    rc, steps, order, out = doctor(conf, expect=1)
    assert order == STEPS + ["service t", "service down", "service web",
                             "service theirs"]
    assert out["failed"] == "service down"
    assert steps["service t"]["verdict"] == "pass"
    assert steps["service down"]["detail"] == (
        "no backend of service 'down' accepts a connection (1/1 healthy): "
        "the backends are down or unreachable from the cloud")
    # The listener is TCP, the service HTTP.
    assert steps["service web"]["detail"] == (
        "service 'web' is in HTTP mode at the cloud but the edge's "
        "listener is in TCP mode: set mode = http on the listener")
    # Another tenant's service is unknown here, as for a stream.
    assert steps["service theirs"]["detail"].startswith(
        "tenant 'A' has no service 'theirs'")
    for s in ("service down", "service web", "service theirs"):
        assert steps[s]["verdict"] == "fail"
    res = run("doctor", "-c", conf, expect=1)
    assert res.stdout.splitlines()[-1] == (
        "FAILED: service down, service web, service theirs. Fix the first "
        "failure and run isthmus doctor again.")


def _blackhole():
    """A 127.0.0.1 port whose accept queue is full: SYNs are dropped and
    a connect waits for its timeout. Returns (address, sockets to keep)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    port = s.getsockname()[1]
    keep = [s]
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        keep.append(c)
    return f"127.0.0.1:{port}", keep


def test_a_late_answer_is_not_taken_for_the_next_service(site):
    # slow: its first backend hangs for connect_timeout (1s), longer than
    # the doctor waits (600ms); the cloud then answers from the second.
    # broken: every backend hangs. The late answer about slow must not be
    # read as broken's.
    bh1, keep1 = _blackhole()
    bh2, keep2 = _blackhole()
    cloud = site.start("cloud", site.cloud_conf({
        "A/slow": ([bh1, site.backend("good").addr], "health = none"),
        "A/broken": ([bh2], "health = none")}, extra="workers = 1"))
    conf = _conf(site, cloud.port("listen"), "handshake_timeout = 600ms\n",
                 listeners={"s": "slow", "b": "broken"})
    rc, steps, _, _ = doctor(conf, expect=1)
    for name in ("service slow", "service broken"):
        assert steps[name]["verdict"] == "fail", steps[name]
        assert steps[name]["detail"].startswith("no answer from the cloud")
    for k in keep1 + keep2:
        k.close()


def test_many_services_are_all_checked(site):
    # More services than a fixed table would hold: one transparent
    # listener maps 70 destinations, the last to an unknown service.
    good = site.backend("g")
    cloud = site.start("cloud", site.cloud_conf(
        {f"A/s{i}": ([good.addr], "health = none") for i in range(70)}))
    conf = site.edge_conf("agw", cloud.port("listen"), {})
    conf.write_text(conf.read_text() + "\n[listener lan]\nlisten = "
                    "127.0.0.1:0\ntransparent = yes\nmap = " + ",\n  ".join(
                        f"192.0.2.{i}:80 s{i}" for i in range(70)) +
                    ",\n  192.0.2.200:80 nosuch\n")
    rc, steps, order, out = doctor(conf, expect=1)
    assert order[len(STEPS):] == [f"service s{i}" for i in range(70)] + [
        "service nosuch"]
    assert out["failed"] == "service nosuch"
    assert all(steps[f"service s{i}"]["verdict"] == "pass"
               for i in range(70))


def test_a_trickling_server_is_cut_at_handshake_timeout(site):
    # One byte of a TLS record every 300ms: each byte restarts a read
    # timeout, not the whole handshake's.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def trickle(c):
        try:
            c.recv(4096)
            c.sendall(b"\x16\x03\x03\x40\x00")
            while not stop.wait(0.3):
                c.sendall(b"\x02")
        except OSError:
            pass
        finally:
            c.close()

    def serve():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=trickle, args=(c,), daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    port = srv.getsockname()[1]
    conf = _conf(site, port, "handshake_timeout = 1s\n")
    try:
        assert_failed_at(conf, "tls", "no complete TLS handshake with "
                         f"127.0.0.1:{port} within handshake_timeout")
        # The edge's uplink likewise gives up and retries.
        edge = site.start("edge", conf)
        edge.wait_log(r"reason=timeout error=\"no complete TLS handshake "
                      r"within handshake_timeout\"", count=2, timeout=20)
        edge.stop()
    finally:
        stop.set()
        srv.close()


def test_dns_without_answer(site, resolver):
    # A name server that never answers: the step ends at
    # handshake_timeout and the pending query is cancelled (a leak would
    # be a sanitizer report).
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.55", 53))
    try:
        conf = _conf(site, 7443, "handshake_timeout = 500ms\n")
        conf.write_text(conf.read_text().replace(
            "cloud = 127.0.0.1:", "cloud = cloud.doctor.test:"))
        steps, _ = resolver(conf, {}, 1, nameserver="127.0.0.55")
        assert steps["dns"]["detail"] == (
            "no answer for cloud.doctor.test within handshake_timeout from "
            "the name servers in /etc/resolv.conf")
    finally:
        silent.close()
