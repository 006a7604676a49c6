"""The edge behind a corporate HTTP proxy: a real tinyproxy (Debian's),
with and without Basic authentication, and proxies that refuse or hang up.
The TLS session to the cloud runs end to end inside the CONNECT tunnel."""

import json
import socket
import threading
import time

import pytest

from isthmus_testlib import run
from tunnel_lib import dead_port, exchange, scrape, value


def _edge(site, cloud, extra="", env=None, wait=True):
    be = site.backend("a-t")
    edge = site.start("edge", site.edge_conf(
        "agw", cloud.port("listen"), {"t": "t"},
        extra=extra + "metrics = 127.0.0.1:0\n"), env=env)
    if wait:
        edge.wait_log(r"event=tunnel_up")
    return edge, be


def _cloud(site):
    return site.start("cloud", site.cloud_conf(
        {"A/t": ([site.backend("a-t")], "")}))


def test_tunnel_through_tinyproxy_end_to_end(site, proxies):
    tp = proxies()
    cloud = _cloud(site)
    edge, _ = _edge(site, cloud, f"proxy = http://127.0.0.1:{tp.port}\n")
    assert exchange(edge.port("listener.t"), b"hello\n").startswith(b"a-t")
    # The proxy carried one CONNECT to the cloud; the cloud admitted the
    # edge by its certificate: the TLS session is ours, end to end.
    assert f"CONNECT 127.0.0.1:{cloud.port('listen')} HTTP/1.1" in tp.text()
    assert "Established connection to host \"127.0.0.1\"" in tp.text()
    cloud.wait_log(r"event=tunnel_up edge=agw tenant=A")
    out = run("status", "-c", str(edge.conf), expect=0).stdout
    assert f"via proxy http://127.0.0.1:{tp.port}" in out
    st = json.loads(run("status", "-c", str(edge.conf), "--json",
                        expect=0).stdout)
    assert st["tunnel"]["proxy"] == f"http://127.0.0.1:{tp.port}"


def test_basic_authentication_and_its_refusals(site, proxies):
    tp = proxies(auth=("alice", "s3cret"))
    cloud = _cloud(site)
    # Right credentials (percent-encoding decoded): the tunnel is up.
    edge, _ = _edge(site, cloud, "proxy = http://alice:s3cr%65t@"
                    f"127.0.0.1:{tp.port}\n")
    assert exchange(edge.port("listener.t"), b"x\n").startswith(b"a-t")
    out = run("status", "-c", str(edge.conf), expect=0).stdout
    assert f"via proxy http://alice:***@127.0.0.1:{tp.port}" in out
    edge.stop()
    assert "s3cr" not in edge.text() and "s3cr" not in out
    # Wrong password: the proxy's answer, named; the next attempt waits
    # minutes, not the usual backoff, so the account is not locked.
    edge, _ = _edge(site, cloud, "proxy = http://alice:wrong@"
                    f"127.0.0.1:{tp.port}\n", wait=False)
    edge.wait_log(r"event=connect_failed .*reason=proxy .*refused the "
                  r"credentials of user 'alice' \((401|407) [A-Za-z ]+\)")
    [delay] = edge.wait_log(r"event=reconnect_scheduled in_ms=(\d+)")
    assert int(delay) >= 150000
    assert "wrong" not in edge.text()
    assert value(scrape(edge), "isthmus_tunnel_connect_failures_total",
                 reason="proxy") == 1
    st = json.loads(run("status", "-c", str(edge.conf), "--json",
                        expect=0).stdout)
    assert "refused the credentials" in st["tunnel"]["last_error"]
    edge.stop()
    # No credentials at all: what to write in the config.
    edge, _ = _edge(site, cloud, f"proxy = http://127.0.0.1:{tp.port}\n",
                    wait=False)
    edge.wait_log(r"requires authentication \(407 Proxy Authentication "
                  r"Required\): give proxy = http://USER:PASSWORD@")
    edge.stop()
    # The cloud never saw a tunnel from the refused attempts.
    assert len(cloud.wait_log(r"event=tunnel_up edge=agw")) == 1


def test_proxy_that_refuses_connect_to_the_port(site, proxies):
    tp = proxies(connect_ports=(443,))
    cloud = _cloud(site)
    edge, _ = _edge(site, cloud, f"proxy = http://127.0.0.1:{tp.port}\n",
                    wait=False)
    port = cloud.port("listen")
    edge.wait_log(rf"refused CONNECT to 127.0.0.1:{port} \(403 Access "
                  rf"violation\): ask IT to allow CONNECT to "
                  rf"127.0.0.1:{port} through the proxy")
    assert "event=tunnel_up" not in edge.text()


def _fake_proxy(behaviour):
    """A listener that reads a CONNECT and then closes, or answers junk;
    returns (port, stop)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    done = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not done.is_set():
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                c.settimeout(5)
                c.recv(4096)
                if behaviour == "ntlm":
                    c.sendall(b"HTTP/1.1 407 Proxy Authentication Required"
                              b"\r\nProxy-Authenticate: NTLM\r\n"
                              b"Proxy-Authenticate: Negotiate\r\n"
                              b"Content-Length: 0\r\n\r\n")
                elif behaviour == "junk":
                    c.sendall(b"SSH-2.0-OpenSSH_9\r\n\r\n")
                elif behaviour == "extra":
                    c.sendall(b"HTTP/1.1 200 OK\r\n\r\nsurprise")
                elif behaviour == "silent":
                    time.sleep(3)
            except OSError:
                pass
            c.close()
    threading.Thread(target=serve, daemon=True).start()

    def stop():
        done.set()
        srv.close()
    return srv.getsockname()[1], stop


@pytest.mark.parametrize("behaviour,message", [
    ("close", r"closed the connection without answering CONNECT to "
              r"127\.0\.0\.1:\d+ \(does it allow CONNECT\?\)"),
    ("junk", r"answered CONNECT with something that is not HTTP"),
    ("ntlm", r"wants NTLM authentication \(407 Proxy Authentication "
             r"Required\); only Basic is supported: ask IT for a Basic "
             r"account"),
    ("extra", r"sent data of its own after accepting CONNECT"),
    ("silent", r"did not answer CONNECT within handshake_timeout"),
])
def test_broken_proxies_are_explained(site, behaviour, message):
    port, stop = _fake_proxy(behaviour)
    try:
        cloud = _cloud(site)
        edge, _ = _edge(site, cloud, f"proxy = http://127.0.0.1:{port}\n"
                        "handshake_timeout = 1s\n", wait=False)
        edge.wait_log(r"event=connect_failed .*reason=proxy .*" + message,
                      timeout=15)
    finally:
        stop()


def test_unreachable_proxy(site):
    cloud = _cloud(site)
    port = dead_port()
    edge, _ = _edge(site, cloud, f"proxy = http://127.0.0.1:{port}\n",
                    wait=False)
    edge.wait_log(rf"reason=proxy error=\"cannot reach the proxy "
                  rf"127.0.0.1:{port}: Connection refused\"")


def test_https_proxy_from_the_environment_and_no_proxy(site, proxies):
    tp = proxies()
    cloud = _cloud(site)
    url = f"http://127.0.0.1:{tp.port}"
    edge, _ = _edge(site, cloud, env={"https_proxy": url})
    out = run("status", "-c", str(edge.conf), expect=0).stdout
    assert f"via proxy {url}" in out
    edge.stop()
    connects = tp.text().count("Request (file descriptor")
    assert connects >= 1
    # no_proxy naming the cloud's host, or proxy = none: direct.
    for env, extra in (({"https_proxy": url, "no_proxy": "localhost, "
                         "127.0.0.1"}, ""),
                       ({"HTTPS_PROXY": url}, "proxy = none\n")):
        edge, _ = _edge(site, cloud, extra, env=env)
        out = run("status", "-c", str(edge.conf), expect=0).stdout
        assert "via proxy" not in out
        edge.stop()
    assert tp.text().count("Request (file descriptor") == connects
    # A bad variable is a configuration error, named.
    conf = site.edge_conf("agw", 1, {"t": "t"})
    res = run("edge", "-c", str(conf), "--check", expect=2,
              env={"https_proxy": "socks5://127.0.0.1:1080"})
    assert "https_proxy" in res.stderr and "only http://" in res.stderr


@pytest.mark.parametrize("url,message", [
    ("https://p.example:3128", "only http:// proxies"),
    ("http://p.example", "needs the proxy's port"),
    ("http://p.example:3128/path", "has no path"),
    ("http://u:p%zz@p.example:3128", "bad user or password"),
    ("http://p ex:3128", "not a proxy URL"),
    ("http://p.example:0", "bad proxy port"),
])
def test_bad_proxy_urls_are_refused_by_check(site, url, message):
    conf = site.edge_conf("agw", 1, {"t": "t"}, extra=f"proxy = {url}\n")
    res = run("edge", "-c", str(conf), "--check", expect=2)
    assert message in res.stderr


def test_a_password_that_breaks_the_url_is_not_echoed(site):
    conf = site.edge_conf("agw", 1, {"t": "t"}, extra="proxy = "
                          "http://alice:Se#cret/9@proxy.corp:3128\n")
    res = run("edge", "-c", str(conf), "--check", expect=2)
    assert "Se#cret" not in res.stderr and "cret/9" not in res.stderr
    assert "http://***@proxy.corp:3128" in res.stderr
    assert "percent-encode" in res.stderr
    # Without a scheme the variable is read as curl reads it.
    conf = site.edge_conf("agw", 1, {"t": "t"})
    assert run("edge", "-c", str(conf), "--check", expect=0,
               env={"https_proxy": "proxy.corp:3128"})
