"""Every refusal: exit code 2, one clear line on stderr, and nothing on disk
created or changed (no half-written or temporary files either)."""

import pytest

from isthmus_testlib import (assert_refused, assert_unchanged, describe,
                             run, snapshot)

BAD_NAMES = [
    "", "-gw", ".gw", "_gw", "gw/1", "../gw", "gw 1", "gw@1", "gw:1", "gw*",
    "a" * 64, "gw\n", "g\u00fcw", "gw\\1",
]

BAD_DAYS = ["0", "-3", "abc", "7x", ""]

KINDS = {
    "edge": ["edge", "gw1", "--tenant", "acme"],
    "cloud": ["cloud", "api", "--dns", "cloud.example"],
    "device": ["device", "02:00:00:00:00:01"],
}


# ------------------------------------------------------------------ init

@pytest.mark.parametrize("existing", ["ca.crt", "ca.key", "both"])
def test_init_refuses_existing(tmp_path, existing):
    d = tmp_path / "ca"
    d.mkdir()
    names = ["ca.crt", "ca.key"] if existing == "both" else [existing]
    for n in names:
        (d / n).write_bytes(b"precious " + n.encode() + b"\n")
    before = snapshot(tmp_path)
    res = run("pki", "init", d)
    assert_refused(res, "already")
    assert_unchanged(before, tmp_path)


def test_init_twice_refused(make_ca):
    ca = make_ca()
    before = snapshot(ca.dir)
    res = run("pki", "init", ca.dir)
    assert_refused(res, "already")
    assert_unchanged(before, ca.dir)
    res = run("pki", "init", ca.dir, "--key", "p256", "--name", "x")
    assert_refused(res, "already")
    assert_unchanged(before, ca.dir)


@pytest.mark.parametrize("days", BAD_DAYS)
def test_init_bad_days(tmp_path, days):
    res = run("pki", "init", tmp_path / "ca", "--days", days)
    assert_refused(res, "days")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key", ["rsa", "RSA2048", "p384", ""])
def test_init_bad_key(tmp_path, key):
    res = run("pki", "init", tmp_path / "ca", "--key", key)
    assert_refused(res, "key type")
    assert list(tmp_path.iterdir()) == []


def test_init_dir_under_regular_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x\n")
    before = snapshot(tmp_path)
    res = run("pki", "init", f / "sub")
    assert_refused(res)
    assert_unchanged(before, tmp_path)


def test_init_dir_is_regular_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x\n")
    before = snapshot(tmp_path)
    assert_refused(run("pki", "init", f))
    assert_unchanged(before, tmp_path)


# ------------------------------------------------------------------ names

@pytest.mark.parametrize("bad", BAD_NAMES, ids=repr)
@pytest.mark.parametrize("field", ["edge-name", "tenant", "cloud-name"])
def test_bad_names(make_ca, field, bad):
    ca = make_ca()
    before = snapshot(ca.dir.parent)
    # options first and "--" before the positional arguments, so that a
    # name starting with "-" reaches the name check instead of getopt
    if field == "edge-name":
        opts, pos = ["--tenant", "acme"], ["edge", bad]
    elif field == "tenant":
        opts, pos = ["--tenant=" + bad], ["edge", "gw1"]
    else:
        opts, pos = ["--dns", "cloud.example"], ["cloud", bad]
    res = run("pki", "issue", *opts, "--ca", ca.dir, "--", *pos)
    assert_refused(res)
    assert_unchanged(before, ca.dir.parent)


# ------------------------------------------------------------------ MACs

@pytest.mark.parametrize("mac", [
    "aa:bb:cc:dd:ee",            # too short
    "aa:bb:cc:dd:ee:ff:00",      # too long
    "aabbccddeef",               # 11 digits
    "aabbccddeeff0",             # 13 digits
    "a:bb:cc:dd:ee:ff",          # short group
    "gg:bb:cc:dd:ee:ff",         # non-hex
    "aa:bb:cc:dd:ee:fz",
    "zzzzzzzzzzzz",
    "aa:bb-cc:dd:ee:ff",         # mixed separators
    "aa-bb-cc-dd-ee:ff",
    "00:00:00:00:00:00",         # all zero
    "000000000000",
    "01:00:5e:00:00:01",         # multicast
    "ff:ff:ff:ff:ff:ff",         # broadcast
    "FF-FF-FF-FF-FF-FF",
    "33:33:00:00:00:01",         # IPv6 multicast
    "03:00:00:00:00:00",
    "",
])
def test_bad_mac(make_ca, mac):
    ca = make_ca()
    before = snapshot(ca.dir.parent)
    res = run("pki", "issue", "device", mac, "--ca", ca.dir)
    assert_refused(res, "MAC")
    assert_unchanged(before, ca.dir.parent)


# ------------------------------------------------------------------ days / key

@pytest.mark.parametrize("days", BAD_DAYS)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_issue_bad_days(make_ca, kind, days):
    ca = make_ca()
    before = snapshot(ca.dir.parent)
    res = run("pki", "issue", *KINDS[kind], "--ca", ca.dir, "--days", days)
    assert_refused(res, "days")
    assert_unchanged(before, ca.dir.parent)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_issue_rsa_key(make_ca, kind):
    ca = make_ca()
    before = snapshot(ca.dir.parent)
    res = run("pki", "issue", *KINDS[kind], "--ca", ca.dir, "--key", "rsa")
    assert_refused(res, "key type")
    assert_unchanged(before, ca.dir.parent)


@pytest.mark.parametrize("ip", ["999.1.1.1", "notanip", "1.2.3", "::g",
                                "127.0.0.1,bogus"])
def test_issue_bad_ip(make_ca, ip):
    ca = make_ca()
    before = snapshot(ca.dir.parent)
    res = run("pki", "issue", "cloud", "api", "--dns", "cloud.example",
              "--ip", ip, "--ca", ca.dir)
    assert_refused(res)
    assert_unchanged(before, ca.dir.parent)


# ------------------------------------------------------------------ existing output

@pytest.mark.parametrize("existing", ["crt", "key", "both"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_issue_refuses_existing(make_ca, kind, existing):
    ca = make_ca()
    run("pki", "issue", *KINDS[kind], "--ca", ca.dir, expect=0)
    prefix = ca.dir / ("020000000001" if kind == "device" else KINDS[kind][1])
    if existing == "crt":
        prefix.with_name(prefix.name + ".key").unlink()
    elif existing == "key":
        prefix.with_name(prefix.name + ".crt").unlink()
    before = snapshot(ca.dir)
    res = run("pki", "issue", *KINDS[kind], "--ca", ca.dir)
    assert_refused(res, "already exists", "--force")
    assert_unchanged(before, ca.dir)


def test_issue_refuses_existing_out(make_ca, tmp_path):
    ca = make_ca()
    out = tmp_path / "out"
    out.mkdir()
    (out / "gw.crt").write_bytes(b"someone else's cert\n")
    before = snapshot(tmp_path)
    res = run("pki", "issue", "edge", "gw1", "--tenant", "acme", "--ca", ca.dir,
              "--out", out / "gw")
    assert_refused(res, "already exists", "--force")
    assert_unchanged(before, tmp_path)


# ------------------------------------------------------------------ missing CA

@pytest.mark.parametrize("kind", sorted(KINDS))
def test_issue_missing_ca_dir(tmp_path, kind):
    out = tmp_path / "out"
    out.mkdir()
    missing = tmp_path / "no-such-ca"
    res = run("pki", "issue", *KINDS[kind], "--ca", missing, "--out", out / "x")
    assert_refused(res)
    assert str(missing) in res.stderr or "ca.key" in res.stderr \
        or "ca.crt" in res.stderr, describe(res)
    assert list(out.iterdir()) == []
    assert not missing.exists()


@pytest.mark.parametrize("missing", ["ca.key", "ca.crt"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_issue_missing_ca_file(make_ca, tmp_path, kind, missing):
    ca = make_ca()
    (ca.dir / missing).unlink()
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(ca.dir)
    res = run("pki", "issue", *KINDS[kind], "--ca", ca.dir, "--out", out / "x")
    assert_refused(res, missing)
    assert list(out.iterdir()) == []
    assert_unchanged(before, ca.dir)
    # and with the default prefix (inside the CA dir)
    res = run("pki", "issue", *KINDS[kind], "--ca", ca.dir)
    assert_refused(res, missing)
    assert_unchanged(before, ca.dir)


def test_intermediate_missing_ca_key(make_ca, tmp_path):
    root = make_ca("root")
    root.key.unlink()
    before = snapshot(tmp_path)
    res = run("pki", "intermediate", "sub", "--ca", root.dir, "--out",
              tmp_path / "sub")
    assert_refused(res, "ca.key")
    assert_unchanged(before, tmp_path)


# ------------------------------------------------------------------ unwritable output

@pytest.mark.parametrize("kind", sorted(KINDS))
def test_issue_unwritable_out(make_ca, tmp_path, kind):
    ca = make_ca()
    blocker = tmp_path / "regular-file"
    blocker.write_text("I am a file\n")
    before = snapshot(tmp_path)
    res = run("pki", "issue", *KINDS[kind], "--ca", ca.dir, "--out",
              blocker / "sub" / "name")
    assert_refused(res)
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_issue_out_in_missing_directory(make_ca, tmp_path, kind):
    ca = make_ca()
    before = snapshot(tmp_path)
    res = run("pki", "issue", *KINDS[kind], "--ca", ca.dir, "--out",
              tmp_path / "no-such-dir" / "name")
    assert_refused(res)
    assert_unchanged(before, tmp_path)


def test_issue_force_onto_directory_is_atomic(make_ca, tmp_path):
    """PREFIX.crt is a directory: even --force cannot write it, and then
    the key must not be left behind on its own."""
    ca = make_ca()
    out = tmp_path / "out"
    out.mkdir()
    (out / "gw.crt").mkdir()
    before = snapshot(tmp_path)
    res = run("pki", "issue", "edge", "gw1", "--tenant", "acme", "--ca", ca.dir,
              "--out", out / "gw", "--force")
    assert_refused(res)
    assert_unchanged(before, tmp_path)


def test_intermediate_unwritable_out(make_ca, tmp_path):
    root = make_ca("root")
    blocker = tmp_path / "regular-file"
    blocker.write_text("I am a file\n")
    before = snapshot(tmp_path)
    res = run("pki", "intermediate", "sub", "--ca", root.dir, "--out",
              blocker / "sub")
    assert_refused(res)
    assert_unchanged(before, tmp_path)


# ------------------------------------------------------------------ intermediate

@pytest.mark.parametrize("days", BAD_DAYS)
def test_intermediate_bad_days(make_ca, tmp_path, days):
    root = make_ca("root")
    before = snapshot(tmp_path)
    res = run("pki", "intermediate", "sub", "--ca", root.dir, "--out",
              tmp_path / "sub", "--days", days)
    assert_refused(res, "days")
    assert_unchanged(before, tmp_path)


def test_intermediate_rsa_key(make_ca, tmp_path):
    root = make_ca("root")
    before = snapshot(tmp_path)
    res = run("pki", "intermediate", "sub", "--ca", root.dir, "--out",
              tmp_path / "sub", "--key", "rsa")
    assert_refused(res, "key type")
    assert_unchanged(before, tmp_path)


def test_intermediate_never_overwrites_a_ca(make_ca, tmp_path):
    # --out pointing at an existing CA (here: the root itself) must not
    # replace its key
    root = make_ca("root")
    before = snapshot(tmp_path)
    res = run("pki", "intermediate", "sub", "--ca", root.dir, "--out", root.dir)
    assert_refused(res, "already")
    assert_unchanged(before, tmp_path)
