"""`pki verify`: every verdict, including ones that need certificates and
CRLs our tool would never produce (built here with cryptography and signed
with the CA's own key)."""

import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding

from isthmus_testlib import (SERVER_AUTH, assert_refused,
                             build_crl, build_leaf, crl_number, describe, now,
                             run, write_cert)

DAY = datetime.timedelta(days=1)


def assert_ok(res):
    assert res.returncode == 0, describe(res)
    assert res.stdout.strip() == "ok", describe(res)


def assert_verdict(res, verdict):
    assert res.returncode == 1, describe(res)
    assert res.stdout.startswith(verdict), describe(res)


@pytest.mark.parametrize("kind", ["edge", "cloud", "device"])
def test_ok_default_usage(small_pki, kind):
    assert_ok(small_pki.ca.verify(getattr(small_pki, kind).crt))


@pytest.mark.parametrize("kind,usage", [
    ("edge", "client"), ("device", "client"), ("cloud", "server"),
    ("edge", "any"), ("cloud", "any"), ("device", "any")])
def test_ok_matching_usage(small_pki, kind, usage):
    assert_ok(small_pki.ca.verify(getattr(small_pki, kind).crt,
                                  "--usage", usage))


@pytest.mark.parametrize("kind,usage", [
    ("cloud", "client"), ("edge", "server"), ("device", "server")])
def test_wrong_usage(small_pki, kind, usage):
    assert_verdict(small_pki.ca.verify(getattr(small_pki, kind).crt,
                                       "--usage", usage), "wrong usage")


@pytest.mark.parametrize("usage", [None, "client", "server", "any"])
def test_ca_cert_is_wrong_usage(small_pki, usage):
    extra = [] if usage is None else ["--usage", usage]
    assert_verdict(small_pki.ca.verify(small_pki.ca.crt, *extra), "wrong usage")


def test_intermediate_cert_is_wrong_usage(make_ca, tmp_path):
    root = make_ca("root")
    sub = root.intermediate("sub", tmp_path / "sub")
    assert_verdict(root.verify(sub.crt), "wrong usage")


@pytest.mark.parametrize("usage", [None, "client", "server"])
def test_cert_without_eku_is_wrong_usage(make_ca, tmp_path, usage):
    ca = make_ca()
    path = write_cert(build_leaf(ca, eku_oids=()), tmp_path / "noeku.crt")
    extra = [] if usage is None else ["--usage", usage]
    assert_verdict(ca.verify(path, *extra), "wrong usage")


@pytest.mark.parametrize("usage", ["client", "any"])
def test_ca_true_leaf_with_client_auth_is_wrong_usage(make_ca, tmp_path,
                                                      usage):
    """A leaf marked CA:TRUE but with clientAuth: OpenSSL's purpose check
    takes it as a client; the cloud and the edge do not, nor does
    verify."""
    ca = make_ca()
    path = write_cert(build_leaf(ca, is_ca=True), tmp_path / "caleaf.crt")
    assert_verdict(ca.verify(path, "--usage", usage), "wrong usage")


def test_revoked(small_pki):
    ca = small_pki.ca
    ca.revoke(small_pki.edge.crt)
    assert_verdict(ca.verify(small_pki.edge.crt), "revoked")
    assert_verdict(ca.verify(small_pki.edge.crt, "--usage", "client"),
                   "revoked")
    # the others are unaffected
    assert_ok(ca.verify(small_pki.cloud.crt))
    assert_ok(ca.verify(small_pki.device.crt))


def test_untrusted_issuer_other_ca_same_name(small_pki, make_ca):
    # both CAs use the default name "isthmus root CA": only the signature
    # tells them apart
    other = make_ca("other")
    assert other.cert.subject == small_pki.ca.cert.subject
    for kind in ("edge", "cloud", "device"):
        leaf = getattr(small_pki, kind)
        assert_verdict(other.verify(leaf.crt), "untrusted issuer")


def test_untrusted_issuer_other_ca_other_name(small_pki, make_ca):
    other = make_ca("other", "--name", "Other Root")
    assert_verdict(other.verify(small_pki.edge.crt), "untrusted issuer")
    assert_verdict(small_pki.ca.verify(other.edge().crt), "untrusted issuer")


def test_untrusted_forged_signature(make_ca, tmp_path):
    ca = make_ca()
    # names and key identifiers all point at our CA, but a stranger signed it
    forged = build_leaf(ca, signer=ed25519.Ed25519PrivateKey.generate())
    path = write_cert(forged, tmp_path / "forged.crt")
    assert_verdict(ca.verify(path), "untrusted issuer")


def test_forged_control_is_ok(make_ca, tmp_path):
    # the same construction signed by the CA's real key is accepted; this
    # makes sure the expired / not-yet-valid / forged tests below fail for
    # the reason they claim
    ca = make_ca()
    path = write_cert(build_leaf(ca), tmp_path / "good.crt")
    assert_ok(ca.verify(path))
    path = write_cert(build_leaf(ca, eku_oids=(SERVER_AUTH,)),
                      tmp_path / "good-srv.crt")
    assert_ok(ca.verify(path, "--usage", "server"))


def test_forged_control_is_ok_p256_ca(make_ca, tmp_path):
    ca = make_ca("ca", "--key", "p256")
    path = write_cert(build_leaf(ca), tmp_path / "good.crt")
    assert_ok(ca.verify(path))


def test_expired(make_ca, tmp_path):
    ca = make_ca()
    t = now()
    cert = build_leaf(ca, nb=t - 10 * DAY, na=t - DAY)
    path = write_cert(cert, tmp_path / "expired.crt")
    assert_verdict(ca.verify(path), "expired")
    assert_verdict(ca.verify(path, "--usage", "client"), "expired")


def test_expired_p256_ca(make_ca, tmp_path):
    ca = make_ca("ca", "--key", "p256")
    t = now()
    path = write_cert(build_leaf(ca, nb=t - 10 * DAY, na=t - DAY),
                      tmp_path / "expired.crt")
    assert_verdict(ca.verify(path), "expired")


def test_not_yet_valid(make_ca, tmp_path):
    ca = make_ca()
    t = now()
    cert = build_leaf(ca, nb=t + 2 * DAY, na=t + 30 * DAY)
    path = write_cert(cert, tmp_path / "future.crt")
    assert_verdict(ca.verify(path), "not yet valid")


def test_crl_expired(small_pki):
    ca = small_pki.ca
    t = now()
    number = crl_number(ca.crl) + 1
    crl = build_crl(ca, last=t - 10 * DAY, nxt=t - DAY, number=number)
    ca.crl_path.write_bytes(crl.public_bytes(Encoding.PEM))
    assert_verdict(ca.verify(small_pki.edge.crt), "crl expired")


def test_crl_written_by_us_control(small_pki):
    # a fresh CRL built the same way is accepted (control for crl expired) ...
    ca = small_pki.ca
    t = now()
    number = crl_number(ca.crl) + 1
    crl = build_crl(ca, last=t - DAY, nxt=t + 10 * DAY, number=number)
    ca.crl_path.write_bytes(crl.public_bytes(Encoding.PEM))
    assert_ok(ca.verify(small_pki.edge.crt))
    # ... and one listing the edge serial makes it revoked
    crl = build_crl(ca, last=t - DAY, nxt=t + 10 * DAY, number=number + 1,
                    revoked=[small_pki.edge.cert.serial_number])
    ca.crl_path.write_bytes(crl.public_bytes(Encoding.PEM))
    assert_verdict(ca.verify(small_pki.edge.crt), "revoked")
    assert_ok(ca.verify(small_pki.cloud.crt))


def test_verify_without_crl_file(small_pki):
    ca = small_pki.ca
    ca.revoke(small_pki.edge.crt)
    ca.crl_path.unlink()
    # no CRL present: nothing known to be revoked
    assert_ok(ca.verify(small_pki.cloud.crt))


def test_verify_after_crl_resign_still_revoked(small_pki):
    ca = small_pki.ca
    ca.revoke(small_pki.edge.crt)
    run("pki", "crl", "--ca", ca.dir, expect=0)
    assert_verdict(ca.verify(small_pki.edge.crt), "revoked")


def test_verify_intermediate_issued(make_ca, tmp_path):
    root = make_ca("root")
    sub = root.intermediate("sub", tmp_path / "sub")
    leaf = sub.edge("gw1", "acme")
    cloud = sub.cloud("api", "cloud.example")
    assert_ok(sub.verify(leaf.crt))
    assert_ok(sub.verify(cloud.crt, "--usage", "server"))
    assert_verdict(sub.verify(cloud.crt, "--usage", "client"), "wrong usage")
    # a root leaf is not trusted by the intermediate
    assert_verdict(sub.verify(root.edge().crt), "untrusted issuer")
    sub.revoke(leaf.crt)
    assert_verdict(sub.verify(leaf.crt), "revoked")
    assert_ok(sub.verify(cloud.crt))


def test_verify_bad_input(small_pki, tmp_path):
    junk = tmp_path / "junk.crt"
    junk.write_text("not a cert\n")
    assert_refused(small_pki.ca.verify(junk))
    assert_refused(small_pki.ca.verify(tmp_path / "missing.crt"))
    assert_refused(run("pki", "verify", small_pki.edge.crt, "--ca",
                       tmp_path / "no-such-ca"))
