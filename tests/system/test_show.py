"""`pki show`: text and JSON output, fingerprints checked against openssl
and cryptography."""

import hashlib
import ipaddress
import json
import re

import pytest
from cryptography import x509

from isthmus_testlib import (assert_refused, der, describe, load_cert,
                             not_after, not_before, openssl, run, spki_der)

JSON_KEYS = {"subject", "issuer", "serial", "not_before", "not_after",
             "key_type", "san", "edge", "tenant", "mac", "cert_sha256",
             "spki_sha256"}

TIME_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def show_json(path):
    res = run("pki", "show", path, "--json", expect=0)
    try:
        obj = json.loads(res.stdout)
    except ValueError as e:
        pytest.fail(f"not JSON ({e})\n" + describe(res))
    assert isinstance(obj, dict), describe(res)
    return obj


def fmt_time(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def san_strings(cert):
    out = []
    try:
        names = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return out
    for g in names:
        if isinstance(g, x509.DNSName):
            out.append(("DNS", g.value))
        elif isinstance(g, x509.IPAddress):
            out.append(("IP", g.value))
        elif isinstance(g, x509.UniformResourceIdentifier):
            out.append(("URI", g.value))
        else:
            out.append(("?", g))
    return out


def parse_san_json(items):
    out = []
    for s in items:
        assert isinstance(s, str), items
        kind, _, value = s.partition(":")
        if kind == "IP":
            value = ipaddress.ip_address(value)
        out.append((kind, value))
    return out


def check_common(obj, leaf_path):
    cert = load_cert(leaf_path)
    assert set(obj) == JSON_KEYS, sorted(obj)
    assert isinstance(obj["serial"], str)
    assert re.fullmatch(r"[0-9a-f]+", obj["serial"]), obj["serial"]
    assert int(obj["serial"], 16) == cert.serial_number
    assert re.fullmatch(TIME_RE, obj["not_before"]), obj["not_before"]
    assert re.fullmatch(TIME_RE, obj["not_after"]), obj["not_after"]
    assert obj["not_before"] == fmt_time(not_before(cert))
    assert obj["not_after"] == fmt_time(not_after(cert))
    assert isinstance(obj["subject"], str) and isinstance(obj["issuer"], str)
    assert isinstance(obj["san"], list)
    assert sorted(parse_san_json(obj["san"]), key=str) == sorted(
        san_strings(cert), key=str)

    # fingerprints: against openssl
    r = openssl("x509", "-in", leaf_path, "-outform", "der")
    assert r.returncode == 0, r.stderr
    assert r.stdout == der(cert)
    assert obj["cert_sha256"] == sha(r.stdout)
    r = openssl("x509", "-in", leaf_path, "-pubkey", "-noout")
    assert r.returncode == 0, r.stderr
    r2 = openssl("pkey", "-pubin", "-outform", "der", input=r.stdout)
    assert r2.returncode == 0, r2.stderr
    assert obj["spki_sha256"] == sha(r2.stdout)
    # ... and against cryptography
    assert obj["spki_sha256"] == sha(spki_der(cert.public_key()))
    assert obj["cert_sha256"] == sha(der(cert))
    assert obj["cert_sha256"] != obj["spki_sha256"]
    return cert


def test_show_json_edge(small_pki):
    obj = show_json(small_pki.edge.crt)
    check_common(obj, small_pki.edge.crt)
    assert obj["edge"] == "gw1"
    assert obj["tenant"] == "acme"
    assert obj["mac"] is None
    assert obj["key_type"] == "ed25519"
    assert obj["san"] == ["URI:isthmus://acme/edge/gw1"]
    assert "gw1" in obj["subject"] and "acme" in obj["subject"]
    assert "isthmus root CA" in obj["issuer"]


def test_show_json_cloud(small_pki):
    obj = show_json(small_pki.cloud.crt)
    check_common(obj, small_pki.cloud.crt)
    assert obj["edge"] is None and obj["tenant"] is None and obj["mac"] is None
    assert obj["key_type"] == "ed25519"
    assert "DNS:cloud.example" in obj["san"]
    assert "DNS:api.cloud.example" in obj["san"]
    assert "IP:127.0.0.1" in obj["san"]
    assert "api" in obj["subject"]


def test_show_json_device(small_pki):
    obj = show_json(small_pki.device.crt)
    check_common(obj, small_pki.device.crt)
    assert obj["mac"] == "aa:bb:cc:dd:ee:ff"
    assert obj["edge"] is None and obj["tenant"] is None
    assert obj["key_type"] == "p256"
    assert obj["san"] == ["URI:urn:dev:mac:aabbccddeeff"]


def test_show_json_ca(small_pki):
    obj = show_json(small_pki.ca.crt)
    check_common(obj, small_pki.ca.crt)
    assert obj["san"] == []
    assert obj["edge"] is None and obj["tenant"] is None and obj["mac"] is None
    assert obj["subject"] == obj["issuer"]


def test_show_json_p256_edge(make_ca):
    ca = make_ca()
    leaf = ca.edge("gw1", "acme", "--key", "p256")
    obj = show_json(leaf.crt)
    check_common(obj, leaf.crt)
    assert obj["key_type"] == "p256"


def test_show_json_distinguishes_certs(small_pki):
    a = show_json(small_pki.edge.crt)
    b = show_json(small_pki.cloud.crt)
    assert a["cert_sha256"] != b["cert_sha256"]
    assert a["spki_sha256"] != b["spki_sha256"]
    assert a["serial"] != b["serial"]


def test_show_json_chain_file_describes_leaf(make_ca, tmp_path):
    root = make_ca("root")
    sub = root.intermediate("sub", tmp_path / "sub")
    leaf = sub.edge("gw1", "acme")
    obj = show_json(leaf.crt)
    cert = check_common(obj, leaf.crt)
    assert obj["edge"] == "gw1" and obj["tenant"] == "acme"
    assert int(obj["serial"], 16) == cert.serial_number != sub.cert.serial_number


def test_show_text(small_pki):
    res = run("pki", "show", small_pki.edge.crt, expect=0)
    lines = [l for l in res.stdout.splitlines() if l.strip()]
    assert lines, describe(res)
    for l in lines:
        assert re.match(r"^\S[^:]*:( .*)?$", l), f"not 'key: value': {l!r}"
    obj = show_json(small_pki.edge.crt)
    # the text form carries the same information
    flat = res.stdout.lower().replace(":", "")
    assert obj["cert_sha256"].split(":", 1)[1] in flat
    assert obj["serial"].lstrip("0") in flat
    assert "gw1" in res.stdout and "acme" in res.stdout


def test_show_not_a_certificate(tmp_path, small_pki):
    junk = tmp_path / "junk.crt"
    junk.write_text("hello, I am not a certificate\n")
    assert_refused(run("pki", "show", junk))
    assert_refused(run("pki", "show", junk, "--json"))
    # a private key is not a certificate either
    assert_refused(run("pki", "show", small_pki.edge.key))
    # nor is a CRL
    assert_refused(run("pki", "show", small_pki.ca.crl_path))
    # nor an empty file
    empty = tmp_path / "empty.crt"
    empty.write_bytes(b"")
    assert_refused(run("pki", "show", empty))
    # truncated PEM
    data = small_pki.edge.crt.read_text()
    trunc = tmp_path / "trunc.crt"
    trunc.write_text(data[: len(data) // 2])
    assert_refused(run("pki", "show", trunc, "--json"))


def test_show_missing_file(tmp_path):
    assert_refused(run("pki", "show", tmp_path / "nope.crt"))
