"""Running out of file descriptors: a daemon whose descriptor limit is
lowered, then sent more connections than it can hold, pauses accepting
(one rate-limited log line, a counter) instead of retrying accept() in a
busy loop that writes a log line per retry; once connections close it
accepts and serves again by itself.

    test sockets (N) --> cloud (RLIMIT_NOFILE = open + 16) ; edge --> cloud
    test sockets (N) --> edge listener (limit = open + 16) --> cloud --> a1
"""

import os
import resource
import socket
import time

from tunnel_lib import eventually, exchange, scrape, value

METRICS = "metrics = 127.0.0.1:0"
CONNECTIONS = 150
HEADROOM = 16
STARVED_FOR = 2.0     # seconds the daemon is kept out of descriptors


def _open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def _starve(daemon):
    """Lowers daemon's descriptor limit to what it has open plus a few."""
    limit = _open_fds(daemon.proc.pid) + HEADROOM
    resource.prlimit(daemon.proc.pid, resource.RLIMIT_NOFILE,
                     (limit, limit))
    return limit


def _flood(port):
    """CONNECTIONS TCP connections to port (the kernel's backlog completes
    them whether the daemon accepts or not)."""
    socks = []
    for _ in range(CONNECTIONS):
        s = socket.socket()
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def _lines(daemon):
    return daemon.text().splitlines()


def _check_starved(daemon, before):
    """The log grew by a bounded number of lines, the pause is in it, and
    nothing was written by libevent itself outside our log format."""
    time.sleep(STARVED_FOR)
    new = _lines(daemon)[before:]
    assert len(new) < 60, f"{len(new)} lines in {STARVED_FOR}s:\n" + \
        "\n".join(new[:40])
    assert any("event=accept_paused" in ln and "reason=fd_limit" in ln
               and "Too many open files" in ln for ln in new), "\n".join(new)
    assert all(ln.startswith("ts=") for ln in new), "\n".join(new)
    assert daemon.proc.poll() is None


def test_cloud_out_of_descriptors_pauses_and_recovers(site):
    be = site.backend("a1")
    cloud = site.start("cloud", site.cloud_conf(
        {"A/telemetry": [be]}, extra=METRICS))
    _starve(cloud)
    before = len(_lines(cloud))
    socks = _flood(cloud.port("listen"))
    try:
        _check_starved(cloud, before)
    finally:
        for s in socks:
            s.close()
    # Closed: the cloud frees the half-open handshakes and accepts again
    # by itself; an edge's tunnel comes up under the same low limit.
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"telemetry": "telemetry"}))
    edge.wait_log(r"event=tunnel_up", timeout=20)
    assert exchange(edge.port("listener.telemetry"), b"hi") == b"a1\nhi"
    m = scrape(cloud)
    assert value(m, "isthmus_accept_paused_total", reason="fd_limit") >= 1
    assert value(m, "isthmus_accept_paused_total", reason="other") == 0


def test_edge_out_of_descriptors_pauses_and_recovers(site):
    be = site.backend("a1")
    cloud = site.start("cloud", site.cloud_conf({"A/telemetry": [be]}))
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"telemetry": "telemetry"},
        extra=METRICS))
    edge.wait_log(r"event=tunnel_up")
    port = edge.port("listener.telemetry")
    _starve(edge)
    before = len(_lines(edge))
    socks = _flood(port)
    try:
        _check_starved(edge, before)
    finally:
        for s in socks:
            s.close()
    # A device gets through again once the flood's connections are gone.
    assert eventually(lambda: exchange(port, b"hi", timeout=5) ==
                      b"a1\nhi", timeout=20)
    m = scrape(edge)
    assert value(m, "isthmus_accept_paused_total", reason="fd_limit") >= 1
