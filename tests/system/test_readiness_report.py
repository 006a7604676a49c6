"""isthmus readiness: the report of the network readiness tests
(docs/readiness.md, "Reports"), from saved reports (--input) made up by
report_lib.py, and from the admin socket of a cloud that is not there,
too old, or a stand-in that answers what the contract says.

The HTML report is opened in headless Chromium in a network namespace of
its own (nothing to fetch from), and the points of every plot are
counted in the screenshot by their documented colours.
"""

import base64
import io
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import jsonschema
import pytest
from PIL import Image, ImageChops

import report_lib
from isthmus_testlib import BIN, REPO, describe, run

SCHEMA = json.loads((REPO / "docs/readiness-report.schema.json").read_text())
DOC = (REPO / "docs/readiness.md").read_text()

# docs/readiness.md, "Reports": each series' colour (src/report/html.c)
COLOURS = {
    "rtt_median": (0x1f, 0x77, 0xb4), "rtt_p95": (0xff, 0x7f, 0x0e),
    "jitter_ping": (0x2c, 0xa0, 0x2c), "jitter_udp": (0x94, 0x67, 0xbd),
    "loss": (0xd6, 0x27, 0x28), "blocked": (0x8c, 0x56, 0x4b),
    "down": (0x17, 0xbe, 0xcf), "up": (0xe3, 0x77, 0xc2),
    "mos": (0x00, 0x6d, 0x2c),
    "samples_ping": (0xbc, 0xbd, 0x22), "samples_udp": (0x39, 0x3b, 0x79),
}


def save(tmp_path, doc, name="report.json"):
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return p


def readiness(*args, expect=None):
    return run("readiness", *args, expect=expect)


# --- counting points -------------------------------------------------


def blobs(img, rgb, tol=12):
    """How many separate groups of pixels (8-connected) of colour rgb,
    within tol on each channel, img holds."""
    img = img.convert("RGB")
    diff = ImageChops.difference(img, Image.new("RGB", img.size, rgb))
    r, g, b = diff.split()
    mask = ImageChops.lighter(ImageChops.lighter(r, g), b).point(
        lambda v: 255 if v <= tol else 0)
    box = mask.getbbox()
    if box is None:
        return 0
    mask = mask.crop(box)
    w, h = mask.size
    px = mask.tobytes()
    seen = bytearray(len(px))
    count = 0
    for i in range(len(px)):
        if not px[i] or seen[i]:
            continue
        count += 1
        seen[i] = 1
        stack = [i]
        while stack:
            j = stack.pop()
            x, y = j % w, j // w
            for dy in (-1, 0, 1):
                yy = y + dy
                if not 0 <= yy < h:
                    continue
                for dx in (-1, 0, 1):
                    xx = x + dx
                    k = yy * w + xx
                    if 0 <= xx < w and px[k] and not seen[k]:
                        seen[k] = 1
                        stack.append(k)
    return count


def has(m, key):
    return isinstance(m, dict) and key in m


def expected_points(tests):
    """Points per colour that an edge's plots must show for its tests
    (oldest first): one per test that has the figure, one per sample of
    the latest test, and each drawn series' marker once in its legend."""
    def m(t, name):
        return (t["result"] or {}).get("measures", {}).get(name, {})

    def n(pred):
        k = sum(1 for t in tests if pred(t))
        return k + 1 if k else 0

    latest = (tests[-1]["result"] or {}).get("samples", {})
    udp_ok = lambda t: has(m(t, "udp"), "loss_pct") and \
        not m(t, "udp").get("blocked")
    return {
        "rtt_median": n(lambda t: has(m(t, "rtt"), "median_ms")),
        "rtt_p95": n(lambda t: has(m(t, "rtt"), "p95_ms")),
        "jitter_ping": n(lambda t: has(m(t, "rtt"), "jitter_ms")),
        "jitter_udp": n(lambda t: has(m(t, "udp"), "jitter_ms")),
        "loss": n(udp_ok),
        "blocked": n(lambda t: m(t, "udp").get("blocked") is True),
        "down": n(lambda t: has(m(t, "down"), "mbps")),
        "up": n(lambda t: has(m(t, "up"), "mbps")),
        "mos": n(lambda t: has(m(t, "voice"), "mos")),
        "samples_ping": len(latest.get("rtt_ms", [])) + 1
        if latest.get("rtt_ms") else 0,
        "samples_udp": len(latest.get("udp_rtt_ms", [])) + 1
        if latest.get("udp_rtt_ms") else 0,
    }


def edge_tests(doc, tenant, edge):
    return sorted((t for t in doc["tests"]
                   if (t["tenant"], t["edge"]) == (tenant, edge)),
                  key=lambda t: t["at"])


IMG = re.compile(r'<img width="(\d+)" height="(\d+)" alt="([^"]*)" '
                 r'src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


def images(html):
    """[(alt, PIL image)] of the HTML's plots, each checked to be the
    size its tag says."""
    out = []
    for w, h, alt, b64 in IMG.findall(html):
        img = Image.open(io.BytesIO(base64.b64decode(b64, validate=True)))
        img.load()
        assert img.format == "PNG" and img.size == (int(w), int(h)), alt
        out.append((alt, img))
    return out


# --- text ------------------------------------------------------------


def test_text_report_shows_each_edge_latest_test_then_every_test(tmp_path):
    doc = report_lib.fleet()
    res = readiness("--input", save(tmp_path, doc), expect=0)
    out = res.stdout
    assert res.stderr == "", describe(res)
    assert "isthmus readiness report, generated " + doc["generated"] in out
    assert "20 tests of 4 edges" in out, out
    for tenant, edge, n in (("A", "agw", 8), ("A", "a2gw", 6),
                            ("B", "bgw", 5), ("B", "b2gw", 1)):
        ts = edge_tests(doc, tenant, edge)
        head = re.search(rf"^{tenant}/{edge}: {n} tests?: (\d+) pass, "
                         rf"(\d+) warn, (\d+) fail$", out, re.M)
        assert head, out
        assert [int(x) for x in head.groups()] == [
            sum(t["verdict"] == v for t in ts)
            for v in ("pass", "warn", "fail")]
        section = out[head.end():].split("\n\n")[0]
        # one line per test, oldest first, with its time and verdict
        rows = re.findall(r"^  (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC) +voice "
                          r"+(\w+) ", section, re.M)
        assert [v for _, v in rows] == [t["verdict"] for t in ts], section
        assert rows == sorted(rows)
        # the latest test measure by measure
        for name in ("dns", "tcp", "proxy", "tls", "rtt", "udp", "down",
                     "up", "voice"):
            v = ts[-1]["result"]["measures"][name]["verdict"]
            assert re.search(rf"^    {name} +{v} ", section, re.M), section
    bgw = out.split("B/bgw:")[1]
    assert re.search(r"^    udp +fail +UDP blocked, 0/200 echoed; UDP "
                     r"blocked: no echo to 200 probes", bgw, re.M), bgw
    assert " blocked " in bgw
    assert re.search(r"^    proxy +skipped +no proxy$", out, re.M)
    # agw's cut stream, a2gw's late result, b2gw's measures not run
    assert re.search(r"^  \S+ \S+ UTC +voice +fail .* late$", out, re.M)
    b2 = out.split("B/b2gw:")[1].split("\n\n")[0]
    assert re.search(r"^    down +skipped +down = 0 in the profile$", b2,
                     re.M)
    assert re.search(r" - +- +- +\d\.\d\d$", b2, re.M), b2


def test_a_saved_report_is_filtered_like_the_cloud_would(tmp_path):
    doc = report_lib.fleet()
    path = save(tmp_path, doc)
    out = readiness("--input", path, "--tenant", "B", expect=0).stdout
    assert "B/bgw:" in out and "B/b2gw:" in out and "A/agw" not in out
    assert "6 tests of 2 edges" in out
    out = readiness("--input", path, "agw", expect=0).stdout
    assert "8 tests of 1 edge," in out and "a2gw" not in out
    # --since a UTC time: only tests from then on
    cut = doc["tests"][10]["at"]
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cut))
    js = json.loads(readiness("--input", path, "--since", since,
                              "--format", "json", expect=0).stdout)
    assert [t["id"] for t in js["tests"]] == [
        t["id"] for t in doc["tests"] if t["at"] >= int(cut)]
    assert js["filter"]["since"] == int(cut)
    # --limit: the newest N, still oldest first
    js = json.loads(readiness("--input", path, "--limit", "3", "--format",
                              "json", expect=0).stdout)
    assert [t["id"] for t in js["tests"]] == [t["id"]
                                              for t in doc["tests"][-3:]]
    assert js["filter"]["limit"] == 3
    # a span back from now: these tests are older than a day
    if time.time() - doc["tests"][-1]["at"] > 2 * 86400:
        out = readiness("--input", path, "--since", "1d", expect=0).stdout
        assert "no readiness test matches" in out


# --- JSON ------------------------------------------------------------


def test_json_report_is_the_document_and_validates_against_the_schema(
        tmp_path):
    doc = report_lib.fleet()
    jsonschema.validate(doc, SCHEMA)
    res = readiness("--input", save(tmp_path, doc), "--format", "json",
                    expect=0)
    out = json.loads(res.stdout)
    jsonschema.validate(out, SCHEMA)
    assert out == doc
    out = json.loads(readiness("--input", save(tmp_path, doc), "--tenant",
                               "A", "--format", "json", expect=0).stdout)
    jsonschema.validate(out, SCHEMA)
    assert out["filter"]["tenant"] == "A"
    assert {t["tenant"] for t in out["tests"]} == {"A"}
    assert len(out["tests"]) == 14


def mutations():
    """Reports that are not: (what is wrong, the path the message
    names, a change to a good report)."""
    def test0(d):
        return d["tests"][0]

    def m(d, name):
        return test0(d)["result"]["measures"][name]

    yield "no tests", "tests: missing", lambda d: d.pop("tests")
    yield "tests not a list", "tests: not an array", \
        lambda d: d.update(tests={})
    yield "no generated", "generated: missing", lambda d: d.pop("generated")
    yield "a verdict", "tests[0].verdict: not pass", \
        lambda d: test0(d).update(verdict="great")
    yield "a measure's verdict", "tests[0].result.measures.udp.verdict", \
        lambda d: m(d, "udp").update(verdict="meh")
    yield "a figure", "tests[0].result.measures.rtt.median_ms: not a " \
        "number", lambda d: m(d, "rtt").update(median_ms="10")
    yield "a negative figure", "tests[0].result.measures.down.mbps", \
        lambda d: m(d, "down").update(mbps=-1)
    yield "a figure too large", "tests[0].result.measures.rtt.p95_ms", \
        lambda d: m(d, "rtt").update(p95_ms=1e300)
    yield "a time too late", "tests[0].at: not a time", \
        lambda d: test0(d).update(at=1e18)
    yield "an edge name", "tests[0].edge: not a name", \
        lambda d: test0(d).update(edge="a/b")
    yield "no result", "tests[0].result: missing", \
        lambda d: test0(d).pop("result")
    yield "a time", "tests[0].at: not a time", \
        lambda d: test0(d).update(at="yesterday")
    yield "too many samples", "tests[0].result.samples.rtt_ms", \
        lambda d: test0(d)["result"]["samples"].update(rtt_ms=[1.0] * 201)
    yield "a sample", "tests[0].result.samples.udp_rtt_ms[2]", \
        lambda d: test0(d)["result"]["samples"]["udp_rtt_ms"].__setitem__(
            2, None)
    yield "blocked not a bool", "tests[0].result.measures.udp.blocked", \
        lambda d: m(d, "udp").update(blocked="yes")
    yield "a filter", "filter.limit", \
        lambda d: d["filter"].update(limit="all")


@pytest.mark.parametrize("what,path,change", list(mutations()),
                         ids=[w for w, _, _ in mutations()])
def test_what_is_not_a_report_is_refused_by_both_the_schema_and_isthmus(
        tmp_path, what, path, change):
    doc = report_lib.fleet()
    change(doc)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
    out = tmp_path / "out.html"
    res = readiness("--input", save(tmp_path, doc), "--format", "html",
                    "-o", out, expect=1)
    assert "is not a readiness report: " + path in res.stderr, describe(res)
    assert res.stdout == "" and not out.exists()


def test_what_a_newer_edge_adds_is_let_through(tmp_path):
    """Fields the schema does not name are allowed (a newer edge may add
    figures), and a measure of a newer edge is shown after the others."""
    doc = report_lib.fleet()
    t = doc["tests"][-1]
    t["result"]["measures"]["mtu"] = {"verdict": "pass", "at": 30.0,
                                      "ms": 3.5, "bytes_probed": 1500}
    t["result"]["new_thing"] = {"x": [1, 2]}
    jsonschema.validate(doc, SCHEMA)
    out = readiness("--input", save(tmp_path, doc), t["edge"],
                    expect=0).stdout
    assert re.search(r"^    voice .*\n    mtu +pass +3\.5 ms$", out, re.M), out


def test_tests_whose_result_the_cloud_left_out(tmp_path):
    """Past its bound on an answer's bytes the cloud sends the oldest
    tests with "result": null: they are listed, without figures, and say
    why; the latest test of an edge may be one of them too."""
    doc = report_lib.fleet()
    left = [t for t in doc["tests"] if t["edge"] == "agw"][:3]
    for t in left:
        t["result"] = None
    b2 = [t for t in doc["tests"] if t["edge"] == "b2gw"][0]
    b2["result"] = None
    jsonschema.validate(doc, SCHEMA)
    path = save(tmp_path, doc)
    out = readiness("--input", path, expect=0).stdout
    assert out.count("(result left out)") == 4, out
    b2text = out.split("B/b2gw:")[1]
    assert "its result was left out of this answer" in b2text
    _, html = html_of(tmp_path, doc)
    assert html.count("(result left out)") == 4
    assert "The latest test&#39;s result was left out" in html
    imgs = images(html)
    assert count_edge(imgs, "A", "agw") == expected_points(
        [t for t in edge_tests(doc, "A", "agw") if t["result"]])
    assert not [a for a, _ in imgs if "B/b2gw" in a]


# --- HTML ------------------------------------------------------------


EXTERNAL = re.compile(r"""\b(?:src|href|action|data|poster)\s*=\s*"""
                      r"""(?!["']?(?:data:image/png;base64,|#))|url\(|"""
                      r"""@import|https?:|//[a-z]""", re.I)


def html_of(tmp_path, doc, *args):
    out = tmp_path / "report.html"
    res = readiness("--input", save(tmp_path, doc), "--format", "html",
                    "-o", out, *args, expect=0)
    assert res.stdout == "" and res.stderr == "", describe(res)
    return out, out.read_text()


def test_html_report_is_one_file_that_fetches_nothing(tmp_path):
    doc = report_lib.fleet()
    # what edges write is escaped, wherever it lands
    t = doc["tests"][-1]
    t["issuer"] = 'eve"><img src=https://evil.example/x.png>'
    t["result"]["measures"]["udp"]["detail"] = \
        "<script>alert(1)</script> & \x1b[31m"
    _, html = html_of(tmp_path, doc)
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html and "evil.example/x.png>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#xfffd;[31m" in html
    assert "eve&quot;&gt;&lt;img src=https://evil.example" in html
    # no reference out of the file: every src is a data: URI, every
    # href a fragment, no url() or @import in the style. Our escaped
    # attacker text holds "https:", so look only at markup.
    markup = re.sub(r">[^<]*<", "><", html)
    markup = re.sub(r'alt="[^"]*"', "", markup)
    markup = re.sub(r"(data:image/png;base64,)[A-Za-z0-9+/=]+", r"\1",
                    markup)
    assert not EXTERNAL.search(markup), EXTERNAL.search(markup)
    assert "@media print" in html
    imgs = images(html)
    # per edge: the distribution and five plots over time, less those
    # with no figure at all (b2gw: no loss, no goodput)
    assert len(imgs) == 4 * 6 - 2, [a for a, _ in imgs]


def count_edge(imgs, tenant, edge):
    """Points per colour over the plots of one edge."""
    got = {}
    for alt, img in imgs:
        if f" for {tenant}/{edge}: " not in alt:
            continue
        for name, rgb in COLOURS.items():
            got[name] = got.get(name, 0) + blobs(img, rgb)
    return got


def test_html_plots_have_one_point_per_test_and_sample(tmp_path):
    doc = report_lib.fleet()
    _, html = html_of(tmp_path, doc)
    imgs = images(html)
    for tenant, edge in (("A", "agw"), ("A", "a2gw"), ("B", "bgw"),
                         ("B", "b2gw")):
        want = expected_points(edge_tests(doc, tenant, edge))
        assert count_edge(imgs, tenant, edge) == want, (tenant, edge)
    # the documented colours are the ones counted
    for rgb in COLOURS.values():
        assert "#%02x%02x%02x" % rgb in DOC


def chromium_screenshot(tmp_path, page, height):
    """A screenshot of page by headless Chromium, in a network namespace
    with no interface up but loopback: the page cannot fetch anything."""
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is not installed (scripts/deps.sh)")
    shot = tmp_path / "shot.png"
    argv = ["unshare", "-rn", exe, "--headless", "--no-sandbox",
            "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--force-device-scale-factor=1",
            f"--user-data-dir={tmp_path / 'chromium'}",
            f"--screenshot={shot}", f"--window-size=1200,{height}",
            page.as_uri()]
    env = dict(os.environ, HOME=str(tmp_path))
    res = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                         env=env, stdin=subprocess.DEVNULL)
    assert res.returncode == 0 and shot.exists(), res.stderr[-3000:]
    return Image.open(shot)


def test_html_report_opens_in_chromium_with_every_point_shown(tmp_path):
    doc = report_lib.fleet()
    page, html = html_of(tmp_path, doc, "agw")
    height = sum(img.size[1] + 60 for _, img in images(html)) + 1800
    shot = chromium_screenshot(tmp_path, page, height)
    # the page was laid out to its end: the last table's bottom is in
    # the shot, with white below it
    assert shot.size == (1200, height)
    want = expected_points(edge_tests(doc, "A", "agw"))
    got = {name: blobs(shot, rgb) for name, rgb in COLOURS.items()}
    assert got == want
    # agw's plots: every series there, blocked UDP and the cut stream too
    assert all(want[k] > 1 for k in COLOURS), want


def test_html_with_no_test_one_test_and_missing_measures(tmp_path):
    empty = report_lib.make_report([], tenant="A")
    _, html = html_of(tmp_path, empty)
    assert "No readiness test matches" in html and "<img" not in html
    out = readiness("--input", save(tmp_path, empty), expect=0).stdout
    assert "no readiness test matches" in out
    jsonschema.validate(json.loads(readiness(
        "--input", save(tmp_path, empty), "--format", "json",
        expect=0).stdout), SCHEMA)
    # one test only, whose rtt could not run and which kept no samples
    rng = report_lib.random.Random(1)
    t = report_lib.make_test(rng, "A", "solo", report_lib.T0,
                             rtt_fail=True, udp="blocked",
                             samples_kept=False)
    doc = report_lib.make_report([t])
    _, html = html_of(tmp_path, doc)
    assert "The latest test kept no round-trip samples." in html
    assert "No round trip figures in these tests." in html
    imgs = images(html)
    assert count_edge(imgs, "A", "solo") == expected_points([t])
    assert "no tunnel: the management stream was gone" in html


def test_html_for_thousands_of_tests_is_quick(tmp_path):
    doc = report_lib.big(n=1200, edges=4)
    path = save(tmp_path, doc)
    t0 = time.monotonic()
    res = readiness("--input", path, "--format", "html", "-o",
                    tmp_path / "big.html", expect=0)
    took = time.monotonic() - t0
    html = (tmp_path / "big.html").read_text()
    # a sanitizer build is several times slower than the release one
    # the bench measures (bench/reportbench.py); this only keeps it
    # from growing out of hand
    assert took < 30, describe(res)
    imgs = images(html)
    assert len(imgs) == 4 * 6
    # the dot histogram of 500 UDP probes stays countable
    for alt, img in imgs:
        if alt.startswith("Round trips of the latest test"):
            tenant, edge = re.search(r" for (\w+)/(\w+): ", alt).groups()
            want = expected_points(edge_tests(doc, tenant, edge))
            assert blobs(img, COLOURS["samples_udp"]) == \
                want["samples_udp"], alt
    assert html.count("<tr><td>2026-") == 1200


# --- usage and bad input ----------------------------------------------


def assert_usage(res, *words):
    assert res.returncode == 2, describe(res)
    assert res.stdout == "", describe(res)
    assert "usage: isthmus readiness" in res.stderr
    for w in words:
        assert w in res.stderr, describe(res)


def test_bad_usage_is_refused_with_exit_2(tmp_path):
    path = save(tmp_path, report_lib.fleet())
    assert_usage(readiness("--input", path, "--since", "yesterday"),
                 "--since: 'yesterday' is not a span back from now")
    assert_usage(readiness("--input", path, "--since", "2026-02-31"),
                 "--since: '2026-02-31'")
    assert_usage(readiness("--input", path, "--format", "pdf"),
                 "--format pdf: text, json or html")
    assert_usage(readiness("--input", path, "--limit", "0"), "--limit")
    assert_usage(readiness("--input", path, "--limit", "10001"), "--limit")
    assert_usage(readiness("--input", path, "--socket", tmp_path / "s"),
                 "give one of -c CONF, --socket PATH or --input FILE")
    assert_usage(readiness(), "give one of")
    assert_usage(readiness("--input", path, "agw", "bgw"),
                 "unexpected argument 'bgw'")
    assert_usage(readiness("--input", path, "a/b"), "not an edge name")
    assert_usage(readiness("--input", path, "--bogus"), "--bogus")
    res = readiness("--help", expect=0)
    assert res.stdout.startswith("usage: isthmus readiness")


def test_an_input_that_is_not_a_report_fails_with_exit_1(tmp_path):
    bad = tmp_path / "audit.json"
    bad.write_text(json.dumps({"instructions": []}))
    res = readiness("--input", bad, expect=1)
    assert f"{bad} is not a readiness report: generated: missing" in \
        res.stderr, describe(res)
    bad.write_text("<html>not json</html>")
    res = readiness("--input", bad, expect=1)
    assert f"{bad} is not a readiness report: not JSON (line 1" in \
        res.stderr, describe(res)
    bad.write_text("[1, 2]")
    res = readiness("--input", bad, expect=1)
    assert "not a JSON object" in res.stderr
    res = readiness("--input", tmp_path / "none.json", expect=1)
    assert "cannot read" in res.stderr and "No such file" in res.stderr
    # stdin as well
    doc = json.dumps(report_lib.fleet())
    res = subprocess.run([str(BIN), "readiness",
                          "--input", "-", "bgw"], input=doc,
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and "B/bgw: 5 tests" in res.stdout
    # an output that cannot be written: exit 1, nothing left behind
    res = readiness("--input", save(tmp_path, report_lib.fleet()), "-o",
                    tmp_path / "no" / "such" / "dir.txt", expect=1)
    assert "dir.txt" in res.stderr


# --- the admin socket ------------------------------------------------


class FakeCloud:
    """A stand-in for the cloud's admin socket: takes one request line,
    answers what it is told, closes (as src/common/admin.c does)."""

    def __init__(self, path, answer):
        self.path = str(path)
        self.answer = answer
        self.requests = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.t = threading.Thread(target=self.serve, daemon=True)
        self.t.start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                line = b""
                while not line.endswith(b"\n"):
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    line += chunk
                self.requests.append(line.decode())
                ans = self.answer(line.decode()) if callable(self.answer) \
                    else self.answer
                c.sendall(ans.encode())

    def close(self):
        self.sock.close()


@pytest.fixture
def fake_cloud(tmp_path):
    made = []

    def start(answer):
        f = FakeCloud(tmp_path / f"cloud{len(made)}.sock", answer)
        made.append(f)
        return f
    yield start
    for f in made:
        f.close()


def test_the_cloud_is_asked_on_its_admin_socket(fake_cloud):
    doc = report_lib.fleet()
    sub = dict(doc, tests=[t for t in doc["tests"] if t["tenant"] == "A"],
               filter={"tenant": "A", "edge": None, "since": 1795000000,
                       "limit": 50})
    cloud = fake_cloud(json.dumps(sub) + "\n")
    res = readiness("--socket", cloud.path, "--tenant", "A", "--since",
                    "2026-11-18T11:06:40Z", "--limit", "50", expect=0)
    word, _, body = cloud.requests[0].rstrip("\n").partition(" ")
    assert word == "readiness"
    assert json.loads(body) == {"tenant": "A", "since": 1795000000,
                                "limit": 50}
    assert "14 tests of 2 edges" in res.stdout
    # the edge, and the defaults: no since, the newest 1000
    res = readiness("--socket", cloud.path, "agw", "--format", "json",
                    expect=0)
    assert json.loads(cloud.requests[1].split(" ", 1)[1]) == {
        "edge": "agw", "since": 0, "limit": 1000}
    # what the cloud said is written as it is (not filtered again)
    assert json.loads(res.stdout) == sub


@pytest.mark.parametrize("answer,needle", [
    ("error: unknown request 'readiness {\"since\":0,\"limit\":1000}'\n",
     "does not know the request 'readiness': it runs an older isthmus"),
    ('{"error": "this cloud has no state store: set `state` in '
     'cloud.conf"}\n',
     "the cloud says: this cloud has no state store"),
    ("error: busy\n", "the cloud says: busy"),
    ("", "closed the connection without an answer"),
    ("{\"tests\": ", "the cloud's answer is not JSON"),
    ('{"generated": "x", "filter": {}, "tests": [{"id": "1"}]}\n',
     "the cloud's answer is not a readiness report: tests[0].tenant: "
     "missing"),
], ids=["old cloud", "json error", "text error", "no answer", "not json",
        "not a report"])
def test_what_the_cloud_answers_that_is_no_report(fake_cloud, answer,
                                                  needle):
    cloud = fake_cloud(answer)
    res = readiness("--socket", cloud.path, expect=1)
    assert needle in res.stderr, describe(res)
    assert res.stdout == ""


def test_no_cloud_running(site, tmp_path):
    res = readiness("--socket", tmp_path / "cloud.sock", expect=1)
    assert "cannot ask the cloud: cannot connect to" in res.stderr
    assert "is the daemon running" in res.stderr
    conf = site.cloud_conf({"A/t": ["127.0.0.1:9"]},
                           extra=f"admin_socket = {tmp_path}/c.sock")
    res = readiness("-c", conf, "--format", "html", "-o",
                    tmp_path / "r.html", expect=1)
    assert f"cannot connect to {tmp_path}/c.sock" in res.stderr
    assert not (tmp_path / "r.html").exists()


def test_a_running_cloud_answers_a_report_or_says_why_not(site, tmp_path):
    """Against the real cloud: a report that validates, or one clear
    line (a cloud built before it knew `readiness`, or without a state
    store) — never an unreadable answer."""
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [site.backend("A")]},
        extra=f"state = {tmp_path}/state.db"))
    res = readiness("-c", cloud.conf, "--format", "json")
    if res.returncode == 0:
        doc = json.loads(res.stdout)
        jsonschema.validate(doc, SCHEMA)
        assert doc["tests"] == []
    else:
        assert res.returncode == 1, describe(res)
        assert re.search(r"older isthmus|the cloud says: ", res.stderr), \
            describe(res)
        assert len(res.stderr.strip().splitlines()) == 1


# --- end to end --------------------------------------------------------

LAB = """
[readiness lab]
pings = 20
ping_interval = 20ms
down = 256k
up = 256k
udp = on
udp_rate = 50
udp_duration = 2s
budget = 2M
"""


def test_the_report_of_tests_a_real_edge_ran(site, tmp_path):
    """A real cloud with its store and a real edge on this host run two
    tests (one asked by hand, with the UDP train; one without); the
    report of them validates, names both, and its plots have a point per
    test and a square per sample the edge kept."""
    conf = site.cloud_conf({"A/t": (["127.0.0.1:9"], "health = none")},
                           extra=f"state = {tmp_path}/state.db\n"
                           "readiness_udp = 127.0.0.1:0\n")
    conf.write_text(conf.read_text() + LAB)
    cloud = site.start("cloud", conf)
    edge_conf = site.edge_conf("agw", cloud.port("listen"), {"t": "t"},
                               extra="manage = status, readiness\n")
    site.start("edge", edge_conf).wait_log(r"event=tunnel_up")
    cloud.wait_log(r"event=manage_hello edge=agw .*readiness")
    for profile in ("lab", "default"):
        res = run("manage", "-c", conf, "--json", "agw", "readiness",
                  profile, "--wait", "120s", expect=0)
        assert json.loads(res.stdout)["state"] == "ok", res.stdout

    doc = json.loads(readiness("-c", conf, "--format", "json",
                               expect=0).stdout)
    jsonschema.validate(doc, SCHEMA)
    assert [t["profile"] for t in doc["tests"]] == ["lab", "default"]
    assert {t["edge"] for t in doc["tests"]} == {"agw"}
    text = readiness("-c", conf, "agw", expect=0).stdout
    assert "A/agw: 2 tests:" in text, text
    assert re.search(r"^    rtt +\w+ +median [\d.]+ ms", text, re.M), text
    out = tmp_path / "r.html"
    readiness("-c", conf, "--tenant", "A", "--format", "html", "-o", out,
              expect=0)
    imgs = images(out.read_text())
    got = count_edge(imgs, "A", "agw")
    want = expected_points(doc["tests"])
    # every square of the latest test's samples; over time, every series
    # the tests have and none they do not (on one host down and up, or
    # two figures of one plot, may be equal and cover each other's
    # markers: report_lib's reports are where points are counted)
    assert want["samples_ping"] > 1 and want["samples_udp"] > 1, want
    # on one host most round trips are alike to the microsecond: a
    # panel that cannot stack them draws bars, and its caption says so
    html = out.read_text()
    if "draws bars, as high as their count" not in html:
        for k in ("samples_ping", "samples_udp"):
            assert got[k] == want[k], (k, got, want)
    for k in want:
        assert (got[k] > 0) == (want[k] > 0), (k, got, want)
    # and the saved JSON renders the same HTML without the cloud
    saved = save(tmp_path, doc, "saved.json")
    again = tmp_path / "again.html"
    readiness("--input", saved, "--format", "html", "-o", again, expect=0)
    assert [a for a, _ in images(again.read_text())] == [a for a, _ in imgs]
