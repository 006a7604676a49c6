"""`pki revoke` and `pki crl`, checked by parsing the CRL with cryptography."""

import datetime

import pytest
from cryptography import x509

from isthmus_testlib import (assert_refused, assert_unchanged, crl_last_update,
                             crl_signed_by,
                             crl_next_update, crl_number, now, run,
                             snapshot)

DAY = datetime.timedelta(days=1)
SLACK = datetime.timedelta(hours=1)

REASONS = {
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "certificateHold": x509.ReasonFlags.certificate_hold,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
    "aACompromise": x509.ReasonFlags.aa_compromise,
}


def revoked_serials(crl):
    return {r.serial_number for r in crl}


def entry_reason(crl, serial):
    entry = crl.get_revoked_certificate_by_serial_number(serial)
    assert entry is not None, f"serial {serial:x} not in CRL"
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return None


def assert_crl_sane(ca):
    crl = ca.crl
    assert crl.issuer == ca.cert.subject
    assert crl_signed_by(crl, ca.cert.public_key())
    assert crl_number(crl) >= 0
    assert crl_next_update(crl) is not None
    return crl


def test_revoke_lists_serial(small_pki):
    ca = small_pki.ca
    before = assert_crl_sane(ca)
    serial = small_pki.edge.cert.serial_number
    assert serial not in revoked_serials(before)
    ca.revoke(small_pki.edge.crt)
    crl = assert_crl_sane(ca)
    assert revoked_serials(crl) == {serial}
    assert crl_number(crl) > crl_number(before)
    entry = crl.get_revoked_certificate_by_serial_number(serial)
    rd = entry.revocation_date
    rd = rd if rd.tzinfo else rd.replace(tzinfo=datetime.timezone.utc)
    assert abs(rd - now()) <= SLACK
    assert abs(crl_last_update(crl) - now()) <= SLACK
    assert crl_next_update(crl) > now()


def test_revoke_accumulates(small_pki):
    ca = small_pki.ca
    ca.revoke(small_pki.edge.crt, "--reason", "superseded")
    n1 = crl_number(ca.crl)
    ca.revoke(small_pki.device.crt, "--reason", "keyCompromise")
    crl = assert_crl_sane(ca)
    assert crl_number(crl) > n1
    assert revoked_serials(crl) == {small_pki.edge.cert.serial_number,
                                    small_pki.device.cert.serial_number}
    assert entry_reason(crl, small_pki.edge.cert.serial_number) == \
        x509.ReasonFlags.superseded
    assert entry_reason(crl, small_pki.device.cert.serial_number) == \
        x509.ReasonFlags.key_compromise


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_revoke_reason_code(make_ca, reason):
    ca = make_ca()
    leaf = ca.edge()
    ca.revoke(leaf.crt, "--reason", reason)
    crl = assert_crl_sane(ca)
    assert entry_reason(crl, leaf.cert.serial_number) == REASONS[reason]


def test_revoke_unspecified_has_no_reason_extension(make_ca):
    ca = make_ca()
    leaf = ca.edge()
    ca.revoke(leaf.crt, "--reason", "unspecified")
    crl = assert_crl_sane(ca)
    assert revoked_serials(crl) == {leaf.cert.serial_number}
    assert entry_reason(crl, leaf.cert.serial_number) is None


def test_revoke_twice_refused(small_pki):
    ca = small_pki.ca
    ca.revoke(small_pki.edge.crt)
    before = snapshot(ca.dir)
    res = ca.revoke(small_pki.edge.crt, expect=None)
    assert_refused(res, "already revoked")
    assert_unchanged(before, ca.dir)
    res = ca.revoke(small_pki.edge.crt, "--reason", "keyCompromise", expect=None)
    assert_refused(res, "already revoked")
    assert_unchanged(before, ca.dir)


@pytest.mark.parametrize("reason", ["bogus", "KeyCompromise2", "", "1"])
def test_revoke_unknown_reason_refused(small_pki, reason):
    ca = small_pki.ca
    before = snapshot(ca.dir)
    res = ca.revoke(small_pki.edge.crt, "--reason", reason, expect=None)
    assert_refused(res)
    assert_unchanged(before, ca.dir)


def test_revoke_foreign_cert_refused(small_pki, make_ca):
    # same default subject name, different key
    other = make_ca("other")
    foreign = other.edge("gw1", "acme")
    ca = small_pki.ca
    before = snapshot(ca.dir)
    assert_refused(ca.revoke(foreign.crt, expect=None))
    assert_unchanged(before, ca.dir)
    other2 = make_ca("other2", "--name", "Other Root")
    assert_refused(ca.revoke(other2.edge().crt, expect=None))
    assert_unchanged(before, ca.dir)


def test_revoke_intermediate_leaf_with_root_refused(make_ca, tmp_path):
    root = make_ca("root")
    sub = root.intermediate("sub", tmp_path / "sub")
    leaf = sub.edge()
    before = snapshot(root.dir)
    assert_refused(root.revoke(leaf.crt, expect=None))
    assert_unchanged(before, root.dir)


def test_revoke_in_intermediate(make_ca, tmp_path):
    root = make_ca("root")
    sub = root.intermediate("sub", tmp_path / "sub")
    leaf = sub.edge()
    root_crl = root.crl_path.read_bytes()
    sub.revoke(leaf.crt, "--reason", "cessationOfOperation")
    crl = assert_crl_sane(sub)
    assert revoked_serials(crl) == {leaf.cert.serial_number}
    assert entry_reason(crl, leaf.cert.serial_number) == \
        x509.ReasonFlags.cessation_of_operation
    assert root.crl_path.read_bytes() == root_crl


def test_revoke_intermediate_ca_in_root(make_ca, tmp_path):
    root = make_ca("root")
    sub = root.intermediate("sub", tmp_path / "sub")
    root.revoke(sub.crt, "--reason", "cACompromise")
    crl = assert_crl_sane(root)
    assert revoked_serials(crl) == {sub.cert.serial_number}


def test_revoke_not_a_certificate(small_pki, tmp_path):
    ca = small_pki.ca
    junk = tmp_path / "junk.crt"
    junk.write_text("junk\n")
    before = snapshot(ca.dir)
    assert_refused(ca.revoke(junk, expect=None))
    assert_refused(ca.revoke(tmp_path / "missing.crt", expect=None))
    assert_unchanged(before, ca.dir)


def test_revoke_missing_ca(small_pki, tmp_path):
    res = run("pki", "revoke", small_pki.edge.crt, "--ca", tmp_path / "nope")
    assert_refused(res)
    assert not (tmp_path / "nope").exists()


# ------------------------------------------------------------------ pki crl

def test_crl_default_30_days(small_pki):
    ca = small_pki.ca
    before = ca.crl
    run("pki", "crl", "--ca", ca.dir, expect=0)
    crl = assert_crl_sane(ca)
    t = now()
    assert abs(crl_last_update(crl) - t) <= SLACK
    assert abs(crl_next_update(crl) - (t + 30 * DAY)) <= SLACK
    assert crl_number(crl) > crl_number(before)


def test_crl_days_and_number_increments(small_pki):
    ca = small_pki.ca
    run("pki", "crl", "--ca", ca.dir, "--days", "7", expect=0)
    c1 = assert_crl_sane(ca)
    t = now()
    assert abs(crl_next_update(c1) - (t + 7 * DAY)) <= SLACK
    run("pki", "crl", "--ca", ca.dir, "--days", "90", expect=0)
    c2 = assert_crl_sane(ca)
    assert abs(crl_next_update(c2) - (now() + 90 * DAY)) <= SLACK
    assert crl_next_update(c2) != crl_next_update(c1)
    assert crl_number(c2) > crl_number(c1)
    run("pki", "crl", "--ca", ca.dir, "--days", "1", expect=0)
    c3 = assert_crl_sane(ca)
    assert abs(crl_next_update(c3) - (now() + DAY)) <= SLACK
    assert crl_number(c3) > crl_number(c2)


def test_crl_keeps_revoked_entries(small_pki):
    ca = small_pki.ca
    ca.revoke(small_pki.edge.crt, "--reason", "keyCompromise")
    ca.revoke(small_pki.cloud.crt, "--reason", "superseded")
    run("pki", "crl", "--ca", ca.dir, "--days", "3", expect=0)
    crl = assert_crl_sane(ca)
    assert revoked_serials(crl) == {small_pki.edge.cert.serial_number,
                                    small_pki.cloud.cert.serial_number}
    assert entry_reason(crl, small_pki.edge.cert.serial_number) == \
        x509.ReasonFlags.key_compromise
    assert entry_reason(crl, small_pki.cloud.cert.serial_number) == \
        x509.ReasonFlags.superseded


def test_crl_in_intermediate(make_ca, tmp_path):
    root = make_ca("root")
    sub = root.intermediate("sub", tmp_path / "sub")
    n = crl_number(sub.crl)
    run("pki", "crl", "--ca", sub.dir, "--days", "5", expect=0)
    crl = assert_crl_sane(sub)
    assert crl_number(crl) > n
    assert abs(crl_next_update(crl) - (now() + 5 * DAY)) <= SLACK


@pytest.mark.parametrize("days", ["0", "-3", "abc", "7x", ""])
def test_crl_bad_days(small_pki, days):
    ca = small_pki.ca
    before = snapshot(ca.dir)
    res = run("pki", "crl", "--ca", ca.dir, "--days", days)
    assert_refused(res, "days")
    assert_unchanged(before, ca.dir)


def test_crl_missing_ca(tmp_path):
    res = run("pki", "crl", "--ca", tmp_path / "nope")
    assert_refused(res)
    assert not (tmp_path / "nope").exists()


def test_crl_missing_ca_key(small_pki):
    ca = small_pki.ca
    ca.key.unlink()
    before = snapshot(ca.dir)
    res = run("pki", "crl", "--ca", ca.dir)
    assert_refused(res, "ca.key")
    assert_unchanged(before, ca.dir)
