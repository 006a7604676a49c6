"""The edge cache where it meets everything else: the tunnel coming and
going under a fill, digest checks racing invalidations, hosts that try to
reach other keys, answers that depend on who the device is, bodies larger
than the cache. Each was a defect once (found in review); each test failed
before its fix.
"""

import hashlib
import os
import socket
import threading
import time

from http_lib import HTTPBackend, device, get, read_response, sha
from test_cache import LONG, bodies, cache_cli

BIG = 1 << 30


def _craft(cache_dir, url, fields, body=None, sparse_len=0):
    """An entry as the edge writes it (ID.body and ID.meta); a sparse body
    of zeros when sparse_len is given."""
    ident = os.urandom(16).hex()
    bp = cache_dir / f"{ident}.body"
    h = hashlib.sha256()
    with open(bp, "wb") as f:
        if sparse_len:
            f.truncate(sparse_len)
            zeros = bytes(1 << 20)
            for _ in range(sparse_len >> 20):
                h.update(zeros)
        else:
            f.write(body)
            h.update(body)
    length = sparse_len or len(body)
    os.chmod(bp, 0o600)
    now = int(time.time())
    meta = ("isthmus-cache 1\nservice web\nurl %s\nstatus 200\n"
            "request-time %d\nresponse-time %d\nlength %d\nsha256 %s\n"
            % (url, now, now, length, h.hexdigest()))
    for name, v in fields:
        meta += "field %s: %s\n" % (name, v)
    meta = meta.encode()
    meta += b"end " + hashlib.sha256(meta).hexdigest().encode() + b"\n"
    mp = cache_dir / f"{ident}.meta"
    mp.write_bytes(meta)
    os.chmod(mp, 0o600)


def _with_big_entry(k, extra=()):
    """Restarts the edge over a cache holding a 1 GB entry (sparse: free
    on disk, but its digest check reads 1 GB) and the extra (url, body)
    entries."""
    k.edge.stop()
    k.cache_dir.mkdir(exist_ok=True)
    _craft(k.cache_dir, "http://device.example/big",
           [("cache-control", "max-age=3600")], sparse_len=BIG)
    for url, body in extra:
        _craft(k.cache_dir, url, [("cache-control", "max-age=3600")], body)
    k.restart_edge()


def test_digest_check_of_a_big_entry_lets_other_devices_through(cache_site):
    """The check reads a step at a time and the loop serves sockets in
    between: a small hit is answered while the big entry is still being
    checked (its device has no answer yet)."""
    k = cache_site(edge_extra="cache_max_size = 8g\n")
    _with_big_entry(k, [("http://device.example/small", b"small")])
    assert get(k.port, "/small").body == b"small"    # checked now
    a, aconn = device(k.port, timeout=120)
    a.sendall(b"GET /big HTTP/1.1\r\nHost: device.example\r\n\r\n")
    time.sleep(0.05)
    assert get(k.port, "/small").body == b"small"
    a.setblocking(False)
    try:
        early = a.recv(1)
    except BlockingIOError:
        early = None
    assert early is None, "the 1 GB check ended before a 5-byte hit"
    a.setblocking(True)
    r = read_response(aconn)
    assert r.status == 200 and len(r.body) == BIG
    a.close()


def test_invalidation_during_a_digest_check_wakes_its_readers(cache_site):
    k = cache_site(edge_extra="cache_max_size = 8g\n")
    _with_big_entry(k, [("http://device.example/x", b"x-body")])
    k.be.handler = lambda req: (204, b"") if req.method == "DELETE" else (
        200, b"x-fresh", LONG)
    b, bconn = device(k.port, timeout=30)
    c, cconn = device(k.port, timeout=30)
    a, aconn = device(k.port, timeout=120)
    a.sendall(b"GET /big HTTP/1.1\r\nHost: device.example\r\n\r\n")
    time.sleep(0.1)
    # B's hit starts a check of /x; C's DELETE drops /x meanwhile: B
    # still gets an answer (fetched anew).
    b.sendall(b"GET /x HTTP/1.1\r\nHost: device.example\r\n\r\n")
    c.sendall(b"DELETE /x HTTP/1.1\r\nHost: device.example\r\n\r\n")
    assert read_response(cconn).status == 204
    assert read_response(bconn).body in (b"x-body", b"x-fresh")
    for s in (a, b, c):
        s.close()
    # Purging an entry under check, its device leaving first: no crash
    # (the edge's stop checks the sanitizer's verdict).
    _with_big_entry(k)
    a, _ = device(k.port)
    a.sendall(b"GET /big HTTP/1.1\r\nHost: device.example\r\n\r\n")
    time.sleep(0.05)
    a.close()
    assert "purged 1 entries" in cache_cli(k, "purge", "/big").stdout
    time.sleep(0.5)
    k.edge.stop()


def test_put_with_a_body_drops_the_stored_answer(cache_site):
    k = cache_site()
    k.be.serve_file("/cfg", b"old", LONG)
    assert get(k.port, "/cfg").body == b"old"
    assert get(k.port, "/cfg").body == b"old"
    s, conn = device(k.port)
    s.sendall(b"PUT /cfg HTTP/1.1\r\nHost: device.example\r\n"
              b"Content-Length: 3\r\n\r\nnew")
    assert read_response(conn).status == 200
    s.close()
    k.be.serve_file("/cfg", b"new", LONG)
    assert get(k.port, "/cfg").body == b"new"
    assert k.be.count("/cfg") == 2


def test_a_host_cannot_name_another_path(cache_site):
    k = cache_site()
    k.be.serve_file("/fw/phone.bin", b"genuine firmware", LONG)
    k.be.serve_file("/phone.bin", b"attacker-chosen content", LONG)
    for host in (b"device.example/fw", b"a b", b"x@device.example",
                 b"device.example?q", b"device.example#f"):
        s, conn = device(k.port)
        s.sendall(b"GET /phone.bin HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
        assert read_response(conn).status == 400, host
        s.close()
    s, conn = device(k.port)
    s.sendall(b"GET /phone.bin HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    assert read_response(conn).status == 400
    s.close()
    assert get(k.port, "/fw/phone.bin").body == b"genuine firmware"
    assert k.be.count("/phone.bin") == 0
    # Ports and IP literals are hosts.
    for host in (b"device.example:8080", b"[::1]:80", b"10.0.0.1"):
        s, conn = device(k.port)
        s.sendall(b"GET /fw/phone.bin HTTP/1.1\r\nHost: " + host +
                  b"\r\n\r\n")
        assert read_response(conn).status == 200, host
        s.close()


def test_answers_that_vary_on_the_device_identity_are_not_shared(
        cache_site):
    k = cache_site(svc_opts="identity_headers = yes\n")
    k.be.handler = lambda req: (
        200, ("for " + req.header("forwarded")).encode(),
        LONG + b"Vary: Forwarded\r\n") if req.path == "/me" else None
    a, b = get(k.port, "/me").body, get(k.port, "/me").body
    assert a != b
    assert k.be.count("/me") == 2
    assert bodies(k) == []


def test_device_certificates_keep_per_device_answers_apart(site):
    from test_device_tls import MAC1, MAC2, Fleet, tls_get
    fleet = Fleet(site)
    be = HTTPBackend()
    try:
        cloud = site.start("cloud", site.cloud_conf(
            {"A/web": ([be], "mode = http\nhealth = none\n"
                       "identity_headers = yes")}))
        edge = site.start("edge", site.edge_conf(
            "agw", cloud.port("listen"),
            {"web": fleet.listener([fleet.v1], "cache = on\n")},
            extra=f"cache_dir = {site.tmp}/c\n"))
        edge.wait_log(r"event=tunnel_up")
        port = edge.port("listener.web")
        big = os.urandom(8 << 20)

        def answer(req):
            if req.path == "/fw/big":
                return 200, big, b"Cache-Control: public, max-age=3600\r\n"
            if req.path in ("/my/config", "/my/other"):
                mac = req.header("x-isthmus-device-mac")
                vary = (b"Vary: X-Isthmus-Device-MAC\r\n"
                        if req.path == "/my/config" else b"")
                return 200, ("wifi-psk-of " + mac).encode(), LONG + vary
            return None
        be.handler = answer
        for path in ("/my/config", "/my/other"):
            r1, _ = tls_get(port, fleet.server_ca,
                            fleet.device(fleet.v1, MAC1), path=path)
            r2, _ = tls_get(port, fleet.server_ca,
                            fleet.device(fleet.v1, MAC2), path=path)
            assert r1.body == ("wifi-psk-of " + MAC1).encode()
            assert r2.body == ("wifi-psk-of " + MAC2).encode()
        # What says public is shared, and served from disk over TLS.
        for mac in (MAC1, MAC2, MAC1):
            rb, _ = tls_get(port, fleet.server_ca,
                            fleet.device(fleet.v1, mac), path="/fw/big")
            assert sha(rb.body) == sha(big)
        assert sum(1 for q in be.requests if q.path == "/fw/big") == 1
    finally:
        be.close()


def test_a_304_that_forbids_storing_drops_the_entry(cache_site):
    k = cache_site()
    k.be.serve_file("/cfg", b"cfg-v1", b"Cache-Control: max-age=1\r\n",
                    etag='"c"')
    assert get(k.port, "/cfg").body == b"cfg-v1"
    k.be.serve_file("/cfg", b"cfg-v1", b"Cache-Control: no-store\r\n",
                    etag='"c"')
    time.sleep(1.2)
    r = get(k.port, "/cfg")
    assert r.body == b"cfg-v1" and r.header("cache-control") == "no-store"
    assert list(k.cache_dir.iterdir()) == []
    assert get(k.port, "/cfg").body == b"cfg-v1"
    assert k.be.count("/cfg") == 4      # fill, 304, then its own request


def _kill_cloud(k, site, extra=""):
    """Kills the cloud (streams lost, no drain); returns its config with
    the same port, plus extra service lines."""
    port = k.cloud.port("listen")
    k.cloud.proc.kill()
    k.cloud.proc.wait()
    k.cloud.proc.stdout.close()
    k.cloud.log.close()
    k.edge.wait_log(r"event=tunnel_down")
    conf = site.tmp / "cloud.conf"
    conf.write_text(conf.read_text().replace(
        "listen = 127.0.0.1:0", f"listen = 127.0.0.1:{port}").replace(
        "health = none\n", "health = none\n" + extra))
    return conf


def test_a_service_turned_confidential_is_no_longer_served_from_disk(
        cache_site, site):
    k = cache_site()
    k.be.serve_file("/cfg", b"cfg-v1", b"Cache-Control: max-age=1\r\n",
                    etag='"c"')
    assert get(k.port, "/cfg").body == b"cfg-v1"
    conf = _kill_cloud(k, site, "confidential = yes\n")
    k.cloud = site.start("cloud", conf)
    k.edge.wait_log(r"event=tunnel_up", count=2, timeout=20)
    time.sleep(1.2)
    assert get(k.port, "/cfg").body == b"cfg-v1"
    assert list(k.cache_dir.iterdir()) == []


def test_pipelined_request_waits_its_turn_when_a_fill_is_lost(cache_site,
                                                             site):
    k = cache_site()
    k.be.serve_file("/slow", b"slow-body", LONG, delay=1.0)
    k.be.serve_file("/two", b"two-body", LONG)
    s, conn = device(k.port, timeout=20)
    s.sendall(b"GET /slow HTTP/1.1\r\nHost: device.example\r\n\r\n"
              b"GET /two HTTP/1.1\r\nHost: device.example\r\n\r\n")
    time.sleep(0.3)             # the fill for /slow waits for its head
    conf = _kill_cloud(k, site)
    time.sleep(0.2)
    k.cloud = site.start("cloud", conf)
    k.edge.wait_log(r"event=tunnel_up", count=2, timeout=20)
    assert read_response(conn).body == b"slow-body"
    assert read_response(conn).body == b"two-body"
    s.close()
    # Again, the device leaving with its second request due.
    s, conn = device(k.port, timeout=20)
    k.be.serve_file("/slow2", b"slow-body", LONG, delay=1.0)
    s.sendall(b"GET /slow2 HTTP/1.1\r\nHost: device.example\r\n\r\n"
              b"GET /two HTTP/1.1\r\nHost: device.example\r\n\r\n")
    time.sleep(0.3)
    conf = _kill_cloud(k, site)
    k.cloud = site.start("cloud", conf)
    k.edge.wait_log(r"event=tunnel_up", count=3, timeout=20)
    assert read_response(conn).body == b"slow-body"
    s.close()
    time.sleep(1.5)
    k.edge.stop()               # no sanitizer report


def test_oversized_body_of_unknown_length_evicts_nothing(cache_site):
    k = cache_site(edge_extra="cache_max_size = 3m\n")
    objs = {f"/fw/{i}": os.urandom(900 * 1024) for i in range(2)}
    for p, d in objs.items():
        k.be.serve_file(p, d, LONG)
        assert get(k.port, p).body == d
    big = os.urandom(4 * 1024 * 1024)
    k.be.serve_file("/fw/big", big, LONG, chunked=True)
    assert get(k.port, "/fw/big").body == big
    for p, d in objs.items():
        assert get(k.port, p).body == d
    assert [k.be.count(p) for p in objs] == [1, 1]
    assert k.metric("isthmus_cache_evictions_total") == 0
    on_disk = sum(p.stat().st_size for p in k.cache_dir.iterdir())
    assert on_disk == k.metric("isthmus_cache_bytes") <= 3 << 20


def test_private_answers_keep_the_devices_conditions(cache_site):
    k = cache_site()
    data = os.urandom(1 << 20)
    k.be.serve_file("/me/cfg", data, b"Cache-Control: private\r\n",
                    etag='"p1"')
    r = get(k.port, "/me/cfg", b'If-None-Match: "p1"\r\n')
    assert r.status == 304 and r.body == b""
    assert get(k.port, "/me/cfg").body == data


def test_size_accounting_matches_the_disk(cache_site):
    k = cache_site()
    k.be.serve_file("/a", b"a" * 1000, b"Cache-Control: max-age=1\r\n",
                    etag='"a"')
    get(k.port, "/a")
    # a 304 that makes the metadata grow
    k.be.serve_file("/a", b"a" * 1000, b"Cache-Control: max-age=1\r\n"
                    b"X-Long: " + b"y" * 3000 + b"\r\n", etag='"a"')
    time.sleep(1.2)
    assert get(k.port, "/a").header("x-long") == "y" * 3000
    # a fill cut half-way
    k.be.serve_file("/cut", os.urandom(300000), LONG, cut=True)
    s, conn = device(k.port)
    s.sendall(b"GET /cut HTTP/1.1\r\nHost: device.example\r\n\r\n")
    try:
        read_response(conn)
    except (EOFError, OSError):
        pass
    s.close()
    # a purge while a body is being fetched
    k.be.serve_file("/slow", os.urandom(2 << 20), LONG, chunked=True,
                    delay=0.3)
    got = []
    t = threading.Thread(target=lambda: got.append(get(k.port, "/slow")))
    t.start()
    time.sleep(0.4)
    cache_cli(k, "purge", "/slow")
    t.join()
    assert got[0].status == 200 and len(got[0].body) == 2 << 20
    time.sleep(0.2)
    on_disk = sum(p.stat().st_size for p in k.cache_dir.iterdir())
    assert on_disk == k.metric("isthmus_cache_bytes")


def test_tunnel_lost_under_fills(cache_site, site):
    k = cache_site()
    # The device whose request went up leaves; the answer may not be
    # stored: the device that waited asks for itself.
    k.be.serve_file("/ns", os.urandom(1 << 20),
                    b"Cache-Control: no-store\r\n", delay=0.5)
    s, _ = device(k.port)
    s.sendall(b"GET /ns HTTP/1.1\r\nHost: device.example\r\n\r\n")
    w, wconn = device(k.port)
    time.sleep(0.1)
    w.sendall(b"GET /ns HTTP/1.1\r\nHost: device.example\r\n\r\n")
    time.sleep(0.1)
    s.close()
    r = read_response(wconn)
    assert r.status == 200 and len(r.body) == 1 << 20
    assert k.be.count("/ns") == 2
    # The tunnel lost mid-fill, with readers: cut, nothing kept.
    k.be.serve_file("/big", os.urandom(16 << 20), LONG, chunked=True,
                    pace=0.01)
    ds = [device(k.port, timeout=20) for _ in range(3)]
    for s2, _ in ds:
        s2.sendall(b"GET /big HTTP/1.1\r\nHost: device.example\r\n\r\n")
    time.sleep(0.3)
    conf = _kill_cloud(k, site)
    for s2, c2 in ds:
        try:
            r = read_response(c2)
            assert len(r.body) < 16 << 20
        except (EOFError, OSError):
            pass
        s2.close()
    k.cloud = site.start("cloud", conf)
    k.edge.wait_log(r"event=tunnel_up", count=2, timeout=20)
    time.sleep(0.3)
    assert list(k.cache_dir.iterdir()) == []
    assert k.metric("isthmus_cache_bytes") == 0
    k.edge.stop()


def test_a_stored_204_has_no_length(cache_site):
    k = cache_site()
    k.be.handler = lambda req: (204, b"", LONG, False) \
        if req.path == "/ping" else None
    get(k.port, "/ping")
    r = get(k.port, "/ping")
    assert r.status == 204 and r.header("content-length") is None
    assert k.be.count("/ping") == 1


def test_keepalive_device_reads_many_answers_from_the_cache(cache_site):
    k = cache_site()
    data = os.urandom(300000)
    k.be.serve_file("/fw/k", data, LONG)
    s, conn = device(k.port)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(20):
        s.sendall(b"GET /fw/k HTTP/1.1\r\nHost: device.example\r\n\r\n")
        assert read_response(conn).body == data
    s.close()
    assert k.be.count("/fw/k") == 1
