#!/usr/bin/python3
"""Readiness tests measured (issue 17's figures), with the release build:

1. What one test of the built-in `default` profile costs: CPU seconds of
   the edge and of the cloud (from /proc, before and after), and the bytes
   the site's link carried (nftables counters), against the plan.
2. What the edge measures against what a link imposes: delay (a relay,
   each way half the round trip), random UDP loss (nftables) and rate
   (tbf), one row per condition, the `lab` profile below.

Needs root (a network namespace). Run from the repository:

    /usr/bin/python3 bench/readiness.py --bin build/release/isthmus
"""
import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAB = """
[readiness lab]
path = on
pings = 50
ping_interval = 40ms
down = 4M
up = 4M
udp = on
udp_rate = 100
udp_duration = 10s
budget = 12M
"""

CONDITIONS = [  # (delay round trip ms, UDP loss %, rate Mbit/s; 0: none)
    (0, 0, 0), (20, 0, 0), (100, 0, 0), (200, 0, 0),
    (0, 1, 0), (0, 5, 0), (0, 10, 0),
    (0, 0, 10), (0, 0, 50),
    (100, 5, 20),
]


def cpu(pid):
    """utime + stime of pid, seconds."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(REPO / "build/release/isthmus"))
    a = ap.parse_args()
    os.environ["ISTHMUS_BIN"] = str(Path(a.bin).resolve())
    sys.path.insert(0, str(REPO / "tests/system"))
    from isthmus_testlib import run       # noqa: E402
    from netimpair_lib import Link        # noqa: E402
    from tunnel_lib import Site           # noqa: E402

    def manage(conf, *args):
        res = run("manage", "-c", conf, "--json", *args, expect=0)
        return json.loads(res.stdout)

    def setup(tmp, link, extra=""):
        site = Site(tmp)
        conf = site.cloud_conf({"A/t": (["127.0.0.1:9"], "health = none")},
                               extra="state = state.db\n"
                               "readiness_udp = 127.0.0.1:0\n")
        conf.write_text(conf.read_text() + LAB + extra)
        cloud = site.start("cloud", conf)
        port, uport = cloud.port("listen"), cloud.port("readiness_udp")
        return site, conf, cloud, port, uport

    def edge_in(site, link, port):
        econf = site.edge_conf("agw", port, {"t": "t"},
                               extra="manage = readiness\n")
        econf.write_text(econf.read_text().replace(
            f"cloud = 127.0.0.1:{port}", f"cloud = cloud.bench:{port}"))
        hosts = site.tmp / "hosts"
        hosts.write_text(f"{link.HOST_IP} cloud.bench\n")
        edge = site.start("edge", econf, netns=link.ns, hosts=hosts)
        edge.wait_log(r"event=tunnel_up")
        return edge

    print("## One test of the default profile\n")
    with tempfile.TemporaryDirectory() as tmp:
        link = Link()
        try:
            site, conf, cloud, port, uport = setup(tmp, link)
            link.relay(0, tcp=[(port, port)], udp=[(uport, uport)])
            edge = edge_in(site, link, port)
            cloud.wait_log(r"event=manage_hello edge=agw")
            time.sleep(1)
            c0, e0, b0 = cpu(cloud.proc.pid), cpu(edge.proc.pid), \
                link.bytes()
            r = manage(conf, "agw", "readiness", "--wait", "300s")
            c1, e1, b1 = cpu(cloud.proc.pid), cpu(edge.proc.pid), \
                link.bytes()
            res = r["result"]
            moved = (b1[0] - b0[0]) + (b1[1] - b0[1])
            print("| | value |\n|---|---|")
            print(f"| profile | {res['profile']} ({res['seconds']:.1f} s) |")
            print(f"| edge CPU | {e1 - e0:.3f} s |")
            print(f"| cloud CPU | {c1 - c0:.3f} s |")
            print(f"| bytes on the link (both ways) | {moved:,} |")
            print(f"| plan / budget | {res['plan']:,} / {res['budget']:,} |")
            print(f"| verdict | {res['verdict']} |\n")
            site.close()
        finally:
            link.close()

    print("## Measured against imposed (profile lab: 50 PINGs, "
          "1,000 UDP probes, 4 MiB each way)\n")
    print("| imposed RTT ms | imposed UDP loss % | imposed rate Mbit/s "
          "| PING RTT median ms | UDP RTT median ms | UDP loss % "
          "| jitter ms | down Mbit/s | up Mbit/s | MOS |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for delay, loss, rate in CONDITIONS:
        with tempfile.TemporaryDirectory() as tmp:
            link = Link()
            try:
                site, conf, cloud, port, uport = setup(tmp, link)
                link.relay(delay / 2, tcp=[(port, port)],
                           udp=[(uport, uport)])
                if loss:
                    link.udp_loss(loss, uport)
                if rate:
                    link.rate(rate)
                edge_in(site, link, port)
                cloud.wait_log(r"event=manage_hello edge=agw")
                r = manage(conf, "agw", "readiness", "lab", "--wait",
                           "300s")
                m = r["result"]["measures"]
                u = m.get("udp", {})
                print(f"| {delay} | {loss} | {rate or '-'} "
                      f"| {m['rtt'].get('median_ms', 0):.1f} "
                      f"| {u.get('median_ms', 0):.1f} "
                      f"| {u.get('loss_pct', 0):.1f} "
                      f"| {u.get('jitter_ms', 0):.2f} "
                      f"| {m['down'].get('mbps', 0):.1f} "
                      f"| {m['up'].get('mbps', 0):.1f} "
                      f"| {m['voice'].get('mos', 0):.2f} |", flush=True)
                site.close()
            finally:
                link.close()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"\n(children's CPU for the whole run: "
          f"{ru.ru_utime + ru.ru_stime:.1f} s)")


if __name__ == "__main__":
    main()
