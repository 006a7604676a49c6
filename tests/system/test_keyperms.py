"""Private keys that others can read are refused, as OpenSSH refuses
them: at --check and at start, by the cloud and the edge, for every key a
configuration names (the tunnel key, a device-TLS listener's key). The one
exception is for packaging (root:isthmus 0640): the group may read a key
when it is the daemon's own group.
"""

import os
import subprocess

import pytest

from isthmus_testlib import BIN, _env, run

# A group the daemon (these tests' effective group) is not in.
FOREIGN_GID = 65534 if os.getegid() != 65534 else 65533


def _refused(res, key, mode):
    assert res.returncode == 2, res
    assert str(key) in res.stderr, res.stderr
    assert f"mode {mode}" in res.stderr, res.stderr
    assert f"chmod 600 {key}" in res.stderr, res.stderr


def _device_tls_listener(site):
    run("pki", "issue", "cloud", "edge-lan", "--dns", "localhost",
        "--ca", site.pki, expect=0)
    return ("web", "mode = http\n"
            f"tls_cert = {site.pki}/edge-lan.crt\n"
            f"tls_key = {site.pki}/edge-lan.key\n"
            f"device_ca = {site.pki}/ca.crt\n")


def _start(kind, conf):
    """Starts a daemon that must refuse to start: its exit status and
    output (a daemon that does start fails the test on the timeout)."""
    return subprocess.run([str(BIN), kind, "-c", str(conf)], env=_env(),
                          capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o660, 0o640], ids=oct)
def test_cloud_key_readable_by_others_is_refused(site, mode):
    conf = site.cloud_conf({"A/telemetry": ["127.0.0.1:1"]})
    key = site.pki / "cloudgw.key"
    os.chmod(key, mode)
    if mode & 0o070:
        os.chown(key, -1, FOREIGN_GID)
    _refused(run("cloud", "-c", conf, "--check"), key, f"{mode:04o}")
    res = _start("cloud", conf)
    _refused(res, key, f"{mode:04o}")
    assert "ready" not in res.stdout
    if mode == 0o640:
        assert "not this daemon's group" in res.stderr


def test_edge_keys_readable_by_others_are_refused(site):
    listener = _device_tls_listener(site)
    conf = site.edge_conf("agw", 1, {"web": listener})
    run("edge", "-c", conf, "--check", expect=0)

    tunnel_key = site.pki / "agw.key"
    os.chmod(tunnel_key, 0o644)
    _refused(run("edge", "-c", conf, "--check"), tunnel_key, "0644")
    _refused(_start("edge", conf), tunnel_key, "0644")
    os.chmod(tunnel_key, 0o600)

    lan_key = site.pki / "edge-lan.key"
    os.chmod(lan_key, 0o644)
    res = run("edge", "-c", conf, "--check")
    _refused(res, lan_key, "0644")
    assert "listener web" in res.stderr
    _refused(_start("edge", conf), lan_key, "0644")


def test_group_readable_key_of_the_daemons_own_group_is_accepted(site):
    """root:isthmus 0640 as packaging installs it: accepted; the same mode
    with another group, or with group write, is not."""
    listener = _device_tls_listener(site)
    conf = site.edge_conf("agw", 1, {"web": listener})
    keys = [site.pki / "agw.key", site.pki / "edge-lan.key"]
    for key in keys:
        os.chown(key, -1, os.getegid())
        os.chmod(key, 0o640)
    run("edge", "-c", conf, "--check", expect=0)
    cloud_key = site.pki / "cloudgw.key"
    os.chown(cloud_key, -1, os.getegid())
    os.chmod(cloud_key, 0o640)
    cloud = site.start("cloud", site.cloud_conf(
        {"A/telemetry": ["127.0.0.1:1"]}))
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"web": listener}))
    edge.wait_log(r"event=tunnel_up")

    os.chmod(keys[1], 0o660)
    _refused(run("edge", "-c", conf, "--check"), keys[1], "0660")
    os.chmod(keys[1], 0o640)
    os.chown(keys[1], -1, FOREIGN_GID)
    res = run("edge", "-c", conf, "--check")
    _refused(res, keys[1], "0640")
    assert "not this daemon's group" in res.stderr


def test_pki_keys_are_accepted_as_written(site):
    """What `isthmus pki` writes (0600) is what the daemons take."""
    assert (site.pki / "agw.key").stat().st_mode & 0o777 == 0o600
    run("cloud", "-c", site.cloud_conf({"A/telemetry": ["127.0.0.1:1"]}),
        "--check", expect=0)
    run("edge", "-c", site.edge_conf("agw", 1, {"t": "telemetry"}),
        "--check", expect=0)
