"""A fake cloud for the edge's management channel: TLS 1.3 with the
site's cloud certificate, the edge's certificate required, ALPN
isthmus/1, HTTP/2 from Debian's python3-h2. It admits the edge (its
SETTINGS), records each management stream (its headers, the messages
the edge wrote, how it ended) and lets a test write raw bytes on the
newest one, which is how it sends instructions and bad lines. CONNECT
streams (a device's TCP stream) are answered 200 and echoed; a GET for
a service is answered from `files` (cacheable), else 404."""

import json
import select
import socket
import ssl
import threading
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings


class MStream:
    def __init__(self, sid, headers):
        self.sid = sid
        self.headers = headers
        self.buf = b""
        self.messages = []
        self.reset = None       # the edge's RST_STREAM code
        self.out = b""          # waiting for the window
        self.cancel = False     # the cloud resets it


class ManageCloud:
    def __init__(self, pki, status=200, files=None):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.ctx.load_cert_chain(str(pki / "cloudgw.crt"),
                                 str(pki / "cloudgw.key"))
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.ctx.load_verify_locations(str(pki / "ca.crt"))
        self.ctx.set_alpn_protocols(["isthmus/1"])
        self.status = status
        self.files = files or {}
        self.gets = []
        self.streams = []
        self.connects = 0
        self.rx = 0             # bytes the edges sent, in TLS
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def close(self):
        self._stop = True
        self.sock.close()

    # -- what a test does -------------------------------------------------

    def stream(self, n=1, timeout=15):
        """The nth management stream (1: the first), once it is open."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.streams) >= n:
                    return self.streams[n - 1]
            time.sleep(0.05)
        raise AssertionError(f"no management stream #{n}")

    def send(self, data, n=None):
        """Raw bytes on the newest management stream (or the nth)."""
        with self.lock:
            s = self.streams[-1] if n is None else self.streams[n - 1]
            s.out += data

    def reset(self):
        """The cloud resets the newest management stream (CANCEL)."""
        with self.lock:
            self.streams[-1].cancel = True

    def instruct(self, kind, args=(), id_=None, deadline=None, **extra):
        msg = {"v": 1, "type": "instruction",
               "id": id_ or f"{int(time.time() * 1e6) & 0xffffffff:08x}",
               "kind": kind, "args": list(args), "issuer": "alice",
               "issued": int(time.time()),
               "deadline": deadline or int(time.time()) + 60}
        msg.update(extra)
        self.send(json.dumps(msg).encode() + b"\n")
        return msg["id"]

    def result(self, id_, timeout=20):
        s = self.streams[-1]
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                for m in s.messages:
                    if m.get("type") == "result" and m.get("id") == id_:
                        return m
            time.sleep(0.05)
        raise AssertionError(f"no result for {id_}: {s.messages}")

    # -- the connection ----------------------------------------------------

    def _one(self, c):
        try:
            s = self.ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError):
            c.close()
            return
        with self.lock:
            self.connects += 1
        conn = self._new_conn(h2.config.H2Configuration(
            client_side=False, validate_inbound_headers=False,
            header_encoding="utf-8"))
        conn.initiate_connection()
        conn.update_settings({h2.settings.SettingCodes.MAX_FRAME_SIZE:
                              65536})
        mine = {}
        echo = set()
        try:
            s.sendall(conn.data_to_send())
            s.setblocking(False)
            while not self._stop:
                if not s.pending():
                    select.select([s], [], [], self._wait(conn))
                try:
                    data = s.recv(65536)
                    if not data:
                        return
                    with self.lock:
                        self.rx += len(data)
                except (ssl.SSLWantReadError, BlockingIOError):
                    data = b""
                if data:
                    for ev in conn.receive_data(data):
                        self._event(conn, ev, mine, echo)
                with self.lock:
                    for st in mine.values():
                        self._push(conn, st)
                out = conn.data_to_send()
                if out:
                    s.setblocking(True)
                    s.sendall(out)
                    s.setblocking(False)
                self._tick(conn, s)
        except (ssl.SSLError, OSError, h2.exceptions.ProtocolError):
            pass
        finally:
            s.close()

    # -- hooks for a cloud that does more (readycloud_lib) ----------------

    def _new_conn(self, config):
        return h2.connection.H2Connection(config)

    def _wait(self, conn):
        """How long the loop may sleep in select."""
        return 0.02

    def _tick(self, conn, s):
        """After each turn's frames went out."""

    def _other(self, conn, ev, h):
        """A request for another path than /manage: False if not
        taken (then it is a service's GET)."""
        return False

    def _other_event(self, conn, ev):
        """Data, end or reset of a stream that is not /manage or
        CONNECT: False if not taken."""
        return False

    def _push(self, conn, st):
        if st.cancel and st.reset is None:
            conn.reset_stream(st.sid, 8)
            st.reset = "by the cloud"
            return
        if st.reset is not None or not st.out:
            return
        try:
            room = min(conn.local_flow_control_window(st.sid),
                       conn.max_outbound_frame_size)
        except h2.exceptions.StreamClosedError:
            st.out = b""
            return
        while st.out and room > 0:
            chunk, st.out = st.out[:room], st.out[room:]
            conn.send_data(st.sid, chunk)
            room = min(conn.local_flow_control_window(st.sid),
                       conn.max_outbound_frame_size)

    def _event(self, conn, ev, mine, echo):
        if isinstance(ev, h2.events.RequestReceived):
            h = dict(ev.headers)
            if h.get(":method") == "CONNECT":
                echo.add(ev.stream_id)
                conn.send_headers(ev.stream_id, [(":status", "200")])
            elif h.get(":path") == "/manage":
                st = MStream(ev.stream_id, h)
                with self.lock:
                    self.streams.append(st)
                    mine[ev.stream_id] = st
                if self.status != 200:
                    conn.send_headers(ev.stream_id,
                                      [(":status", str(self.status))],
                                      end_stream=True)
                    return
                conn.send_headers(ev.stream_id, [
                    (":status", "200"),
                    ("content-type", "application/x-ndjson")])
            elif self._other(conn, ev, h):
                return
            else:
                self.gets.append(h.get(":path"))
                body = self.files.get(h.get(":path"))
                if body is None:
                    conn.send_headers(ev.stream_id, [
                        (":status", "404"), ("content-length", "0")],
                        end_stream=True)
                else:
                    conn.send_headers(ev.stream_id, [
                        (":status", "200"),
                        ("cache-control", "max-age=3600"),
                        ("content-length", str(len(body)))])
                    conn.send_data(ev.stream_id, body, end_stream=True)
        elif self._other_event(conn, ev):
            return
        elif isinstance(ev, h2.events.DataReceived):
            conn.acknowledge_received_data(ev.flow_controlled_length,
                                           ev.stream_id)
            if ev.stream_id in echo:
                conn.send_data(ev.stream_id, ev.data)
            elif ev.stream_id in mine:
                st = mine[ev.stream_id]
                with self.lock:
                    st.buf += ev.data
                    while b"\n" in st.buf:
                        line, st.buf = st.buf.split(b"\n", 1)
                        st.messages.append(json.loads(line))
        elif isinstance(ev, h2.events.StreamEnded):
            if ev.stream_id in echo:
                conn.end_stream(ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            if ev.stream_id in mine:
                with self.lock:
                    mine[ev.stream_id].reset = ev.error_code
