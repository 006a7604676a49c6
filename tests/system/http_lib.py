"""HTTP-mode test helpers: a scripted HTTP/1.1 backend on 127.0.0.1 and a
raw device client, both on plain sockets so a test controls every byte
(pipelining, half-closes, slow senders, broken framing).

Backend paths (GET or HEAD unless said):
  /size/N           N bytes of pattern(N), with Content-Length
  /chunked/N        N bytes of pattern(N), chunked
  /headers          the request's head as JSON
  /echo (POST)      JSON {"len", "sha256"} of the body (length or chunked)
  /status/N         status N, empty body
  /close            answers with Connection: close
  /garbage          not HTTP
  /cut/N            promises N bytes, sends N/2, closes
  /sleep/MS         waits MS before answering
  /slowread (POST)  reads nothing for 2 s, then the body as /echo
  handler(req)      when set and not None: (status, body, header bytes)
  files[path]       a stored file (see HTTPBackend.serve_file): its
                    headers, ETag and Last-Modified, 304 for a matching
                    If-None-Match or If-Modified-Since
"""

import hashlib
import json
import socket
import threading
import time


def pattern(n):
    """n deterministic bytes (not all alike, so misplaced bytes show)."""
    block = bytes(range(256)) * 256
    out = bytearray()
    i = 0
    while len(out) < n:
        out += bytes([i & 0xff]) + block
        i += 1
    return bytes(out[:n])


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Request:
    def __init__(self, method, path, version, headers, body):
        self.method = method
        self.path = path
        self.version = version
        self.headers = headers      # [(lowercase name, value)]
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k == name:
                return v
        return None


class Conn:
    """A buffered socket reader for HTTP/1.1 framing."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self):
        d = self.sock.recv(262144)
        if not d:
            raise EOFError
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        ln = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return ln

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        d = bytes(self.buf[:n])
        del self.buf[:n]
        return d

    def head(self):
        first = self.line()
        headers = []
        while True:
            ln = self.line()
            if not ln:
                break
            k, v = ln.split(b":", 1)
            headers.append((k.strip().lower().decode(), v.strip().decode()))
        return first, headers

    def chunked(self):
        out = bytearray()
        while True:
            size = int(self.line().split(b";")[0], 16)
            if size == 0:
                while self.line():
                    pass
                return bytes(out)
            out += self.exact(size)
            self.exact(2)

    def rest(self):
        out = self.buf
        self.buf = bytearray()
        while True:
            d = self.sock.recv(262144)
            if not d:
                return bytes(out)
            out += d


def _hdr(headers, name):
    for k, v in headers:
        if k == name:
            return v
    return None


class HTTPBackend:
    """Counts connections and keeps every request it read."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.connections = 0
        self.requests = []
        self.sent = 0               # body bytes written, all connections
        self.files = {}
        self.handler = None         # req -> (status, body, header bytes)
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._handle, args=(c,),
                             daemon=True).start()

    def _send(self, c, data):
        # In 64 KB pieces, counted, so a test can see backpressure.
        for i in range(0, len(data), 65536):
            c.sendall(data[i:i + 65536])
            with self.lock:
                self.sent += len(data[i:i + 65536])

    def _handle(self, c):
        conn = Conn(c)
        try:
            while True:
                first, headers = conn.head()
                method, path, version = first.decode().split(" ")
                if path == "/slowread":
                    time.sleep(2)
                if _hdr(headers, "transfer-encoding") == "chunked":
                    body = conn.chunked()
                else:
                    body = conn.exact(int(_hdr(headers, "content-length")
                                          or 0))
                req = Request(method, path, version, headers, body)
                with self.lock:
                    self.requests.append(req)
                if not self._answer(c, req):
                    break
        except (EOFError, OSError, ValueError):
            pass
        finally:
            c.close()
            self.closed.set()

    def serve_file(self, path, body, headers=b"", etag=None,
                   last_modified=None, status=200, chunked=False, delay=0,
                   cut=False, pace=0):
        """From now on path answers body with these header lines (bytes,
        each ending CRLF), an ETag and Last-Modified when given; after
        delay seconds; cut: half the body, then the connection closes;
        chunked: in 100 KB chunks, pace seconds apart."""
        self.files[path] = dict(body=body, headers=headers, etag=etag,
                                last_modified=last_modified, status=status,
                                chunked=chunked, delay=delay, cut=cut,
                                pace=pace)

    def count(self, path, method="GET"):
        with self.lock:
            return sum(1 for r in self.requests
                       if r.path == path and r.method == method)

    def _file(self, c, req, f):
        """False: the connection is to close."""
        time.sleep(f["delay"])
        extra = f["headers"]
        if f["etag"] is not None:
            extra += b"ETag: %s\r\n" % f["etag"].encode()
        if f["last_modified"] is not None:
            extra += b"Last-Modified: %s\r\n" % f["last_modified"].encode()
        inm = req.header("if-none-match")
        ims = req.header("if-modified-since")
        if (inm is not None and inm == f["etag"]) or (
                inm is None and ims is not None and
                ims == f["last_modified"]):
            c.sendall(b"HTTP/1.1 304 Not Modified\r\n" + extra + b"\r\n")
            return True
        body = f["body"]
        if f["chunked"]:
            c.sendall(b"HTTP/1.1 %d X\r\n" % f["status"] + extra +
                      b"Transfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(body), 100000):
                piece = body[i:i + 100000]
                self._send(c, b"%x\r\n" % len(piece) + piece + b"\r\n")
                if f["cut"] and i >= len(body) // 2:
                    return False
                time.sleep(f["pace"])
            c.sendall(b"0\r\n\r\n")
            return True
        c.sendall(b"HTTP/1.1 %d X\r\n" % f["status"] + extra +
                  b"Content-Length: %d\r\n\r\n" % len(body))
        if req.method != "HEAD":
            self._send(c, body[:len(body) // 2] if f["cut"] else body)
        return not f["cut"]

    def _answer(self, c, req):
        """Writes the answer; False ends the connection."""
        parts = req.path.split("/")
        head_only = req.method == "HEAD"

        if req.path in self.files:
            return self._file(c, req, self.files[req.path])

        def reply(status, body=b"", extra=b"", length=True):
            h = b"HTTP/1.1 %d X\r\n" % status + extra
            if length:
                h += b"Content-Length: %d\r\n" % len(body)
            c.sendall(h + b"\r\n")
            if not head_only:
                self._send(c, body)

        if self.handler is not None:
            answer = self.handler(req)
            if answer is not None:
                reply(*answer)
                return True
        if req.path.startswith("/size/"):
            reply(200, pattern(int(parts[2])))
        elif req.path.startswith("/chunked/"):
            data = pattern(int(parts[2]))
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(data), 100000):
                piece = data[i:i + 100000]
                self._send(c, b"%x\r\n" % len(piece) + piece + b"\r\n")
            c.sendall(b"0\r\n\r\n")
        elif req.path == "/headers":
            reply(200, json.dumps({"method": req.method, "version":
                                   req.version, "headers": req.headers})
                  .encode(), b"Content-Type: application/json\r\n")
        elif req.path in ("/echo", "/slowread"):
            reply(200, json.dumps({"len": len(req.body),
                                   "sha256": sha(req.body)}).encode())
        elif req.path.startswith("/status/"):
            reply(int(parts[2]))
        elif req.path == "/close":
            reply(200, b"bye", b"Connection: close\r\n")
            return False
        elif req.path == "/garbage":
            c.sendall(b"this is not http\r\n\r\n")
            return False
        elif req.path.startswith("/cut/"):
            n = int(parts[2])
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
            self._send(c, pattern(n)[:n // 2])
            return False
        elif req.path.startswith("/sleep/"):
            time.sleep(int(parts[2]) / 1000)
            reply(200, b"slept")
        else:
            reply(404)
        return True

    def close(self):
        self._stop = True
        self.sock.close()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return _hdr(self.headers, name)


def read_response(conn, head_request=False):
    """One response from a Conn (skipping 1xx)."""
    while True:
        first, headers = conn.head()
        status = int(first.split(b" ")[1])
        if status >= 200:
            break
    if head_request or status in (204, 304):
        body = b""
    elif _hdr(headers, "transfer-encoding") == "chunked":
        body = conn.chunked()
    elif _hdr(headers, "content-length") is not None:
        body = conn.exact(int(_hdr(headers, "content-length")))
    else:
        body = conn.rest()
    return Response(status, headers, body)


def device(port, timeout=20):
    """A connected device socket and its reader."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s, Conn(s)


def get(port, path, headers=b"", method=b"GET", timeout=20):
    """One request on a fresh connection; returns the Response."""
    s, conn = device(port, timeout)
    try:
        s.sendall(method + b" " + path.encode() + b" HTTP/1.1\r\n"
                  b"Host: device.example\r\n" + headers + b"\r\n")
        return read_response(conn, method == b"HEAD")
    finally:
        s.close()


def closed_after(conn, timeout=5):
    """True when the peer closes the connection (nothing more comes)."""
    conn.sock.settimeout(timeout)
    try:
        return conn.rest() == b""
    except OSError:
        return True
