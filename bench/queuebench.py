#!/usr/bin/python3
"""Store and forward measured (issue 19's figures), with the release
build, on this machine:

1. Straight through: 50 devices (wrk, 50 keep-alive connections) POST
   1 KB readings through an edge and a cloud to nginx, with
   store_forward = off, then = on (a healthy path: each request read
   whole and sent with its Idempotency-Key): requests per second, median
   and p99 of the answer.
2. Durable acceptance: the same devices with store_forward = always and
   the cloud stopped, so every reading is written to the queue and
   fsynced before its 202: readings accepted per second, median and p99
   of the 202, and the disk bytes per queued reading (the queue's file
   and write-ahead log, and the SQLite pages in use).
3. Replay: the cloud started; the time until the queue is empty, as
   readings replayed per second (replay_order = service: one at a time
   per service, in order).

Run from the repository:

    /usr/bin/python3 bench/queuebench.py --bin build/release/isthmus
"""
import argparse
import json
import platform
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench as B  # noqa: E402

BODY = json.dumps({"meter": "m-0001", "v": "x" * 990})[:1024]
LUA = """wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
""" % BODY.ljust(1024, " ")



def edge_conf(b, mid, front, state, sf):
    return B.EDGE_CONF.format(
        port=mid, front=front, pki=b.pki, pin=b.spki("cloudgw"), mode="http",
        extra=f"state_dir = {state}\nqueue_max_size = 4g\n"
              "reconnect_min = 50ms\nreconnect_max = 200ms\n",
        listener_extra=f"store_forward = {sf}\n")


def status(b, sock):
    out = subprocess.run([str(b.bin), "status", "--socket", str(sock),
                          "--json"], capture_output=True, text=True).stdout
    return json.loads(out) if out else None


def depth(st):
    q = (st or {}).get("queue") or {}
    return q["waiting"] if q.get("up") else None


def wrk(b, port, seconds):
    script = b.tmp / "post.lua"
    script.write_text(LUA)
    cmd = ["wrk", "-t2", "-c50", f"-d{seconds}s", "--latency", "-s",
           str(script), f"http://127.0.0.1:{port}/reading"]
    b.commands["wrk"] = " ".join(cmd)
    out = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    rps, total, p50, p99, non2xx, errs = B.parse_wrk(out)
    if non2xx or errs:
        raise RuntimeError(f"wrk: {non2xx} non-2xx answers, {errs} socket "
                           f"errors:\n{out}")
    return rps, total, p50, p99


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(HERE.parent / "build/release/isthmus"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--out", default=str(HERE / "results/queue.md"))
    a = ap.parse_args()
    a.workers = 1
    b = B.Bench(a)
    b.make_pki()
    backend = b.backends("http")
    mid = B.free_port()
    cloud_conf = b.tmp / "cloud.conf"
    cloud_conf.write_text(B.CLOUD_CONF.format(
        port=mid, pki=b.pki, sock="cloud.sock", pin=b.spki("site1"),
        backend=backend, workers=1, mode="http"))
    rows = []
    try:
        cloud = b.start("isthmus-cloud", [b.bin, "cloud", "-c", cloud_conf,
                                          "-q"], mid)
        for sf in ("off", "on"):
            front = B.free_port()
            conf = b.tmp / f"edge-{sf}.conf"
            conf.write_text(edge_conf(b, mid, front, b.tmp / f"state-{sf}",
                                      sf))
            e = b.start(f"isthmus-edge-{sf}", [b.bin, "edge", "-c", conf,
                                                "-q"], front)
            b.wait_tunnel(b.tmp / "edge.sock")
            rps, total, p50, p99 = wrk(b, front, a.seconds)
            rows.append((f"straight through, store_forward = {sf}", rps,
                         p50, p99))
            e.stop()
            b.procs.remove(e)

        # Durable acceptance: the cloud away, every reading queued.
        cloud.stop()
        b.procs.remove(cloud)
        front = B.free_port()
        state = b.tmp / "state-always"
        conf = b.tmp / "edge-always.conf"
        conf.write_text(edge_conf(b, mid, front, state, "always"))
        e = b.start("isthmus-edge-always", [b.bin, "edge", "-c", conf,
                                             "-q"], front)
        rps, total, p50, p99 = wrk(b, front, a.seconds)
        rows.append(("queued (store_forward = always, cloud away): 202 "
                     "after fsync", rps, p50, p99))
        st = status(b, b.tmp / "edge.sock")
        queued = depth(st)
        files = sum(p.stat().st_size for p in state.glob("queue.db*"))
        con = sqlite3.connect(f"file:{state}/queue.db?mode=ro", uri=True)
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        free = con.execute("PRAGMA freelist_count").fetchone()[0]
        psize = con.execute("PRAGMA page_size").fetchone()[0]
        con.close()
        used = (pages - free) * psize

        # Replay: the cloud back, the time until the queue is empty.
        cloud = b.start("isthmus-cloud", [b.bin, "cloud", "-c", cloud_conf,
                                          "-q"], mid)
        b.wait_tunnel(b.tmp / "edge.sock", timeout=30)
        t0 = time.time()
        while depth(status(b, b.tmp / "edge.sock")) not in (0, None):
            if time.time() - t0 > 600:
                raise RuntimeError("the queue did not drain in 10 min")
            time.sleep(0.05)
        drain = time.time() - t0
    finally:
        b.stop_all()

    lines = [
        "# Store and forward",
        "",
        f"Measured by `bench/queuebench.py` on {time.strftime('%Y-%m-%d')},"
        f" {platform.machine()}, {B.os.cpu_count()} cores, Linux "
        f"{platform.release()}; release build; nginx as the backend; "
        f"wrk: `{b.commands['wrk']}` (1 KB JSON bodies, 50 devices).",
        "",
        "| Path | Requests/s | Median ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    for name, rps, p50, p99 in rows:
        lines.append(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} |")
    base = rows[0][1]
    lines += [
        "",
        f"Queued acceptance is {rows[2][1] / base:.2f}x straight through "
        f"(store_forward = off); store_forward = on on a healthy path is "
        f"{rows[1][1] / base:.2f}x.",
        "",
        f"- Readings in the queue after the run: {queued:,}",
        f"- Disk: {files / queued:,.0f} bytes per queued reading in "
        f"queue.db and its write-ahead log, {used / queued:,.0f} bytes of "
        f"SQLite pages in use (1,024-byte body, the fields and the record's "
        f"checksum).",
        f"- Replay: {queued:,} readings in {drain:.1f} s, "
        f"{queued / drain:,.0f} readings/s (replay_order = service: one "
        f"at a time, in order).",
        "",
    ]
    Path(a.out).write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"written to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
