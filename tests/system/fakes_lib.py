"""Stand-ins for what sits between an edge and its cloud at a customer
site: a real tinyproxy, a real sslsplit, a TLS server with any certificate
(optionally an intercepting proxy), and a TLS relay that can drop HTTP/2
frames."""

import socket
import ssl
import subprocess
import threading
import time

from tunnel_lib import free_port


class Tinyproxy:
    """tinyproxy in the foreground on 127.0.0.1, its log in tmp."""

    def __init__(self, tmp, auth=None, connect_ports=(), name="tinyproxy"):
        self.port = free_port()
        self.log_path = tmp / f"{name}.log"
        conf = tmp / f"{name}.conf"
        lines = [f"Port {self.port}", "Listen 127.0.0.1", "Timeout 30",
                 "Allow 127.0.0.1", "LogLevel Info", "MaxClients 50",
                 f"LogFile \"{self.log_path}\""]
        if auth:
            lines.append("BasicAuth %s %s" % auth)
        lines += [f"ConnectPort {p}" for p in connect_ports]
        conf.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(["tinyproxy", "-d", "-c", str(conf)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("tinyproxy did not start")

    def text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)



class SSLsplit:
    """A real sslsplit in the foreground on 127.0.0.1, splitting TLS to
    127.0.0.1:upstream with certificates it forges from ca_dir (an
    `isthmus pki init` CA). Like the inspection boxes it stands for, it
    cannot take a ClientHello that offers X25519 only (its server side
    does prime256v1), and answers it with a handshake_failure alert."""

    def __init__(self, tmp, ca_dir, upstream, name="sslsplit"):
        self.port = free_port()
        self.log_path = tmp / f"{name}.log"
        self.conn_log = tmp / f"{name}-conn.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["sslsplit", "-D", "-k", str(ca_dir / "ca.key"),
             "-c", str(ca_dir / "ca.crt"), "-l", str(self.conn_log),
             "ssl", "127.0.0.1", str(self.port),
             "127.0.0.1", str(upstream)],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            if b"Starting main event loop" in self.log_path.read_bytes():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("sslsplit did not start: "
                             + self.log_path.read_text(errors="replace"))

    def presented(self):
        """The certificate it shows a client that offers what it can do
        (DER): one it forged, the same for every client (it caches)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.port), 5) as c:
            with ctx.wrap_socket(c, server_hostname="localhost") as s:
                return s.getpeercert(True)

    def text(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self._log.close()


class _Server:
    """A TCP server on 127.0.0.1 that runs self._one(conn) in a thread per
    connection."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
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


class FakeCloud(_Server):
    """A TLS server on 127.0.0.1 with the given certificate; optionally an
    intercepting proxy (it takes CONNECT, answers 200, then terminates
    TLS itself). It asks for a client certificate and records what it
    got. hold: after the handshake it reads and never answers, until the
    peer leaves (a cloud that has not admitted the edge yet). curve: the
    only key exchange group it takes (as sslsplit's "prime256v1")."""

    def __init__(self, crt, key, client_ca, proxy=False,
                 alpn=("isthmus/1", "h2"), hold=False, curve=None):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(crt, key)
        if curve:
            self.ctx.set_ecdh_curve(curve)
        self.ctx.verify_mode = ssl.CERT_OPTIONAL
        self.ctx.load_verify_locations(client_ca)
        if alpn:
            self.ctx.set_alpn_protocols(list(alpn))
        self.proxy = proxy
        self.hold = hold
        self.handshakes = []        # (client cert or None, error or None)
        self.connects = []
        self.bytes_after = 0
        _Server.__init__(self)

    def _one(self, c):
        c.settimeout(5)
        try:
            if self.proxy:
                head = b""
                while b"\r\n\r\n" not in head:
                    d = c.recv(4096)
                    if not d:
                        return
                    head += d
                self.connects.append(head.split(b"\r\n")[0].decode())
                c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            try:
                s = self.ctx.wrap_socket(c, server_side=True)
            except (ssl.SSLError, OSError) as e:
                self.handshakes.append((None, str(e)))
                return
            self.handshakes.append((s.getpeercert(True), None))
            if self.hold:
                s.settimeout(30)
            try:
                while True:
                    d = s.recv(65536)
                    self.bytes_after += len(d)
                    if not d or not self.hold:
                        break
            except (ssl.SSLError, OSError):
                pass
        finally:
            c.close()



class H2Relay(_Server):
    """A TLS relay between an edge and the real cloud that holds both
    sides' keys: it shows the edge the cloud's certificate (so the pin
    matches) and the cloud the edge's (so it is admitted), and passes the
    HTTP/2 frames through, except the cloud's frames for which
    drop(type, flags) is true. It stands for a cloud that admits the
    edge and then stops answering part of the protocol."""

    def __init__(self, cloud_port, cloud_crt, cloud_key, edge_crt, edge_key,
                 ca, drop):
        self.srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.srv.load_cert_chain(cloud_crt, cloud_key)
        self.srv.verify_mode = ssl.CERT_OPTIONAL
        self.srv.load_verify_locations(ca)
        self.srv.set_alpn_protocols(["isthmus/1"])
        self.cli = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.cli.load_cert_chain(edge_crt, edge_key)
        self.cli.check_hostname = False
        self.cli.verify_mode = ssl.CERT_NONE
        self.cli.set_alpn_protocols(["isthmus/1"])
        self.cloud_port = cloud_port
        self.drop = drop
        self.dropped = []
        _Server.__init__(self)

    def _one(self, c):
        try:
            a = self.srv.wrap_socket(c, server_side=True)
            b = self.cli.wrap_socket(socket.create_connection(
                ("127.0.0.1", self.cloud_port), 5))
        except (ssl.SSLError, OSError):
            c.close()
            return
        a.settimeout(0.02)
        b.settimeout(0.02)
        pending = b""
        deadline = time.time() + 60
        try:
            while not self._stop and time.time() < deadline:
                for src, dst in ((a, b), (b, a)):
                    try:
                        data = src.recv(65536)
                    except (socket.timeout, ssl.SSLWantReadError):
                        continue
                    if not data:
                        return
                    if src is a:
                        dst.sendall(data)
                        continue
                    pending += data
                    while len(pending) >= 9:
                        n = int.from_bytes(pending[:3], "big") + 9
                        if len(pending) < n:
                            break
                        frame, pending = pending[:n], pending[n:]
                        if self.drop(frame[3], frame[4]):
                            self.dropped.append(frame[3])
                        else:
                            dst.sendall(frame)
        except (ssl.SSLError, OSError):
            pass
        finally:
            a.close()
            b.close()



class FakeDNS:
    """A DNS server on UDP addr:53. names maps a name to an address or a
    list of them, answered in that order: IPv4 ones as A records, IPv6 ones
    as AAAA. Any other name gets NXDOMAIN."""

    def __init__(self, names, addr="127.0.0.54"):
        self.names = names
        self.asked = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, 53))
        self.sock.settimeout(0.1)
        self.addr = addr
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _records(self, name, qtype):
        """None for an unknown name, else the answer records for qtype."""
        for k, v in self.names.items():
            if k.lower().rstrip(".") == name:
                break
        else:
            return None
        out = []
        for ip in [v] if isinstance(v, str) else v:
            if ":" in ip and qtype == 28:
                out.append(b"\xc0\x0c\x00\x1c\x00\x01\x00\x00\x00\x3c\x00\x10"
                           + socket.inet_pton(socket.AF_INET6, ip))
            elif ":" not in ip and qtype == 1:
                out.append(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04"
                           + socket.inet_aton(ip))
        return out

    def _serve(self):
        while not self._stop:
            try:
                q, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            i, labels = 12, []
            while i < len(q) and q[i] != 0:
                labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace"))
                i += 1 + q[i]
            qtype = int.from_bytes(q[i + 1:i + 3], "big")
            question = q[12:i + 5]
            name = ".".join(labels).lower()
            self.asked.append((name, qtype))
            answers = self._records(name, qtype)
            rcode = 3 if answers is None else 0
            answers = answers or []
            head = (q[:2] + bytes([0x81, 0x80 | rcode]) + b"\x00\x01"
                    + len(answers).to_bytes(2, "big")
                    + b"\x00\x00\x00\x00")
            self.sock.sendto(head + question + b"".join(answers), peer)

    def close(self):
        # The port is free once the thread left recvfrom.
        self._stop = True
        self.thread.join(5)
        self.sock.close()
