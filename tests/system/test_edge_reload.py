"""The edge reloads on SIGHUP, as the cloud does: a bad configuration is
logged and the running one kept; listeners whose address stays keep their
socket and their devices; new ones are bound, dropped ones closed; a new
tunnel (new cloud address, new identity) is admitted before the old one
drains, so devices see no gap; device-TLS sessions are checked again
against the new vendor CAs and mac_allow.

    device --> edge agw ==TLS==> cloud 1 --> backend "A"
                        \\=TLS==> cloud 2 --> backend "B"   (after a reload)

Every daemon, certificate and connection is real (127.0.0.1, port 0).
"""

import json
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

from http_lib import Conn, HTTPBackend, read_response
from isthmus_testlib import SERVER_AUTH, build_leaf, run
from test_device_tls import MAC1, MAC2, Fleet, backend_headers, refused, \
    tls_get
from tunnel_lib import eventually, exchange, scrape, spki, value

# A short drain, so that a failing test with a device still connected
# does not hold up the next one.
METRICS = "metrics = 127.0.0.1:0\ndrain_timeout = 2s"


def status(edge):
    return json.loads(run("status", "-c", edge.conf, "--json",
                          expect=0).stdout)


def held(port):
    """A device connection to a TCP listener, past the backend's tag."""
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    tag = c.recv(2)
    return c, tag


def echo(c, data):
    c.sendall(data)
    got = b""
    while len(got) < len(data):
        d = c.recv(len(data) - len(got))
        if not d:
            break
        got += d
    return got


def reload(edge, count):
    """SIGHUP, and the count-th reload's outcome line."""
    edge.signal(signal.SIGHUP)
    return edge.wait_log(r"event=(?:reloaded|reload_failed)[^\n]*",
                         count=count)[-1]


def start(site, services, listeners, extra=METRICS, **kw):
    cloud = site.start("cloud", site.cloud_conf(services, **kw))
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), listeners, extra=extra))
    edge.wait_log(r"event=tunnel_up")
    return cloud, edge


def test_a_bad_configuration_is_logged_and_the_running_one_kept(site):
    a1 = site.backend("A")
    cloud, edge = start(site, {"A/t": [a1]}, {"t": "t"})
    port = edge.port("listener.t")
    c, tag = held(port)
    assert tag == b"A\n"
    good = edge.conf.read_text()
    # A syntax error, then a certificate that is not there.
    edge.conf.write_text(good + "\nbogus = 1\n")
    line = reload(edge, 1)
    assert "event=reload_failed" in line
    assert "keeping the running configuration" in line
    edge.wait_log(r"event=config_error error=\S+edge-agw\.conf:\d+: "
                  r"bogus: unknown key")
    edge.conf.write_text(good.replace("agw.crt", "missing.crt"))
    assert "event=reload_failed" in reload(edge, 2)
    edge.wait_log(r"event=config_error error=.*missing\.crt")
    # An address that cannot be had: the whole reload is refused, the
    # other new listener is not left bound either.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    edge.conf.write_text(
        good + "\n[listener w]\nlisten = 127.0.0.1:0\nservice = t\n"
        f"\n[listener x]\nlisten = 127.0.0.1:{busy.getsockname()[1]}\n"
        "service = t\n")
    assert "event=reload_failed" in reload(edge, 3)
    edge.wait_log(r"event=config_error error=.*listener x: cannot listen "
                  r"on 127\.0\.0\.1:\d+: Address already in use")
    busy.close()
    assert "event=listening listener=w" not in edge.text()
    # Nothing else was disturbed: the open stream, new devices, the
    # tunnel, the listener's socket.
    assert echo(c, b"still") == b"still"
    c.close()
    assert exchange(port, b"new") == b"A\nnew"
    assert status(edge)["tunnel"]["connects"] == 1
    m = scrape(edge)
    assert value(m, "isthmus_reloads_total", result="failed") == 3
    assert value(m, "isthmus_reloads_total", result="ok") == 0
    assert [li["name"] for li in status(edge)["listeners"]] == ["t"]
    # Fixed: it applies.
    edge.conf.write_text(good)
    assert "changed=none" in reload(edge, 4)
    assert value(scrape(edge), "isthmus_reloads_total", result="ok") == 1


def test_listeners_added_removed_and_kept_with_their_devices(site):
    a1, a2 = site.backend("A"), site.backend("U")
    cloud, edge = start(site, {"A/t": [a1], "A/u": [a2]},
                        {"t": "t", "u": "u"})
    t_port, u_port = edge.port("listener.t"), edge.port("listener.u")
    on_t, tag_t = held(t_port)
    on_u, tag_u = held(u_port)
    assert (tag_t, tag_u) == (b"A\n", b"U\n")
    # t stays (a new idle_timeout does not make it another listener),
    # u goes, v comes.
    site.edge_conf("agw", cloud.port("listen"),
                   {"t": ("t", "idle_timeout = 30s"), "v": "u"},
                   extra=METRICS)
    line = reload(edge, 1)
    assert "event=reloaded" in line and "changed=listeners" in line
    v_addr = edge.wait_log(r"event=listening listener=v listen=(\S+)")[0]
    edge.wait_log(r"event=listener_closed listener=u")
    # t: same socket (no rebind), its device still connected.
    assert echo(on_t, b"kept") == b"kept"
    assert exchange(t_port, b"again") == b"A\nagain"
    # u: closed to new devices; the stream that was open finishes.
    try:
        socket.create_connection(("127.0.0.1", u_port), timeout=5).close()
        raise AssertionError("the removed listener still accepts")
    except ConnectionRefusedError:
        pass
    assert echo(on_u, b"done") == b"done"
    on_u.close()
    on_t.close()
    # v: bound and carrying.
    v_port = int(v_addr.rsplit(":", 1)[1])
    assert exchange(v_port, b"hi") == b"U\nhi"
    st = status(edge)
    assert [li["name"] for li in st["listeners"]] == ["t", "v"]
    assert st["listeners"][0]["listen"].endswith(f":{t_port}")
    assert st["tunnel"]["connects"] == 1


def second_cloud(site, services):
    """Another cloud daemon of the same operator (same certificate and
    edges), whose config and log do not collide with the first one's."""
    conf = site.tmp / "cloud2.conf"
    shutil.copy(site.cloud_conf(services,
                                extra="admin_socket = cloud2.sock"), conf)
    return site.start("cloud", conf)


class Prober:
    """A device that connects again and again (bounded in count and time)
    and records every answer: during a tunnel switch none may fail."""

    def __init__(self, port, limit=400, seconds=30):
        self.port = port
        self.answers = []
        self.stop = threading.Event()
        self.limit, self.seconds = limit, seconds
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        deadline = time.time() + self.seconds
        n = 0
        while not self.stop.is_set() and n < self.limit and \
                time.time() < deadline:
            n += 1
            self.answers.append(exchange(self.port, b"p%d" % n, timeout=5))

    def done(self):
        self.stop.set()
        self.t.join(40)
        return self.answers


def test_a_new_cloud_address_is_admitted_before_the_old_tunnel_drains(
        site):
    a, b = site.backend("A"), site.backend("B")
    cloud1, edge = start(site, {"A/t": [a]}, {"t": "t"})
    cloud2 = second_cloud(site, {"A/t": [b]})
    port = edge.port("listener.t")
    old, tag = held(port)
    assert tag == b"A\n"
    probe = Prober(port)
    eventually(lambda: len(probe.answers) >= 5)
    site.edge_conf("agw", cloud2.port("listen"), {"t": "t"}, extra=METRICS)
    line = reload(edge, 1)
    assert "changed=settings,tunnel" in line
    edge.wait_log(r"event=tunnel_switched cloud=127.0.0.1:%d" %
                  cloud2.port("listen"))
    # New streams go to the new tunnel once it is up ...
    assert eventually(lambda: any(x.startswith(b"B\n")
                                  for x in probe.answers[-3:]))
    answers = probe.done()
    # ... and not one device connection failed meanwhile.
    bad = [x for x in answers if not (x.startswith(b"A\np") or
                                      x.startswith(b"B\np"))]
    assert not bad, bad[:5]
    assert exchange(port, b"new") == b"B\nnew"
    # The stream that was open goes on over the old tunnel ...
    assert echo(old, b"survives") == b"survives"
    assert "event=tunnel_retired" not in edge.text()
    old.close()
    # ... and the old tunnel goes once it is done.
    edge.wait_log(r"event=tunnel_retired cloud=127.0.0.1:%d" %
                  cloud1.port("listen"))
    st = status(edge)
    assert st["tunnel"]["state"] == "up"
    assert f":{cloud2.port('listen')}" in st["tunnel"]["peer"]
    # Counters go on from the old tunnel's.
    assert st["tunnel"]["connects"] == 2
    assert value(scrape(edge), "isthmus_tunnel_connects_total") == 2


def test_a_new_edge_certificate_gets_a_new_tunnel_without_a_gap(site):
    """The edge's identity rotates (a new certificate and key in new
    files), pinned at the cloud beforehand."""
    run("pki", "issue", "edge", "agw2", "--tenant", "A", "--ca", site.pki,
        expect=0)
    a = site.backend("A")
    edges = {"agw": ("A", spki(site.pki / "agw.crt")),
             "agw2": ("A", spki(site.pki / "agw2.crt"))}
    cloud, edge = start(site, {"A/t": [a]}, {"t": "t"}, edges=edges)
    assert status(edge)["edge"] == "agw"
    port = edge.port("listener.t")
    old, _ = held(port)
    probe = Prober(port)
    eventually(lambda: len(probe.answers) >= 5)
    conf = edge.conf.read_text()
    edge.conf.write_text(conf.replace("agw.crt", "agw2.crt")
                         .replace("agw.key", "agw2.key"))
    assert "tunnel" in reload(edge, 1)
    edge.wait_log(r"event=tunnel_switched")
    cloud.wait_log(r"edge=agw2")
    time.sleep(0.3)     # a few more probes over the new tunnel
    answers = probe.done()
    assert answers and all(x.startswith(b"A\np") for x in answers), \
        [x for x in answers if not x.startswith(b"A\np")][:5]
    assert echo(old, b"old stream") == b"old stream"
    old.close()
    edge.wait_log(r"event=tunnel_retired")
    assert status(edge)["edge"] == "agw2"


def test_a_new_tunnel_the_cloud_refuses_leaves_the_old_one_serving(site):
    """Make before break: a certificate the cloud does not pin (yet) is
    refused, and the running tunnel carries on meanwhile; going back to
    the running configuration drops the attempt."""
    run("pki", "issue", "edge", "agw3", "--tenant", "A", "--ca", site.pki,
        expect=0)
    a = site.backend("A")
    cloud, edge = start(site, {"A/t": [a]}, {"t": "t"})
    port = edge.port("listener.t")
    good = edge.conf.read_text()
    edge.conf.write_text(good.replace("agw.crt", "agw3.crt")
                         .replace("agw.key", "agw3.key"))
    assert "changed=settings,tunnel" in reload(edge, 1)
    edge.wait_log(r"event=connect_failed .*reason=refused_by_cloud", count=2)
    for n in range(5):
        assert exchange(port, b"x%d" % n) == b"A\nx%d" % n
    st = status(edge)
    assert (st["edge"], st["tunnel"]["state"]) == ("agw", "up")
    edge.conf.write_text(good)
    assert "changed=settings,tunnel" in reload(edge, 2)
    edge.wait_log(r"event=tunnel_retired")
    n = edge.text().count("reason=refused_by_cloud")
    time.sleep(1.5)     # reconnect_max is 500ms: no more attempts
    assert edge.text().count("reason=refused_by_cloud") == n
    assert "event=tunnel_switched" not in edge.text()
    assert exchange(port, b"end") == b"A\nend"
    assert status(edge)["tunnel"]["connects"] == 1


def test_a_cloud_the_new_crl_revokes_is_dropped_at_once(site):
    """Make before break is for a cloud the edge still trusts: once the
    reloaded CRL lists the cloud's certificate, the running tunnel and its
    streams end at the reload, not when they are done."""
    a = site.backend("A")
    cloud, edge = start(site, {"A/t": [a]}, {"t": "t"},
                        extra=METRICS + f"\ncrl = {site.pki}/crl.pem"
                        "\npending_timeout = 1s")
    port = edge.port("listener.t")
    c, tag = held(port)
    assert tag == b"A\n"
    run("pki", "revoke", site.pki / "cloudgw.crt", "--ca", site.pki,
        expect=0)
    line = reload(edge, 1)
    assert "changed=tunnel" in line
    edge.wait_log(r"event=tunnel_untrusted cloud=127\.0\.0\.1:\d+ ")
    c.settimeout(10)
    assert c.recv(100) == b""       # its stream was cut
    c.close()
    edge.wait_log(r"event=connect_failed .*reason=revoked")
    st = status(edge)
    assert st["tunnel"]["state"] != "up"
    # A device waits for a tunnel it will not get, then is dropped.
    assert exchange(port, b"x", timeout=15) == b""


def tls_session(port, server_ca, cert):
    """A kept-alive device-TLS connection: (socket, Conn)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(server_ca)
    ctx.load_cert_chain(*cert)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    return s, Conn(s)


def get(s, conn):
    s.sendall(b"GET /headers HTTP/1.1\r\nHost: dev\r\n\r\n")
    return read_response(conn)


def gone(s, conn):
    """The edge closed this device connection."""
    s.settimeout(10)
    try:
        get(s, conn)
    except (EOFError, OSError, ssl.SSLError):
        return True
    return False


def test_device_tls_sessions_are_checked_again_on_reload(site):
    fleet = Fleet(site)
    be = HTTPBackend()
    try:
        listener = fleet.listener([fleet.v1], f"mac_allow = {MAC1}, {MAC2}")
        cloud, edge = start(site, {"A/web": ([be], "mode = http\n"
                                    "health = none\nidentity_headers = yes")},
                            {"web": listener})
        port = edge.port("listener.web")
        s1, c1 = tls_session(port, fleet.server_ca,
                             fleet.device(fleet.v1, MAC1))
        s2, c2 = tls_session(port, fleet.server_ca,
                             fleet.device(fleet.v1, MAC2))
        assert backend_headers(get(s1, c1))["x-isthmus-device-mac"] == MAC1
        assert backend_headers(get(s2, c2))["x-isthmus-device-mac"] == MAC2
        # MAC2 leaves the allowlist: its session ends, MAC1's goes on.
        site.edge_conf("agw", cloud.port("listen"), {"web": fleet.listener(
            [fleet.v1], f"mac_allow = {MAC1}")}, extra=METRICS)
        assert "changed=listeners" in reload(edge, 1)
        edge.wait_log(r"event=device_revoked listener=web \S+ "
                      rf"mac={MAC2} reason=mac_not_allowed")
        assert gone(s2, c2)
        assert backend_headers(get(s1, c1))["x-isthmus-device-mac"] == MAC1
        # The vendor CA bundle is replaced by another vendor's: MAC1 is
        # no longer trusted either, neither the session that is up nor a
        # device whose connection was accepted before the reload and
        # whose handshake comes after it.
        accepted = status(edge)["listeners"][0]["devices_total"]
        early = socket.create_connection(("127.0.0.1", port), timeout=10)
        assert eventually(lambda: status(edge)["listeners"][0]
                          ["devices_total"] == accepted + 1)
        site.edge_conf("agw", cloud.port("listen"), {"web": fleet.listener(
            [fleet.v2])}, extra=METRICS)
        reload(edge, 2)
        edge.wait_log(rf"event=device_revoked listener=web \S+ mac={MAC1} "
                      "reason=untrusted")
        assert gone(s1, c1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(fleet.server_ca)
        ctx.load_cert_chain(*fleet.device(fleet.v1, MAC1))
        try:
            with ctx.wrap_socket(early, server_hostname="localhost") as es:
                es.sendall(b"GET /headers HTTP/1.1\r\nHost: dev\r\n\r\n")
                assert es.recv(100) == b""
        except (ssl.SSLError, OSError):
            pass
        edge.wait_log(rf"event=device_refused listener=web \S+ mac={MAC1} "
                      "reason=untrusted")
        assert value(scrape(edge), "isthmus_device_tls_revoked_total",
                     listener="web") == 2
        assert status(edge)["listeners"][0]["device_tls"]["revoked"] == 2
        # The listener itself stayed: a device of the new vendor gets in.
        r, _ = tls_get(port, fleet.server_ca,
                       fleet.device(fleet.v2, "aa:bb:cc:00:00:09"))
        assert r.status == 200
        s1.close()
        s2.close()
    finally:
        be.close()


def openssl_ca_leaf(fleet, name, mac):
    """A certificate only openssl would make for a device: basicConstraints
    CA:TRUE, no keyUsage, clientAuth, the device's MAC in a SAN URI,
    signed by the vendor CA."""
    t = fleet.site.tmp
    key, csr, crt, ext = (t / f"{name}.key", t / f"{name}.csr",
                          t / f"{name}.crt", t / f"{name}.ext")
    ext.write_text("basicConstraints = critical, CA:TRUE\n"
                   "extendedKeyUsage = clientAuth\n"
                   f"subjectAltName = URI:urn:dev:mac:{mac.replace(':', '')}\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                    "-subj", f"/CN={mac}", "-out", csr], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA",
                    fleet.v1.crt, "-CAkey", fleet.v1.key, "-CAcreateserial",
                    "-days", "30", "-extfile", ext, "-out", crt], check=True,
                   capture_output=True)
    return crt, key


def test_only_end_entity_client_certificates_are_devices(site):
    fleet = Fleet(site)
    be = HTTPBackend()
    try:
        cloud, edge = start(site, {"A/web": ([be], "mode = http\n"
                                    "health = none\nidentity_headers = yes")},
                            {"web": fleet.listener([fleet.v1])})
        port = edge.port("listener.web")
        urn = ["urn:dev:mac:aabbcc000005"]
        ca_leaf = openssl_ca_leaf(fleet, "caleaf", "aa:bb:cc:00:00:05")
        server_only = fleet.crafted(fleet.v1, "serveronly", cn="dev",
                                    eku_oids=(SERVER_AUTH,), san_uris=urn)
        signing_ca = fleet.crafted(fleet.v1, "signing", cn="dev",
                                   is_ca=True, san_uris=urn)
        no_eku = fleet.crafted(fleet.v1, "noeku", cn="dev", eku_oids=(),
                               san_uris=urn)
        # `isthmus pki verify` calls each of them wrong usage for a
        # device (a TLS client).
        for crt, usage in ((ca_leaf, "any"), (server_only, "client"),
                           (signing_ca, "any"), (no_eku, "any")):
            res = run("pki", "verify", crt[0], "--ca", fleet.v1.dir,
                      "--usage", usage)
            assert res.returncode != 0 and "wrong usage" in res.stdout, \
                res.stdout
        odd = (ca_leaf, server_only, signing_ca, no_eku)
        for n, cert in enumerate(odd, 1):
            refused(port, fleet.server_ca, cert)
            edge.wait_log(r"event=device_refused listener=web .*"
                          "reason=wrong_usage", count=n)
        assert value(scrape(edge), "isthmus_device_tls_refused_total",
                     listener="web", reason="wrong_usage") == len(odd)
        assert be.requests == []
        # A device certificate from `isthmus pki` still gets in.
        r, _ = tls_get(port, fleet.server_ca, fleet.device(fleet.v1, MAC1))
        assert backend_headers(r)["x-isthmus-device-mac"] == MAC1
    finally:
        be.close()


def test_keys_a_reload_cannot_apply_are_named(site):
    """The admin socket and /metrics stay where they were bound; the rest
    of the configuration applies."""
    a = site.backend("A")
    cloud, edge = start(site, {"A/t": [a]}, {"t": "t"})
    sock = edge.ready["admin"]
    edge.conf.write_text(edge.conf.read_text()
                         .replace("admin_socket = agw.sock",
                                  "admin_socket = other.sock")
                         .replace("metrics = 127.0.0.1:0",
                                  "metrics = 127.0.0.2:0")
                         + "\n[listener u]\nlisten = 127.0.0.1:0\n"
                         "service = t\n")
    line = reload(edge, 1)
    assert "changed=listeners" in line and "settings" not in line
    edge.wait_log(r"event=reload_partial keys=admin_socket,metrics ")
    port = int(edge.wait_log(r"event=listening listener=u listen=\S+:(\d+)")
               [0])
    assert exchange(port, b"u") == b"A\nu"
    # Still answering where it was.
    c = socket.socket(socket.AF_UNIX)
    c.connect(sock)
    c.sendall(b"status json\n")
    got = b""
    while True:
        d = c.recv(65536)
        if not d:
            break
        got += d
    c.close()
    assert [li["name"] for li in json.loads(got)["listeners"]] == ["t", "u"]
    assert value(scrape(edge), "isthmus_reloads_total", result="ok") == 1
    # The next reload warns again: the running values were kept.
    reload(edge, 2)
    edge.wait_log(r"event=reload_partial keys=admin_socket,metrics ",
                  count=2)
