#!/usr/bin/python3
"""Collectors measured (issue 18's figures), with the release build:

1. One edge polling 1,000 device HTTPS APIs every 60 s, each device's
   self-signed certificate learned and approved (trust = tofu, the
   default), every answer delivered to the tenant's backend through the
   tunnel: the edge's CPU (utime+stime from /proc over one whole round,
   as a share of one core) and its memory (VmRSS, against the same edge
   with no collector).
2. The time of one poll on loopback (TCP connect, TLS 1.3 handshake with
   the trust check, request and answer), as the edge measures it
   (isthmus_collection_seconds over that round), beside the same poll
   made by a Python client (ssl + one request) for scale.

The devices are one process serving a thousand listening sockets on
127.0.0.1, one self-signed P-256 certificate each. Run from the
repository:

    /usr/bin/python3 bench/collectbench.py --bin build/release/isthmus
"""
import argparse
import json
import os
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

DEVICE = r'''
import asyncio, json, resource, ssl, sys
n, certs, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 512, n + 512))
BODY = json.dumps({"t": 21.5, "rh": 40.1, "p": 1013.2}).encode()
RESP = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n" % len(BODY)) + BODY

async def handle(r, w):
    try:
        await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
        w.write(RESP)
        await w.drain()
    except Exception:
        pass
    w.close()

async def main():
    ports = []
    for i in range(n):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(f"{certs}/d{i}.crt", f"{certs}/d{i}.key")
        s = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx,
                                       backlog=128)
        ports.append(s.sockets[0].getsockname()[1])
    open(out, "w").write(json.dumps(ports))
    await asyncio.Event().wait()

asyncio.run(main())
'''


def cpu(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def make_certs(d, n):
    """n self-signed P-256 certificates with no host name, as devices
    have them; made with openssl, a few at a time."""
    d.mkdir()

    def one(i):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-days", "3650",
             "-subj", f"/CN=DMU801-J44{i:05d}", "-keyout", f"{d}/d{i}.key",
             "-out", f"{d}/d{i}.crt"], check=True, capture_output=True)
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(one, range(n)))


def client_poll(port):
    """One poll as a Python client makes it, seconds."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s) as t:
            t.sendall(b"GET /api HTTP/1.1\r\nHost: d\r\n"
                      b"Connection: close\r\n\r\n")
            while t.recv(4096):
                pass
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(REPO / "build/release/isthmus"))
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--interval", type=int, default=60, help="seconds")
    ap.add_argument("--out", default=str(REPO / "bench/results/collectors.md"))
    a = ap.parse_args()
    os.environ["ISTHMUS_BIN"] = str(Path(a.bin).resolve())
    sys.path.insert(0, str(REPO / "tests/system"))
    from isthmus_testlib import run       # noqa: E402
    from http_lib import HTTPBackend      # noqa: E402
    from tunnel_lib import Site, scrape, eventually  # noqa: E402

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    n, iv = a.devices, a.interval
    with tempfile.TemporaryDirectory(prefix="collectbench.") as tmp:
        tmp = Path(tmp)
        t0 = time.time()
        make_certs(tmp / "dev", n)
        print(f"{n} device certificates in {time.time() - t0:.0f} s",
              flush=True)
        ports_file = tmp / "ports.json"
        dev = subprocess.Popen([sys.executable, "-c", DEVICE, str(n),
                                str(tmp / "dev"), str(ports_file)])
        site = None
        try:
            eventually(ports_file.exists, timeout=120)
            ports = json.loads(ports_file.read_text())
            site = Site(tmp)
            be = HTTPBackend()
            be.handler = lambda req: (204, b"", b"")
            cconf = site.cloud_conf({"A/telemetry": ([be.addr],
                                                     "mode = http")})
            cloud = site.start("cloud", cconf)
            port = cloud.port("listen")

            # The same edge without collectors, for its memory.
            bare = site.start("edge", site.edge_conf(
                "agw", port, {"dev": "telemetry"},
                extra=f"state_dir = {tmp}/bare\nmetrics = 127.0.0.1:0\n"))
            bare.wait_log(r"event=tunnel_up")
            time.sleep(1)
            bare_rss = rss_kib(bare.proc.pid)
            bare.stop()
            site.daemons.remove(bare)

            extra = (f"state_dir = {tmp}/state\nmetrics = 127.0.0.1:0\n")
            econf = site.edge_conf("agw", port, {"dev": "telemetry"},
                                   extra=extra)
            text = econf.read_text()
            for i, p in enumerate(ports):
                text += (f"\n[collector d{i}]\n"
                         f"url = https://127.0.0.1:{p}/api\n"
                         f"service = telemetry\ninterval = {iv}s\n"
                         "timeout = 10s\n")
            econf.write_text(text)
            edge = site.start("edge", econf)
            edge.wait_log(r"event=tunnel_up")
            pid = edge.proc.pid

            def entries(pending):
                args = ["trust", "-c", econf, "list", "--json"]
                if pending:
                    args.insert(4, "--pending")
                return json.loads(run(*args, expect=0).stdout)["entries"]

            # Learning: one round, every device's certificate pending.
            t0 = time.time()
            if not eventually(lambda: len(entries(True)) >= n,
                              timeout=iv + 30):
                raise SystemExit(f"only {len(entries(True))} of {n} "
                                 "devices learned in a round")
            learn = time.time() - t0
            print(f"{n} devices learned in {learn:.0f} s", flush=True)

            # What a site does: list them once, approve the list.
            t0 = time.time()
            listed = run("trust", "-c", econf, "list", "--pending",
                         expect=0).stdout
            res = run("trust", "-c", econf, "approve", "--from", "-",
                      input=listed, expect=0)
            approve_s = time.time() - t0
            assert f"{n} approved, 0 refused" in res.stdout, res.stdout
            print(f"approved in {approve_s:.0f} s", flush=True)

            # Approval makes each collector poll at once: wait for that
            # burst to be delivered, then measure one whole round.
            if not eventually(lambda: len(be.requests) >= n, timeout=120):
                raise SystemExit(f"only {len(be.requests)} deliveries "
                                 "after approving every device")
            time.sleep(2)
            s0 = scrape(edge)
            c0, w0, d0 = cpu(pid), time.time(), len(be.requests)
            time.sleep(iv)
            s1 = scrape(edge)
            c1, w1, d1 = cpu(pid), time.time(), len(be.requests)
            rss = rss_kib(pid)

            def delta(name, **kw):
                k = (name, tuple(sorted(kw.items())))
                return s1.get(k, 0) - s0.get(k, 0)
            polls = delta("isthmus_collection_seconds_count")
            poll_ms = 1000 * delta("isthmus_collection_seconds_sum") / \
                max(polls, 1)
            ok = delta("isthmus_collections_total", outcome="ok")
            others = {o: delta("isthmus_collections_total", outcome=o)
                      for o in ("timeout", "connect", "undelivered",
                                "mismatch", "waiting")}
            py = sorted(client_poll(ports[i % n]) for i in range(200))
            py_ms = 1000 * py[len(py) // 2]
            cpu_pct = 100 * (c1 - c0) / (w1 - w0)
        finally:
            if site is not None:
                site.close()
            dev.kill()
            dev.wait()

    lines = [
        "# Collectors (issue 18)", "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} CPUs, release build; "
        f"`/usr/bin/python3 bench/collectbench.py --devices {n} "
        f"--interval {iv}`.", "",
        "| figure | value |", "|---|---|",
        f"| devices (collectors, trust = tofu) | {n} |",
        f"| interval | {iv} s |",
        f"| first round, all learned (pending) | {learn:.0f} s |",
        f"| `isthmus trust list --pending`, then `approve --from -` of "
        f"that list | "
        f"{approve_s:.2f} s |",
        f"| polls in the measured round | {polls:.0f} "
        f"(ok {ok:.0f}; {', '.join(f'{k} {v:.0f}' for k, v in others.items())}) |",
        f"| deliveries at the backend in that round | {d1 - d0} |",
        f"| edge CPU over the round | {c1 - c0:.2f} s in {w1 - w0:.0f} s "
        f"= {cpu_pct:.2f} % of one core |",
        f"| edge RSS with {n} collectors | {rss / 1024:.1f} MiB |",
        f"| edge RSS without collectors | {bare_rss / 1024:.1f} MiB |",
        f"| per collector | {(rss - bare_rss) / n:.1f} KiB |",
        f"| one poll, as the edge measures it (mean) | {poll_ms:.2f} ms |",
        f"| one poll, Python ssl client (median of 200) | {py_ms:.2f} ms |",
        "",
    ]
    Path(a.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
