#!/usr/bin/python3
"""Slow senders against a store-and-forward listener: what they make the
edge hold (docs/queue.md, queue_max_memory), with the release build.

N devices each declare a 1 MiB body and send 960 KiB of it, 64 KiB at a
time every 0.2 s, and never finish: the edge reads a store-and-forward
body whole, so without a bound it would hold N MiB. The bench reports
the edge's resident memory before and at its peak while they send, and
how many were refused 503 before their body was read (queue_max_memory,
default 64 MiB). request_timeout is set long, so that the whole-request
deadline does not end them first (tests/system/test_queue.py covers it).

Run from the repository:

    /usr/bin/python3 bench/slowsenders.py --bin build/release/isthmus
"""
import argparse
import os
import platform
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--devices", type=int, default=300)
    ap.add_argument("--out", default=str(REPO / "bench/results/slow-senders.md"))
    a = ap.parse_args()
    os.environ["ISTHMUS_BIN"] = str(Path(a.bin).resolve())
    sys.path.insert(0, str(REPO / "tests/system"))
    from http_lib import HTTPBackend
    from tunnel_lib import Site, free_port

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    tmp = tempfile.mkdtemp(prefix="isthmus-slow-")
    site = Site(tmp)
    be = HTTPBackend()
    cport = free_port()
    conf = site.cloud_conf({"A/telemetry": ([be], "mode = http\n"
                                            "health = none\n")})
    conf.write_text(conf.read_text().replace(
        "listen = 127.0.0.1:0", f"listen = 127.0.0.1:{cport}"))
    site.start("cloud", conf)
    econf = site.edge_conf("agw", cport, {"meters": (
        "telemetry", "mode = http\nstore_forward = on\n"
        "request_timeout = 60s\n")}, extra=f"state_dir = {tmp}/state\n")
    edge = site.start("edge", econf)
    edge.wait_log(r"event=queue_open")
    port = edge.port("listener.meters")
    before = rss_mib(edge.proc.pid)
    socks = []
    for i in range(a.devices):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /s/%d HTTP/1.1\r\nHost: m\r\n"
                  b"Content-Length: 1048576\r\n\r\n" % i)
        socks.append(s)
    chunk = b"x" * 65536
    peak = before
    for _ in range(15):             # 960 KiB of each 1 MiB body
        for s in socks:
            try:
                s.sendall(chunk)
            except OSError:
                pass                # refused and closed
        time.sleep(0.2)
        peak = max(peak, rss_mib(edge.proc.pid))
    refused = 0
    for s in socks:
        s.setblocking(False)
        try:
            if b" 503 " in s.recv(200)[:16]:
                refused += 1
        except OSError:
            pass
        s.close()
    site.close()
    be.close()
    text = f"""# Slow senders and store and forward

Measured by `bench/slowsenders.py` on {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}; release build; `queue_max_memory` at its default (64 MiB), `request_timeout = 60s` so no deadline ends a sender during the run.

{a.devices} devices each declare a 1 MiB store-and-forward body and send 960 KiB of it (64 KiB every 0.2 s), never finishing.

| | |
|---|---:|
| edge resident memory before | {before:.0f} MiB |
| edge resident memory at its peak while they send | {peak:.0f} MiB |
| devices refused 503 before their body was read (`queue_max_memory`) | {refused} of {a.devices} |

Without the bound the edge held every body: {a.devices} devices, about {a.devices} MiB (300 MiB measured for 300 before `queue_max_memory` existed).
"""
    Path(a.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
