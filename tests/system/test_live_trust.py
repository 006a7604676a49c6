"""Trust that reaches live tunnels (issue 14 items 1, 2, 6): a revocation,
a changed CRL file, a certificate's end or a new CA bundle drops tunnels
that are already up; only end-entity client certificates are edges; an
edge may be bound to source addresses and pinned to several keys.

    edge agw --TLS--> cloud --> backend A
    (device sockets held open through the tunnel while the trust changes)
"""

import datetime
import signal
import socket
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from isthmus_testlib import load_cert, load_key, run
from tunnel_lib import eventually, exchange, scrape, spki, up, value

METRICS = "metrics = 127.0.0.1:0"
HELD = []


@pytest.fixture(autouse=True)
def _close_held(site):
    """Device sockets a test held open are closed before the daemons are
    stopped (an edge drains its open streams on SIGTERM)."""
    yield
    while HELD:
        HELD.pop().close()


def hold(edge, listener="t"):
    """A device connection through the tunnel, open and proven to work."""
    s = socket.create_connection(("127.0.0.1", edge.port(f"listener.{listener}")),
                                 timeout=10)
    HELD.append(s)
    s.sendall(b"ping")
    got = b""
    while b"ping" not in got:
        d = s.recv(100)
        assert d, "the device connection closed before it worked"
        got += d
    return s


def closed(s, timeout=10):
    """The device connection ends (EOF or reset) within timeout."""
    s.settimeout(timeout)
    try:
        while s.recv(100):
            pass
    except ConnectionResetError:
        pass
    return True


def forge_edge(site, out, name="agw", tenant="A", ca=False,
               eku=(ExtendedKeyUsageOID.CLIENT_AUTH,), lifetime=None):
    """An edge certificate like `pki issue edge` makes, signed by the
    site's CA, with the odd properties a test needs; key written 0600."""
    ca_cert = load_cert(site.pki / "ca.crt")
    ca_key = load_key(site.pki / "ca.key")
    key = ed25519.Ed25519PrivateKey.generate()
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                     name)]))
         .issuer_name(ca_cert.subject)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + (lifetime or datetime.timedelta(days=30)))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                        critical=True)
         .add_extension(x509.SubjectAlternativeName(
             [x509.UniformResourceIdentifier(
                 f"isthmus://{tenant}/edge/{name}")]), critical=False))
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    cert = b.sign(ca_key, None)
    crt, keyf = out.with_suffix(".crt"), out.with_suffix(".key")
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyf.touch(mode=0o600)
    keyf.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return out


def revoked_count(cloud, reason):
    return value(scrape(cloud), "isthmus_tunnels_revoked_total",
                 reason=reason)


# -- item 1: revocation reaches live tunnels --------------------------------

def test_revocation_and_sighup_drop_the_live_tunnel(site):
    a, b = site.backend("A"), site.backend("B")
    cloud, edges = up(site, {"A/t": [a], "B/t": [b]},
                      listeners_a={"t": "t"}, listeners_b={"t": "t"},
                      extra=METRICS + "\ncrl_check_interval = 0s")
    dev_a = hold(edges["agw"])
    dev_b = hold(edges["bgw"])
    run("pki", "revoke", site.pki / "agw.crt", "--ca", site.pki, expect=0)
    cloud.signal(signal.SIGHUP)
    cloud.wait_log(r"event=tunnel_revoked edge=agw reason=revoked tenant=A "
                   r"peer=\S+ streams_open=1 error=\"certificate revoked\"")
    assert closed(dev_a)
    assert revoked_count(cloud, "revoked") == 1
    # the edge comes back and is refused as any new handshake would be
    cloud.wait_log(r"event=handshake_failed peer=\S+ edge=\S+ "
                   r"reason=revoked")
    # the other customer's live stream and tunnel are untouched
    dev_b.sendall(b"still")
    assert dev_b.recv(100) == b"still"
    assert len(edges["bgw"].wait_log(r"event=tunnel_up")) == 1
    assert "edge=bgw reason" not in cloud.text()
    dev_b.close()


def test_a_changed_crl_file_takes_effect_without_sighup(site):
    a = site.backend("A")
    cloud, edges = up(site, {"A/t": [a]}, listeners_a={"t": "t"},
                      extra=METRICS + "\ncrl_check_interval = 200ms")
    dev = hold(edges["agw"])
    run("pki", "revoke", site.pki / "agw.crt", "--ca", site.pki, expect=0)
    cloud.wait_log(r"event=crl_reloaded crl=\S+crl.pem")
    cloud.wait_log(r"event=tunnel_revoked edge=agw reason=revoked")
    assert closed(dev)
    assert "event=reloaded" not in cloud.text()     # no SIGHUP was needed
    cloud.wait_log(r"event=handshake_failed peer=\S+ edge=\S+ "
                   r"reason=revoked")
    assert revoked_count(cloud, "revoked") == 1


def test_a_broken_crl_file_keeps_the_running_one(site):
    a = site.backend("A")
    cloud, edges = up(site, {"A/t": [a]}, listeners_a={"t": "t"},
                      extra="crl_check_interval = 200ms")
    dev = hold(edges["agw"])
    good = (site.pki / "crl.pem").read_bytes()
    (site.pki / "crl.pem").write_bytes(good[:40])       # half written
    cloud.wait_log(r"event=crl_reload_failed crl=\S+ error=\"[^\"]+\" "
                   r"action=\"keeping the running CRL\"")
    dev.sendall(b"on")
    assert dev.recv(100) == b"on"
    (site.pki / "crl.pem").write_bytes(good)
    cloud.wait_log(r"event=crl_reloaded")
    assert "event=tunnel_revoked" not in cloud.text()
    assert exchange(edges["agw"].port("listener.t"), b"x") == b"A\nx"
    dev.close()


def test_an_edge_certificate_ending_while_up_drops_the_tunnel(site):
    forge_edge(site, site.tmp / "short",
               lifetime=datetime.timedelta(seconds=4))
    a = site.backend("A")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [a]}, edges={"agw": ("A", spki(site.tmp / "short.crt"))},
        extra=METRICS))
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"t": "t"}, cert=site.tmp / "short"))
    edge.wait_log(r"event=tunnel_up")
    dev = hold(edge)
    cloud.wait_log(r"event=tunnel_revoked edge=agw reason=expired", timeout=15)
    assert closed(dev)
    assert revoked_count(cloud, "expired") == 1
    cloud.wait_log(r"event=handshake_failed peer=\S+ edge=\S+ reason=expired")


def test_a_ca_no_longer_trusted_drops_its_edges(site, tmp_path):
    a = site.backend("A")
    cloud, edges = up(site, {"A/t": [a]}, listeners_a={"t": "t"},
                      extra=METRICS)
    dev = hold(edges["agw"])
    other = tmp_path / "other"
    run("pki", "init", other, expect=0)
    text = cloud.conf.read_text()
    cloud.conf.write_text(text.replace(f"ca = {site.pki}/ca.crt",
                                       f"ca = {other}/ca.crt")
                          .replace(f"crl = {site.pki}/crl.pem",
                                   f"crl = {other}/crl.pem"))
    cloud.signal(signal.SIGHUP)
    cloud.wait_log(r"event=tunnel_revoked edge=agw reason=untrusted")
    assert closed(dev)
    assert revoked_count(cloud, "untrusted") == 1


# -- item 2: only end-entity client certificates are edges ------------------

@pytest.mark.parametrize("kind", ["ca_true", "server_only", "no_eku"])
def test_only_end_entity_client_certificates_are_edges(site, kind):
    opts = {"ca_true": dict(ca=True),
            "server_only": dict(eku=(ExtendedKeyUsageOID.SERVER_AUTH,)),
            "no_eku": dict(eku=())}[kind]
    forge_edge(site, site.tmp / "odd", **opts)
    a = site.backend("A")
    # pinned: the key is the one the operator listed, yet it is no edge
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [a]}, edges={"agw": ("A", spki(site.tmp / "odd.crt"))},
        extra=METRICS))
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"t": "t"}, cert=site.tmp / "odd"))
    # (OpenSSL's own purpose check refuses an EKU without clientAuth
    # before the edge's name is read; policy.c refuses the others)
    cloud.wait_log(r"event=handshake_failed peer=\S+ edge=\S+ "
                   r"reason=wrong_usage")
    edge.wait_log(r"event=tunnel_failed|event=handshake_failed|refused")
    assert "event=tunnel_up" not in cloud.text()
    assert value(scrape(cloud), "isthmus_handshakes_failed_total",
                 reason="wrong_usage") >= 1


# -- item 6: where an edge may come from, and several pins ------------------

def test_an_edge_from_another_address_is_refused(site):
    a = site.backend("A")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [a], "B/t": [a]}, extra=METRICS))
    text = cloud.conf.read_text()
    cloud.conf.write_text(text.replace(
        "[edge agw]", "[edge agw]\nfrom = 192.0.2.0/24, 2001:db8::/32").replace(
        "[edge bgw]", "[edge bgw]\nfrom = 10.0.0.1, 127.0.0.0/8"))
    cloud.signal(signal.SIGHUP)
    cloud.wait_log(r"event=reloaded")
    port = cloud.port("listen")
    agw = site.start("edge", site.edge_conf("agw", port, {"t": "t"}))
    bgw = site.start("edge", site.edge_conf("bgw", port, {"t": "t"}))
    cloud.wait_log(r"event=handshake_failed peer=127.0.0.1:\d+ edge=agw "
                   r"reason=source_address")
    bgw.wait_log(r"event=tunnel_up")            # 127.0.0.1 is in its list
    assert exchange(bgw.port("listener.t"), b"x") == b"A\nx"
    assert value(scrape(cloud), "isthmus_handshakes_failed_total",
                 reason="source_address") >= 1
    assert "event=tunnel_up cloud" not in agw.text()
    # the edge's IT reads what the cloud refused: the address
    agw.wait_log(r"reason=refused_by_cloud error=\"the cloud refused this "
                 r"edge's certificate \(sslv3 alert bad certificate\); the "
                 r"cloud knows this edge and its certificate but not the "
                 r"address it came from")


def test_from_narrowed_by_reload_drops_the_live_tunnel(site):
    a = site.backend("A")
    cloud, edges = up(site, {"A/t": [a]}, listeners_a={"t": "t"},
                      extra=METRICS)
    dev = hold(edges["agw"])
    text = cloud.conf.read_text()
    cloud.conf.write_text(text.replace("[edge agw]",
                                       "[edge agw]\nfrom = 198.51.100.7"))
    cloud.signal(signal.SIGHUP)
    cloud.wait_log(r"event=tunnel_revoked edge=agw reason=source_address")
    assert closed(dev)
    assert revoked_count(cloud, "source_address") == 1


@pytest.mark.parametrize("bad,why", [
    ("10.1.2.3/8", "has bits set past the /8 prefix"),
    ("cloud.example", "is not an IPv4 or IPv6 address"),
    ("192.0.2.0/33", "the prefix length must be 0 to 32"),
    ("2001:db8::/129", "the prefix length must be 0 to 128"),
    ("192.0.2.0/24,", None),          # a trailing comma is fine
])
def test_from_values_are_checked(site, bad, why):
    conf = site.cloud_conf({"A/t": [site.backend("A")]})
    text = conf.read_text()
    conf.write_text(text.replace("[edge agw]", f"[edge agw]\nfrom = {bad}"))
    line = conf.read_text().splitlines().index(f"from = {bad}") + 1
    res = run("cloud", "-c", conf, "--check", expect=0 if why is None else 2)
    if why is not None:
        assert f"{conf}:{line}: from: " in res.stderr
        assert why in res.stderr


def test_several_pins_let_an_edge_rotate_its_certificate(site):
    """The new certificate is pinned beside the old; both are admitted;
    the old pin is then retired and only its tunnel goes."""
    run("pki", "issue", "edge", "agw", "--tenant", "A", "--ca", site.pki,
        "--out", site.tmp / "agw2", expect=0)
    a = site.backend("A")
    old, new = spki(site.pki / "agw.crt"), spki(site.tmp / "agw2.crt")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [a]}, edges={"agw": ("A", f"{old},\n  {new}")},
        extra=METRICS))
    port = cloud.port("listen")
    e_old = site.start("edge", site.edge_conf("agw", port, {"t": "t"}))
    conf2 = site.edge_conf("agw", port, {"t": "t"}, cert=site.tmp / "agw2",
                           extra="admin_socket = agw2.sock")
    conf2 = conf2.rename(site.tmp / "edge-agw2.conf")
    e_new = site.start("edge", conf2)
    e_old.wait_log(r"event=tunnel_up")
    e_new.wait_log(r"event=tunnel_up")
    dev = hold(e_new)
    assert exchange(e_old.port("listener.t"), b"o") == b"A\no"
    # retire the old pin
    cloud.conf.write_text(cloud.conf.read_text().replace(f"{old},\n", ""))
    cloud.signal(signal.SIGHUP)
    cloud.wait_log(r"event=tunnel_revoked edge=agw reason=pin_mismatch")
    dev.sendall(b"kept")
    assert dev.recv(100) == b"kept"
    assert revoked_count(cloud, "pin_mismatch") == 1
    assert len(e_new.wait_log(r"event=tunnel_up")) == 1
    dev.close()


def test_too_many_pins_are_refused(site):
    pins = ",\n  ".join("sha256:" + f"{i:02x}" * 32 for i in range(9))
    conf = site.cloud_conf({"A/t": [site.backend("A")]},
                           edges={"agw": ("A", pins),
                                  "bgw": ("B", spki(site.pki / "bgw.crt"))})
    res = run("cloud", "-c", conf, "--check", expect=2)
    assert "pin: more than 8 values" in res.stderr
