"""pytest configuration for the isthmus system tests.

The binary under test is $ISTHMUS_BIN, or <repo>/build/check/isthmus.
"""

import os

import pytest

import isthmus_testlib as lib
from tunnel_lib import Site


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
