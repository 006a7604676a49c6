"""Devices with self-signed client certificates and a device-TLS listener
that learns them (device_trust = tofu, docs/trust.md), for the trust
tests: certificates made per test with `openssl req -x509` (CA:TRUE and
no clientAuth, as many devices' are), an HTTPS request as a device, and
the cloud and edge they go through."""

import hashlib
import json
import socket
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from http_lib import Conn, HTTPBackend, read_response
from isthmus_testlib import openssl, run


class Device:
    """A self-signed certificate and its key; fp is its sha256:HEX."""

    def __init__(self, tmp, name, subject):
        self.crt = tmp / f"{name}.crt"
        self.key = tmp / f"{name}.key"
        res = openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                      self.key, "-out", self.crt, "-days", "30", "-subj",
                      subject)
        assert res.returncode == 0, res.stderr
        cert = x509.load_pem_x509_certificate(self.crt.read_bytes())
        self.fp = "sha256:" + hashlib.sha256(
            cert.public_bytes(serialization.Encoding.DER)).hexdigest()

    @property
    def pair(self):
        return str(self.crt), str(self.key)


def edge_lan(site):
    """The edge's server certificate for the LAN (the site CA's)."""
    run("pki", "issue", "cloud", "edge-lan", "--dns", "localhost", "--ip",
        "127.0.0.1", "--ca", site.pki, expect=0)


def tofu_listener(site, extra=""):
    return ("web", "mode = http\n"
            f"tls_cert = {site.pki}/edge-lan.crt\n"
            f"tls_key = {site.pki}/edge-lan.key\n"
            "device_trust = tofu\n" + extra)


def connect(port, server_ca, cert):
    """A device's TLS connection to the edge (the handshake done on the
    device's side: with TLS 1.3 the edge may still refuse it)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(server_ca)
    if cert is not None:
        ctx.load_cert_chain(*cert)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def request(s, path="/headers"):
    """One request on s, kept alive; the Response."""
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: dev\r\n"
              "X-Isthmus-Device-MAC: 66:66:66:66:66:66\r\n\r\n".encode())
    return read_response(Conn(s))


def tls_get(port, server_ca, cert, path="/headers"):
    """An HTTPS request as a device; returns the Response, or raises
    ssl.SSLError / OSError / EOFError when the edge refused."""
    with connect(port, server_ca, cert) as s:
        return request(s, path)


def admitted(port, server_ca, cert):
    """The response when the edge admits the device, else None."""
    try:
        return tls_get(port, server_ca, cert)
    except (ssl.SSLError, OSError, EOFError):
        return None


def backend_headers(resp):
    return dict(json.loads(resp.body)["headers"])


def start_edge(site, cloud, name, listeners, extra=""):
    """An edge of that cloud, once its tunnel is up."""
    edge = site.start("edge", site.edge_conf(
        name, cloud.port("listen"), listeners, extra=extra))
    edge.wait_log(r"event=tunnel_up")
    return edge


def web_cloud(site, extra=""):
    """A cloud with one HTTP service A/web that sends identity headers;
    returns (cloud, backend)."""
    be = HTTPBackend()
    site.backends.append(be)
    cloud = site.start("cloud", site.cloud_conf(
        {"A/web": ([be], "mode = http\nhealth = none\n"
                   "identity_headers = yes")}, extra=extra))
    return cloud, be
