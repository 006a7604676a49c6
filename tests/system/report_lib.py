"""Readiness reports made up for the renderers (`isthmus readiness
--input`), shaped as docs/readiness.md's JSON report and its "Results":
sites on DSL and fibre, a firewall that blocks UDP, a throughput stream
cut short, a proxy, skipped measures, late results.

The figures keep the series of one plot apart on purpose (the 95th
percentile well above the median, the UDP jitter above the PINGs', down
above up): the tests count each series' markers in the images, and a
marker hidden under another's could not be counted.

Also used by bench/reportbench.py for the 1,000-test figure.
"""

import datetime
import random
import statistics

# docs/readiness.md, "Profiles": the built-in thresholds (warn, fail)
DELAY = (150, 400)
JITTER = (30, 50)
LOSS = (1, 3)
DOWN = (10, 2)
UP = (5, 1)
MOS = (4.0, 3.6)
ORDER = ["pass", "warn", "fail"]


def worse(v, warn, fail, lower_worse=False):
    if lower_worse:
        return "fail" if v < fail else "warn" if v < warn else "pass"
    return "fail" if v > fail else "warn" if v > warn else "pass"


def worst(verdicts):
    vs = [v for v in verdicts if v != "skipped"]
    return max(vs, key=ORDER.index) if vs else "skipped"


def iso(t):
    return datetime.datetime.fromtimestamp(
        t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3550(transits):
    j = 0.0
    for a, b in zip(transits, transits[1:]):
        j += (abs(b - a) - j) / 16
    return j


def mos_of(rtt_ms, jitter_ms, loss_pct):
    ta = rtt_ms / 2 + 2 * jitter_ms + 20
    i_d = 0.024 * ta + (0.11 * (ta - 177.3) if ta > 177.3 else 0)
    ie = 95 * loss_pct / (loss_pct + 25.1)
    r = 93.2 - i_d - ie
    mos = 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r) if 0 < r < 100 \
        else (1.0 if r <= 0 else 4.5)
    return round(r, 1), round(mos, 2)


def samples(rng, base, spread, n, lost=0):
    """n round trips around base ms (a long tail above), lost ones out."""
    out = [round(base + abs(rng.gauss(0, spread)) + rng.random() * spread,
                 2) for _ in range(n)]
    for _ in range(lost):
        if out:
            out.pop(rng.randrange(len(out)))
    return out


def path_measures(rng, proxy):
    m = {"dns": {"verdict": "pass", "at": 0.0,
                 "ms": round(rng.uniform(0.8, 25), 1)},
         "tcp": {"verdict": "pass", "at": 0.0,
                 "ms": round(rng.uniform(5, 30), 1)},
         "tls": {"verdict": "pass", "at": 0.1,
                 "ms": round(rng.uniform(15, 60), 1)}}
    if proxy:
        m["proxy"] = {"verdict": "pass", "at": 0.0,
                      "ms": round(rng.uniform(2, 9), 1)}
    else:
        m["proxy"] = {"verdict": "skipped", "at": 0.0, "detail": "no proxy"}
    return m


def make_result(rng, at, *, profile="voice", site="dsl", udp="ok",
                down_cut=False, pings=50, udp_packets=200, proxy=False,
                no_throughput=False, rtt_fail=False, samples_kept=True):
    """One result as the edge sends it (docs/readiness.md, "Results")."""
    base = {"dsl": 28.0, "fibre": 9.0, "lte": 55.0}[site]
    base += rng.uniform(-3, 6)
    m = path_measures(rng, proxy)
    rtt_samples = samples(rng, base, 4.0, pings, lost=rng.choice([0, 0, 1]))
    if rtt_fail:
        m["rtt"] = {"verdict": "fail", "at": 0.2,
                    "detail": "no tunnel: the management stream was gone"}
        rtt_samples = []
    else:
        med = statistics.median(rtt_samples)
        # the 95th percentile well above the median: the two series of
        # the RTT plot never hide each other
        p95 = med + 25 + rng.uniform(0, 15)
        jit = rng.uniform(1.0, 4.0)
        m["rtt"] = {"verdict": worse(med / 2, *DELAY), "at": 0.2,
                    "count": pings, "received": len(rtt_samples),
                    "min_ms": round(min(rtt_samples), 2),
                    "median_ms": round(med, 2), "p95_ms": round(p95, 2),
                    "max_ms": round(p95 + 5, 2), "jitter_ms": round(jit, 2)}
    udp_samples = []
    loss = 0.0
    if udp == "ok":
        lost = rng.choice([0, 0, 1, 1, 2, 3, 7])
        udp_samples = samples(rng, base + 1, 5.0, udp_packets, lost=lost)
        loss = 100.0 * lost / udp_packets
        ujit = rng.uniform(9, 16)     # above the PINGs', for the plot
        m["udp"] = {"verdict": worst([worse(loss, *LOSS),
                                      worse(ujit, *JITTER)]),
                    "at": 5.3, "sent": udp_packets,
                    "received": udp_packets - lost,
                    "loss_pct": round(loss, 2),
                    "up_loss_pct": round(loss / 2, 2),
                    "down_loss_pct": round(loss / 2, 2),
                    "jitter_ms": round(ujit, 2),
                    "up_jitter_ms": round(ujit, 2),
                    "down_jitter_ms": round(ujit * 0.8, 2),
                    "reordered": rng.choice([0, 0, 1]), "duplicates": 0,
                    "min_ms": round(min(udp_samples), 2),
                    "median_ms": round(statistics.median(udp_samples), 2),
                    "p95_ms": round(sorted(udp_samples)[
                        int(len(udp_samples) * 0.95)], 2),
                    "max_ms": round(max(udp_samples), 2)}
    elif udp == "blocked":
        m["udp"] = {"verdict": "fail", "at": 5.3, "blocked": True,
                    "sent": udp_packets, "received": 0,
                    "detail": f"UDP blocked: no echo to {udp_packets} "
                              "probes to 203.0.113.5:7444"}
    else:
        m["udp"] = {"verdict": "skipped",
                    "detail": "udp = off at the edge (readiness_udp)"}
    if no_throughput:
        m["down"] = {"verdict": "skipped", "detail": "down = 0 in the profile"}
        m["up"] = {"verdict": "skipped", "detail": "up = 0 in the profile"}
    else:
        rate = {"dsl": (48, 9), "fibre": (380, 95), "lte": (30, 6)}[site]
        down = rate[0] * rng.uniform(0.7, 1.0)
        up = rate[1] * rng.uniform(0.7, 1.0)
        m["down"] = {"verdict": worse(down, *DOWN, lower_worse=True),
                     "at": 18.4, "bytes": 4194304,
                     "seconds": round(4194304 * 8 / down / 1e6, 3),
                     "mbps": round(down, 1)}
        if down_cut:
            m["down"] = {"verdict": "fail", "at": 18.4, "bytes": 1048576,
                         "seconds": 60.0, "mbps": 0.14,
                         "detail": "the stream was cut short after "
                                   "1048576 of 4194304 bytes"}
        m["up"] = {"verdict": worse(up, *UP, lower_worse=True),
                   "at": 19.0, "bytes": 2097152,
                   "seconds": round(2097152 * 8 / up / 1e6, 3),
                   "mbps": round(up, 1)}
    if "median_ms" in m["rtt"]:
        src = m["udp"] if "jitter_ms" in m["udp"] else m["rtt"]
        r, mos = mos_of(src["median_ms"], src["jitter_ms"], loss)
        m["voice"] = {"verdict": worse(mos, *MOS, lower_worse=True),
                      "at": 24.1, "estimate": True, "codec": "G.711",
                      "r": r, "mos": mos,
                      "delay_ms": round(src["median_ms"] / 2, 1),
                      "loss_pct": round(loss, 2),
                      "detail": "from the UDP train" if src is m["udp"]
                      else "from the PINGs (no UDP train)"}
    else:
        m["voice"] = {"verdict": "fail", "at": 24.1, "estimate": True,
                      "detail": "no round trip to estimate from"}
    res = {"profile": profile, "started": at + 0.123, "seconds": 24.1,
           "verdict": worst(v["verdict"] for v in m.values()),
           "budget": 10485760, "plan": 7392000, "measures": m}
    if samples_kept:
        res["samples"] = {"rtt_ms": rtt_samples[:200]}
        if udp_samples:
            res["samples"]["udp_rtt_ms"] = udp_samples[:500]
    return res


_ids = iter(range(1, 1 << 40))


def make_test(rng, tenant, edge, at, issuer="schedule", late=False, **kw):
    res = make_result(rng, at, **kw)
    return {"id": f"{next(_ids):032x}", "tenant": tenant, "edge": edge,
            "profile": res["profile"], "at": at, "received": at + 25,
            "verdict": res["verdict"], "late": late, "issuer": issuer,
            "result": res}


def make_report(tests, tenant=None, edge=None, since=None, limit=1000,
                generated=None):
    tests = sorted(tests, key=lambda t: t["at"])
    gen = generated or (tests[-1]["at"] + 600 if tests else 1796300000)
    return {"generated": iso(gen),
            "filter": {"tenant": tenant, "edge": edge, "since": since,
                       "limit": limit},
            "tests": tests}


T0 = 1796000000  # 2026-11-30T..., a Monday's morning


def fleet(seed=7):
    """About twenty tests over five days: tenant A's two sites (agw on
    DSL behind a proxy, with one run whose UDP was blocked and one whose
    download was cut short; a2gw on fibre, one late result, one run by
    an operator), tenant B's LTE site whose firewall blocks UDP
    throughout, and one edge that has run a single test."""
    rng = random.Random(seed)
    tests = []
    for i in range(8):
        kw = {"site": "dsl", "proxy": True}
        if i == 3:
            kw["udp"] = "blocked"
        if i == 5:
            kw["down_cut"] = True
        tests.append(make_test(rng, "A", "agw", T0 + i * 6 * 3600
                               + rng.randrange(600), **kw))
    for i in range(6):
        tests.append(make_test(
            rng, "A", "a2gw", T0 + 1800 + i * 8 * 3600 + rng.randrange(600),
            site="fibre", late=(i == 2),
            issuer="alice" if i == 4 else "schedule"))
    for i in range(5):
        tests.append(make_test(rng, "B", "bgw", T0 + 900 + i * 12 * 3600,
                               site="lte", udp="blocked", pings=20))
    tests.append(make_test(rng, "B", "b2gw", T0 + 40 * 3600, site="dsl",
                           udp="off", no_throughput=True))
    return make_report(tests)


def big(n=1000, edges=10, seed=3):
    """n tests spread over edges sites of two tenants, hourly, the
    voice profile's samples kept (50 PINGs, 500 UDP probes)."""
    rng = random.Random(seed)
    tests = []
    for i in range(n):
        e = i % edges
        tests.append(make_test(
            rng, "A" if e % 2 == 0 else "B", f"site{e:02d}",
            T0 + (i // edges) * 3600 + e * 60,
            site=("dsl", "fibre", "lte")[e % 3],
            udp="blocked" if i % 97 == 0 else "ok", udp_packets=500))
    return make_report(tests)
