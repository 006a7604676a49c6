"""The Debian package (debian/, docs/packaging.md) agrees with the build.

Nothing is built here: `make deb` takes minutes and `make package-test`
needs root and the network, so `make check` only checks that debian/ is
consistent with meson.build and man/, and runs lintian on a package
already in build/ (skipped, with the reason, when there is none).

- Every library, tool and version meson.build and its subdirectories ask
  for is in debian/control's Build-Depends, with the same minimum version.
- The version in debian/changelog is meson.build's project version.
- Every man page in man/ is one meson builds, and the package builds them
  with -Dman=enabled (a missing scdoc fails the build instead of dropping
  the pages).
- The rules build the FHS defaults and leave the units disabled.
- A built build/isthmus_*.deb holds the binary, every man page, the
  examples and every unit of deploy/systemd/, and lintian finds no error
  or warning in it.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEBIAN = ROOT / "debian"

# pkg-config names (meson's dependency()) and libraries (find_library())
# to the Debian package that provides them. A new dependency fails
# test_build_depends_cover_meson until it is named here and in control.
PKGCONFIG = {
    "openssl": "libssl-dev",
    "libevent": "libevent-dev",
    "libevent_openssl": "libevent-dev",
    "libnghttp2": "libnghttp2-dev",
    "inih": "libinih-dev",
    "sqlite3": "libsqlite3-dev",
    "jansson": "libjansson-dev",
    "libpq": "libpq-dev",
    "cairo": "libcairo2-dev",
    "fontconfig": "libfontconfig-dev",
    "libsystemd": "libsystemd-dev",
    "cmocka": "libcmocka-dev",
}
LIBRARIES = {"http_parser": "libhttp-parser-dev"}
PROGRAMS = {"scdoc": "scdoc"}
# Provided by libc and the compiler: no package of their own.
BUILTIN = {"threads", "m"}
# Always needed to run the build itself.
TOOLS = {"meson", "ninja-build", "pkg-config", "debhelper-compat"}


def meson_files():
    skip = {"build", ".git", "debian"}
    for p in ROOT.rglob("meson.build"):
        rel = p.relative_to(ROOT).parts
        if rel[0] in skip or rel[:2] == ("tests", "fuzz"):
            continue
        yield p


def meson_needs():
    """{debian package: minimum version or None} from every meson.build."""
    need = {}
    unknown = []
    for f in meson_files():
        text = f.read_text()
        for m in re.finditer(
                r"dependency\(\s*'([^']+)'([^)]*)\)", text):
            name, rest = m.group(1), m.group(2)
            if name in BUILTIN:
                continue
            if name not in PKGCONFIG:
                unknown.append(f"{f.relative_to(ROOT)}: dependency {name}")
                continue
            v = re.search(r"version\s*:\s*'>=\s*([^']+)'", rest)
            pkg = PKGCONFIG[name]
            if v or pkg not in need:
                need[pkg] = v.group(1).strip() if v else need.get(pkg)
        for m in re.finditer(r"find_library\(\s*'([^']+)'", text):
            name = m.group(1)
            if name in BUILTIN:
                continue
            if name not in LIBRARIES:
                unknown.append(f"{f.relative_to(ROOT)}: library {name}")
                continue
            need.setdefault(LIBRARIES[name], None)
        for m in re.finditer(r"find_program\(\s*'([^']+)'", text):
            name = m.group(1)
            if name in PROGRAMS:
                need.setdefault(PROGRAMS[name], None)
    assert not unknown, ("no Debian package known for these; add them to "
                         "PKGCONFIG/LIBRARIES here and to debian/control: "
                         + ", ".join(unknown))
    return need


def control_field(name):
    text = (DEBIAN / "control").read_text()
    m = re.search(rf"^{name}:(.*(?:\n[ \t].*)*)", text, re.M)
    assert m, f"debian/control has no {name}"
    return m.group(1)


def build_depends():
    """{package: minimum version or None} from Build-Depends."""
    out = {}
    for item in control_field("Build-Depends").split(","):
        item = " ".join(item.split())
        if not item:
            continue
        m = re.match(r"([a-z0-9][a-z0-9+.-]+)\s*(?:\((>=|=)\s*([^)]+)\))?",
                     item)
        assert m, f"cannot read Build-Depends item {item!r}"
        out[m.group(1)] = m.group(3).strip() if m.group(3) else None
    return out


def meson_version():
    text = (ROOT / "meson.build").read_text()
    return re.search(r"project\([^)]*?\bversion\s*:\s*'([^']+)'", text,
                     re.S).group(1)


def man_pages():
    text = (ROOT / "man" / "meson.build").read_text()
    block = re.search(r"pages\s*=\s*\[(.*?)\]", text, re.S).group(1)
    return re.findall(r"'([^']+)'", block)


def test_build_depends_cover_meson():
    need = meson_needs()
    have = build_depends()
    for tool in TOOLS:
        assert tool in have, f"Build-Depends lacks {tool}"
    text = (ROOT / "meson.build").read_text()
    m = re.search(r"meson_version\s*:\s*'>=\s*([^']+)'", text)
    if m:
        assert have["meson"] == m.group(1).strip(), (
            f"meson.build needs meson >= {m.group(1)}, "
            f"debian/control says {have['meson']}")
    for pkg, version in sorted(need.items()):
        assert pkg in have, f"Build-Depends lacks {pkg} (meson.build needs it)"
        if version:
            assert have[pkg] == version, (
                f"{pkg}: meson.build wants >= {version}, "
                f"debian/control says {have[pkg]}")


def test_changelog_version_is_the_meson_version():
    first = (DEBIAN / "changelog").read_text().splitlines()[0]
    m = re.match(r"isthmus \(([^)]+)\) \S+; urgency=\w+$", first)
    assert m, first
    version = m.group(1)
    # 3.0 (native): the version has no Debian revision.
    assert (DEBIAN / "source" / "format").read_text().strip() == \
        "3.0 (native)"
    assert "-" not in version, f"{version}: a native package has no revision"
    assert version == meson_version()


def test_every_man_page_is_built_and_the_package_builds_them():
    pages = man_pages()
    sources = sorted(p.name[:-len(".scd")]
                     for p in (ROOT / "man").glob("*.scd"))
    assert sorted(pages) == sources, "man/meson.build and man/*.scd differ"
    rules = (DEBIAN / "rules").read_text()
    assert "-Dman=enabled" in rules
    assert "scdoc" in build_depends()


def test_rules_build_fhs_paths_and_leave_units_disabled():
    rules = (DEBIAN / "rules").read_text()
    assert "-Ddefault_paths=fhs" in rules
    assert re.search(r"dh_installsystemd\s+--no-enable\s+--no-start", rules)
    assert "deploy/systemd/*.service" in rules


def test_maintainer_scripts_parse():
    for name in ("isthmus.postinst", "isthmus.postrm"):
        res = subprocess.run(["sh", "-n", str(DEBIAN / name)],
                             capture_output=True, text=True, timeout=10)
        assert res.returncode == 0, (name, res.stderr)
    postrm = (DEBIAN / "isthmus.postrm").read_text()
    # The admin's configs stay: /etc/isthmus only ever loses an empty dir.
    assert not re.search(r"rm\s+-[a-z]*r[a-z]*\s+[^\n]*/etc/isthmus", postrm)


def built_deb():
    debs = sorted((ROOT / "build").glob("isthmus_*.deb"),
                  key=lambda p: p.stat().st_mtime)
    if not debs:
        pytest.skip("no build/isthmus_*.deb: `make deb` builds it")
    return debs[-1]


def test_built_deb_holds_what_the_tree_says():
    deb = built_deb()
    res = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    paths = {ln.split()[-1].lstrip(".") for ln in res.stdout.splitlines()}
    assert "/usr/bin/isthmus" in paths
    for page in man_pages():
        sec = page.rsplit(".", 1)[1]
        assert f"/usr/share/man/man{sec}/{page}.gz" in paths, page
    for ex in (ROOT / "examples").glob("*.conf"):
        assert f"/usr/share/doc/isthmus/examples/{ex.name}" in paths, ex.name
    for unit in (ROOT / "deploy" / "systemd").glob("*.service"):
        assert f"/lib/systemd/system/{unit.name}" in paths, (
            f"{unit.name} is not in {deb.name}: rebuild it (make deb)")
    name = re.match(r"isthmus_([^_]+)_", deb.name).group(1)
    assert name == meson_version(), f"{deb.name} is not {meson_version()}"


def test_built_deb_is_lintian_clean():
    deb = built_deb()
    if not shutil.which("lintian"):
        pytest.skip("lintian is not installed (apt-get install lintian)")
    res = subprocess.run(["lintian", "--fail-on", "error,warning", str(deb)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
