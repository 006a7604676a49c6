"""pytest configuration for the isthmus system tests.

The binary under test is $ISTHMUS_BIN, or <repo>/build/check/isthmus.
"""

import os

import pytest

import isthmus_testlib as lib
from fakes_lib import FakeCloud, FakeDNS, SSLsplit, Tinyproxy
from http_lib import HTTPBackend
from tunnel_lib import Site, scrape, value


def pytest_sessionstart(session):
    if not (lib.BIN.is_file() and os.access(lib.BIN, os.X_OK)):
        pytest.exit(
            f"isthmus binary not found or not executable: {lib.BIN}\n"
            "Build it first (make check / ninja -C build/check) or set "
            "ISTHMUS_BIN=/path/to/isthmus.",
            returncode=4,
        )


@pytest.fixture
def run():
    """run(*args, expect=None, umask=None, cwd=None) -> CompletedProcess."""
    return lib.run


@pytest.fixture
def make_ca(tmp_path):
    """make_ca(name='ca', *extra) -> lib.CA, created with `pki init`."""
    def _make(name="ca", *extra):
        return lib.CA.init(tmp_path / name, *extra)
    return _make


@pytest.fixture
def small_pki(tmp_path):
    """A root CA in tmp_path/ca with edge gw1 (tenant acme), cloud api and
    device aa:bb:cc:dd:ee:ff already issued."""
    return lib.SmallPKI(tmp_path)


@pytest.fixture
def site(tmp_path):
    """A two-customer deployment's PKI in tmp_path (tunnel_lib.Site); the
    daemons it started are stopped, and checked for a clean exit, after
    the test."""
    s = Site(tmp_path)
    yield s
    s.close()


@pytest.fixture
def cache_site(site):
    """start(listener_opts="", edge_extra="", svc_opts="", cloud_extra="")
    -> Cached: a cloud with one HTTP service A/web, an edge whose listener
    caches."""
    made = []

    class Cached:
        pass

    def start(listener_opts="", edge_extra="", svc_opts="", cloud_extra=""):
        k = Cached()
        k.be = HTTPBackend()
        made.append(k.be)
        k.cache_dir = site.tmp / "edge-cache"
        k.cloud = site.start("cloud", site.cloud_conf(
            {"A/web": ([k.be], "mode = http\nhealth = none\n" + svc_opts)},
            extra=cloud_extra))
        k.conf = site.edge_conf(
            "agw", k.cloud.port("listen"),
            {"web": ("web", "mode = http\ncache = on\n" + listener_opts)},
            extra=f"cache_dir = {k.cache_dir}\nmetrics = 127.0.0.1:0\n"
            + edge_extra)

        def start_edge():
            k.edge = site.start("edge", k.conf)
            k.edge.wait_log(r"event=tunnel_up")
            k.port = k.edge.port("listener.web")

        def restart_edge():
            k.edge.stop()
            start_edge()

        def metric(name, **labels):
            return value(scrape(k.edge), name, **labels)

        k.restart_edge = restart_edge
        k.metric = metric
        start_edge()
        return k

    yield start
    for be in made:
        be.close()


@pytest.fixture
def proxies(site):
    """start(auth=None, connect_ports=()) -> a running fakes_lib.Tinyproxy;
    stopped after the test."""
    made = []

    def start(**kw):
        p = Tinyproxy(site.tmp, name=f"tinyproxy{len(made)}", **kw)
        made.append(p)
        return p
    yield start
    for p in made:
        p.stop()


@pytest.fixture
def sslsplit(site):
    """start(ca_dir, upstream_port) -> a running fakes_lib.SSLsplit;
    stopped after the test."""
    made = []

    def start(ca_dir, upstream):
        p = SSLsplit(site.tmp, ca_dir, upstream, name=f"sslsplit{len(made)}")
        made.append(p)
        return p
    yield start
    for p in made:
        p.stop()


@pytest.fixture
def fakes():
    """make(crt, key, client_ca, proxy=False, alpn=...) -> a running
    fakes_lib.FakeCloud; closed after the test."""
    made = []

    def make(*a, **kw):
        f = FakeCloud(*a, **kw)
        made.append(f)
        return f
    yield make
    for f in made:
        f.close()


@pytest.fixture
def dns(site):
    """(fakes_lib.FakeDNS on 127.0.0.54, a resolv.conf naming it): give a
    daemon the file as /etc/resolv.conf (Site.start(resolv_conf=),
    tunnel_lib.with_etc) and set server.names. Needs root."""
    if os.geteuid() != 0:
        pytest.skip("needs root for a mount namespace")
    try:
        server = FakeDNS({})
    except OSError as e:
        pytest.skip(f"cannot serve DNS on 127.0.0.54:53: {e}")
    rc = site.tmp / "resolv.conf"
    rc.write_text(f"nameserver {server.addr}\noptions timeout:1 attempts:1\n")
    yield server, rc
    server.close()
