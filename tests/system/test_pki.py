"""`pki init` / `pki issue` / `pki intermediate`: what lands on disk and what
the certificates contain, checked with python `cryptography`."""

import datetime
import ipaddress
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from isthmus_testlib import (CA, CLIENT_AUTH, SERVER_AUTH, attrs,
                             crl_signed_by, der, eku,
                             ext, key_type, load_cert, load_certs, not_after, not_before,
                             now, run, san, signed_by, spki_der)

DAY = datetime.timedelta(days=1)


def assert_validity_days(cert, days):
    t = now()
    nb, na = not_before(cert), not_after(cert)
    assert nb <= t + datetime.timedelta(minutes=2), f"notBefore {nb} in future"
    assert nb >= t - DAY, f"notBefore {nb} too far in the past"
    expected = t + days * DAY
    assert abs(na - expected) <= DAY, (
        f"notAfter {na}, expected about {expected} ({days} days)")


def assert_leaf_extensions(cert, issuer_cert, usage):
    assert cert.version == x509.Version.v3
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical
    assert bc.value.ca is False
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical
    v = ku.value
    assert v.digital_signature
    assert not v.key_cert_sign
    assert not v.crl_sign
    assert not v.content_commitment
    assert not v.key_encipherment
    assert not v.data_encipherment
    assert not v.key_agreement
    assert eku(cert) == {usage}
    ski = ext(cert, x509.SubjectKeyIdentifier).value.digest
    assert ski
    aki = ext(cert, x509.AuthorityKeyIdentifier).value
    issuer_ski = ext(issuer_cert, x509.SubjectKeyIdentifier).value.digest
    assert aki.key_identifier == issuer_ski
    assert ski != issuer_ski
    assert cert.issuer == issuer_cert.subject
    assert signed_by(cert, issuer_cert.public_key())
    assert 0 < cert.serial_number < 2 ** 128


def assert_ca_extensions(cert):
    assert cert.version == x509.Version.v3
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical
    assert bc.value.ca is True
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical
    assert ku.value.key_cert_sign
    assert ku.value.crl_sign
    assert ext(cert, x509.SubjectKeyIdentifier).value.digest
    assert 0 < cert.serial_number < 2 ** 128


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------------ init

def test_init_creates_ca(tmp_path):
    d = tmp_path / "ca"
    assert not d.exists()
    run("pki", "init", d, expect=0)
    ca = CA(d)
    assert ca.crt.is_file() and ca.key.is_file() and ca.crl_path.is_file()
    cert = ca.cert
    assert_ca_extensions(cert)
    assert attrs(cert.subject, NameOID.COMMON_NAME) == ["isthmus root CA"]
    assert cert.issuer == cert.subject
    assert signed_by(cert, cert.public_key())
    assert key_type(cert.public_key()) == "ed25519"
    assert_validity_days(cert, 3650)
    # private key matches the certificate
    key = ca.private_key
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    assert spki_der(key.public_key()) == spki_der(cert.public_key())


def test_init_crl_is_empty_and_signed(make_ca):
    ca = make_ca()
    crl = ca.crl
    assert crl.issuer == ca.cert.subject
    assert len(list(crl)) == 0
    assert crl_signed_by(crl, ca.cert.public_key())
    # signed by the CA, not by some other key
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    assert not crl_signed_by(crl, other)


def test_init_key_mode_0600_even_with_umask_0(tmp_path):
    d = tmp_path / "ca"
    run("pki", "init", d, expect=0, umask=0)
    assert mode(d / "ca.key") == 0o600
    # certificates and CRL are public
    assert mode(d / "ca.crt") & 0o444 == 0o444
    assert mode(d / "crl.pem") & 0o444 == 0o444


def test_init_name_days_key(tmp_path):
    ca = CA.init(tmp_path / "ca", "--name", "Example Root 7", "--days", "42",
                 "--key", "p256")
    cert = ca.cert
    assert attrs(cert.subject, NameOID.COMMON_NAME) == ["Example Root 7"]
    assert_validity_days(cert, 42)
    pub = cert.public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    assert isinstance(pub.curve, ec.SECP256R1)
    assert signed_by(cert, pub)
    assert isinstance(ca.private_key, ec.EllipticCurvePrivateKey)
    assert_ca_extensions(cert)


def test_init_explicit_ed25519(tmp_path):
    ca = CA.init(tmp_path / "ca", "--key", "ed25519")
    assert key_type(ca.cert.public_key()) == "ed25519"


def test_init_into_existing_empty_dir(tmp_path):
    d = tmp_path / "ca"
    d.mkdir()
    ca = CA.init(d)
    assert ca.crt.is_file()


def test_two_cas_have_different_keys(make_ca):
    a, b = make_ca("a"), make_ca("b")
    assert spki_der(a.cert.public_key()) != spki_der(b.cert.public_key())
    assert a.cert.serial_number != b.cert.serial_number


# ------------------------------------------------------------------ edge

def test_edge_cert(make_ca):
    ca = make_ca()
    leaf = ca.edge("gw-01.site_a", "tenant-7")
    assert leaf.crt == ca.dir / "gw-01.site_a.crt"
    assert leaf.crt.is_file() and leaf.key.is_file()
    cert = leaf.cert
    assert_leaf_extensions(cert, ca.cert, CLIENT_AUTH)
    assert attrs(cert.subject, NameOID.COMMON_NAME) == ["gw-01.site_a"]
    assert attrs(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME) == ["isthmus edge"]
    assert attrs(cert.subject, NameOID.ORGANIZATION_NAME) == ["tenant-7"]
    assert len(list(cert.subject)) == 3
    uris = san(cert).get_values_for_type(x509.UniformResourceIdentifier)
    assert uris == ["isthmus://tenant-7/edge/gw-01.site_a"]
    assert san(cert).get_values_for_type(x509.DNSName) == []
    assert key_type(cert.public_key()) == "ed25519"
    assert_validity_days(cert, 365)
    assert spki_der(leaf.private_key.public_key()) == spki_der(cert.public_key())
    # issued by a root: the file holds only the leaf
    assert len(leaf.chain) == 1


def test_edge_key_mode_0600_even_with_umask_0(make_ca):
    ca = make_ca()
    run("pki", "issue", "edge", "gw1", "--tenant", "acme", "--ca", ca.dir,
        expect=0, umask=0)
    assert mode(ca.dir / "gw1.key") == 0o600
    assert mode(ca.dir / "gw1.crt") & 0o444 == 0o444


def test_edge_out_days_key(make_ca, tmp_path):
    ca = make_ca()
    out = tmp_path / "elsewhere"
    out.mkdir()
    leaf = ca.edge("gw2", "acme", "--out", out / "mygw", "--days", "10",
                   "--key", "p256")
    assert leaf.crt == out / "mygw.crt"
    assert leaf.crt.is_file() and leaf.key.is_file()
    assert not (ca.dir / "gw2.crt").exists()
    assert not (ca.dir / "gw2.key").exists()
    cert = leaf.cert
    assert_validity_days(cert, 10)
    assert key_type(cert.public_key()) == "p256"
    assert isinstance(leaf.private_key, ec.EllipticCurvePrivateKey)
    assert spki_der(leaf.private_key.public_key()) == spki_der(cert.public_key())
    assert_leaf_extensions(cert, ca.cert, CLIENT_AUTH)
    assert mode(leaf.key) == 0o600


def test_edge_from_p256_ca(make_ca):
    ca = make_ca("ca", "--key", "p256")
    leaf = ca.edge()
    assert_leaf_extensions(leaf.cert, ca.cert, CLIENT_AUTH)
    assert key_type(leaf.cert.public_key()) == "ed25519"


def test_edge_name_boundaries(make_ca):
    ca = make_ca()
    name = "a" + "b" * 62          # 63 characters: the maximum
    tenant = "T" + "0" * 62
    leaf = ca.edge(name, tenant)
    cert = leaf.cert
    assert attrs(cert.subject, NameOID.COMMON_NAME) == [name]
    assert attrs(cert.subject, NameOID.ORGANIZATION_NAME) == [tenant]
    assert san(cert).get_values_for_type(x509.UniformResourceIdentifier) == [
        f"isthmus://{tenant}/edge/{name}"]
    short = ca.edge("x", "y")
    assert attrs(short.cert.subject, NameOID.COMMON_NAME) == ["x"]


# ------------------------------------------------------------------ cloud

def test_cloud_cert(make_ca):
    ca = make_ca()
    leaf = ca.cloud("api", "cloud.example,api.cloud.example",
                    "--ip", "127.0.0.1,10.1.2.3,::1,2001:db8::5")
    assert leaf.crt == ca.dir / "api.crt"
    cert = leaf.cert
    assert_leaf_extensions(cert, ca.cert, SERVER_AUTH)
    assert attrs(cert.subject, NameOID.COMMON_NAME) == ["api"]
    assert len(list(cert.subject)) == 1
    s = san(cert)
    assert sorted(s.get_values_for_type(x509.DNSName)) == sorted(
        ["cloud.example", "api.cloud.example"])
    assert sorted(s.get_values_for_type(x509.IPAddress), key=str) == sorted([
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.1.2.3"),
        ipaddress.ip_address("::1"), ipaddress.ip_address("2001:db8::5")],
        key=str)
    assert s.get_values_for_type(x509.UniformResourceIdentifier) == []
    assert key_type(cert.public_key()) == "ed25519"
    assert_validity_days(cert, 365)
    assert spki_der(leaf.private_key.public_key()) == spki_der(cert.public_key())


def test_cloud_dns_only(make_ca):
    ca = make_ca()
    cert = ca.cloud("web", "only.example").cert
    assert san(cert).get_values_for_type(x509.DNSName) == ["only.example"]
    assert san(cert).get_values_for_type(x509.IPAddress) == []


# ------------------------------------------------------------------ device

def test_device_cert(make_ca):
    ca = make_ca()
    leaf = ca.device("AA:BB:CC:DD:EE:0F", "--vendor", "AcmeCorp")
    assert leaf.crt == ca.dir / "aabbccddee0f.crt"
    assert leaf.key == ca.dir / "aabbccddee0f.key"
    assert leaf.crt.is_file() and leaf.key.is_file()
    cert = leaf.cert
    assert_leaf_extensions(cert, ca.cert, CLIENT_AUTH)
    assert attrs(cert.subject, NameOID.COMMON_NAME) == ["aa:bb:cc:dd:ee:0f"]
    assert attrs(cert.subject, NameOID.ORGANIZATION_NAME) == ["AcmeCorp"]
    assert san(cert).get_values_for_type(x509.UniformResourceIdentifier) == [
        "urn:dev:mac:aabbccddee0f"]
    pub = cert.public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    assert isinstance(pub.curve, ec.SECP256R1)
    assert isinstance(leaf.private_key, ec.EllipticCurvePrivateKey)
    assert spki_der(leaf.private_key.public_key()) == spki_der(pub)
    assert_validity_days(cert, 3650)
    assert mode(leaf.key) == 0o600


def test_device_without_vendor_has_no_org(make_ca):
    ca = make_ca()
    cert = ca.device("02:00:00:00:00:01").cert
    assert attrs(cert.subject, NameOID.COMMON_NAME) == ["02:00:00:00:00:01"]
    assert attrs(cert.subject, NameOID.ORGANIZATION_NAME) == []


def test_device_ed25519_key(make_ca):
    ca = make_ca()
    leaf = ca.device("aa:bb:cc:dd:ee:ff", "--key", "ed25519", "--days", "5")
    assert key_type(leaf.cert.public_key()) == "ed25519"
    assert_validity_days(leaf.cert, 5)


@pytest.mark.parametrize("mac", [
    "aa:bb:cc:dd:ee:ff", "AA:BB:CC:DD:EE:FF", "Aa:bB:cc:DD:ee:Ff",
    "aa-bb-cc-dd-ee-ff", "AA-BB-CC-DD-EE-FF",
    "aabbccddeeff", "AABBCCDDEEFF", "AaBbCcDdEeFf",
])
def test_device_mac_formats(make_ca, mac):
    ca = make_ca()
    run("pki", "issue", "device", mac, "--ca", ca.dir, expect=0)
    crt = ca.dir / "aabbccddeeff.crt"
    assert crt.is_file() and (ca.dir / "aabbccddeeff.key").is_file()
    cert = load_cert(crt)
    assert attrs(cert.subject, NameOID.COMMON_NAME) == ["aa:bb:cc:dd:ee:ff"]
    assert san(cert).get_values_for_type(x509.UniformResourceIdentifier) == [
        "urn:dev:mac:aabbccddeeff"]


# ------------------------------------------------------------------ serials

def test_serials_distinct_and_in_range(make_ca, tmp_path):
    ca = make_ca()
    serials = [ca.cert.serial_number]
    for i in range(8):
        serials.append(ca.edge(f"gw{i}", "acme").cert.serial_number)
    serials.append(ca.cloud("api", "a.example").cert.serial_number)
    serials.append(ca.device("02:00:00:00:00:01").cert.serial_number)
    serials.append(ca.intermediate("sub", tmp_path / "sub").cert.serial_number)
    assert len(set(serials)) == len(serials), serials
    for s in serials:
        assert 0 < s < 2 ** 128
    # random, not sequential: at least one serial uses more than 32 bits
    assert max(s.bit_length() for s in serials) > 32, serials


def test_force_replaces_with_new_serial_and_key(make_ca):
    ca = make_ca()
    first = ca.edge("gw1", "acme")
    old_cert, old_key = first.crt.read_bytes(), first.key.read_bytes()
    old_serial = first.cert.serial_number
    second = ca.edge("gw1", "acme", "--force")
    assert second.crt.read_bytes() != old_cert
    assert second.key.read_bytes() != old_key
    assert second.cert.serial_number != old_serial
    assert spki_der(second.private_key.public_key()) == spki_der(
        second.cert.public_key())
    assert mode(second.key) == 0o600
    names = sorted(p.name for p in ca.dir.iterdir())
    # no temp files left behind
    assert [n for n in names if n.startswith("gw1")] == ["gw1.crt", "gw1.key"]


# ------------------------------------------------------------------ intermediate

def test_intermediate(make_ca, tmp_path):
    root = make_ca("root")
    before_root = {p.name: p.read_bytes() for p in root.dir.iterdir()}
    sub = root.intermediate("sub-ca-1", tmp_path / "sub", "--days", "100")
    for f in (sub.crt, sub.key, sub.chain_path, sub.crl_path):
        assert f.is_file(), f
    assert mode(sub.key) == 0o600
    cert = sub.cert
    assert_ca_extensions(cert)
    bc = ext(cert, x509.BasicConstraints).value
    assert bc.path_length == 0
    assert cert.issuer == root.cert.subject
    assert cert.subject != root.cert.subject
    assert signed_by(cert, root.cert.public_key())
    aki = ext(cert, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ext(root.cert, x509.SubjectKeyIdentifier).value.digest
    assert key_type(cert.public_key()) == "ed25519"
    assert_validity_days(cert, 100)
    assert spki_der(sub.private_key.public_key()) == spki_der(cert.public_key())
    # chain file: intermediate then root
    chain = load_certs(sub.chain_path)
    assert [der(c) for c in chain] == [der(cert), der(root.cert)]
    # its own, empty CRL
    crl = sub.crl
    assert crl.issuer == cert.subject
    assert len(list(crl)) == 0
    assert crl_signed_by(crl, cert.public_key())
    # the root CA's key and certificate are untouched
    for name in ("ca.crt", "ca.key"):
        assert (root.dir / name).read_bytes() == before_root[name]


def test_intermediate_p256(make_ca, tmp_path):
    root = make_ca("root")
    sub = root.intermediate("sub", tmp_path / "sub", "--key", "p256")
    assert key_type(sub.cert.public_key()) == "p256"
    assert signed_by(sub.cert, root.cert.public_key())


def test_issue_from_intermediate(make_ca, tmp_path):
    root = make_ca("root")
    sub = root.intermediate("sub", tmp_path / "sub")
    for leaf, usage in ((sub.edge("gw1", "acme"), CLIENT_AUTH),
                        (sub.cloud("api", "cloud.example"), SERVER_AUTH),
                        (sub.device("aa:bb:cc:dd:ee:ff"), CLIENT_AUTH)):
        assert leaf.crt.parent == sub.dir
        chain = leaf.chain
        assert len(chain) == 2, f"{leaf.crt}: expected leaf + intermediate"
        assert der(chain[1]) == der(sub.cert)
        assert_leaf_extensions(chain[0], sub.cert, usage)
        assert not signed_by(chain[0], root.cert.public_key())
