"""HTTP mode: what a device may put in its field names.

    device --HTTP/1.1--> edge agw ==TLS 1.3/HTTP/2==> cloud --> backend
                                                                (wsgiref)

Identity fields spelt with '_' for '-' are dropped (a CGI/WSGI backend reads
X_Isthmus_Tenant as X-Isthmus-Tenant), and a field name that is not a token
("Name : v") is a bad request at the edge, never a lost stream.
Real edge and cloud, and Python's own WSGI server as the backend; for
the cloud's own check, an edge's requests written with python3-h2.
"""

import json
import socket
import ssl
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import h2.config
import h2.connection
import h2.events
import pytest

from http_lib import closed_after, device, get, pattern, read_response, sha
from test_http import http_site  # noqa: F401 (the fixture)
from tunnel_lib import scrape, value


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class WSGIBackend:
    """wsgiref's server on 127.0.0.1:0 answering every request with the
    CGI variables its application saw (HTTP_*), as JSON."""

    def __init__(self):
        def app(environ, start_response):
            body = json.dumps({k: v for k, v in environ.items()
                               if k.startswith("HTTP_")}).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]

        self.server = make_server("127.0.0.1", 0, app,
                                  handler_class=QuietHandler)
        self.addr = "127.0.0.1:%d" % self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def wsgi():
    be = WSGIBackend()
    yield be
    be.close()


FORGED = (b"X_Isthmus_Tenant: B\r\nX_Isthmus_Edge: bgw\r\n"
          b"X_Isthmus_Device_MAC: 00:11:22:33:44:55\r\n"
          b"X_Forwarded_For: 10.9.9.9\r\nX_Real_IP: 10.9.9.9\r\n"
          b"X-Forwarded_Proto: https\r\nIsthmus_Host: evil\r\n"
          b"X_Custom_Field: kept\r\n")


@pytest.mark.parametrize("identity", ["yes", "no"])
def test_underscore_identity_fields_never_reach_a_wsgi_backend(
        http_site, wsgi, identity):
    cloud, edge, _, port = http_site(
        svc_opts=f"identity_headers = {identity}\n", backends=[wsgi.addr])
    s, conn = device(port)
    local = "%s:%d" % s.getsockname()
    s.sendall(b"GET /env HTTP/1.1\r\nHost: d\r\n" + FORGED + b"\r\n")
    r = read_response(conn)
    s.close()
    assert r.status == 200, r.body
    env = json.loads(r.body)
    # A field that only looks like ours with '_' is no longer passed on.
    assert "HTTP_X_ISTHMUS_DEVICE_MAC" not in env, env
    assert "HTTP_X_FORWARDED_FOR" not in env, env
    assert "HTTP_X_FORWARDED_PROTO" not in env, env
    assert "HTTP_X_REAL_IP" not in env, env
    assert "HTTP_ISTHMUS_HOST" not in env, env
    if identity == "yes":
        # ours alone, not "B,A"
        assert env["HTTP_X_ISTHMUS_TENANT"] == "A", env
        assert env["HTTP_X_ISTHMUS_EDGE"] == "agw", env
        assert env["HTTP_FORWARDED"] == f'for="{local}"', env
    else:
        assert "HTTP_X_ISTHMUS_TENANT" not in env, env
        assert "HTTP_X_ISTHMUS_EDGE" not in env, env
    # Other fields with '_' are the device's business and go through.
    assert env["HTTP_X_CUSTOM_FIELD"] == "kept", env


def edge_of_its_own(site, cloud_port, fields):
    """What a modified edge could send: agw's own certificate and key, an
    HTTP/2 request written here (python3-h2) with fields the real edge
    would have dropped. Returns the answer's status and body."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(site.pki / "ca.crt")
    ctx.load_cert_chain(site.pki / "agw.crt", site.pki / "agw.key")
    ctx.set_alpn_protocols(["isthmus/1"])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", cloud_port),
                                                 timeout=10),
                        server_hostname="localhost")
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"),
                            (":authority", "web"), (":path", "/env"),
                            ("isthmus-device", "127.0.0.1:5555"),
                            ("isthmus-host", "d")] + fields,
                      end_stream=True)
    s.sendall(conn.data_to_send())
    status, body, done = None, b"", False
    while not done:
        data = s.recv(65536)
        assert data, "the cloud closed the tunnel"
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                status = dict(ev.headers)[":status"]
            elif isinstance(ev, h2.events.DataReceived):
                body += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length,
                                               ev.stream_id)
            elif isinstance(ev, (h2.events.StreamEnded,
                                 h2.events.StreamReset)):
                done = True
        s.sendall(conn.data_to_send())
    s.close()
    return status, body


def test_cloud_drops_underscore_identity_fields_an_edge_sent(site, wsgi):
    """Defence in depth: an admitted edge of tenant A that sends the
    fields itself still cannot make the backend read tenant B."""
    cloud = site.start("cloud", site.cloud_conf(
        {"A/web": ([wsgi.addr], "mode = http\nhealth = none\n"
                   "identity_headers = yes")}))
    status, body = edge_of_its_own(site, cloud.port("listen"), [
        ("x_isthmus_tenant", "B"), ("x_isthmus_edge", "bgw"),
        ("x_isthmus_device_mac", "00:11:22:33:44:55"),
        ("x_forwarded_for", "10.9.9.9"), ("forwarded", "for=10.9.9.9"),
        ("x_custom_field", "kept")])
    assert status == "200", body
    env = json.loads(body)
    assert env["HTTP_X_ISTHMUS_TENANT"] == "A", env
    assert env["HTTP_X_ISTHMUS_EDGE"] == "agw", env
    assert env["HTTP_FORWARDED"] == 'for="127.0.0.1:5555"', env
    assert "HTTP_X_ISTHMUS_DEVICE_MAC" not in env, env
    assert "HTTP_X_FORWARDED_FOR" not in env, env
    assert env["HTTP_X_CUSTOM_FIELD"] == "kept", env


@pytest.mark.parametrize("head", [
    # http-parser frames this one as chunked, yet names it
    # "transfer-encoding "
    b"Transfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"X-Sensor-Id : 7\r\nContent-Length: 5\r\n\r\nhello",
    b"X-Sensor-Id  : 7\r\n\r\n",
])
def test_field_name_that_is_no_token_is_400_at_the_edge(http_site, head):
    cloud, edge, be, port = http_site(
        edge_extra="metrics = 127.0.0.1:0",
        cloud_extra="metrics = 127.0.0.1:0")
    # Another device's long download runs through it untouched.
    big = 8 * 1024 * 1024
    result = {}
    s2, conn2 = device(port, timeout=60)
    s2.sendall(b"GET /size/%d HTTP/1.1\r\nHost: d\r\n\r\n" % big)
    conn2.head()

    def download():
        result["sha"] = sha(conn2.exact(big))

    t = threading.Thread(target=download)
    t.start()

    s, conn = device(port)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: d\r\n" + head)
    r = read_response(conn)
    assert r.status == 400, (head, r.status, r.body)
    assert r.header("connection") == "close"
    assert closed_after(conn)
    s.close()
    edge.wait_log(r"event=http_refused .*status=400 .*reason=")

    t.join(60)
    s2.close()
    assert result.get("sha") == sha(pattern(big))
    assert get(port, "/size/3").body == pattern(3)

    m = scrape(edge)
    assert value(m, "isthmus_http_errors_total", listener="web",
                 service="web", status="400") == 1
    # Nothing was counted against the cloud: no 502, no lost stream.
    assert value(m, "isthmus_http_errors_total", listener="web",
                 service="web", status="502") == 0
    assert "reason=the stream to the cloud was lost" not in edge.text()
    # The request never left the edge.
    assert not [q for q in be.requests if q.method == "POST"]
    c = scrape(cloud)
    assert value(c, "isthmus_http_requests_total", tenant="A",
                 service="web") == 2


def test_backend_field_name_that_is_no_token_is_the_backends_failure(
        http_site):
    """The same rule for a backend's answer: the cloud answers 502 as for
    any answer that is not HTTP/1.1, rather than sending on a field the
    edge's HTTP/2 refuses (a lost stream, blamed on the tunnel)."""
    cloud, edge, be, port = http_site(cloud_extra="metrics = 127.0.0.1:0")
    be.handler = lambda req: ((200, b"ok", b"X-Sensor-Id : 7\r\n")
                              if req.path == "/bad" else None)
    r = get(port, "/bad")
    assert r.status == 502 and b"not valid HTTP/1.1" in r.body, r.body
    cloud.wait_log(r"event=http_failed .*status=502 .*not valid")
    assert "the stream to the cloud was lost" not in edge.text()
    assert value(scrape(cloud), "isthmus_http_backend_failures_total",
                 tenant="A", service="web", status="502") == 1
    assert get(port, "/size/3").body == pattern(3)
