"""The edge reaches its cloud, or its proxy, by name: every address the
name resolves to is tried in turn until one accepts, each within
handshake_timeout. A cloud behind several load-balancer addresses, one of
them down or firewalled, must not keep the tunnel down. Each failed
address is named in the log (and in status when all of them fail).

Names are served by a fake DNS server (fakes_lib.FakeDNS) that the daemon
sees through its own /etc/resolv.conf, bound in a mount namespace; the
firewalled address is a route into a dummy interface, in a network
namespace the test makes. Both need root."""

import json
import os
import socket
import subprocess
import time
import uuid

import pytest

import isthmus_testlib as lib
from isthmus_testlib import run
from tunnel_lib import dead_port, exchange, with_etc

NAME = "cloud.dial.test"


def status(edge):
    return json.loads(run("status", "-c", edge.conf, "--json",
                          expect=0).stdout)


def held(addr, port):
    """addr:port, refusing connections until the run ends."""
    return f"{addr}:{dead_port(addr, port)}"


def _cloud(site):
    return site.start("cloud", site.cloud_conf(
        {"A/t": ([site.backend("a-t")], "")}))


def _edge_conf(site, host, port, extra=""):
    conf = site.edge_conf("agw", port, {"t": "t"}, extra=extra)
    conf.write_text(conf.read_text().replace(
        f"cloud = 127.0.0.1:{port}", f"cloud = {host}:{port}"))
    return conf


def test_a_refused_address_is_passed_over(site, dns):
    server, rc = dns
    cloud = _cloud(site)
    port = cloud.port("listen")
    dead = held("127.0.0.2", port)
    server.names = {NAME: ["127.0.0.2", "127.0.0.1"]}
    edge = site.start("edge", _edge_conf(site, NAME, port), resolv_conf=rc)
    edge.wait_log(r"event=tunnel_up")
    assert f"event=address_failed cloud={NAME}:{port} connected=" \
        f"127.0.0.1:{port} failed=\"{dead}: Connection refused\"" in \
        edge.text()
    assert (NAME, 1) in server.asked
    assert status(edge)["tunnel"]["peer"] == f"127.0.0.1:{port}"
    assert exchange(edge.port("listener.t"), b"hi") == b"a-t\nhi"


def test_every_address_failing_is_named(site, dns):
    server, rc = dns
    port = _cloud(site).port("listen")
    a, b = held("127.0.0.2", port), held("127.0.0.3", port)
    server.names = {NAME: ["127.0.0.2", "127.0.0.3"]}
    edge = site.start("edge", _edge_conf(site, NAME, port), resolv_conf=rc)
    why = f"{a}: Connection refused; {b}: Connection refused"
    edge.wait_log(rf"event=connect_failed cloud={NAME}:{port} "
                  rf"reason=connect error=\"{why}\"", count=2)
    st = status(edge)["tunnel"]
    assert st["last_error"] == why
    assert st["state"] in ("waiting", "connecting") and st["attempts"] >= 2
    assert "event=tunnel_up" not in edge.text()


def _v6_cloud(site):
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError as e:
        pytest.skip(f"no IPv6 loopback: {e}")
    conf = site.cloud_conf({"A/t": ([site.backend("a-t")], "")})
    conf.write_text(conf.read_text().replace("listen = 127.0.0.1:0",
                                             "listen = [::1]:0"))
    return site.start("cloud", conf)


def test_ipv6_literal_and_aaaa_records(site, dns):
    """An IPv6 literal is an address, not a name to look up, whatever
    IPv6 addresses this host has; a name's AAAA records are tried beside
    its A records."""
    server, rc = dns
    cloud = _v6_cloud(site)
    port = cloud.port("listen")
    edge = site.start("edge", _edge_conf(site, "[::1]", port),
                      resolv_conf=rc)
    edge.wait_log(r"event=tunnel_up")
    assert status(edge)["tunnel"]["peer"] == f"[::1]:{port}"
    assert server.asked == []
    edge.stop()
    held("127.0.0.2", port)
    server.names = {NAME: ["127.0.0.2", "::1"]}
    edge = site.start("edge", _edge_conf(site, NAME, port), resolv_conf=rc)
    edge.wait_log(r"event=tunnel_up")
    assert status(edge)["tunnel"]["peer"] == f"[::1]:{port}"
    assert (NAME, 28) in server.asked
    assert exchange(edge.port("listener.t"), b"hi") == b"a-t\nhi"


@pytest.fixture
def silent_dns(site):
    """resolv_conf(options) -> a resolv.conf naming a server on
    127.0.0.55:53 that never answers."""
    if os.geteuid() != 0:
        pytest.skip("needs root for a mount namespace")
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        silent.bind(("127.0.0.55", 53))
    except OSError as e:
        pytest.skip(f"cannot bind 127.0.0.55:53: {e}")

    def resolv_conf(options):
        rc = site.tmp / "resolv.conf"
        rc.write_text(f"nameserver 127.0.0.55\noptions {options}\n")
        return rc
    yield resolv_conf
    silent.close()


def test_name_servers_that_give_up_first(site, silent_dns):
    """resolv.conf's own timeout and attempts run out before
    handshake_timeout: libevent says "non-recoverable failure", and the
    edge says what that means here."""
    edge = site.start("edge", _edge_conf(site, NAME, 7443),
                      resolv_conf=silent_dns("timeout:1 attempts:1"))
    edge.wait_log(rf"reason=dns error=\"cannot resolve {NAME}: "
                  r"non-recoverable failure in name resolution \(the "
                  r"name servers in /etc/resolv\.conf did not answer, "
                  r"or answered with a failure\)\"")


def test_names_that_do_not_resolve(site, dns):
    server, rc = dns
    edge = site.start("edge", _edge_conf(site, "nowhere.dial.test", 7443),
                      resolv_conf=rc)
    edge.wait_log(r"event=connect_failed cloud=nowhere\.dial\.test:7443 "
                  r"reason=dns error=\"cannot resolve nowhere\.dial\.test: ")
    assert ("nowhere.dial.test", 1) in server.asked


def test_a_silent_name_server_and_a_stop_during_the_lookup(site,
                                                         silent_dns):
    """No answer: the attempt ends at handshake_timeout, the query is
    cancelled and retried. SIGTERM while a lookup is in flight ends the
    edge cleanly: the cancelled query is freed (ASan would report it)."""
    edge = site.start("edge", _edge_conf(
        site, NAME, 7443, "handshake_timeout = 1500ms\n"),
        resolv_conf=silent_dns("timeout:5 attempts:1"))
    edge.wait_log(rf"event=connect_failed cloud={NAME}:7443 "
                  rf"reason=dns error=\"no answer for {NAME} within "
                  r"handshake_timeout from the name servers in "
                  r"/etc/resolv\.conf\"")
    # The next lookup starts within reconnect_max (500 ms) and lasts
    # 1.5 s: stop in the middle of it.
    time.sleep(0.9)
    edge.stop()


def test_proxy_by_name(site, dns, proxies):
    server, rc = dns
    tp = proxies()
    cloud = _cloud(site)
    dead = held("127.0.0.2", tp.port)
    server.names = {"proxy.dial.test": ["127.0.0.2", "127.0.0.1"]}
    conf = site.edge_conf("agw", cloud.port("listen"), {"t": "t"},
                          extra=f"proxy = http://proxy.dial.test:{tp.port}\n")
    edge = site.start("edge", conf, resolv_conf=rc)
    edge.wait_log(r"event=tunnel_up")
    assert f"event=address_failed proxy=proxy.dial.test:{tp.port} " \
        f"connected=127.0.0.1:{tp.port} failed=\"{dead}: Connection " \
        "refused\"" in edge.text()
    assert exchange(edge.port("listener.t"), b"hi") == b"a-t\nhi"
    # The doctor sees the same and warns.
    res = subprocess.run(
        with_etc(rc) + [str(lib.BIN), "doctor", "-c", str(conf),
                                "--json"],
        capture_output=True, text=True, timeout=60, env=lib._env())
    assert res.returncode == 0, res.stdout + res.stderr
    steps = {s["name"]: s for s in json.loads(res.stdout)["steps"]}
    assert steps["tcp"]["verdict"] == "warn"
    assert steps["tcp"]["detail"] == (
        f"connected to 127.0.0.1:{tp.port}; before that {dead}: "
        "Connection refused")
    # Every address of the proxy refusing: each is named.
    edge.stop()
    dead2 = held("127.0.0.3", tp.port)
    server.names = {"proxy.dial.test": ["127.0.0.2", "127.0.0.3"]}
    edge = site.start("edge", conf, resolv_conf=rc)
    edge.wait_log(r"reason=proxy error=\"cannot reach the proxy "
                  rf"proxy\.dial\.test:{tp.port}: {dead}: Connection "
                  rf"refused; {dead2}: Connection refused\"")


@pytest.fixture
def blackhole_ns():
    """A network namespace where 192.0.2.1 and 192.0.2.2 are local
    addresses whose incoming packets nftables drops: a SYN to them is
    never answered."""
    if os.geteuid() != 0:
        pytest.skip("needs root for a network namespace")
    ns = f"isthmus-dial-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "addr", "add", "192.0.2.1/32", "dev", "lo"],
                    ["ip", "addr", "add", "192.0.2.2/32", "dev", "lo"],
                    ["nft", "add table inet bh; add chain inet bh in "
                     "{ type filter hook input priority 0; }; add rule inet "
                     "bh in ip daddr { 192.0.2.1, 192.0.2.2 } drop"]):
            subprocess.run(["ip", "netns", "exec", ns] + cmd, check=True)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns])


def test_an_unanswered_address_is_given_up_at_handshake_timeout(
        site, blackhole_ns):
    """The first address is firewalled (SYN dropped): the edge waits
    handshake_timeout for it, then takes the next. Names come from
    /etc/hosts here (libevent's resolver reads it too)."""
    ns = blackhole_ns
    cloud = site.start("cloud", site.cloud_conf({"A/t": (["127.0.0.1:9"],
                                                         "health = none")}),
                       netns=ns)
    port = cloud.port("listen")
    hosts = site.tmp / "hosts"
    hosts.write_text(f"192.0.2.1 {NAME}\n127.0.0.1 {NAME}\n")
    rc = site.tmp / "resolv.conf"
    rc.write_text("nameserver 127.0.0.1\n")
    conf = _edge_conf(site, NAME, port, "handshake_timeout = 700ms\n")
    edge = site.start("edge", conf, netns=ns, resolv_conf=rc,
                      hosts=hosts)
    edge.wait_log(r"event=tunnel_up")
    assert f"event=address_failed cloud={NAME}:{port} connected=" \
        f"127.0.0.1:{port} failed=\"192.0.2.1:{port}: no answer within " \
        "handshake_timeout\"" in edge.text()
    # Only unanswered addresses: a timeout, and each is named.
    edge.stop()
    hosts.write_text(f"192.0.2.1 {NAME}\n192.0.2.2 {NAME}\n")
    edge = site.start("edge", conf, netns=ns, resolv_conf=rc, hosts=hosts)
    edge.wait_log(rf"reason=timeout error=\"192\.0\.2\.1:{port}: no answer "
                  rf"within handshake_timeout; 192\.0\.2\.2:{port}: no "
                  r"answer within handshake_timeout\"", timeout=15)
