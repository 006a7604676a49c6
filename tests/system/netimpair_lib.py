"""A site's link with the conditions a test imposes (readiness tests).

The edge runs in a network namespace of its own, joined to this one by a
veth pair (site side SITE_IP, cloud side HOST_IP). Between them:
  - delay: delayrelay.py on HOST_IP, relaying TCP and UDP to the cloud on
    127.0.0.1 after holding each byte and datagram (this kernel has no
    netem);
  - loss: an nftables rule in the site's namespace dropping a random
    share of the UDP datagrams it sends;
  - rate: tbf on both ends of the veth pair;
  - UDP blocked: an nftables rule dropping every UDP datagram it sends;
  - counters: nftables counts every byte the site sends and receives.
Everything is undone by close().
"""
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def sh(*cmd, check=True):
    return subprocess.run(list(cmd), check=check, capture_output=True,
                          text=True)


class Link:
    def __init__(self):
        if os.geteuid() != 0:
            pytest.skip("needs root for a network namespace")
        tag = uuid.uuid4().hex[:6]
        self.ns = f"isthmus-site-{tag}"
        self.host_if, self.site_if = f"irh{tag}", f"irs{tag}"
        b = random.randrange(0, 64) * 4
        a = random.randrange(100, 250)
        self.HOST_IP, self.SITE_IP = f"10.{a}.{b}.1", f"10.{a}.{b}.2"
        self.relays = []
        sh("ip", "netns", "add", self.ns)
        try:
            sh("ip", "link", "add", self.host_if, "type", "veth", "peer",
               "name", self.site_if)
            sh("ip", "link", "set", self.site_if, "netns", self.ns)
            sh("ip", "addr", "add", f"{self.HOST_IP}/30", "dev", self.host_if)
            sh("ip", "link", "set", self.host_if, "up")
            self.in_ns("ip", "addr", "add", f"{self.SITE_IP}/30", "dev",
                       self.site_if)
            self.in_ns("ip", "link", "set", self.site_if, "up")
            self.in_ns("ip", "link", "set", "lo", "up")
            self.in_ns("ip", "route", "add", "default", "via", self.HOST_IP)
            # the counters, and the chain loss and blocks go in
            self.in_ns("nft", "add table inet site; "
                       "add chain inet site out { type filter hook output "
                       "priority 0; }; "
                       "add chain inet site in { type filter hook input "
                       "priority 0; }; "
                       f"add rule inet site out oifname {self.site_if} "
                       "counter; "
                       f"add rule inet site in iifname {self.site_if} "
                       "counter")
        except Exception:
            self.close()
            raise

    def in_ns(self, *cmd):
        return sh("ip", "netns", "exec", self.ns, *cmd)

    def relay(self, delay_ms, tcp=(), udp=()):
        """delayrelay.py on HOST_IP: each (port, upstream port) pair
        relays HOST_IP:port to 127.0.0.1:upstream."""
        args = [sys.executable if sys.executable else "/usr/bin/python3",
                str(HERE / "delayrelay.py"), "--delay-ms", str(delay_ms)]
        for port, up in tcp:
            args += ["--tcp", f"{self.HOST_IP}:{port}=127.0.0.1:{up}"]
        for port, up in udp:
            args += ["--udp", f"{self.HOST_IP}:{port}=127.0.0.1:{up}"]
        p = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        if line.strip() != "ready":
            p.kill()
            p.wait()
            raise RuntimeError("the delay relay did not start")
        self.relays.append(p)
        return p

    def _host_ingress(self, rule):
        """A rule on what arrives from the site at the cloud's end of the
        link (a netdev table of that device: it goes with the device).
        Dropping there, the sender sees nothing, as with a lossy link;
        dropping in the site's output hook would fail its sendto()."""
        t = f"site{self.host_if}"
        if not getattr(self, "_ingress", False):
            sh("nft", f"add table netdev {t}; add chain netdev {t} in "
               f"{{ type filter hook ingress device {self.host_if} "
               "priority 0; }")
            self._ingress = True
        sh("nft", f"add rule netdev {t} in {rule}")

    def udp_loss(self, pct, port):
        """Drop pct % of the UDP datagrams the site sends to port, at
        random."""
        self._host_ingress(f"udp dport {port} numgen random mod 1000 < "
                           f"{int(pct * 10)} drop")

    def block_udp(self, port):
        self._host_ingress(f"udp dport {port} drop")

    def rate(self, mbit):
        """tbf both ways: mbit Mbit/s, with a queue of 100 ms."""
        burst = max(16000, int(mbit * 1e6 / 8 / 250))
        for dev, ns in ((self.host_if, None), (self.site_if, self.ns)):
            cmd = ["tc", "qdisc", "replace", "dev", dev, "root", "tbf",
                   "rate", f"{mbit}mbit", "burst", str(burst), "latency",
                   "100ms"]
            if ns:
                self.in_ns(*cmd)
            else:
                sh(*cmd)

    def bytes(self):
        """Bytes the site sent and received through the link so far."""
        out = self.in_ns("nft", "list table inet site").stdout
        sent = recv = 0
        for line in out.splitlines():
            if "counter" in line and "bytes" in line:
                n = int(line.split("bytes")[1].split()[0])
                if "oifname" in line:
                    sent = n
                elif "iifname" in line:
                    recv = n
        return sent, recv

    def close(self):
        for p in self.relays:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.relays = []
        if getattr(self, "_ingress", False):
            sh("nft", f"delete table netdev site{self.host_if}", check=False)
        sh("ip", "link", "del", self.host_if, check=False)
        sh("ip", "netns", "del", self.ns, check=False)


@pytest.fixture
def link():
    ln = Link()
    try:
        yield ln
    finally:
        ln.close()


def wait_for(cond, timeout=30, step=0.2):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()
