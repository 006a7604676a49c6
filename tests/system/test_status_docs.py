"""The status JSON keys the docs list are the ones `isthmus status --json`
prints: every key of an edge with each kind of listener (TCP, HTTP with
device TLS and a cache, transparent) and of a cloud must be named in the
"JSON keys" paragraph of docs/edge.md or docs/cloud.md."""

import json
import re
from pathlib import Path

from isthmus_testlib import run
from tunnel_lib import up

DOCS = Path(__file__).resolve().parents[2] / "docs"
# Objects whose keys are values (a status, a cache result, a refusal
# reason): the docs say "by status", not each one.
BY_VALUE = {"http_errors", "requests", "refused", "outcomes"}


def keys(doc, path=""):
    """Every key in a JSON document, with the path to it."""
    out = set()
    if isinstance(doc, list):
        for x in doc:
            out |= keys(x, path + "[]")
    elif isinstance(doc, dict):
        for k, v in doc.items():
            out.add((path + "." + k).lstrip("."))
            if not (k in BY_VALUE and isinstance(v, dict)):
                out |= keys(v, path + "." + k)
    return out


def documented(md):
    """The `names` of the status section's "JSON keys" paragraph."""
    text = (DOCS / md).read_text()
    section = text[text.index("## isthmus status"):]
    para = section[re.search(r"JSON\s+keys:", section).start():]
    para = para[:para.index("\n\n")]
    return set(re.findall(r"`([a-z_]+)(?:\[\])?`", para))


def missing(doc, md):
    names = documented(md)
    return sorted(p for p in keys(doc)
                  if re.split(r"[.\[\]]+", p)[-1] not in names)


def test_edge_status_keys_are_all_documented(site):
    run("pki", "issue", "cloud", "edge-lan", "--dns", "localhost", "--ip",
        "127.0.0.1", "--ca", site.pki, expect=0)
    cloud, _ = up(site, {"A/t": ["127.0.0.1:9"],
                         "A/web": (["127.0.0.1:9"], "mode = http")})
    conf = site.edge_conf(
        "agw", cloud.port("listen"),
        {"t": "t", "web": ("web", "mode = http\ncache = on\n"
                           f"tls_cert = {site.pki}/edge-lan.crt\n"
                           f"tls_key = {site.pki}/edge-lan.key\n"
                           f"device_ca = {site.pki}/ca.crt\n")},
        extra=f"cache_dir = {site.tmp}/edge-cache")
    conf.write_text(conf.read_text() + "\n[listener lan]\n"
                    "listen = 127.0.0.1:0\ntransparent = yes\n"
                    "map = 192.0.2.1:80 t\n"
                    "\n[collector meter]\nurl = https://127.0.0.1:9/x\n"
                    "service = web\ntrust = pin sha256:" + "0" * 64 + "\n")
    edge = site.start("edge", conf)
    edge.wait_log(r"event=tunnel_up")
    st = json.loads(run("status", "-c", conf, "--json", expect=0).stdout)
    kinds = {li["name"]: li for li in st["listeners"]}
    assert {"transparent", "device_tls", "http_errors"} <= (
        set(kinds["lan"]) | set(kinds["web"]))
    assert "cache" in st and "proxy" in st["tunnel"]
    assert st["collectors"]["list"][0]["name"] == "meter"
    assert missing(st, "edge.md") == []


def test_cloud_status_keys_are_all_documented(site):
    cloud, _ = up(site, {"A/t": ["127.0.0.1:9"]}, listeners_a={"t": "t"})
    conf = site.tmp / "cloud.conf"
    st = json.loads(run("status", "-c", conf, "--json", expect=0).stdout)
    assert st["tunnels"] and st["services"][0]["backends"]
    assert missing(st, "cloud.md") == []
