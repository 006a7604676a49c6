"""Top-level command-line behaviour: help, version, usage errors."""

import re

import pytest

from isthmus_testlib import REPO, assert_unchanged, describe, run, snapshot

PKI_SUBCOMMANDS = ["init", "issue", "intermediate", "revoke", "crl", "show",
                   "verify"]


def test_version():
    res = run("--version", expect=0)
    assert re.fullmatch(r"isthmus \S+\n?", res.stdout), describe(res)
    # A version should contain at least one digit.
    assert re.search(r"\d", res.stdout), describe(res)


def test_version_matches_meson_project():
    meson = REPO / "meson.build"
    m = re.search(r"project\([^)]*?version\s*:\s*'([^']+)'",
                  meson.read_text(), re.S)
    assert m, "cannot find the project version in meson.build"
    assert run("--version", expect=0).stdout.strip() == f"isthmus {m.group(1)}"


@pytest.mark.parametrize("argv", [["help"], ["--help"]])
def test_help_lists_commands(argv):
    res = run(*argv, expect=0)
    assert re.search(r"\bpki\b", res.stdout), describe(res)


def test_pki_help_lists_subcommands():
    res = run("pki", "--help", expect=0)
    for sub in PKI_SUBCOMMANDS:
        assert re.search(rf"\b{sub}\b", res.stdout), (
            f"{sub!r} missing from pki --help\n" + describe(res))


def test_pki_issue_help():
    res = run("pki", "issue", "--help", expect=0)
    assert res.stdout.strip(), describe(res)


@pytest.mark.parametrize("sub", PKI_SUBCOMMANDS)
def test_pki_subcommand_help(sub, tmp_path):
    res = run("pki", sub, "--help", expect=0, cwd=tmp_path)
    assert res.stdout.strip(), describe(res)
    # --help must not do anything on disk
    assert list(tmp_path.iterdir()) == []


def _assert_usage_error(res):
    assert res.returncode == 2, describe(res)
    assert res.stdout == "", "nothing may be printed on stdout\n" + describe(res)
    assert res.stderr.strip(), "usage must be printed on stderr\n" + describe(res)


def test_unknown_command(tmp_path):
    res = run("frobnicate", cwd=tmp_path)
    _assert_usage_error(res)
    assert list(tmp_path.iterdir()) == []


def test_unknown_pki_subcommand(tmp_path):
    res = run("pki", "frobnicate", cwd=tmp_path)
    _assert_usage_error(res)
    assert list(tmp_path.iterdir()) == []


def test_unknown_option(tmp_path):
    res = run("pki", "init", tmp_path / "x", "--bogus", "x")
    _assert_usage_error(res)
    assert not (tmp_path / "x").exists()


def test_unknown_option_on_issue(make_ca):
    ca = make_ca()
    before = snapshot(ca.dir)
    res = run("pki", "issue", "edge", "gw1", "--tenant", "acme", "--ca",
              ca.dir, "--bogus")
    _assert_usage_error(res)
    assert_unchanged(before, ca.dir)


def test_unknown_issue_kind(make_ca):
    ca = make_ca()
    before = snapshot(ca.dir)
    res = run("pki", "issue", "router", "r1", "--ca", ca.dir)
    _assert_usage_error(res)
    assert_unchanged(before, ca.dir)


def test_init_without_dir(tmp_path):
    res = run("pki", "init", cwd=tmp_path)
    _assert_usage_error(res)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [
    ["issue", "edge", "gw1", "--ca", "{ca}"],                       # no --tenant
    ["issue", "edge", "--tenant", "acme", "--ca", "{ca}"],          # no NAME
    ["issue", "cloud", "api", "--ca", "{ca}"],                      # no --dns
    ["issue", "device", "--ca", "{ca}"],                            # no MAC
    ["issue", "edge", "gw1", "--tenant", "acme"],                   # no --ca
    ["revoke", "--ca", "{ca}"],                                     # no CERT
    ["verify", "{ca}/ca.crt"],                                      # no --ca
    ["intermediate", "sub", "--ca", "{ca}"],                        # no --out
    ["show"],                                                       # no CERT
])
def test_missing_required_arguments(make_ca, argv):
    ca = make_ca()
    before = snapshot(ca.dir.parent)
    res = run("pki", *[a.format(ca=ca.dir) for a in argv], cwd=ca.dir.parent)
    assert res.returncode == 2, describe(res)
    assert res.stderr.strip(), describe(res)
    assert_unchanged(before, ca.dir.parent)


def test_bad_usage_value(small_pki):
    res = small_pki.ca.verify(small_pki.edge.crt, "--usage", "bogus")
    assert res.returncode == 2, describe(res)
    assert res.stderr.strip(), describe(res)
