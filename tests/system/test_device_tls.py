"""Device mTLS at an edge listener: devices present their vendor's
certificate, the edge takes their MAC from it, and the backend learns it.

Vendor CAs and device certificates come from `isthmus pki`; the ones our
tool would never make (expired, another vendor's layout) are built with
cryptography and signed by a vendor CA's own key.
"""

import datetime
import json
import socket
import ssl
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from http_lib import HTTPBackend, Conn, read_response
from isthmus_testlib import CA, build_leaf, now, run, write_cert
from tunnel_lib import scrape, value

MAC1 = "aa:bb:cc:00:00:01"
MAC2 = "aa:bb:cc:00:00:02"


class Fleet:
    """Two vendors' CAs and their devices, and the edge's own server
    certificate for the LAN (issued by the site CA)."""

    def __init__(self, site):
        t = site.tmp
        self.site = site
        self.v1 = CA.init(t / "vendor1")
        self.v2 = CA.init(t / "vendor2", "--name", "Other Vendor Root")
        for mac in (MAC1, MAC2):
            run("pki", "issue", "device", mac, "--vendor", "Acme",
                "--ca", self.v1.dir, expect=0)
        run("pki", "issue", "device", "aa:bb:cc:00:00:09", "--ca",
            self.v2.dir, expect=0)
        run("pki", "issue", "cloud", "edge-lan", "--dns", "localhost",
            "--ip", "127.0.0.1", "--ca", site.pki, expect=0)
        self.server_ca = site.pki / "ca.crt"

    def device(self, ca, mac):
        hexmac = mac.replace(":", "")
        return ca.dir / f"{hexmac}.crt", ca.dir / f"{hexmac}.key"

    def crafted(self, ca, name, **kw):
        """A P-256 device certificate built here; returns (crt, key)."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = build_leaf(ca, leaf_key=key, **kw)
        crt = write_cert(cert, self.site.tmp / f"{name}.crt")
        kpath = self.site.tmp / f"{name}.key"
        kpath.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        return crt, kpath

    def listener(self, cas, extra=""):
        return ("web", "mode = http\n"
                f"tls_cert = {self.site.pki}/edge-lan.crt\n"
                f"tls_key = {self.site.pki}/edge-lan.key\n"
                "device_ca = " + ", ".join(str(c.crt) for c in cas) + "\n"
                + extra)


def tls_get(port, server_ca, cert=None, path="/headers", maxver=None,
            ciphers=None):
    """An HTTPS request as a device; returns the Response, or raises
    ssl.SSLError / OSError when the edge refused."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(server_ca)
    if cert is not None:
        ctx.load_cert_chain(*cert)
    if maxver is not None:
        ctx.maximum_version = maxver
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: dev\r\n"
                  "X-Isthmus-Device-MAC: 66:66:66:66:66:66\r\n\r\n".encode())
        return read_response(Conn(s)), s.version()


def refused(port, server_ca, cert=None, **kw):
    with pytest.raises((ssl.SSLError, ConnectionError, EOFError)):
        tls_get(port, server_ca, cert, **kw)


@pytest.fixture
def fleet(site):
    return Fleet(site)


def start(site, fleet, listeners, be):
    cloud = site.start("cloud", site.cloud_conf(
        {"A/web": ([be], "mode = http\nhealth = none\n"
                   "identity_headers = yes")}))
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), listeners,
        extra="metrics = 127.0.0.1:0"))
    edge.wait_log(r"event=tunnel_up")
    return cloud, edge


def backend_headers(resp):
    return dict(json.loads(resp.body)["headers"])


def test_vendor_devices_get_in_and_the_backend_sees_their_mac(site, fleet):
    be = HTTPBackend()
    try:
        cloud, edge = start(site, fleet, {
            "web": fleet.listener([fleet.v1], f"mac_allow = {MAC1}")}, be)
        port = edge.port("listener.web")
        for ver in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            r, got = tls_get(port, fleet.server_ca,
                             fleet.device(fleet.v1, MAC1), maxver=ver)
            assert r.status == 200
            assert got == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                           ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[ver]
            h = backend_headers(r)
            # The certificate's MAC, not the one the device wrote.
            assert h["x-isthmus-device-mac"] == MAC1
        m = scrape(edge)
        assert value(m, "isthmus_device_tls_accepted_total",
                     listener="web") == 2
    finally:
        be.close()


def test_devices_refused_with_reason(site, fleet):
    be = HTTPBackend()
    try:
        cloud, edge = start(site, fleet, {
            "web": fleet.listener([fleet.v1], f"mac_allow = {MAC1}")}, be)
        port = edge.port("listener.web")
        t = now()
        expired = fleet.crafted(
            fleet.v1, "expired", cn=MAC1,
            nb=t - datetime.timedelta(days=30),
            na=t - datetime.timedelta(days=1),
            san_uris=["urn:dev:mac:aabbcc000001"])
        no_mac = fleet.crafted(fleet.v1, "nomac", cn="no mac here")
        cases = [
            (None, {}, "no_cert"),
            (fleet.device(fleet.v2, "aa:bb:cc:00:00:09"), {}, "untrusted"),
            (expired, {}, "expired"),
            (no_mac, {}, "no_mac"),
            (fleet.device(fleet.v1, MAC2), {}, "mac_not_allowed"),
            (fleet.device(fleet.v1, MAC1),
             {"maxver": ssl.TLSVersion.TLSv1_2, "ciphers": "AES128-SHA"},
             "protocol"),
        ]
        for cert, kw, reason in cases:
            refused(port, fleet.server_ca, cert, **kw)
            edge.wait_log(rf"event=device_refused .*reason={reason}")
        m = scrape(edge)
        for _, _, reason in cases:
            assert value(m, "isthmus_device_tls_refused_total",
                         listener="web", reason=reason) == 1, reason
        st = json.loads(run("status", "-c", edge.conf, "--json",
                            expect=0).stdout)
        dt = st["listeners"][0]["device_tls"]
        assert dt["accepted"] == 0
        assert {k for k, v in dt["refused"].items() if v} == \
            {reason for _, _, reason in cases}
        # No refused device reached the backend; the good one still does.
        assert be.requests == []
        r, _ = tls_get(port, fleet.server_ca, fleet.device(fleet.v1, MAC1))
        assert backend_headers(r)["x-isthmus-device-mac"] == MAC1
    finally:
        be.close()


def test_other_vendor_layout_and_several_bundles(site, fleet):
    """A vendor that writes the MAC in the subject CN with a prefix, next
    to our own layout, on one listener trusting both vendors."""
    be = HTTPBackend()
    try:
        cisco_like = fleet.crafted(fleet.v2, "sep", cn="SEP001122334455")
        cloud, edge = start(site, fleet, {
            "cn": fleet.listener([fleet.v1, fleet.v2], "mac_from = cn"),
            "uri": fleet.listener([fleet.v1, fleet.v2])}, be)
        r, _ = tls_get(edge.port("listener.cn"), fleet.server_ca,
                       cisco_like)
        assert backend_headers(r)["x-isthmus-device-mac"] == \
            "00:11:22:33:44:55"
        # The URI layout on the other listener; a CN-only certificate has
        # no MAC there.
        r, _ = tls_get(edge.port("listener.uri"), fleet.server_ca,
                       fleet.device(fleet.v2, "aa:bb:cc:00:00:09"))
        assert backend_headers(r)["x-isthmus-device-mac"] == \
            "aa:bb:cc:00:00:09"
        refused(edge.port("listener.uri"), fleet.server_ca, cisco_like)
        edge.wait_log(r"event=device_refused listener=uri .*reason=no_mac")
    finally:
        be.close()


@pytest.mark.parametrize("opts,message", [
    ("mode = http\ntls_cert = x.crt\n", "tls_cert, tls_key and device_ca"),
    ("tls_cert = {p}/edge-lan.crt\ntls_key = {p}/edge-lan.key\n"
     "device_ca = {p}/ca.crt\n", "mode = http"),
    ("mode = http\nmac_allow = aa:bb:cc:00:00:01\n", "needs device TLS"),
    ("mode = http\ntls_cert = {p}/edge-lan.crt\ntls_key = {p}/edge-lan.key\n"
     "device_ca = {p}/ca.crt\nmac_allow = 01:00:00:00:00:00\n", "mac_allow"),
    ("mode = http\ntls_cert = {p}/edge-lan.crt\ntls_key = {p}/agw.key\n"
     "device_ca = {p}/ca.crt\n", "does not belong"),
    ("mode = http\ntls_cert = {p}/edge-lan.crt\ntls_key = {p}/edge-lan.key\n"
     "device_ca = {p}/missing.crt\n", "missing.crt"),
])
def test_bad_device_tls_config_is_refused(site, fleet, opts, message):
    conf = site.edge_conf("agw", 1, {"web": ("web",
                                             opts.format(p=site.pki))})
    res = run("edge", "-c", conf, "--check")
    assert res.returncode == 2, res
    assert message in res.stderr, res.stderr


def test_handshake_trickled_byte_by_byte_times_out(site, fleet):
    be = HTTPBackend()
    try:
        listeners = {"web": fleet.listener(
            [fleet.v1], "request_timeout = 1s")}
        cloud, edge = start(site, fleet, listeners, be)
        s = socket.create_connection(("127.0.0.1",
                                      edge.port("listener.web")), timeout=10)
        start_t = time.time()
        hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40
        closed = False
        for b in hello:
            try:
                s.send(bytes([b]))
            except OSError:
                closed = True
                break
            time.sleep(0.2)
            if time.time() - start_t > 4:
                break
        if not closed:
            s.settimeout(3)
            try:
                closed = s.recv(100) == b""
            except ConnectionError:
                closed = True
        assert closed and time.time() - start_t < 4
        edge.wait_log(r"event=device_refused .*reason=timeout")
        s.close()
    finally:
        be.close()
