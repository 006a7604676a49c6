#!/usr/bin/python3
"""A relay that adds delay, for tests of what the edge measures.

This kernel has no netem, so the tests impose delay here: every TCP
connection to --tcp LISTEN is relayed to its UPSTREAM, and every UDP
datagram to --udp LISTEN to its UPSTREAM (answers relayed back to the
sender), each byte or datagram held --delay-ms (one way) in each
direction before it goes on. Loss is imposed with nftables and rate with
tbf, not here. It prints "ready" once listening, and ends on SIGTERM.

  delayrelay.py --delay-ms 50 --tcp 10.9.0.1:7443=127.0.0.1:7443 \
      --udp 10.9.0.1:7444=127.0.0.1:7444
"""
import argparse
import asyncio
import signal
import socket
import sys


def hostport(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def pair(s):
    a, _, b = s.partition("=")
    return hostport(a), hostport(b)


class Pipe:
    """One direction of a TCP connection: chunks leave delay after they
    came, in order, at the pace they came."""

    def __init__(self, reader, writer, delay):
        self.reader, self.writer, self.delay = reader, writer, delay

    async def run(self):
        loop = asyncio.get_running_loop()
        q = asyncio.Queue()

        async def later():
            while True:
                due, data = await q.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    if self.writer.can_write_eof():
                        self.writer.write_eof()
                    return
                self.writer.write(data)
                await self.writer.drain()

        task = asyncio.create_task(later())
        try:
            while True:
                data = await self.reader.read(65536)
                q.put_nowait((loop.time() + self.delay, data or None))
                if not data:
                    break
                # keep memory bounded: a slow side slows the reading
                while q.qsize() > 256:
                    await asyncio.sleep(0.001)
            await task
        except (ConnectionError, OSError):
            task.cancel()


async def tcp_relay(listen, upstream, delay):
    async def handle(r, w):
        try:
            ur, uw = await asyncio.open_connection(*upstream)
        except OSError:
            w.close()
            return
        for s in (w, uw):
            sock = s.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(Pipe(r, uw, delay).run(),
                             Pipe(ur, w, delay).run(),
                             return_exceptions=True)
        for s in (w, uw):
            s.close()

    return await asyncio.start_server(handle, *listen)


class UdpSide(asyncio.DatagramProtocol):
    def __init__(self, on_data):
        self.on_data = on_data
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.on_data(data, addr)


async def udp_relay(listen, upstream, delay):
    loop = asyncio.get_running_loop()
    clients = {}    # sender address -> its transport to the upstream

    def later(fn, *args):
        loop.call_later(delay, fn, *args)

    front = None

    def from_sender(data, addr):
        c = clients.get(addr)
        if c is None:
            c = clients[addr] = {"t": None, "pending": [data]}

            async def open_up():
                tr, _ = await loop.create_datagram_endpoint(
                    lambda: UdpSide(lambda d, _a: later(
                        front.transport.sendto, d, addr)),
                    remote_addr=upstream)
                c["t"] = tr
                for d in c["pending"]:
                    later(tr.sendto, d)
                c["pending"] = []
            asyncio.ensure_future(open_up())
        elif c["t"] is None:
            c["pending"].append(data)
        else:
            later(c["t"].sendto, data)

    _, front = await loop.create_datagram_endpoint(
        lambda: UdpSide(from_sender), local_addr=listen)
    return front


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay-ms", type=float, default=0)
    ap.add_argument("--tcp", type=pair, action="append", default=[])
    ap.add_argument("--udp", type=pair, action="append", default=[])
    a = ap.parse_args()
    delay = a.delay_ms / 1000
    for listen, up in a.tcp:
        await tcp_relay(listen, up, delay)
    for listen, up in a.udp:
        await udp_relay(listen, up, delay)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
