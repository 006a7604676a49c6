"""`isthmus trust` (docs/trust.md, "Deciding") on a real trust store.

The store is seeded the way the edge leaves it: rows of the store's
schema (src/edge/trust/store.c) made from self-signed certificates that
`isthmus pki init` generates, as a device's would be. The CLI is the
real binary; every check reads the file back with sqlite3.
"""
import datetime
import hashlib
import json
import os
import pwd
import sqlite3
import stat

import pytest

import isthmus_testlib as lib
from isthmus_testlib import run

SCHEMA = """
PRAGMA journal_mode=WAL;
CREATE TABLE entries (
 id INTEGER PRIMARY KEY AUTOINCREMENT,
 kind TEXT NOT NULL CHECK (kind IN ('api', 'device')),
 peer TEXT NOT NULL,
 address TEXT NOT NULL DEFAULT '',
 mac TEXT,
 scope TEXT NOT NULL DEFAULT '',
 cert_sha256 TEXT NOT NULL,
 spki_sha256 TEXT NOT NULL,
 subject TEXT NOT NULL DEFAULT '',
 issuer TEXT NOT NULL DEFAULT '',
 not_before INTEGER NOT NULL,
 not_after INTEGER NOT NULL,
 first_seen INTEGER NOT NULL,
 last_seen INTEGER NOT NULL,
 state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected',
  'changed')),
 replaces INTEGER,
 decided_by TEXT,
 decided_at INTEGER,
 cert BLOB NOT NULL,
 UNIQUE (kind, peer, cert_sha256));
CREATE INDEX entries_peer ON entries (kind, peer);
PRAGMA user_version = 1;
"""

USER = pwd.getpwuid(os.geteuid()).pw_name


def fp(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Store:
    """A config whose state_dir holds trust.db, and devices' certificates."""

    def __init__(self, site):
        self.site = site
        self.state = site.tmp / "state"
        self.db = self.state / "trust.db"
        self.conf = site.edge_conf("agw", 1, {"sensors": "telemetry"},
                                   extra=f"state_dir = {self.state}")
        self.certs = {}

    def device_cert(self, name):
        """A self-signed certificate, as a device's (pki init makes one)."""
        d = self.site.tmp / f"dev-{name}"
        run("pki", "init", d, "--name", name, expect=0)
        cert = lib.load_cert(d / "ca.crt")
        self.certs[name] = cert
        return cert

    def create(self):
        self.state.mkdir(mode=0o700)
        con = sqlite3.connect(self.db)
        con.executescript(SCHEMA)
        con.close()
        os.chmod(self.db, 0o600)

    def add(self, name, peer, state="pending", kind="api", replaces=None):
        cert = self.certs.get(name) or self.device_cert(name)
        d = lib.der(cert)
        con = sqlite3.connect(self.db)
        cur = con.execute(
            "INSERT INTO entries (kind, peer, address, scope, cert_sha256, "
            "spki_sha256, subject, issuer, not_before, not_after, first_seen, "
            "last_seen, state, replaces, cert) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (kind, peer, peer, "meter-1", fp(d),
             fp(lib.spki_der(cert.public_key())),
             cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(),
             int(lib.not_before(cert).timestamp()),
             int(lib.not_after(cert).timestamp()), 1796412184, 1796412184,
             state, replaces, d))
        con.commit()
        con.close()
        return cur.lastrowid, fp(d)

    def rows(self):
        con = sqlite3.connect(self.db)
        out = {r[0]: r[1:] for r in con.execute(
            "SELECT id, state, replaces, decided_by FROM entries")}
        con.close()
        return out

    def trust(self, *args, expect=None):
        return run("trust", "-c", self.conf, *args, expect=expect)


@pytest.fixture
def store(site):
    return Store(site)


def test_list_show_and_json(store):
    store.create()
    a, fa = store.add("dmu-a", "192.168.10.21:443")
    b, fb = store.add("dmu-b", "192.168.10.22:443", state="approved")
    res = store.trust("list", expect=0)
    lines = res.stdout.splitlines()
    line_a = next(l for l in lines if l.split()[:1] == [str(a)])
    assert "pending" in line_a and "api" in line_a and fa in line_a
    assert "192.168.10.21:443" in line_a and "dmu-a" in line_a
    assert "1 pending, 1 approved, 0 rejected, 0 changed" in res.stdout

    res = store.trust("list", "--pending", expect=0)
    assert fa in res.stdout and fb not in res.stdout

    doc = json.loads(store.trust("list", "--json", expect=0).stdout)
    assert doc["counts"] == {"pending": 1, "approved": 1, "rejected": 0,
                             "changed": 0}
    assert [e["id"] for e in doc["entries"]] == [b, a]   # newest first
    ent = doc["entries"][1]
    assert set(ent) == {"id", "kind", "peer", "address", "mac", "scope",
                        "state", "cert_sha256", "spki_sha256", "subject",
                        "issuer", "not_before", "not_after", "expired",
                        "first_seen", "last_seen", "replaces", "decided_by",
                        "decided_at"}
    assert ent["cert_sha256"] == fa and ent["mac"] is None
    assert ent["expired"] is False and ent["decided_by"] is None

    doc = json.loads(store.trust("show", str(a), "--json", expect=0).stdout)
    cert = store.certs["dmu-a"]
    pem = doc["entry"]["pem"].encode()
    assert lib.der(lib.x509.load_pem_x509_certificate(pem)) == lib.der(cert)
    text = store.trust("show", str(a), expect=0).stdout
    assert fa in text and "BEGIN CERTIFICATE" in text
    assert fp(lib.spki_der(cert.public_key())) in text


def test_approve_needs_the_fingerprint(store):
    store.create()
    a, fa = store.add("dmu-a", "192.168.10.21:443")
    _, fother = store.add("other", "192.168.10.99:443")
    res = store.trust("approve", str(a), "--fingerprint", fother, expect=1)
    assert (f"the fingerprint does not match entry {a}'s certificate; "
            f"see isthmus trust show {a}") in res.stderr
    assert store.rows()[a] == ("pending", None, None)
    res = store.trust("approve", str(a), "--fingerprint", fa, expect=0)
    assert store.rows()[a] == ("approved", None, f"local:{USER}")
    assert "trust_decision" in res.stderr and f"by=local:{USER}" in res.stderr
    assert f"action=approve" in res.stderr and fa in res.stderr
    # again: says so, changes nothing
    rows = store.rows()
    res = store.trust("approve", str(a), "--fingerprint", fa, expect=0)
    assert "already approved" in res.stdout
    assert store.rows() == rows


def test_approve_from_a_reviewed_list(store):
    """A site approves many devices at once from list --pending's lines it
    kept: each approval still names its fingerprint, a line whose
    fingerprint is not the entry's is refused alone, the rest go on."""
    store.create()
    a, fa = store.add("dmu-a", "192.168.10.21:443")
    b, fb = store.add("dmu-b", "192.168.10.22:443")
    c, fc = store.add("dmu-c", "192.168.10.23:443")
    d, _ = store.add("dmu-d", "192.168.10.24:443")
    lines = store.trust("list", "--pending", expect=0).stdout.splitlines()
    keep = [l for l in lines if l.split()[:1] in ([str(a)], [str(b)])]
    assert len(keep) == 2
    review = store.site.tmp / "review.txt"
    review.write_text("# checked on the bench, 2026-12-04\n"
                      + "\n".join(keep) + "\n"
                      f"{c} pending api 192.168.10.23:443 {fa}\n"
                      f"{d} changed api no fingerprint here\n"
                      "a line mangled in the editor\n"
                      "\n4 pending, 0 approved, 0 rejected, 0 changed\n")
    res = store.trust("approve", "--from", review, expect=1)
    rows = store.rows()
    assert rows[a][0] == "approved" and rows[b][0] == "approved"
    assert rows[c][0] == "pending" and rows[d][0] == "pending"
    assert f"review.txt:4: the fingerprint does not match entry {c}'s" \
        in res.stderr
    assert f"review.txt:5: entry {d} names no sha256: fingerprint" \
        in res.stderr
    assert "review.txt:6: not a line of isthmus trust list" in res.stderr
    assert "2 approved, 3 refused" in res.stdout
    assert res.stderr.count("event=trust_decision") == 2
    # from stdin, the same list again: nothing changes, all is well
    res = run("trust", "-c", store.conf, "approve", "--from", "-",
              input="\n".join(keep) + "\n", expect=0)
    assert "0 approved, 0 refused" in res.stdout
    assert store.rows() == rows
    store.trust("approve", str(a), "--from", review, expect=2)
    store.trust("list", "--from", review, expect=2)
    store.trust("approve", "--from", review, "--json", expect=2)


def test_changed_approved_removes_the_old(store):
    store.create()
    old, _ = store.add("dmu-a", "192.168.10.21:443", state="approved")
    new, fnew = store.add("dmu-a2", "192.168.10.21:443", state="changed",
                          replaces=old)
    doc = json.loads(store.trust("list", "--pending", "--json",
                                 expect=0).stdout)
    assert [e["replaces"] for e in doc["entries"]] == [old]
    res = store.trust("approve", str(new), "--fingerprint", fnew, expect=0)
    assert f"entry {old}" in res.stdout
    rows = store.rows()
    assert old not in rows
    assert rows[new] == ("approved", None, f"local:{USER}")


def test_reject_and_forget(store):
    store.create()
    a, _ = store.add("dmu-a", "192.168.10.21:443", state="approved")
    b, _ = store.add("dmu-b", "192.168.10.21:443", state="changed",
                     replaces=a)
    store.trust("reject", str(b), expect=0)
    assert store.rows()[b][0] == "rejected"
    assert store.rows()[a][0] == "approved"     # rejecting keeps the old
    store.trust("reject", str(b), expect=0)     # already: nothing changes
    store.trust("reject", str(a), expect=0)     # an approved one too
    assert store.rows()[a][:1] == ("rejected",)
    store.trust("forget", str(a), expect=0)
    assert a not in store.rows()
    res = store.trust("forget", str(a), expect=1)
    assert f"no entry {a}" in res.stderr
    res = store.trust("show", "4242", expect=1)
    assert "no entry 4242" in res.stderr


@pytest.mark.parametrize("content", ["random", "other_schema"])
def test_a_store_that_is_not_ours_is_left_alone(store, content):
    store.state.mkdir(mode=0o700)
    if content == "random":
        store.db.write_bytes(os.urandom(8192))
    else:
        con = sqlite3.connect(store.db)
        con.executescript("CREATE TABLE notes (t TEXT); "
                          "INSERT INTO notes VALUES ('mine');")
        con.close()
    before = lib.snapshot(store.state)
    for args in (("list",), ("approve", "1", "--fingerprint",
                             "sha256:" + "0" * 64)):
        res = store.trust(*args, expect=1)
        assert str(store.db) in res.stderr
        assert "move it aside" in res.stderr
        assert res.stderr.startswith("isthmus trust: ")
    lib.assert_unchanged(before, store.state)


def test_no_store_yet(store):
    res = store.trust("list", expect=0)
    assert f"no trust store yet at {store.db}: nothing learned" in res.stdout
    doc = json.loads(store.trust("list", "--json", expect=0).stdout)
    assert doc["entries"] == []
    res = store.trust("reject", "1", expect=1)
    assert "no trust store yet" in res.stderr
    # the CLI never creates the store, nor its directory
    assert not store.state.exists()


def test_modes_stay(store):
    store.create()
    a, fa = store.add("dmu-a", "192.168.10.21:443")
    store.trust("approve", str(a), "--fingerprint", fa, expect=0)
    assert stat.S_IMODE(store.db.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.state.stat().st_mode) == 0o700
    for p in store.state.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0, p


@pytest.mark.parametrize("args,needle", [
    ((), "say list"),
    (("frob",), "not a trust command"),
    (("show",), "needs an entry id"),
    (("approve", "1"), "--fingerprint"),
    (("reject", "1", "--fingerprint", "sha256:" + "0" * 64), "--fingerprint"),
    (("list", "extra"), "unexpected argument"),
    (("reject", "1", "--json"), "--json goes with"),
    (("show", "1", "--pending"), "--pending goes with"),
    (("show", "x1"), "not an entry id"),
    (("approve", "1", "--fingerprint", "sha256:zz"), "not a certificate "
     "fingerprint"),
])
def test_usage(store, args, needle):
    store.create()
    store.add("dmu-a", "192.168.10.21:443")
    before = store.db.read_bytes()
    res = store.trust(*args, expect=2)
    assert needle in res.stderr
    assert store.db.read_bytes() == before
    assert run("trust", "list", expect=2).stderr.startswith("isthmus trust:")


def test_help(store):
    res = run("trust", "--help", expect=0)
    assert "approve ID --fingerprint sha256:HEX" in res.stdout
    assert "trust" in run("help", expect=0).stdout
