"""HTTP mode: devices speak HTTP/1.1 to an edge listener with mode = http,
each request crosses the tunnel as an HTTP/2 request, and the cloud sends
it to a backend over kept-alive HTTP/1.1 connections.

Real edge and cloud processes, real TLS, a scripted backend (http_lib).
"""

import json
import os
import socket
import threading
import time

import pytest

from http_lib import (HTTPBackend, closed_after, device, get, pattern,
                      read_response, sha)
from isthmus_testlib import run
from tunnel_lib import dead_port, eventually, scrape, value

HTTP_LISTENER = "mode = http\n"


@pytest.fixture
def http_site(site):
    """start(svc_opts="", listener_opts="", edge_extra="") -> (cloud, edge,
    backend, port): one HTTP service A/web with one scripted backend."""
    made = []

    def start(svc_opts="", listener_opts="", edge_extra="", backends=None,
              cloud_extra=""):
        be = HTTPBackend()
        made.append(be)
        addrs = backends if backends is not None else [be]
        cloud = site.start("cloud", site.cloud_conf(
            {"A/web": (addrs, "mode = http\nhealth = none\n" + svc_opts)},
            extra=cloud_extra))
        edge = site.start("edge", site.edge_conf(
            "agw", cloud.port("listen"),
            {"web": ("web", HTTP_LISTENER + listener_opts)},
            extra=edge_extra))
        edge.wait_log(r"event=tunnel_up")
        return cloud, edge, be, edge.port("listener.web")

    yield start
    for be in made:
        be.close()


def test_get_keepalive_and_pipelining_share_one_backend_connection(
        http_site):
    cloud, edge, be, port = http_site()
    s, conn = device(port)
    # Three requests in one write: answered in order, on one connection.
    s.sendall(b"".join(b"GET /size/%d HTTP/1.1\r\nHost: d\r\n\r\n" % n
                       for n in (10, 70000, 3)))
    for n in (10, 70000, 3):
        r = read_response(conn)
        assert r.status == 200
        assert r.body == pattern(n)
        assert r.header("connection") is None   # kept alive
    # And one more after a pause, on the same device connection.
    s.sendall(b"GET /size/5 HTTP/1.1\r\nHost: d\r\n\r\n")
    assert read_response(conn).body == pattern(5)
    s.close()
    # The cloud kept its backend connection alive between requests.
    assert be.connections == 1
    assert [r.path for r in be.requests] == [
        "/size/10", "/size/70000", "/size/3", "/size/5"]


def test_chunked_bodies_both_ways(http_site):
    cloud, edge, be, port = http_site()
    data = os.urandom(3 * 1024 * 1024 + 17)
    s, conn = device(port)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: d\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    for i in range(0, len(data), 300000):
        piece = data[i:i + 300000]
        s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
    s.sendall(b"0\r\n\r\n")
    r = read_response(conn)
    assert r.status == 200
    assert json.loads(r.body) == {"len": len(data), "sha256": sha(data)}
    # The backend's chunked answer reaches the device chunked again.
    s.sendall(b"GET /chunked/1000001 HTTP/1.1\r\nHost: d\r\n\r\n")
    r = read_response(conn)
    assert r.header("transfer-encoding") == "chunked"
    assert r.body == pattern(1000001)
    s.close()
    # The backend got the upload chunked too (no length was known).
    assert be.requests[0].header("transfer-encoding") == "chunked"


def test_http10_device_gets_close_delimited_answer(http_site):
    cloud, edge, be, port = http_site()
    s, conn = device(port)
    s.sendall(b"GET /chunked/5000 HTTP/1.0\r\n\r\n")
    r = read_response(conn)
    assert r.status == 200 and r.body == pattern(5000)
    assert r.header("connection") == "close"
    s.close()


def test_head_request_has_length_and_no_body(http_site):
    cloud, edge, be, port = http_site()
    s, conn = device(port)
    s.sendall(b"HEAD /size/4096 HTTP/1.1\r\nHost: d\r\n\r\n"
              b"GET /size/7 HTTP/1.1\r\nHost: d\r\n\r\n")
    r = read_response(conn, head_request=True)
    assert r.status == 200 and r.header("content-length") == "4096"
    # No body bytes were sent: the next response follows at once.
    assert read_response(conn).body == pattern(7)
    s.close()


def test_expect_100_continue(http_site):
    cloud, edge, be, port = http_site()
    s, conn = device(port)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: 5\r\n"
              b"Expect: 100-continue\r\n\r\n")
    assert conn.line() == b"HTTP/1.1 100 Continue"
    assert conn.line() == b""
    s.sendall(b"hello")
    r = read_response(conn)
    assert json.loads(r.body) == {"len": 5, "sha256": sha(b"hello")}
    s.close()
    assert be.requests[0].header("expect") is None


def test_download_and_upload_are_paced_by_the_slow_side(http_site):
    """Bodies are streamed with backpressure, never held whole: a device
    that stops reading stops the backend's writes, and a backend that
    stops reading stops the device's upload."""
    cloud, edge, be, port = http_site()
    total = 96 * 1024 * 1024
    s, conn = device(port, timeout=60)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(b"GET /size/%d HTTP/1.1\r\nHost: d\r\n\r\n" % total)
    first, headers = conn.head()
    assert first.startswith(b"HTTP/1.1 200")
    time.sleep(1.5)                 # the device reads nothing
    stalled_at = be.sent
    try:
        assert stalled_at < 40 * 1024 * 1024, stalled_at
        got = conn.exact(total)     # now it reads everything
        assert sha(got) == sha(pattern(total))
    finally:
        s.close()

    # Upload to a backend that reads nothing for 2 s.
    s, conn = device(port, timeout=60)
    sent = [0]
    body = b"u" * (96 * 1024 * 1024)

    def upload():
        s.sendall(b"POST /slowread HTTP/1.1\r\nHost: d\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body))
        for i in range(0, len(body), 1 << 20):
            s.sendall(body[i:i + (1 << 20)])
            sent[0] += 1 << 20

    t = threading.Thread(target=upload)
    t.start()
    time.sleep(1.2)
    assert sent[0] < 40 * 1024 * 1024, sent[0]
    t.join(60)
    r = read_response(conn)
    assert json.loads(r.body) == {"len": len(body), "sha256": sha(body)}
    s.close()


def test_identity_headers_and_forged_ones_removed(http_site):
    cloud, edge, be, port = http_site(svc_opts="identity_headers = yes")
    forged = (b"X-Isthmus-Tenant: B\r\nX-Isthmus-Edge: bgw\r\n"
              b"X-Isthmus-Device-MAC: 00:11:22:33:44:55\r\n"
              b"Forwarded: for=10.9.9.9\r\nX-Forwarded-For: 10.9.9.9\r\n"
              b"Isthmus-Host: evil\r\nX-Custom: kept\r\n")
    s, conn = device(port)
    local = "%s:%d" % s.getsockname()
    s.sendall(b"GET /headers HTTP/1.1\r\nHost: dev.example:8080\r\n"
              + forged + b"\r\n")
    h = json.loads(read_response(conn).body)["headers"]
    s.close()
    names = [k for k, _ in h]
    assert dict(h)["x-isthmus-tenant"] == "A"
    assert dict(h)["x-isthmus-edge"] == "agw"
    assert dict(h)["forwarded"] == f'for="{local}"'
    assert dict(h)["host"] == "dev.example:8080"
    assert dict(h)["x-custom"] == "kept"
    # Each identity field once, ours; the device's are gone.
    for n in ("x-isthmus-tenant", "x-isthmus-edge", "forwarded"):
        assert names.count(n) == 1, h
    for n in ("x-isthmus-device-mac", "x-forwarded-for", "isthmus-host"):
        assert n not in names, h


def test_identity_headers_off_still_removes_forged_ones(http_site):
    cloud, edge, be, port = http_site()
    r = get(port, "/headers", b"X-Isthmus-Tenant: B\r\n"
            b"Forwarded: for=1.2.3.4\r\n")
    names = [k for k, _ in json.loads(r.body)["headers"]]
    assert "x-isthmus-tenant" not in names and "forwarded" not in names


def test_bad_requests_get_their_status_and_others_continue(http_site):
    cloud, edge, be, port = http_site(
        listener_opts="max_header_size = 4k\nmax_headers = 20\n"
        "max_body = 1M\nrequest_timeout = 1s\n")
    # A long download runs through all of it, untouched.
    big = 30 * 1024 * 1024
    result = {}

    def download():
        s, conn = device(port, timeout=60)
        s.sendall(b"GET /size/%d HTTP/1.1\r\nHost: d\r\n\r\n" % big)
        first, _ = conn.head()
        time.sleep(0.5)
        result["sha"] = sha(conn.exact(big))
        s.close()

    t = threading.Thread(target=download)
    t.start()

    def bad(raw, status):
        s, conn = device(port)
        s.sendall(raw)
        r = read_response(conn)
        assert r.status == status, (raw[:60], r.status, r.body)
        assert r.header("connection") == "close"
        assert closed_after(conn)
        s.close()
        return r

    bad(b"GARBAGE\r\n\r\n", 400)
    bad(b"GET / HTTP/1.1\r\nHost: d\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n",
        431)
    bad(b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i
                                         for i in range(30)) + b"\r\n", 431)
    bad(b"POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: 2000000\r\n\r\n",
        413)
    s, conn = device(port)      # chunked past max_body
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: d\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    s.sendall((b"%x\r\n" % 600000 + b"x" * 600000 + b"\r\n") * 2)
    assert read_response(conn).status == 413
    s.close()
    bad(b"GET / HTTP/2.0\r\nHost: d\r\n\r\n", 505)
    bad(b"CONNECT 10.0.0.1:443 HTTP/1.1\r\nHost: 10.0.0.1:443\r\n\r\n", 501)

    # A device trickling its head one byte a second gets 408.
    s, conn = device(port)
    start = time.time()
    for ch in b"GET / HTTP/1.1\r\n":
        try:
            s.send(bytes([ch]))
        except OSError:
            break
        time.sleep(0.3)
        if time.time() - start > 3:
            break
    r = read_response(conn)
    assert r.status == 408 and time.time() - start < 4
    s.close()

    # A body longer than declared: the extra bytes are the next
    # "request", which is not HTTP.
    s, conn = device(port)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: 5\r\n\r\n"
              b"helloEXTRA-BYTES-NOT-HTTP\r\n\r\n")
    r = read_response(conn)
    assert json.loads(r.body)["len"] == 5
    assert read_response(conn).status == 400
    s.close()

    # A device that vanishes mid-upload: its stream is reset, the backend
    # sees the connection go, nothing else is disturbed.
    be.closed.clear()
    s, conn = device(port)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: d\r\n"
              b"Content-Length: 1000000\r\n\r\n" + b"x" * 500000)
    time.sleep(0.3)
    s.close()
    edge.wait_log(r"event=device_vanished .*phase=body")
    assert eventually(lambda: be.closed.is_set())
    # The backend never saw that request complete.
    assert not [r for r in be.requests if len(r.body) == 1000000]

    t.join(60)
    assert result.get("sha") == sha(pattern(big))
    # Every refusal was logged and counted.
    for status in (400, 408, 413, 431, 501, 505):
        edge.wait_log(rf"event=http_refused .*status={status}")
    # Still serving.
    assert get(port, "/size/3").body == pattern(3)


def test_backend_failures_become_502_504_and_cut_answers(http_site):
    cloud, edge, be, port = http_site(svc_opts="response_timeout = 1s")
    r = get(port, "/garbage")
    assert r.status == 502 and b"not valid" in r.body
    start = time.time()
    r = get(port, "/sleep/3000")
    assert r.status == 504 and time.time() - start < 2.8
    # Promised 1000000 bytes, sent half, closed: the device's connection
    # ends short of the length, never with a fake end.
    s, conn = device(port)
    s.sendall(b"GET /cut/1000000 HTTP/1.1\r\nHost: d\r\n\r\n")
    first, headers = conn.head()
    assert first.startswith(b"HTTP/1.1 200")
    got = conn.rest()
    assert len(got) == 500000
    s.close()
    # Backend asks to close: the next request still works.
    assert get(port, "/close").body == b"bye"
    assert get(port, "/size/9").body == pattern(9)
    cloud.wait_log(r"event=http_failed .*status=502")
    cloud.wait_log(r"event=http_failed .*status=504")


def test_refusals_reach_the_device_as_statuses(site):
    be = HTTPBackend()
    try:
        dead = f"127.0.0.1:{dead_port()}"
        cloud = site.start("cloud", site.cloud_conf({
            "A/web": ([be], "mode = http"),
            "A/down": ([dead], "mode = http"),
            "A/raw": ([be], "")}))
        edge = site.start("edge", site.edge_conf(
            "agw", cloud.port("listen"), {
                "web": ("web", HTTP_LISTENER),
                "down": ("down", HTTP_LISTENER),
                "raw": ("raw", HTTP_LISTENER),        # a TCP service
                "nope": ("nope", HTTP_LISTENER)}))    # no such service
        edge.wait_log(r"event=tunnel_up")
        for name, status in (("down", 503), ("raw", 405), ("nope", 403)):
            r = get(edge.port(f"listener.{name}"), "/x")
            assert r.status == status, name
            assert r.header("isthmus-refused") is None
        assert get(edge.port("listener.web"), "/size/4").body == pattern(4)
        edge.wait_log(r"event=stream_refused .*reason=unknown_service")
    finally:
        be.close()


def test_tunnel_down_gives_503_after_pending_timeout(site):
    # The edge points at a port where no cloud listens.
    conf = site.edge_conf("agw", dead_port(),
                          {"web": ("web", HTTP_LISTENER)},
                          extra="pending_timeout = 500ms")
    edge = site.start("edge", conf)
    start = time.time()
    r = get(edge.port("listener.web"), "/x")
    assert r.status == 503 and 0.4 < time.time() - start < 3


def test_http_metrics(http_site):
    cloud, edge, be, port = http_site(
        svc_opts="response_timeout = 1s",
        edge_extra="metrics = 127.0.0.1:0",
        cloud_extra="metrics = 127.0.0.1:0")
    for _ in range(3):
        assert get(port, "/size/1").status == 200
    get(port, "/garbage")
    s, conn = device(port)
    s.sendall(b"BAD\r\n\r\n")
    assert read_response(conn).status == 400
    s.close()
    m = scrape(edge)
    assert value(m, "isthmus_http_requests_total", listener="web",
                 service="web") == 4
    assert value(m, "isthmus_http_errors_total", listener="web",
                 service="web", status="400") == 1
    c = scrape(cloud)
    assert value(c, "isthmus_http_requests_total", tenant="A",
                 service="web") == 4
    assert value(c, "isthmus_http_backend_failures_total", tenant="A",
                 service="web", status="502") == 1
    assert value(c, "isthmus_backend_reused_total", tenant="A",
                 service="web", backend=be.addr) >= 1
    # isthmus status shows the same, for IT.
    st = json.loads(run("status", "-c", edge.conf, "--json",
                        expect=0).stdout)
    li = st["listeners"][0]
    assert li["mode"] == "http" and li["http_requests"] == 4
    assert li["http_errors"]["400"] == 1
    text = run("status", "-c", edge.conf, expect=0).stdout
    assert "http: 4 requests (400: 1 answered by the edge)" in text


def test_abandoned_answers_give_the_tunnel_window_back(http_site):
    """Answers that devices never took (closed unread, reset) must not
    shrink the tunnel's connection window: afterwards many more requests
    than that window holds still go through."""
    cloud, edge, be, port = http_site()
    for _ in range(40):             # 40 x 3 MB asked, none read
        s, conn = device(port)
        s.sendall(b"GET /size/3000000 HTTP/1.1\r\nHost: d\r\n\r\n")
        conn.head()
        s.close()
    s, conn = device(port)
    for i in range(300):            # 60 MB more, through one connection
        s.sendall(b"GET /size/200000 HTTP/1.1\r\nHost: d\r\n\r\n")
        r = read_response(conn)
        assert r.status == 200 and len(r.body) == 200000, i
    s.close()


def test_device_that_stops_reading_is_closed(http_site):
    cloud, edge, be, port = http_site(listener_opts="idle_timeout = 2s\n")
    s, conn = device(port, timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /size/50000000 HTTP/1.1\r\nHost: d\r\n\r\n")
    edge.wait_log(r"event=device_stalled .*took no answer bytes", timeout=15)
    s.close()
    # Its share of the tunnel came back: others are served.
    assert get(port, "/size/100").body == pattern(100)


def test_slow_backend_is_not_a_slow_device(http_site):
    """The upload waits for a backend that reads late: no 408 for the
    device, which sends as fast as it may."""
    cloud, edge, be, port = http_site(listener_opts="request_timeout = 1s\n")
    body = b"b" * (30 * 1024 * 1024)
    s, conn = device(port, timeout=60)
    s.sendall(b"POST /slowread HTTP/1.1\r\nHost: d\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    r = read_response(conn)
    assert r.status == 200, r.body
    assert json.loads(r.body)["len"] == len(body)
    s.close()


def test_header_values_are_trimmed_or_refused(http_site):
    cloud, edge, be, port = http_site()
    r = get(port, "/headers", b"X-Foo: bar  \t\r\n")
    assert r.status == 200
    assert dict(json.loads(r.body)["headers"])["x-foo"] == "bar"
    s, conn = device(port)
    s.sendall(b"GET /headers HTTP/1.1\r\nHost: d\r\nX-Bad: a\x01b\r\n\r\n")
    assert read_response(conn).status == 400
    s.close()
    s, conn = device(port)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: d\r\n"
              b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
    assert read_response(conn).status == 501
    s.close()


def test_pipelined_requests_before_half_close_are_all_answered(http_site):
    cloud, edge, be, port = http_site()
    s, conn = device(port)
    s.sendall(b"GET /size/3 HTTP/1.1\r\nHost: d\r\n\r\n"
              b"GET /size/4 HTTP/1.1\r\nHost: d\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
    assert read_response(conn).body == pattern(3)
    assert read_response(conn).body == pattern(4)
    assert closed_after(conn)
    s.close()
