"""The trust store from the cloud (docs/trust.md, "From the cloud"): a
real cloud with its state store, a real edge whose device-TLS listener
learns self-signed devices, and `isthmus manage EDGE trust ...` as an
operator without a local shell runs it. A device is refused and waits,
the operator approves it by its fingerprint (a wrong one changes
nothing), the device gets through with its MAC, a different certificate
for that MAC waits as changed, and every instruction is in the audit
log; an edge whose policy does not list trust refuses it."""

import getpass
import json
import re

from isthmus_testlib import run
from tofu_lib import (Device, admitted, backend_headers, edge_lan,
                      start_edge, tofu_listener, web_cloud)
from tunnel_lib import eventually

MAC = "00:11:22:33:44:aa"


def manage(conf, *args, expect=None):
    res = run("manage", "-c", conf, "--json", *args, "--wait", "20s",
              expect=expect)
    return json.loads(res.stdout)


def trust(conf, *args, expect=None):
    return manage(conf, "agw", "trust", *args, expect=expect)


def entries(conf, *args):
    r = trust(conf, "list", *args, expect=0)
    assert r["state"] == "ok", r
    return r["result"]["entries"]


def test_a_device_waits_until_the_cloud_approves_its_fingerprint(site):
    edge_lan(site)
    cloud, be = web_cloud(site, "state = state.db")
    conf = cloud.conf
    edge = start_edge(site, cloud, "agw",
                      {"web": tofu_listener(site, "mac_from = cn\n")},
                      "manage = status, trust\nmetrics = 127.0.0.1:0")
    cloud.wait_log(r"event=manage_hello edge=agw .*accepts=status,trust")
    port, ca = edge.port("listener.web"), str(site.pki / "ca.crt")
    dev = Device(site.tmp, "dev", "/CN=SEP0011223344AA")

    # first contact: refused at the handshake, recorded pending
    assert admitted(port, ca, dev.pair) is None
    edge.wait_log(r"event=device_refused listener=web .*reason=trust_pending")
    [ent] = entries(conf, "--pending")
    assert (ent["kind"], ent["peer"], ent["mac"], ent["scope"],
            ent["state"], ent["cert_sha256"]) == \
        ("device", MAC, MAC, "web", "pending", dev.fp)
    assert ent["address"].startswith("127.0.0.1:")
    # the text form: one line per entry, with its fingerprint
    res = run("manage", "-c", conf, "agw", "trust", "list", "--pending",
              "--wait", "20s", expect=0)
    line = [x for x in res.stdout.splitlines() if dev.fp in x]
    assert len(line) == 1 and line[0].split()[:4] == \
        [str(ent["id"]), "pending", "device", MAC], res.stdout
    assert "1 pending, 0 approved" in res.stdout

    # a fingerprint that is not the entry's: refused, nothing changes
    other = Device(site.tmp, "other", "/CN=SEP0011223344AA")
    wrong = trust(conf, "approve", str(ent["id"]), "--fingerprint",
                  other.fp, expect=1)
    assert wrong["state"] == "error"
    assert "fingerprint does not match" in wrong["error"], wrong
    assert [e["state"] for e in entries(conf)] == ["pending"]
    assert admitted(port, ca, dev.pair) is None
    # arguments the cloud refuses before recording anything
    before = len(json.loads(run("audit", "-c", conf, "--json",
                                expect=0).stdout)["instructions"])
    for args, msg in ((("approve", str(ent["id"]), "--fingerprint",
                        "sha256:12"), "not a certificate fingerprint"),
                      (("show", "x1"), "not an entry id"),
                      (("forget",), "trust takes list"),
                      (("list", "everything"), "trust takes list")):
        res = run("manage", "-c", conf, "agw", "trust", *args, expect=1)
        assert msg in res.stderr, (args, res.stderr)
    res = run("manage", "-c", conf, "agw", "trust", "approve",
              str(ent["id"]), expect=2)
    assert "--fingerprint" in res.stderr
    # the fingerprint as a bare word is not taken either
    res = run("manage", "-c", conf, "agw", "trust", "approve",
              str(ent["id"]), dev.fp, expect=2)
    assert "--fingerprint" in res.stderr
    res = run("manage", "-c", conf, "agw", "status", "--pending", expect=2)
    assert "--pending goes with trust list" in res.stderr
    assert len(json.loads(run("audit", "-c", conf, "--json",
                              expect=0).stdout)["instructions"]) == before

    # the right one: approved by the cloud's operator
    ok = trust(conf, "approve", str(ent["id"]), "--fingerprint", dev.fp,
               expect=0)
    assert ok["state"] == "ok", ok
    assert ok["result"]["action"] == "approve"
    assert ok["result"]["entry"]["state"] == "approved"
    assert ok["result"]["entry"]["decided_by"] == \
        "cloud:" + getpass.getuser()
    edge.wait_log(rf"event=trust_decision id={ent['id']} action=approve "
                  rf".*by=cloud:{getpass.getuser()}")
    # the device gets through, with the MAC from its certificate
    assert eventually(lambda: admitted(port, ca, dev.pair) is not None)
    r = admitted(port, ca, dev.pair)
    assert r.status == 200
    assert backend_headers(r)["x-isthmus-device-mac"] == MAC
    # show: the whole entry and its certificate
    sh = trust(conf, "show", str(ent["id"]), expect=0)
    assert sh["result"]["entry"]["pem"].startswith("-----BEGIN CERTIFICATE")
    res = run("manage", "-c", conf, "agw", "trust", "show", str(ent["id"]),
              "--wait", "20s", expect=0)
    assert re.search(rf"^fingerprint +{dev.fp}$", res.stdout, re.M)
    assert re.search(rf"^decided_by +cloud:{getpass.getuser()}$",
                     res.stdout, re.M)

    # another certificate for that MAC: refused, waits as changed
    assert admitted(port, ca, other.pair) is None
    edge.wait_log(r"event=device_refused .*reason=trust_mismatch")
    edge.wait_log(rf"event=trust_mismatch kind=device peer={MAC} ")
    changed = [e for e in entries(conf, "--pending")]
    assert [(e["state"], e["cert_sha256"], e["replaces"])
            for e in changed] == [("changed", other.fp, ent["id"])]
    # rejected from the cloud: refused as such; the approved one goes on
    rj = trust(conf, "reject", str(changed[0]["id"]), expect=0)
    assert rj["state"] == "ok" and rj["result"]["entry"]["state"] == \
        "rejected"
    assert admitted(port, ca, other.pair) is None
    edge.wait_log(r"event=device_refused .*reason=trust_rejected")
    assert admitted(port, ca, dev.pair).status == 200
    # forgotten: the next contact learns it again
    fg = trust(conf, "forget", str(changed[0]["id"]), expect=0)
    assert fg["state"] == "ok"
    assert [e["id"] for e in entries(conf)] == [ent["id"]]
    res = run("manage", "-c", conf, "agw", "trust", "forget",
              str(changed[0]["id"]), "--wait", "20s", expect=1)
    assert "outcome: error" in res.stdout

    # every instruction is in the audit log with its issuer and outcome
    rows = json.loads(run("audit", "-c", conf, "--edge", "agw", "--json",
                          expect=0).stdout)["instructions"]
    tr = [r for r in rows if r["kind"] == "trust"]
    assert {r["issuer"] for r in tr} == {getpass.getuser()}
    assert [(r["state"], r["args"]) for r in tr if r["state"] != "ok"
            or r["args"][0] != "list"] == [
        ("error", ["forget", str(changed[0]["id"])]),
        ("ok", ["forget", str(changed[0]["id"])]),
        ("ok", ["reject", str(changed[0]["id"])]),
        ("ok", ["show", str(ent["id"])]),
        ("ok", ["show", str(ent["id"])]),
        ("ok", ["approve", str(ent["id"]), dev.fp]),
        ("error", ["approve", str(ent["id"]), other.fp])]
    edge.wait_log(r"event=manage_instruction .*kind=trust .*outcome=error")


def test_an_edge_that_does_not_list_trust_refuses_it(site):
    """agw learns devices but its policy is the default; bgw lists trust
    but learns nothing: neither changes anything."""
    edge_lan(site)
    be_cloud, _ = web_cloud(site, "state = state.db")
    conf = be_cloud.conf
    agw = start_edge(site, be_cloud, "agw", {"web": tofu_listener(site)})
    start_edge(site, be_cloud, "bgw", {"t": "t"}, "manage = status, trust")
    port, ca = agw.port("listener.web"), str(site.pki / "ca.crt")
    dev = Device(site.tmp, "dev", "/CN=plain device")
    assert admitted(port, ca, dev.pair) is None
    agw.wait_log(r'event=trust_learned kind=device peer="CN=plain device"')
    r = manage(conf, "agw", "trust", "approve", "1", "--fingerprint",
               dev.fp, expect=1)
    assert r["state"] == "refused"
    assert "refused by the site's policy" in r["error"]
    assert admitted(port, ca, dev.pair) is None
    agw.wait_log(r"event=manage_instruction .*kind=trust .*outcome=refused")
    assert "trust_decision" not in agw.text()
    r = manage(conf, "bgw", "trust", "list", expect=1)
    assert r["state"] == "error"
    assert r["error"] == ("this edge learns no certificates (no collector "
                          "with trust = tofu, no listener with "
                          "device_trust = tofu)")
