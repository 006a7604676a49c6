"""A hand-driven edge: TLS 1.3 with an edge certificate, ALPN isthmus/1 and
HTTP/2 frames from Debian's python3-h2, so a test can do to the cloud what
the real edge never does (open and reset thousands of streams, send bytes
before the answer, read the SETTINGS the cloud advertises)."""

import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events


class H2Edge:
    def __init__(self, port, crt, key, ca, host="127.0.0.1", timeout=10):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_cert_chain(str(crt), str(key))
        ctx.load_verify_locations(str(ca))
        ctx.check_hostname = False
        ctx.set_alpn_protocols(["isthmus/1"])
        raw = socket.create_connection((host, port), timeout=timeout)
        self.sock = ctx.wrap_socket(raw)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True,
                                      validate_outbound_headers=False,
                                      header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.flush()
        self.remote_settings = {}
        self.events = []
        self.closed = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self, timeout=0.2):
        """Reads what arrives within timeout; returns the new events."""
        self.sock.settimeout(timeout)
        new = []
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    self.closed = True
                    break
                evs = self.conn.receive_data(data)
                for ev in evs:
                    if isinstance(ev, h2.events.RemoteSettingsChanged):
                        for k, v in ev.changed_settings.items():
                            self.remote_settings[k] = v.new_value
                    if isinstance(ev, h2.events.DataReceived):
                        self.conn.acknowledge_received_data(
                            ev.flow_controlled_length, ev.stream_id)
                new += evs
                self.flush()
                self.sock.settimeout(0.02)
        except (socket.timeout, ssl.SSLWantReadError):
            pass
        except (ConnectionError, ssl.SSLError, OSError):
            self.closed = True
        self.events += new
        return new

    def wait(self, cond, timeout=10):
        """Pumps until cond(events so far) is true."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.pump()
            if cond(self.events):
                return True
            if self.closed:
                break
        return cond(self.events)

    def connect(self, service, device="127.0.0.1:40000", end=False):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", "CONNECT"),
                                     (":authority", service),
                                     ("isthmus-device", device)],
                               end_stream=end)
        return sid

    def send(self, sid, data, end=False):
        self.conn.send_data(sid, data, end_stream=end)

    def reset(self, sid):
        self.conn.reset_stream(sid)

    def status(self, sid):
        for ev in self.events:
            if isinstance(ev, h2.events.ResponseReceived) and \
                    ev.stream_id == sid:
                return int(dict(ev.headers)[":status"])
        return None

    def resets(self):
        return {ev.stream_id: ev.error_code for ev in self.events
                if isinstance(ev, h2.events.StreamReset)}

    def data(self, sid):
        return b"".join(ev.data for ev in self.events
                        if isinstance(ev, h2.events.DataReceived)
                        and ev.stream_id == sid)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


MANAGE_HEADERS = [(":method", "POST"), (":scheme", "https"),
                  (":authority", ".isthmus"), (":path", "/manage"),
                  ("content-type", "application/x-ndjson")]


def open_manage(e, headers=None):
    """Opens a management stream (docs/protocol.md section 5) on H2Edge e
    and returns its stream id."""
    sid = e.conn.get_next_available_stream_id()
    e.conn.send_headers(sid, headers or MANAGE_HEADERS)
    e.flush()
    return sid


def manage_lines(e, sid, schedule=False):
    """The complete lines the cloud wrote on stream sid, parsed; the
    schedule messages (docs/protocol.md section 6) only when asked."""
    import json
    body = e.data(sid)
    lines = [json.loads(x) for x in body.split(b"\n")[:-1]]
    return [x for x in lines if schedule or x.get("type") != "schedule"]
