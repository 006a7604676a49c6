"""When the cloud's certificate is not the one we expect, the edge says
why in words IT can act on: TLS interception by a proxy (naming the
inspecting CA), a wrong server, an expired or not yet valid certificate
(with the dates and the local clock), a revoked one, or another key than
the pin. It never completes the handshake with such a peer: no client
certificate, no device byte."""

import datetime
import json
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from isthmus_testlib import (CA, SERVER_AUTH, build_leaf, now, run,
                             write_cert)
from tunnel_lib import scrape, value


def _key_pem(key, path):
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    path.chmod(0o600)    # the daemons refuse keys others can read
    return path


def _fp(path):
    return json.loads(run("pki", "show", "--json", path,
                          expect=0).stdout)


def _edge(site, port, extra="", pin=None, server_name=None):
    conf = site.edge_conf("agw", port, {"t": "t"}, pin=pin,
                          extra=extra + "metrics = 127.0.0.1:0\n")
    if server_name is not None:
        conf.write_text(conf.read_text().replace(
            "server_name = localhost", f"server_name = {server_name}"))
    return site.start("edge", conf)


def test_intercepting_proxy_is_named_and_refused(site, fakes):
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": ([site.backend("a-t")], "")}))
    # The inspecting proxy's own CA issues a certificate for our cloud's
    # name and address, as TLS inspection boxes do.
    other = CA.init(site.tmp / "inspect-ca", "--name", "Corp Inspection CA")
    run("pki", "issue", "cloud", "intercept", "--dns", "localhost", "--ip",
        "127.0.0.1", "--ca", other.dir, expect=0)
    crt, key = other.dir / "intercept.crt", other.dir / "intercept.key"
    mitm = fakes(crt, key, site.pki / "ca.crt", proxy=True)
    edge = _edge(site, cloud.port("listen"),
                 f"proxy = http://127.0.0.1:{mitm.port}\n")
    port = cloud.port("listen")
    shown = _fp(crt)
    pin = _fp(site.pki / "cloudgw.crt")["spki_sha256"]
    lines = edge.wait_log(r"event=connect_failed .*reason=interception "
                          r"error=\"[^\n]*", count=2)
    text = lines[0]
    assert f"TLS interception suspected: 127.0.0.1:{port} presented a " \
        "certificate for localhost issued by CN=Corp Inspection CA" in text
    assert shown["cert_sha256"] in text and shown["spki_sha256"] in text
    assert f"cloud_pin {pin}" in text
    assert "Mutual TLS cannot pass through inspection: ask IT to exempt " \
        f"127.0.0.1:{port} from TLS inspection" in text
    st = json.loads(run("status", "-c", str(edge.conf), "--json",
                        expect=0).stdout)
    assert "TLS interception suspected" in st["tunnel"]["last_error"]
    assert value(scrape(edge), "isthmus_tunnel_connect_failures_total",
                 reason="interception") >= 2
    # The edge asked for the real cloud, refused the inspector's answer
    # before sending its own certificate, and sent no byte after.
    assert mitm.connects[0] == f"CONNECT 127.0.0.1:{port} HTTP/1.1"
    assert mitm.handshakes and all(c is None for c, _ in mitm.handshakes)
    assert mitm.bytes_after == 0
    edge.stop()
    assert "tunnel_up" not in cloud.text()


def _crafted_cloud(site, name, **kw):
    """A server certificate from the site's CA built with cryptography
    (for dates `pki issue` refuses); returns (crt, key)."""
    ca = CA(site.pki)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build_leaf(ca, cn=name, leaf_key=key, eku_oids=(SERVER_AUTH,),
                      san_dns=("localhost",), san_ips=("127.0.0.1",), **kw)
    return (write_cert(cert, site.tmp / f"{name}.crt"),
            _key_pem(key, site.tmp / f"{name}.key"))


@pytest.mark.parametrize("kind", ["expired", "not_yet_valid"])
def test_certificate_dates_are_explained_with_the_local_clock(site, fakes,
                                                              kind):
    t = now()
    if kind == "expired":
        nb, na = t - datetime.timedelta(days=30), t - datetime.timedelta(
            days=1)
    else:
        nb, na = t + datetime.timedelta(days=2), t + datetime.timedelta(
            days=30)
    crt, key = _crafted_cloud(site, kind, nb=nb, na=na)
    fake = fakes(crt, key, site.pki / "ca.crt")
    pin = _fp(crt)["spki_sha256"]
    edge = _edge(site, fake.port, pin=pin)
    line = edge.wait_log(rf"reason={kind} error=\"[^\n]*")[0]
    stamp = (na if kind == "expired" else nb).strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "expired":
        assert f"the cloud's certificate (CN={kind}) expired at {stamp}" \
            in line
    else:
        assert f"is valid only from {stamp}" in line
        assert "if the clock is wrong, fix it (NTP)" in line
    said = re.search(r"the local clock says (\S+Z)", line).group(1)
    clock = datetime.datetime.strptime(said, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    assert abs((clock - now()).total_seconds()) < 120
    assert all(c is None for c, _ in fake.handshakes)


def test_wrong_server_is_named(site, fakes):
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": ([site.backend("a-t")], "")}))
    # Our CA, another name: server_name says a different host.
    edge = _edge(site, cloud.port("listen"),
                 server_name="cloud.other.example")
    port = cloud.port("listen")
    line = edge.wait_log(r"reason=wrong_server error=\"[^\n]*")[0]
    assert f"wrong server: 127.0.0.1:{port} presented a certificate from " \
        "our CA for " in line
    assert "not for cloud.other.example: check cloud and server_name" \
        in line
    edge.stop()
    # Another CA and another name: a different service answered.
    other = CA.init(site.tmp / "web-ca", "--name", "Some Web CA")
    run("pki", "issue", "cloud", "www", "--dns", "www.example", "--ca",
        other.dir, expect=0)
    fake = fakes(other.dir / "www.crt", other.dir / "www.key",
                 site.pki / "ca.crt")
    edge = _edge(site, fake.port)
    line = edge.wait_log(r"reason=wrong_server error=\"[^\n]*")[0]
    assert f"127.0.0.1:{fake.port} presented a certificate for www.example "\
        "issued by CN=Some Web CA, which is not our CA, and not for " \
        "localhost" in line
    assert "interception" not in line


def test_revoked_cloud_certificate(site):
    run("pki", "revoke", site.pki / "cloudgw.crt", "--ca", site.pki,
        "--reason", "keyCompromise", expect=0)
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": ([site.backend("a-t")], "")}))
    edge = _edge(site, cloud.port("listen"),
                 f"crl = {site.pki / 'crl.pem'}\n")
    line = edge.wait_log(r"reason=revoked error=\"[^\n]*")[0]
    assert "the cloud's certificate (CN=cloudgw" in line
    assert f"is revoked by the CRL {site.pki / 'crl.pem'}" in line
    edge.stop()
    assert "tunnel_up edge=agw" not in cloud.text()


def test_pin_mismatch_names_both_keys(site):
    run("pki", "issue", "cloud", "cloud2", "--dns", "localhost", "--ip",
        "127.0.0.1", "--ca", site.pki, expect=0)
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": ([site.backend("a-t")], "")}))
    pin2 = _fp(site.pki / "cloud2.crt")["spki_sha256"]
    edge = _edge(site, cloud.port("listen"), pin=pin2)
    line = edge.wait_log(r"reason=pin_mismatch error=\"[^\n]*")[0]
    real = _fp(site.pki / "cloudgw.crt")["spki_sha256"]
    assert "issued by CN=isthmus root CA, a CA in ca, but it is not the " \
        "pinned one (subject CN=cloudgw" in line
    assert f"key {real}; cloud_pin {pin2}" in line
    assert "change cloud_pin only if the cloud's operator says its key " \
        "changed" in line


def test_interceptor_whose_root_is_in_ca_is_named(site, fakes):
    """IT "trusted the corporate root": the inspection box's CA is in
    ca, so its certificate verifies and only the pin refuses it. The
    message names who issued it and asks for the exemption before any
    change of cloud_pin, so IT is not steered into pinning the box."""
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": ([site.backend("a-t")], "")}))
    port = cloud.port("listen")
    other = CA.init(site.tmp / "inspect-ca", "--name", "Corp Inspection CA")
    run("pki", "issue", "cloud", "intercept", "--dns", "localhost", "--ip",
        "127.0.0.1", "--ca", other.dir, expect=0)
    crt = other.dir / "intercept.crt"
    bundle = site.tmp / "ca-bundle.crt"
    bundle.write_bytes((site.pki / "ca.crt").read_bytes()
                       + (other.dir / "ca.crt").read_bytes())
    mitm = fakes(crt, other.dir / "intercept.key", site.pki / "ca.crt",
                 proxy=True)
    conf = site.edge_conf("agw", port, {"t": "t"},
                          extra=f"proxy = http://127.0.0.1:{mitm.port}\n"
                          "metrics = 127.0.0.1:0\n")
    conf.write_text(conf.read_text().replace(
        f"ca = {site.pki}/ca.crt", f"ca = {bundle}"))
    edge = site.start("edge", conf)
    line = edge.wait_log(r"reason=pin_mismatch error=\"[^\n]*")[0]
    shown = _fp(crt)
    pin = _fp(site.pki / "cloudgw.crt")["spki_sha256"]
    assert f"127.0.0.1:{port} presented a certificate issued by CN=Corp " \
        "Inspection CA, a CA in ca, but it is not the pinned one (subject " \
        "CN=intercept, issuer CN=Corp Inspection CA, certificate " \
        f"{shown['cert_sha256']}, key {shown['spki_sha256']}; cloud_pin " \
        f"{pin})" in line
    assert "If a TLS-inspecting proxy is on the path (IT may have added " \
        f"its CA to ca), ask IT to exempt 127.0.0.1:{port} from TLS " \
        "inspection" in line
    assert "change cloud_pin only if the cloud's operator says its key " \
        "changed" in line
    assert "update cloud_pin" not in line
    assert value(scrape(edge), "isthmus_tunnel_connect_failures_total",
                 reason="pin_mismatch") >= 1
    assert mitm.handshakes and all(c is None for c, _ in mitm.handshakes)
    assert mitm.bytes_after == 0
    edge.stop()
    assert "tunnel_up" not in cloud.text()


def test_corporate_certificate_for_another_name_has_every_fact(site, fakes):
    """A fixed corporate certificate for another name, through a proxy,
    the cloud given by address (so no SNI for the box to copy): the
    message carries the same facts as every interception message."""
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": ([site.backend("a-t")], "")}))
    port = cloud.port("listen")
    other = CA.init(site.tmp / "corp-ca", "--name", "Corp Root CA")
    run("pki", "issue", "cloud", "corp", "--dns", "proxy.corp.example",
        "--ca", other.dir, expect=0)
    crt = other.dir / "corp.crt"
    mitm = fakes(crt, other.dir / "corp.key", site.pki / "ca.crt", proxy=True)
    conf = site.edge_conf("agw", port, {"t": "t"},
                          extra=f"proxy = http://127.0.0.1:{mitm.port}\n")
    conf.write_text(conf.read_text().replace("server_name = localhost\n", ""))
    edge = site.start("edge", conf)
    line = edge.wait_log(r"reason=interception error=\"[^\n]*")[0]
    shown = _fp(crt)
    pin = _fp(site.pki / "cloudgw.crt")["spki_sha256"]
    assert "TLS interception or a wrong server: through the proxy " \
        f"http://127.0.0.1:{mitm.port}, 127.0.0.1:{port} presented a " \
        "certificate for proxy.corp.example issued by CN=Corp Root CA" in line
    assert "(subject CN=corp, issuer CN=Corp Root CA, certificate " \
        f"{shown['cert_sha256']}, key {shown['spki_sha256']}; cloud_pin " \
        f"{pin})" in line
    assert f"ask to exempt 127.0.0.1:{port}" in line
    assert mitm.handshakes and all(c is None for c, _ in mitm.handshakes)


def split_cloud(site, fakes, sslsplit):
    """A real sslsplit in front of a stand-in for the cloud (its
    certificate and key). Not the real cloud: that one refuses sslsplit's
    certificate-less handshake at once, and on loopback its alert races
    sslsplit's own handshake with the edge (across a WAN it comes a round
    trip later), so the edge would see a bare close now and then."""
    upstream = fakes(site.pki / "cloudgw.crt", site.pki / "cloudgw.key",
                     site.pki / "ca.crt")
    # sslsplit signs with ECDSA or RSA CAs, as inspection boxes do.
    other = CA.init(site.tmp / "split-ca", "--name", "Corp Inspection CA",
                    "--key", "p256")
    return sslsplit(other.dir, upstream.port), upstream


def test_interceptor_that_refuses_our_hello_is_named(site, fakes, sslsplit):
    """A real sslsplit on the path: it cannot do X25519, the only group
    the edge offers, and aborts the handshake before showing any
    certificate. The edge says that something answered instead of the
    cloud, with the exemption to ask for, counted as interception."""
    box, upstream = split_cloud(site, fakes, sslsplit)
    edge = _edge(site, box.port)
    lines = edge.wait_log(r"event=connect_failed .*reason=interception "
                          r"error=\"[^\n]*", count=2)
    assert f"127.0.0.1:{box.port} refused this edge's TLS offer before " \
        "showing any certificate (sslv3 alert handshake failure): an " \
        "isthmus cloud never does this, so something on the path answered " \
        "instead of the cloud" in lines[0]
    assert f"Ask IT to exempt 127.0.0.1:{box.port} from TLS inspection" \
        in lines[0]
    assert value(scrape(edge), "isthmus_tunnel_connect_failures_total",
                 reason="interception") >= 2
    st = json.loads(run("status", "-c", str(edge.conf), "--json",
                        expect=0).stdout)
    assert "something on the path answered" in st["tunnel"]["last_error"]
    edge.stop()
    # What reached the cloud's side came from sslsplit, never with the
    # edge's certificate.
    assert all(c is None for c, _ in upstream.handshakes)


def test_our_cloud_with_a_stale_ca_is_not_called_interception(site):
    """The pinned cloud certificate, but `ca` lacks its issuer (a rotated
    CA): the edge says to update ca, not to look for an inspecting
    proxy."""
    other = CA.init(site.tmp / "old-ca", "--name", "Retired CA")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": ([site.backend("a-t")], "")}))
    conf = site.edge_conf("agw", cloud.port("listen"), {"t": "t"})
    conf.write_text(conf.read_text().replace(
        f"ca = {site.pki}/ca.crt", f"ca = {other.dir}/ca.crt"))
    edge = site.start("edge", conf)
    line = edge.wait_log(r"event=connect_failed [^\n]*")[0]
    assert "reason=certificate" in line and "interception" not in line
    assert "presented the pinned cloud certificate (CN=cloudgw" in line
    assert "its issuer CN=isthmus root CA is not in ca" in line
    assert "update ca with the cloud's current CA chain" in line


def test_an_expired_crl_is_blamed_on_the_crl(site):
    from isthmus_testlib import build_crl
    ca = CA(site.pki)
    t = now()
    crl = build_crl(ca, last=t - datetime.timedelta(days=10),
                    nxt=t - datetime.timedelta(days=1), number=7)
    path = site.tmp / "stale-crl.pem"
    path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": ([site.backend("a-t")], "")}))
    edge = _edge(site, cloud.port("listen"), f"crl = {path}\n")
    line = edge.wait_log(r"event=connect_failed [^\n]*")[0]
    assert f"our CRL {path} cannot be used (CRL has expired): refresh " \
        "it (isthmus pki crl on the CA) and reload the edge (SIGHUP)" in line
    assert "revoked" not in line
