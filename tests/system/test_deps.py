"""scripts/deps.sh: each purpose installs what it needs and no more
(README, "Quick start"). Building and the demo get no test tool and no
server; the tests and the bench get what they start themselves."""

import subprocess
from pathlib import Path

DEPS = Path(__file__).resolve().parents[2] / "scripts" / "deps.sh"

# Packages that only the tests or the bench use: servers Debian would
# start as services, tools that change the host's network or clock.
TEST_ONLY = {"tinyproxy", "sslsplit", "nftables", "faketime", "postgresql",
             "nginx-light", "haproxy", "chromium", "libcmocka-dev",
             "python3-pytest", "python3-pytest-xdist", "clang",
             "stunnel4", "iperf3", "wrk"}


def listed(purpose):
    res = subprocess.run(["sh", str(DEPS), "list", purpose],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return set(res.stdout.split())


def test_building_and_the_demo_install_no_test_tool_or_server():
    build = listed("build")
    assert "meson" in build and "libssl-dev" in build
    assert build & TEST_ONLY == set()


def test_check_and_bench_add_to_what_building_needs():
    build, check, bench = listed("build"), listed("check"), listed("bench")
    assert build < check and build < bench
    assert {"tinyproxy", "postgresql", "libcmocka-dev"} <= check
    assert {"haproxy", "stunnel4", "wrk", "iperf3"} <= bench
    assert "stunnel4" not in check     # the tests do not use it
    deb = listed("deb")
    assert build < deb and {"debhelper", "lintian", "debootstrap"} <= deb


def test_every_package_listed_is_one_debian_has():
    pkgs = sorted(listed("check") | listed("bench") | listed("deb"))
    res = subprocess.run(["apt-cache", "policy", *pkgs], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    candidates = {}
    name = None
    for line in res.stdout.splitlines():
        if not line.startswith(" ") and line.endswith(":"):
            name = line[:-1]
        elif line.strip().startswith("Candidate:"):
            candidates[name] = line.split(":", 1)[1].strip()
    for p in pkgs:
        assert candidates.get(p, "(none)") != "(none)", p


def test_a_purpose_it_does_not_know_is_refused():
    res = subprocess.run(["sh", str(DEPS), "everything"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 2
    assert "usage: scripts/deps.sh" in res.stderr
