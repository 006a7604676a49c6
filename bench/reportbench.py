#!/usr/bin/python3
"""The time to build the readiness report's HTML for 1,000 tests
(issue 17's figure): `isthmus readiness --input FILE --format html -o
OUT` on reports made up by tests/system/report_lib.py, each test with the
voice profile's samples (50 PINGs, 500 UDP probes), timed from exec to
exit, wall clock and CPU (user + system of the child).

Run alone (`bench/reportbench.py --bin build/release/isthmus`) or as
`bench/bench.py --only report`. Not a pass/fail test.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "system"))
import report_lib  # noqa: E402  (the tests' generator, shared)

# (label, tests, edges)
CASES = [
    ("1,000 tests, 10 edges", 1000, 10),
    ("1,000 tests, 1 edge", 1000, 1),
    ("10,000 tests, 20 edges (the --limit maximum)", 10000, 20),
]


def run_once(isthmus, src, out, fmt="html"):
    """(wall seconds, CPU seconds) of one rendering."""
    t0 = time.monotonic()
    p = subprocess.Popen([str(isthmus), "readiness", "--input", str(src),
                          "--format", fmt, "-o", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"isthmus readiness exited {p.returncode}: "
                           + p.stderr.read().decode(errors="replace"))
    return wall, ru.ru_utime + ru.ru_stime


def measure(isthmus, repeat=5, cases=CASES):
    """{label: {...}} for each case: medians over repeat runs."""
    res = {}
    with tempfile.TemporaryDirectory(prefix="reportbench.") as d:
        d = Path(d)
        for label, n, edges in cases:
            src = d / f"r{n}-{edges}.json"
            src.write_text(json.dumps(report_lib.big(n=n, edges=edges)))
            out = d / "out.html"
            run_once(isthmus, src, out)          # warm the page cache
            runs = [run_once(isthmus, src, out) for _ in range(repeat)]
            text = [run_once(isthmus, src, d / "out.txt", "text")
                    for _ in range(repeat)]
            res[label] = {
                "input_mb": src.stat().st_size / 1e6,
                "html_mb": out.stat().st_size / 1e6,
                "wall": statistics.median(r[0] for r in runs),
                "wall_min": min(r[0] for r in runs),
                "wall_max": max(r[0] for r in runs),
                "cpu": statistics.median(r[1] for r in runs),
                "text_cpu": statistics.median(r[1] for r in text),
            }
    return res


def lines(res, repeat, isthmus):
    out = ["", "## Readiness report: HTML for 1,000 tests", "",
           "- `isthmus readiness --input FILE --format html -o OUT`, the "
           "release binary; reports from tests/system/report_lib.py "
           "(`big()`: hourly tests, the voice profile's 50 PING and 500 "
           "UDP samples each, one edge in 97 with UDP blocked)",
           f"- median of {repeat} runs after one warm-up (min..max); CPU is "
           "the child's user + system time; the text rendering's CPU is "
           "what reading and checking the JSON costs",
           f"- command: `{isthmus} readiness --input r.json --format html "
           "-o out.html`",
           "", "| report | JSON in | HTML out | wall s | CPU s | "
           "text, CPU s |", "|---|---|---|---|---|---|"]
    for label, r in res.items():
        out.append(f"| {label} | {r['input_mb']:.1f} MB | "
                   f"{r['html_mb']:.1f} MB | {r['wall']:.2f} "
                   f"({r['wall_min']:.2f}..{r['wall_max']:.2f}) | "
                   f"{r['cpu']:.2f} | {r['text_cpu']:.2f} |")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=REPO / "build/release/isthmus")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true",
                    help="the 1,000-test cases only")
    args = ap.parse_args()
    cases = CASES[:2] if args.quick else CASES
    res = measure(args.bin, args.repeat, cases)
    print("\n".join(lines(res, args.repeat, args.bin)))


if __name__ == "__main__":
    main()
