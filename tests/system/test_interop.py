"""Interoperability: certificates, keys and CRLs must be accepted by the
`openssl` tool, which we did not write."""

import re

import pytest

from isthmus_testlib import load_cert, openssl, openssl_text, spki_der


def verify(*args):
    return openssl_text("verify", *args)


@pytest.mark.parametrize("kind", ["edge", "cloud", "device"])
def test_openssl_verify_accepts(small_pki, kind):
    leaf = getattr(small_pki, kind)
    rc, out = verify("-CAfile", small_pki.ca.crt, leaf.crt)
    assert rc == 0, out
    assert f"{leaf.crt}: OK" in out


def test_openssl_verify_purposes(small_pki):
    ca = small_pki.ca
    rc, out = verify("-purpose", "sslclient", "-CAfile", ca.crt,
                     small_pki.edge.crt)
    assert rc == 0, out
    rc, out = verify("-purpose", "sslclient", "-CAfile", ca.crt,
                     small_pki.device.crt)
    assert rc == 0, out
    rc, out = verify("-purpose", "sslserver", "-CAfile", ca.crt,
                     small_pki.cloud.crt)
    assert rc == 0, out
    # and the EKU really restricts: an edge cert is no TLS server cert
    rc, out = verify("-purpose", "sslserver", "-CAfile", ca.crt,
                     small_pki.edge.crt)
    assert rc != 0, out
    rc, out = verify("-purpose", "sslclient", "-CAfile", ca.crt,
                     small_pki.cloud.crt)
    assert rc != 0, out


def test_openssl_verify_rejects_other_ca(small_pki, make_ca):
    other = make_ca("other")
    rc, out = verify("-CAfile", other.crt, small_pki.edge.crt)
    assert rc != 0, out


def test_openssl_verify_p256_ca(make_ca):
    ca = make_ca("ca", "--key", "p256")
    for leaf in (ca.edge(), ca.cloud(), ca.device(), ca.edge("gw2", "t", "--key", "p256")):
        rc, out = verify("-CAfile", ca.crt, leaf.crt)
        assert rc == 0, out


def test_openssl_verify_intermediate_chain(make_ca, tmp_path):
    root = make_ca("root")
    sub = root.intermediate("sub", tmp_path / "sub")
    rc, out = verify("-CAfile", root.crt, sub.crt)
    assert rc == 0, out
    for leaf in (sub.edge(), sub.cloud(), sub.device()):
        rc, out = verify("-CAfile", root.crt, "-untrusted", sub.crt, leaf.crt)
        assert rc == 0, out
        # without the intermediate the chain cannot be built
        rc, out = verify("-CAfile", root.crt, leaf.crt)
        assert rc != 0, out
    # ca-chain.crt as the untrusted bundle also works
    leaf = sub.edge("gw9", "acme")
    rc, out = verify("-CAfile", root.crt, "-untrusted", sub.chain_path, leaf.crt)
    assert rc == 0, out


def test_openssl_intermediate_pathlen_zero(make_ca, tmp_path):
    root = make_ca("root")
    sub = root.intermediate("sub", tmp_path / "sub")
    rc, out = openssl_text("x509", "-in", sub.crt, "-noout", "-text")
    assert rc == 0, out
    assert re.search(r"CA:TRUE, pathlen:0", out), out


def test_openssl_reads_keys(small_pki):
    for key in (small_pki.ca.key, small_pki.edge.key, small_pki.cloud.key,
                small_pki.device.key):
        r = openssl("pkey", "-in", key, "-pubout", "-outform", "DER")
        assert r.returncode == 0, r.stderr
        crt = str(key)[:-4] + ".crt"
        assert r.stdout == spki_der(load_cert(crt).public_key()), key
    r = openssl("pkey", "-in", small_pki.device.key, "-noout", "-text")
    assert b"P-256" in r.stdout or b"prime256v1" in r.stdout, r.stdout


def test_openssl_accepts_crl_signature(small_pki):
    rc, out = openssl_text("crl", "-in", small_pki.ca.crl_path, "-CAfile",
                           small_pki.ca.crt, "-noout")
    assert rc == 0, out
    assert "verify OK" in out, out


def test_openssl_crl_check_fresh_ca(small_pki):
    ca = small_pki.ca
    rc, out = verify("-crl_check", "-CAfile", ca.crt, "-CRLfile",
                     ca.crl_path, small_pki.edge.crt)
    assert rc == 0, out


REASONS = {
    "keyCompromise": "Key Compromise",
    "cACompromise": "CA Compromise",
    "affiliationChanged": "Affiliation Changed",
    "superseded": "Superseded",
    "cessationOfOperation": "Cessation Of Operation",
    "certificateHold": "Certificate Hold",
    "privilegeWithdrawn": "Privilege Withdrawn",
    "aACompromise": "AA Compromise",
}


def crl_entries(text):
    """serial(int) -> text block of that entry, from `openssl crl -text`."""
    entries = {}
    parts = re.split(r"Serial Number:\s*", text)
    for p in parts[1:]:
        m = re.match(r"([0-9A-Fa-f]+)", p)
        entries[int(m.group(1), 16)] = p
    return entries


def test_openssl_after_revoke(small_pki):
    ca = small_pki.ca
    revoked = small_pki.edge
    serial = revoked.cert.serial_number
    ca.revoke(revoked.crt, "--reason", "keyCompromise")
    rc, out = verify("-crl_check", "-CAfile", ca.crt, "-CRLfile", ca.crl_path,
                     revoked.crt)
    assert rc != 0, out
    assert "revoked" in out, out
    # other certificates are still fine with a CRL check
    for leaf in (small_pki.cloud, small_pki.device):
        rc, out = verify("-crl_check", "-CAfile", ca.crt, "-CRLfile",
                         ca.crl_path, leaf.crt)
        assert rc == 0, out
    rc, text = openssl_text("crl", "-in", ca.crl_path, "-noout", "-text")
    assert rc == 0, text
    assert re.search(r"Version 2\b", text), text
    assert "CRL Number" in text, text
    entries = crl_entries(text)
    assert set(entries) == {serial}, text
    assert "Key Compromise" in entries[serial], text
    assert "CRL Reason Code" in entries[serial], text


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_openssl_shows_each_reason(make_ca, reason):
    ca = make_ca()
    leaf = ca.edge()
    ca.revoke(leaf.crt, "--reason", reason)
    rc, text = openssl_text("crl", "-in", ca.crl_path, "-noout", "-text")
    assert rc == 0, text
    entries = crl_entries(text)
    assert set(entries) == {leaf.cert.serial_number}, text
    assert REASONS[reason] in entries[leaf.cert.serial_number], text


def test_openssl_revoke_in_intermediate(make_ca, tmp_path):
    root = make_ca("root")
    sub = root.intermediate("sub", tmp_path / "sub")
    bad, good = sub.edge("bad", "acme"), sub.edge("good", "acme")
    sub.revoke(bad.crt)
    common = ["-crl_check", "-CAfile", root.crt, "-untrusted", sub.crt,
              "-CRLfile", sub.crl_path]
    rc, out = verify(*common, bad.crt)
    assert rc != 0 and "revoked" in out, out
    rc, out = verify(*common, good.crt)
    assert rc == 0, out
