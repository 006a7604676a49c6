"""Shared helpers for the isthmus system tests.

Everything here drives the real binary; nothing is mocked.  Certificates
are parsed with `cryptography` and cross-checked with the `openssl` tool.
"""

import datetime
import ipaddress
import os
import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("ISTHMUS_BIN") or REPO / "build" / "check" / "isthmus")

TIMEOUT = 30

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "SUMMARY: UndefinedBehaviorSanitizer",
)

UTC = datetime.timezone.utc


def _env(extra=None):
    env = dict(os.environ)
    # The edge honours https_proxy: tests say which proxy, if any.
    for var in ("https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY",
                "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(var, None)
    # Tests run under systemd (a CI unit, a user session) must not tell
    # it that a daemon under test is ready: test_sdnotify.py says where.
    for var in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        env.pop(var, None)
    env.update(extra or {})
    # A test may add sanitizer options; these are always there.
    env["ASAN_OPTIONS"] = ":".join(
        ["detect_leaks=1:abort_on_error=0"] +
        ([extra["ASAN_OPTIONS"]] if extra and "ASAN_OPTIONS" in extra else []))
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    env.setdefault("LC_ALL", "C")
    return env


def describe(res):
    return (
        f"command: {' '.join(res.args)}\n"
        f"exit code: {res.returncode}\n"
        f"--- stdout ---\n{res.stdout}\n--- stderr ---\n{res.stderr}"
    )


def run(*args, expect=None, umask=None, cwd=None, env=None, input=None):
    """Run the isthmus binary (stdin: input, else nothing).

    Fails the test on a sanitizer report, a crash (signal) or a timeout.
    If `expect` is given, the exit code must equal it.
    """
    argv = [str(BIN)] + [str(a) for a in args]
    preexec = None
    if umask is not None:
        def preexec():
            os.umask(umask)
    try:
        res = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT,
            env=_env(env),
            preexec_fn=preexec,
            cwd=cwd,
            **({"input": input} if input is not None
               else {"stdin": subprocess.DEVNULL}),
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"timeout after {TIMEOUT}s: {' '.join(argv)}\n"
                    f"stdout: {e.stdout!r}\nstderr: {e.stderr!r}")
    for marker in SANITIZER_MARKERS:
        if marker in res.stderr:
            pytest.fail(f"sanitizer report ({marker!r})\n" + describe(res))
    if res.returncode < 0:
        pytest.fail(f"killed by signal {-res.returncode}\n" + describe(res))
    if expect is not None:
        assert res.returncode == expect, (
            f"expected exit code {expect}\n" + describe(res))
    return res


def assert_refused(res, *needles):
    """Exit 2 with exactly one non-empty line on stderr mentioning needles."""
    assert res.returncode == 2, "expected exit code 2\n" + describe(res)
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, ("expected exactly one line on stderr\n"
                             + describe(res))
    for n in needles:
        assert n.lower() in res.stderr.lower(), (
            f"stderr should mention {n!r}\n" + describe(res))


def snapshot(root):
    """Map of every path under root -> (kind, mode, content) for comparison."""
    root = Path(root)
    snap = {}
    if not root.exists():
        return snap
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            p = Path(dirpath, d)
            snap[str(p.relative_to(root)) + "/"] = ("dir", p.stat().st_mode, None)
        for f in filenames:
            p = Path(dirpath, f)
            snap[str(p.relative_to(root))] = (
                "file", p.stat().st_mode, p.read_bytes())
    return snap


def assert_unchanged(before, root):
    after = snapshot(root)
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after)
                     if before[k] != after[k])
    assert not (added or removed or changed), (
        f"directory {root} changed: added={added} removed={removed} "
        f"changed={changed}")


# ---------------------------------------------------------------- PEM / x509

_PEM_CERT_RE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----",
    re.DOTALL)


def load_certs(path):
    data = Path(path).read_bytes()
    blocks = _PEM_CERT_RE.findall(data)
    return [x509.load_pem_x509_certificate(b) for b in blocks]


def load_cert(path):
    certs = load_certs(path)
    assert certs, f"no PEM certificate in {path}"
    return certs[0]


def load_key(path):
    return serialization.load_pem_private_key(Path(path).read_bytes(), None)


def load_crl(path):
    return x509.load_pem_x509_crl(Path(path).read_bytes())


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def spki_der(pub):
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def not_before(cert):
    v = getattr(cert, "not_valid_before_utc", None)
    return v if v is not None else cert.not_valid_before.replace(tzinfo=UTC)


def not_after(cert):
    v = getattr(cert, "not_valid_after_utc", None)
    return v if v is not None else cert.not_valid_after.replace(tzinfo=UTC)


def crl_last_update(crl):
    v = getattr(crl, "last_update_utc", None)
    return v if v is not None else crl.last_update.replace(tzinfo=UTC)


def crl_next_update(crl):
    v = getattr(crl, "next_update_utc", None)
    if v is not None:
        return v
    return None if crl.next_update is None else crl.next_update.replace(tzinfo=UTC)


def now():
    return datetime.datetime.now(UTC)


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


def crl_number(crl):
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def key_type(pub):
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(pub, ec.EllipticCurvePublicKey) and isinstance(pub.curve, ec.SECP256R1):
        return "p256"
    return type(pub).__name__


def sign_with(key):
    """The `algorithm` argument for builder.sign() for this key."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    return hashes.SHA256()


def _sig_ok(signature, tbs, hash_alg, issuer_pub):
    try:
        if isinstance(issuer_pub, ed25519.Ed25519PublicKey):
            issuer_pub.verify(signature, tbs)
        elif isinstance(issuer_pub, ec.EllipticCurvePublicKey):
            issuer_pub.verify(signature, tbs, ec.ECDSA(hash_alg))
        else:
            raise AssertionError(f"unexpected issuer key {issuer_pub!r}")
    except Exception as e:  # InvalidSignature
        if isinstance(e, AssertionError):
            raise
        return False
    return True


def signed_by(cert, issuer_pub):
    """True if cert's signature verifies under issuer_pub."""
    return _sig_ok(cert.signature, cert.tbs_certificate_bytes,
                   cert.signature_hash_algorithm, issuer_pub)


def crl_signed_by(crl, issuer_pub):
    """True if the CRL's signature verifies under issuer_pub (cryptography
    38's is_signature_valid cannot do Ed25519)."""
    return _sig_ok(crl.signature, crl.tbs_certlist_bytes,
                   crl.signature_hash_algorithm, issuer_pub)


def attrs(name, oid):
    return [a.value for a in name.get_attributes_for_oid(oid)]


def san(cert):
    return ext(cert, x509.SubjectAlternativeName).value


def eku(cert):
    return set(ext(cert, x509.ExtendedKeyUsage).value)


CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH


# ---------------------------------------------------------------- openssl

def openssl(*args, input=None):
    return subprocess.run(["openssl"] + [str(a) for a in args],
                          capture_output=True, timeout=TIMEOUT, input=input)


def openssl_text(*args):
    r = openssl(*args)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


# ---------------------------------------------------------------- PKI helper

class Leaf:
    def __init__(self, prefix, result=None):
        self.prefix = Path(prefix)
        self.crt = Path(str(prefix) + ".crt")
        self.key = Path(str(prefix) + ".key")
        self.result = result

    @property
    def cert(self):
        return load_cert(self.crt)

    @property
    def chain(self):
        return load_certs(self.crt)

    @property
    def private_key(self):
        return load_key(self.key)


class CA:
    """An isthmus CA directory created with `pki init` or `pki intermediate`."""

    def __init__(self, path):
        self.dir = Path(path)
        self.crt = self.dir / "ca.crt"
        self.key = self.dir / "ca.key"
        self.crl_path = self.dir / "crl.pem"
        self.chain_path = self.dir / "ca-chain.crt"

    @classmethod
    def init(cls, path, *extra):
        run("pki", "init", path, *extra, expect=0)
        return cls(path)

    @property
    def cert(self):
        return load_cert(self.crt)

    @property
    def private_key(self):
        return load_key(self.key)

    @property
    def crl(self):
        return load_crl(self.crl_path)

    def intermediate(self, name, out, *extra):
        run("pki", "intermediate", name, "--ca", self.dir, "--out", out,
            *extra, expect=0)
        return CA(out)

    def _leaf(self, kind, ident, default_prefix, extra):
        extra = list(extra)
        prefix = default_prefix
        if "--out" in extra:
            prefix = Path(extra[extra.index("--out") + 1])
        res = run("pki", "issue", kind, ident, "--ca", self.dir, *extra,
                  expect=0)
        return Leaf(prefix, res)

    def edge(self, name="gw1", tenant="acme", *extra):
        return self._leaf("edge", name, self.dir / name,
                          ["--tenant", tenant, *extra])

    def cloud(self, name="api", dns="cloud.example", *extra):
        return self._leaf("cloud", name, self.dir / name,
                          ["--dns", dns, *extra])

    def device(self, mac="aa:bb:cc:dd:ee:ff", *extra):
        canon = re.sub(r"[^0-9a-fA-F]", "", mac).lower()
        return self._leaf("device", mac, self.dir / canon, list(extra))

    def revoke(self, cert_path, *extra, expect=0):
        return run("pki", "revoke", cert_path, "--ca", self.dir, *extra,
                   expect=expect)

    def verify(self, cert_path, *extra):
        return run("pki", "verify", cert_path, "--ca", self.dir, *extra)


class SmallPKI:
    """Root CA with one edge, one cloud and one device certificate."""

    def __init__(self, root):
        self.ca = CA.init(root / "ca")
        self.edge = self.ca.edge("gw1", "acme")
        self.cloud = self.ca.cloud("api", "cloud.example,api.cloud.example",
                                   "--ip", "127.0.0.1,::1")
        self.device = self.ca.device("aa:bb:cc:dd:ee:ff", "--vendor", "AcmeCorp")


# ---------------------------------------------------------------- forging

def build_leaf(ca, *, cn="forged", nb=None, na=None,
               eku_oids=(CLIENT_AUTH,), signer=None, issuer_name=None,
               aki_from=None, is_ca=False, leaf_key=None, san_uris=(),
               san_dns=(), san_ips=()):
    """Build a leaf certificate with cryptography, signed by `signer`
    (default: the CA's own private key), for leaf_key (default: a new
    Ed25519 key), with optional SAN URIs."""
    t = now()
    nb = nb if nb is not None else t - datetime.timedelta(minutes=5)
    na = na if na is not None else t + datetime.timedelta(days=30)
    ca_cert = ca.cert
    signer = signer if signer is not None else ca.private_key
    leaf_key = leaf_key or ed25519.Ed25519PrivateKey.generate()
    ca_ski = ext(ca_cert, x509.SubjectKeyIdentifier).value
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
         .issuer_name(issuer_name if issuer_name is not None else ca_cert.subject)
         .public_key(leaf_key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(nb)
         .not_valid_after(na)
         .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None),
                        critical=True)
         .add_extension(x509.KeyUsage(
             digital_signature=True, content_commitment=False,
             key_encipherment=False, data_encipherment=False,
             key_agreement=False, key_cert_sign=is_ca, crl_sign=False,
             encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(
             leaf_key.public_key()), critical=False)
         .add_extension(
             x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                 aki_from if aki_from is not None else ca_ski),
             critical=False))
    if eku_oids:
        b = b.add_extension(x509.ExtendedKeyUsage(list(eku_oids)),
                            critical=False)
    names = ([x509.UniformResourceIdentifier(u) for u in san_uris] +
             [x509.DNSName(d) for d in san_dns] +
             [x509.IPAddress(ipaddress.ip_address(a)) for a in san_ips])
    if names:
        b = b.add_extension(x509.SubjectAlternativeName(names),
                            critical=False)
    return b.sign(signer, sign_with(signer))


def write_cert(cert, path):
    Path(path).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Path(path)


def build_crl(ca, *, last, nxt, number, revoked=()):
    key = ca.private_key
    b = (x509.CertificateRevocationListBuilder()
         .issuer_name(ca.cert.subject)
         .last_update(last)
         .next_update(nxt)
         .add_extension(x509.CRLNumber(number), critical=False)
         .add_extension(
             x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                 ext(ca.cert, x509.SubjectKeyIdentifier).value),
             critical=False))
    for serial in revoked:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial).revocation_date(last).build())
    return b.sign(key, sign_with(key))
