"""The edge's HTTP cache (listener cache = on): firmware fetched once for a
fleet, RFC 9111 freshness and revalidation, ranges and conditionals from
disk, digests, eviction, restarts, and confidential answers that never
touch the disk.

Real edge and cloud processes, real TLS, a scripted backend (http_lib).
"""

import hashlib
import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from http_lib import HTTPBackend, device, get, read_response, sha
from isthmus_testlib import run

FW = "/fw/phone-9.2.bin"
LONG = b"Cache-Control: max-age=3600\r\n"


def cache_cli(k, *args, expect=0):
    return run("cache", *args, "-c", str(k.conf), expect=expect)


def bodies(k):
    return sorted(p for p in k.cache_dir.iterdir() if p.suffix == ".body")


def test_fleet_of_50_devices_fetches_firmware_once(cache_site):
    k = cache_site()
    fw = os.urandom(20 * 1024 * 1024)
    k.be.serve_file(FW, fw, LONG, etag='"fw-9.2"')
    results = [None] * 50
    start = threading.Barrier(50)

    def fetch(i):
        s, conn = device(k.port, timeout=120)
        try:
            start.wait()
            s.sendall(f"GET {FW} HTTP/1.1\r\nHost: device.example\r\n"
                      "\r\n".encode())
            r = read_response(conn)
            results[i] = (r.status, hashlib.sha256(r.body).hexdigest())
        finally:
            s.close()

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert results == [(200, sha(fw))] * 50
    # One upstream fetch for the whole fleet.
    assert k.be.count(FW) == 1
    assert k.metric("isthmus_cache_requests_total", result="miss") == 1
    assert k.metric("isthmus_cache_requests_total", result="coalesced") + \
        k.metric("isthmus_cache_requests_total", result="hit") == 49
    assert k.metric("isthmus_cache_saved_bytes_total") == 49 * len(fw)
    assert k.metric("isthmus_cache_fetched_bytes_total") == len(fw)
    # Stored once on disk, 0600, with its metadata.
    [body] = bodies(k)
    assert body.read_bytes() == fw
    assert body.stat().st_mode & 0o777 == 0o600
    assert body.with_suffix(".meta").stat().st_mode & 0o777 == 0o600
    assert k.cache_dir.stat().st_mode & 0o777 == 0o700

    # A restart keeps the entry: the next device is served from disk
    # (after its digest was checked once).
    k.restart_edge()
    k.edge.wait_log(r"event=opened .*entries=1")
    r = get(k.port, FW)
    assert r.status == 200 and sha(r.body) == sha(fw)
    assert k.be.count(FW) == 1
    assert k.metric("isthmus_cache_requests_total", result="hit") == 1
    assert int(r.header("age")) >= 0


def test_range_requests_from_the_cache(cache_site):
    k = cache_site()
    data = os.urandom(100000)
    k.be.serve_file(FW, data, LONG, etag='"r1"')
    assert get(k.port, FW).body == data
    cases = [
        (b"bytes=0-99", 206, 0, 99),
        (b"bytes=99990-", 206, 99990, 99999),
        (b"bytes=-10", 206, 99990, 99999),
        (b"bytes=50000-999999", 206, 50000, 99999),
    ]
    for rng, status, a, b in cases:
        r = get(k.port, FW, b"Range: " + rng + b"\r\n")
        assert r.status == status, rng
        assert r.header("content-range") == f"bytes {a}-{b}/100000"
        assert r.body == data[a:b + 1]
        assert int(r.header("content-length")) == b - a + 1
    # Beyond the end: 416 with the length.
    r = get(k.port, FW, b"Range: bytes=100000-\r\n")
    assert r.status == 416
    assert r.header("content-range") == "bytes */100000"
    assert r.body == b""
    # Several ranges, or a malformed one: the whole body (RFC 9110 14.2).
    for rng in (b"bytes=0-1,5-6", b"bytes=abc", b"pages=1-2"):
        r = get(k.port, FW, b"Range: " + rng + b"\r\n")
        assert r.status == 200 and r.body == data
    # If-Range: the current ETag gets the part, another the whole body.
    r = get(k.port, FW, b'Range: bytes=0-9\r\nIf-Range: "r1"\r\n')
    assert r.status == 206 and r.body == data[:10]
    r = get(k.port, FW, b'Range: bytes=0-9\r\nIf-Range: "old"\r\n')
    assert r.status == 200 and r.body == data
    # All from one upstream fetch.
    assert k.be.count(FW) == 1


def test_conditional_requests_answered_from_the_cache(cache_site):
    k = cache_site()
    lm = "Tue, 03 Nov 2026 10:00:00 GMT"
    k.be.serve_file(FW, b"firmware", LONG, etag='"c1"', last_modified=lm)
    assert get(k.port, FW).body == b"firmware"
    r = get(k.port, FW, b'If-None-Match: "c1"\r\n')
    assert r.status == 304 and r.body == b""
    assert r.header("etag") == '"c1"'
    assert r.header("cache-control") == "max-age=3600"
    r = get(k.port, FW, b'If-None-Match: "other", W/"c1"\r\n')
    assert r.status == 304      # weak comparison
    r = get(k.port, FW, b'If-None-Match: "other"\r\n')
    assert r.status == 200 and r.body == b"firmware"
    r = get(k.port, FW, b"If-Modified-Since: " + lm.encode() + b"\r\n")
    assert r.status == 304
    r = get(k.port, FW, b"If-Modified-Since: Mon, 02 Nov 2026 10:00:00 "
            b"GMT\r\n")
    assert r.status == 200
    # If-None-Match wins over If-Modified-Since.
    r = get(k.port, FW, b'If-None-Match: "x"\r\nIf-Modified-Since: '
            + lm.encode() + b"\r\n")
    assert r.status == 200
    assert k.be.count(FW) == 1
    # A miss with a condition goes up with it: the 304 is the device's
    # own (nothing to store); the next plain request fills the cache.
    k.be.serve_file("/fw/b", b"bee", LONG, etag='"b1"')
    r = get(k.port, "/fw/b", b'If-None-Match: "b1"\r\n')
    assert r.status == 304
    upstream = [q for q in k.be.requests if q.path == "/fw/b"][0]
    assert upstream.header("if-none-match") == '"b1"'
    assert bodies(k) == [p for p in bodies(k) if p.read_bytes() != b"bee"]
    assert get(k.port, "/fw/b").body == b"bee"
    assert get(k.port, "/fw/b", b'If-None-Match: "b1"\r\n').status == 304
    assert k.be.count("/fw/b") == 2
    # A miss with a Range fetches the whole body and answers the part.
    k.be.serve_file("/fw/c", b"0123456789", LONG, etag='"c"')
    r = get(k.port, "/fw/c", b"Range: bytes=2-4\r\n")
    assert r.status == 206 and r.body == b"234"
    upstream = [q for q in k.be.requests if q.path == "/fw/c"][0]
    assert upstream.header("range") is None
    assert get(k.port, "/fw/c").body == b"0123456789"
    assert k.be.count("/fw/c") == 1


def test_stale_entry_is_revalidated_with_its_validators(cache_site):
    k = cache_site()
    lm = "Tue, 03 Nov 2026 10:00:00 GMT"
    # max-age=2, not 1: two requests of a sanitized edge on a loaded
    # machine can be a second apart, and the second would find it stale.
    k.be.serve_file(FW, b"v1", b"Cache-Control: max-age=2\r\n",
                    etag='"v1"', last_modified=lm)
    assert get(k.port, FW).body == b"v1"
    assert get(k.port, FW).body == b"v1"
    assert k.be.count(FW) == 1
    time.sleep(2.2)
    # Stale: a conditional request; the 304 makes it fresh again.
    r = get(k.port, FW)
    assert r.status == 200 and r.body == b"v1"
    revalidation = [q for q in k.be.requests if q.path == FW][1]
    assert revalidation.header("if-none-match") == '"v1"'
    assert revalidation.header("if-modified-since") == lm
    assert k.metric("isthmus_cache_requests_total",
                    result="revalidated") == 1
    assert get(k.port, FW).body == b"v1"
    assert k.be.count(FW) == 2
    # Changed upstream: the next revalidation brings the new body.
    k.be.serve_file(FW, b"v2-new", b"Cache-Control: max-age=60\r\n",
                    etag='"v2"')
    time.sleep(2.2)
    assert get(k.port, FW).body == b"v2-new"
    assert get(k.port, FW).body == b"v2-new"
    assert k.be.count(FW) == 3
    assert len(bodies(k)) == 1      # the old body is gone


def test_freshness_rules(cache_site):
    k = cache_site()
    now = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                          time.gmtime(time.time() + 3600))
    files = {
        # stored and fresh
        "/max-age": (LONG, True),
        "/s-maxage": (b"Cache-Control: max-age=0, s-maxage=3600\r\n", True),
        "/expires": (b"Date: %s\r\nExpires: %s\r\n" % (now.encode(),
                                                       later.encode()), True),
        # always revalidated
        "/no-cache": (b"Cache-Control: no-cache\r\n", False),
        "/expired": (b"Expires: 0\r\n", False),
        "/max-age-0": (b"Cache-Control: max-age=0\r\n", False),
    }
    for path, (hdr, _) in files.items():
        k.be.serve_file(path, path.encode(), hdr, etag='"e"')
    for path, (_, fresh) in files.items():
        for _ in range(2):
            assert get(k.port, path).body == path.encode()
        assert k.be.count(path) == (1 if fresh else 2), path
    # A device asking for no-cache or max-age=0 gets a revalidation.
    get(k.port, "/max-age", b"Cache-Control: no-cache\r\n")
    get(k.port, "/s-maxage", b"Pragma: no-cache\r\n")
    get(k.port, "/expires", b"Cache-Control: max-age=0\r\n")
    for path in ("/max-age", "/s-maxage", "/expires"):
        assert k.be.count(path) == 2, path


def test_uncacheable_answers_reach_each_device_and_are_not_stored(
        cache_site):
    k = cache_site()
    k.be.serve_file("/nostore", b"a", b"Cache-Control: no-store\r\n")
    k.be.serve_file("/private", b"b", b"Cache-Control: private\r\n")
    k.be.serve_file("/cookie", b"c", LONG + b"Set-Cookie: s=1\r\n")
    k.be.serve_file("/plain", b"d")         # no freshness, no validator
    k.be.serve_file("/vary-star", b"e", LONG + b"Vary: *\r\n")
    k.be.serve_file("/error", b"f", LONG, status=500)
    for path in ("/nostore", "/private", "/cookie", "/plain", "/vary-star",
                 "/error"):
        for _ in range(3):
            r = get(k.port, path)
            assert r.body == {"/nostore": b"a", "/private": b"b",
                              "/cookie": b"c", "/plain": b"d",
                              "/vary-star": b"e", "/error": b"f"}[path]
        assert k.be.count(path) == 3, path
    # Requests with credentials, or no-store, go upstream every time.
    k.be.serve_file("/fw/x", b"x", LONG)
    for hdr in (b"Authorization: Bearer t\r\n", b"Cookie: a=b\r\n",
                b"Cache-Control: no-store\r\n"):
        assert get(k.port, "/fw/x", hdr).body == b"x"
    assert k.be.count("/fw/x") == 3
    # Other methods go up and drop the URL's entry (RFC 9111 4.4).
    assert get(k.port, "/fw/x").body == b"x"
    assert get(k.port, "/fw/x").body == b"x"
    assert k.be.count("/fw/x") == 4
    get(k.port, "/fw/x", b"Content-Length: 0\r\n", method=b"POST")
    assert get(k.port, "/fw/x").body == b"x"
    assert k.be.count("/fw/x") == 5
    assert bodies(k) == [p for p in bodies(k) if p.read_bytes() == b"x"]
    assert len(bodies(k)) == 1


def test_vary_keeps_one_entry_per_variant(cache_site):
    k = cache_site()
    k.be.serve_file(FW, b"same-for-now", LONG + b"Vary: Accept-Encoding\r\n")
    for enc in (b"gzip", b"identity", b"gzip", b"identity"):
        assert get(k.port, FW, b"Accept-Encoding: " + enc +
                   b"\r\n").status == 200
    assert get(k.port, FW).status == 200    # no such field: a third
    assert get(k.port, FW).status == 200
    assert k.be.count(FW) == 3
    assert len(bodies(k)) == 3


def test_damaged_entry_is_detected_and_fetched_again(cache_site):
    k = cache_site()
    data = os.urandom(3 * 1024 * 1024)
    k.be.serve_file(FW, data, LONG)
    assert sha(get(k.port, FW).body) == sha(data)
    [body] = bodies(k)
    # Flip one byte in the middle; the size stays the same.
    with open(body, "r+b") as f:
        f.seek(1500000)
        b = f.read(1)
        f.seek(1500000)
        f.write(bytes([b[0] ^ 0xff]))
    r = get(k.port, FW)
    assert r.status == 200 and sha(r.body) == sha(data)
    k.edge.wait_log(r"event=entry_damaged .*reason=\"?body digest mismatch")
    assert k.be.count(FW) == 2
    assert k.metric("isthmus_cache_damaged_total") == 1
    [body2] = bodies(k)
    assert body2.read_bytes() == data
    # Damage while the edge is down is found after the restart, before
    # any byte of it is served; a truncated body too.
    k.edge.stop()
    with open(body2, "r+b") as f:
        f.truncate(1000)
    k.restart_edge()
    k.edge.wait_log(r"event=entry_dropped")
    r = get(k.port, FW)
    assert sha(r.body) == sha(data)
    assert k.be.count(FW) == 3


def test_lru_eviction_keeps_the_cache_within_its_size(cache_site):
    k = cache_site(edge_extra="cache_max_size = 3m\n")
    objs = {f"/fw/{i}": os.urandom(900 * 1024) for i in range(4)}
    for p, d in objs.items():
        k.be.serve_file(p, d, LONG)
    for p in ("/fw/0", "/fw/1", "/fw/2"):
        assert get(k.port, p).body == objs[p]
    assert get(k.port, "/fw/0").body == objs["/fw/0"]   # used again
    assert get(k.port, "/fw/3").body == objs["/fw/3"]   # evicts /fw/1
    assert k.metric("isthmus_cache_evictions_total") == 1
    assert k.metric("isthmus_cache_bytes") <= 3 * 1024 * 1024
    on_disk = sum(p.stat().st_size for p in k.cache_dir.iterdir())
    assert on_disk == k.metric("isthmus_cache_bytes")
    for p in ("/fw/0", "/fw/2", "/fw/3", "/fw/1"):
        assert get(k.port, p).body == objs[p]
    assert [k.be.count(p) for p in sorted(objs)] == [1, 2, 1, 1]
    # An object larger than the whole cache passes through, unstored.
    big = os.urandom(4 * 1024 * 1024)
    k.be.serve_file("/fw/big", big, LONG)
    assert sha(get(k.port, "/fw/big").body) == sha(big)
    assert sha(get(k.port, "/fw/big").body) == sha(big)
    assert k.be.count("/fw/big") == 2


def test_cache_list_and_purge(cache_site):
    k = cache_site()
    k.be.serve_file("/fw/a.bin", b"A" * 1000, LONG, etag='"a"')
    k.be.serve_file("/fw/b.bin", b"B" * 2000, b"Cache-Control: max-age=0\r\n",
                    etag='"b"')
    get(k.port, "/fw/a.bin")
    get(k.port, "/fw/a.bin")
    get(k.port, "/fw/b.bin")
    out = cache_cli(k, "list").stdout
    assert "http://device.example/fw/a.bin (web)" in out
    assert "fresh" in out and "stale" in out
    listing = json.loads(cache_cli(k, "list", "--json").stdout)
    byurl = {e["url"]: e for e in listing["entries"]}
    a = byurl["http://device.example/fw/a.bin"]
    assert a["bytes"] == 1000 and a["state"] == "fresh" and a["hits"] == 1
    assert a["etag"] == '"a"' and a["service"] == "web"
    assert byurl["http://device.example/fw/b.bin"]["state"] == "stale"
    # isthmus status sums it up for the site's IT.
    out = run("status", "-c", str(k.conf), expect=0).stdout
    assert "Cache: 2 entries" in out and "1 hits, 2 misses" in out
    st = json.loads(run("status", "-c", str(k.conf), "--json",
                        expect=0).stdout)["cache"]
    assert st["entries"] == 2 and st["requests"]["hit"] == 1
    assert st["bytes"] == k.metric("isthmus_cache_bytes")
    # Purge one by its URL, then everything.
    out = cache_cli(k, "purge", "http://device.example/fw/a.bin").stdout
    assert "purged 1 entries (1000 bytes)" in out
    get(k.port, "/fw/a.bin")
    assert k.be.count("/fw/a.bin") == 2
    assert "purged 1 entries" in cache_cli(k, "purge", "/fw/b.bin").stdout
    assert "purged 1 entries" in cache_cli(k, "purge").stdout
    assert bodies(k) == []
    assert json.loads(cache_cli(k, "list", "--json").stdout)["entries"] == []
    # Bad use is refused with the reason.
    res = cache_cli(k, "frobnicate", expect=2)
    assert "say list or purge" in res.stderr or "list" in res.stderr
    res = run("cache", "list", expect=2)
    assert "--socket PATH or -c CONF" in res.stderr


def test_cache_needs_an_http_listener(site, tmp_path):
    conf = site.edge_conf("agw", 1, {"t": ("web", "cache = on\n")})
    res = run("edge", "-c", str(conf), "--check", expect=2)
    assert "cache" in res.stderr and "mode = http" in res.stderr


def test_stale_entry_serves_while_the_cloud_is_unreachable(cache_site):
    k = cache_site(edge_extra="pending_timeout = 1s\n")
    k.be.serve_file("/fw/ok", b"keep", b"Cache-Control: max-age=1\r\n",
                    etag='"k"')
    k.be.serve_file("/fw/strict", b"strict",
                    b"Cache-Control: max-age=1, must-revalidate\r\n",
                    etag='"s"')
    assert get(k.port, "/fw/ok").body == b"keep"
    assert get(k.port, "/fw/strict").body == b"strict"
    k.cloud.stop()
    k.edge.wait_log(r"event=tunnel_down")
    time.sleep(1.1)
    r = get(k.port, "/fw/ok")
    assert r.status == 200 and r.body == b"keep"
    assert k.metric("isthmus_cache_requests_total", result="stale") == 1
    # must-revalidate: never served stale; the device waits for the
    # tunnel like any request, then gets 503.
    r = get(k.port, "/fw/strict")
    assert r.status == 503


def _marker_holders(paths, marker):
    """The files among paths (recursively) whose bytes contain marker."""
    found = []
    for top in paths:
        top = Path(top)
        for p in ([top] if top.is_file() else top.rglob("*")):
            try:
                if p.is_file() and marker in p.read_bytes():
                    found.append(str(p))
            except OSError:
                pass
    return found


def _open_files(pid):
    """Regular files process pid has open now."""
    out = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("/") and Path(target).is_file():
            out.append(target)
    return out


@pytest.mark.parametrize("flavor", ["service", "no-store", "private",
                                    "authorization", "cookie"])
def test_confidential_answers_never_touch_the_disk(cache_site, site,
                                                   flavor):
    """Configuration with a secret, fetched by many devices at once through
    a caching listener: every device gets its own answer whole, and no file
    under the edge's directories, nor any file the edge has open during the
    transfers, ever holds the secret."""
    k = cache_site(svc_opts="identity_headers = yes\n" +
                   ("confidential = yes\n" if flavor == "service" else ""))
    marker = b"SECRET-" + os.urandom(12).hex().encode()
    # Cacheable-looking unless the flavor says otherwise.
    header = {"no-store": b"Cache-Control: no-store\r\n",
              "private": b"Cache-Control: private, max-age=3600\r\n"}.get(
        flavor, LONG + b'ETag: "cfg"\r\n')
    request_header = {"authorization": b"Authorization: Basic ZGV2OnB3\r\n",
                      "cookie": b"Cookie: session=abc\r\n"}.get(flavor, b"")

    def config(req):
        if req.path != "/config.xml":
            return None
        who = req.header("forwarded").encode()
        # 3 MB, so the transfers last while the edge is watched.
        return 200, (who + b"\n" + marker + b"\n") * ((3 << 20) // 64) + \
            b"<end/>", header
    k.be.handler = config
    pid = k.edge.proc.pid
    seen_open = set()
    leaks = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            for f in _open_files(pid):
                seen_open.add(f)
                leaks.extend(_marker_holders([f], marker))
            time.sleep(0.01)

    results = {}

    def fetch(i):
        s, conn = device(k.port, timeout=60)
        try:
            me = "for=\"127.0.0.1:%d\"" % s.getsockname()[1]
            s.sendall(b"GET /config.xml HTTP/1.1\r\nHost: device.example\r\n"
                      + request_header + b"\r\n")
            first, headers = conn.head()
            body = bytearray()
            n = int(dict(headers)["content-length"])
            while len(body) < n:        # a slow device: the edge holds on
                body += conn.exact(min(65536, n - len(body)))
                time.sleep(0.002)
            results[i] = (first.split(b" ")[1], me.encode() in body[:100],
                          bytes(body).count(marker), body.endswith(b"<end/>"))
        finally:
            s.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    watcher.join()
    per = ((3 << 20) // 64)
    assert results == {i: (b"200", True, per, True) for i in range(12)}
    # Every device's request went to the backend: nothing was shared.
    assert k.be.count("/config.xml") == 12
    assert leaks == []
    assert _marker_holders([site.tmp], marker) == []
    assert [f for f in seen_open if str(k.cache_dir) in f] == []
    assert list(k.cache_dir.iterdir()) == []
    assert k.metric("isthmus_cache_entries") == 0


def test_fetch_continues_for_others_when_its_device_leaves(cache_site):
    k = cache_site()
    data = os.urandom(2 * 1024 * 1024)
    k.be.serve_file(FW, data, LONG, delay=0.5)
    first, _ = device(k.port)
    first.sendall(f"GET {FW} HTTP/1.1\r\nHost: device.example\r\n\r\n"
                  .encode())
    time.sleep(0.1)
    others = []
    for _ in range(3):
        s, conn = device(k.port)
        s.sendall(f"GET {FW} HTTP/1.1\r\nHost: device.example\r\n\r\n"
                  .encode())
        others.append((s, conn))
    time.sleep(0.1)
    first.close()       # the device whose request went up is gone
    for s, conn in others:
        r = read_response(conn)
        assert r.status == 200 and sha(r.body) == sha(data)
        s.close()
    assert k.be.count(FW) == 1
    assert get(k.port, FW).body == data
    assert k.be.count(FW) == 1


def test_body_of_unknown_length_streams_to_readers_as_it_arrives(
        cache_site):
    k = cache_site()
    data = os.urandom(3 * 1024 * 1024 + 5)
    k.be.serve_file(FW, data, LONG, chunked=True, delay=0.3)
    devices = []
    for version in (b"1.1", b"1.1", b"1.0"):
        s, conn = device(k.port)
        s.sendall(b"GET " + FW.encode() + b" HTTP/" + version +
                  b"\r\nHost: device.example\r\n\r\n")
        devices.append((version, s, conn))
    for version, s, conn in devices:
        r = read_response(conn)
        assert r.status == 200 and sha(r.body) == sha(data)
        if version == b"1.1":
            # The length was not known when the answer began.
            assert r.header("transfer-encoding") == "chunked"
        else:
            assert r.header("connection") == "close"
        s.close()
    # Once stored, the length is known.
    r = get(k.port, FW)
    assert r.header("content-length") == str(len(data))
    assert r.body == data
    assert k.be.count(FW) == 1
    # HEAD from the cache: the length, no body.
    r = get(k.port, FW, method=b"HEAD")
    assert r.status == 200 and r.header("content-length") == str(len(data))
    assert k.be.count(FW, "HEAD") == 0


def test_slow_device_does_not_hold_back_the_fetch(cache_site):
    k = cache_site()
    data = os.urandom(24 * 1024 * 1024)
    k.be.serve_file(FW, data, LONG)
    slow, slow_conn = device(k.port, timeout=60)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    slow.sendall(f"GET {FW} HTTP/1.1\r\nHost: device.example\r\n\r\n"
                 .encode())
    # The slow device reads nothing; the fill still completes and
    # another device gets everything.
    k.edge.wait_log(r"event=stored", timeout=30)
    r = get(k.port, FW)
    assert sha(r.body) == sha(data)
    assert k.be.count(FW) == 1
    slow_conn.head()
    body = slow_conn.exact(len(data))
    assert sha(body) == sha(data)
    slow.close()


def test_broken_fetch_is_not_stored_and_readers_see_a_cut(cache_site):
    k = cache_site()
    data = os.urandom(1024 * 1024)
    k.be.serve_file(FW, data, LONG, cut=True)
    s, conn = device(k.port)
    s.sendall(f"GET {FW} HTTP/1.1\r\nHost: device.example\r\n\r\n"
              .encode())
    first, headers = conn.head()
    assert first.split(b" ")[1] == b"200"
    n = int(dict(headers)["content-length"])
    with pytest.raises((EOFError, OSError)):
        conn.exact(n)       # never the whole promised body
    s.close()
    k.edge.wait_log(r"event=fetch_failed")
    assert bodies(k) == [] and list(k.cache_dir.iterdir()) == []
    assert k.metric("isthmus_cache_bytes") == 0
    k.be.serve_file(FW, data, LONG)
    assert get(k.port, FW).body == data
    assert get(k.port, FW).body == data
    assert k.be.count(FW) == 2


def test_cache_dir_that_cannot_be_used_stops_the_edge_with_the_reason(
        site):
    blocker = site.tmp / "not-a-dir"
    blocker.write_text("x")
    conf = site.edge_conf("agw", 1, {"web": ("web", "mode = http\n"
                                             "cache = on\n")},
                          extra=f"cache_dir = {blocker}\n")
    res = run("edge", "-c", str(conf), expect=1)
    assert str(blocker) in res.stderr
    assert blocker.read_text() == "x"     # left as it was
    # Without a cache listener the edge never opens it.
    conf = site.edge_conf("agw", 1, {"web": ("web", "mode = http\n")},
                          extra=f"cache_dir = {blocker}\n")
    assert run("edge", "-c", str(conf), "--check", expect=0)
    # cache_max_size below 1 MB is refused by --check.
    conf = site.edge_conf("agw", 1, {"web": ("web", "mode = http\n"
                                             "cache = on\n")},
                          extra="cache_max_size = 10k\n")
    res = run("edge", "-c", str(conf), "--check", expect=2)
    assert "cache_max_size" in res.stderr


def test_cache_commands_on_an_edge_without_a_cache(site):
    be = HTTPBackend()
    try:
        cloud = site.start("cloud", site.cloud_conf(
            {"A/web": ([be], "mode = http\nhealth = none\n")}))
        conf = site.edge_conf("agw", cloud.port("listen"),
                              {"web": ("web", "mode = http\n")})
        edge = site.start("edge", conf)
        edge.wait_log(r"event=tunnel_up")
        res = run("cache", "list", "-c", str(conf), expect=1)
        assert "no listener has cache = on" in res.stderr
        assert get(edge.port("listener.web"), "/size/3").status == 200
    finally:
        be.close()


def test_leftovers_of_an_interrupted_run_are_cleaned_at_start(cache_site):
    k = cache_site()
    k.be.serve_file(FW, b"keep me", LONG)
    assert get(k.port, FW).body == b"keep me"
    k.edge.stop()
    [body] = bodies(k)
    ident = body.stem
    (k.cache_dir / f"{'1' * 32}.part").write_bytes(b"half")
    (k.cache_dir / f"{'2' * 32}.body").write_bytes(b"orphan")
    (k.cache_dir / f"{ident}.meta.tmp-abcdef").write_bytes(b"tmp")
    (k.cache_dir / f"{'3' * 32}.meta").write_bytes(b"isthmus-cache 1\n")
    (k.cache_dir / "README").write_text("not ours")
    k.restart_edge()
    k.edge.wait_log(r"event=entry_dropped id=3{32} reason=.*truncated")
    assert sorted(p.name for p in k.cache_dir.iterdir()) == sorted(
        [f"{ident}.body", f"{ident}.meta", "README"])
    assert get(k.port, FW).body == b"keep me"
    assert k.be.count(FW) == 1
