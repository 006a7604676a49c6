"""Device TLS with device_trust = tofu at the edge (docs/trust.md,
"Devices that connect with self-signed certificates"): an unknown device
is refused and counted as trust_pending, a vendor CA's device on the
same listener still gets in as before, a listener without tofu learns
nothing, mac_allow is asked before anything is learned, a local approval
lets the device in, and a store that cannot be read refuses as
trust_unavailable while CA-issued devices go on."""

import json
import signal
import ssl

import pytest

from isthmus_testlib import CA, run
from tofu_lib import (Device, admitted, backend_headers, connect, edge_lan,
                      request, start_edge, tofu_listener, web_cloud)
from tunnel_lib import eventually, scrape, value

VENDOR_MAC = "aa:bb:cc:00:00:01"


def local(edge, *args, expect=0):
    res = run("trust", "-c", edge.conf, *args, expect=expect)
    return res


def store(edge):
    return json.loads(local(edge, "list", "--json").stdout)["entries"]


def refused_count(edge, listener, reason):
    return value(scrape(edge), "isthmus_device_tls_refused_total",
                 listener=listener, reason=reason)


def vendor_device(site):
    """The edge's LAN certificate, a vendor CA and its device VENDOR_MAC:
    (the CA, the device's (crt, key))."""
    edge_lan(site)
    vendor = CA.init(site.tmp / "vendor")
    run("pki", "issue", "device", VENDOR_MAC, "--ca", vendor.dir, expect=0)
    return vendor, (str(vendor.dir / "aabbcc000001.crt"),
                    str(vendor.dir / "aabbcc000001.key"))


def test_tofu_beside_vendor_cas_and_other_listeners(site):
    vendor, vdev = vendor_device(site)
    cloud, be = web_cloud(site)
    _, mixed = tofu_listener(site, f"device_ca = {vendor.crt}\n"
                             "mac_from = cn\n")
    _, allow = tofu_listener(site, "mac_from = cn\n"
                             "mac_allow = 00:11:22:33:44:01\n")
    plain = ("web", "mode = http\n"
             f"tls_cert = {site.pki}/edge-lan.crt\n"
             f"tls_key = {site.pki}/edge-lan.key\n"
             f"device_ca = {vendor.crt}\n")
    edge = start_edge(site, cloud, "agw", {"mixed": ("web", mixed),
                                           "allow": ("web", allow),
                                           "plain": plain},
                      "metrics = 127.0.0.1:0")
    ca = str(site.pki / "ca.crt")
    pm, pa, pp = (edge.port(f"listener.{n}") for n in
                  ("mixed", "allow", "plain"))
    dev = Device(site.tmp, "dev", "/CN=SEP001122334401")
    stranger = Device(site.tmp, "stranger", "/CN=SEP001122334402")

    # an unknown device: refused, counted, learned as pending
    assert admitted(pm, ca, dev.pair) is None
    edge.wait_log(r"event=device_refused listener=mixed .*"
                  r"mac=00:11:22:33:44:01 reason=trust_pending")
    edge.wait_log(r"event=trust_learned kind=device "
                  r"peer=00:11:22:33:44:01 .*scope=mixed")
    assert eventually(lambda: refused_count(edge, "mixed",
                                            "trust_pending") == 1)
    # again before anyone decided: still pending, not learned twice
    assert admitted(pm, ca, dev.pair) is None
    assert eventually(lambda: refused_count(edge, "mixed",
                                            "trust_pending") == 2)
    assert [(e["peer"], e["state"]) for e in store(edge)] == \
        [("00:11:22:33:44:01", "pending")]
    # the vendor's device on the same listener gets in as before
    r = admitted(pm, ca, vdev)
    assert r is not None and r.status == 200
    # mac_from = cn: our layout's CN is the MAC too
    assert backend_headers(r)["x-isthmus-device-mac"] == VENDOR_MAC
    # a listener without tofu learns nothing and refuses as always
    assert admitted(pp, ca, stranger.pair) is None
    edge.wait_log(r"event=device_refused listener=plain .*reason=untrusted")
    assert admitted(pp, ca, vdev).status == 200
    # mac_allow first: a MAC it does not list is not learned
    assert admitted(pa, ca, stranger.pair) is None
    edge.wait_log(r"event=device_refused listener=allow .*"
                  r"reason=mac_not_allowed")
    assert [e["peer"] for e in store(edge)] == ["00:11:22:33:44:01"]
    assert refused_count(edge, "plain", "trust_pending") == 0

    # approved at the edge: the device gets in with its MAC
    [ent] = store(edge)
    local(edge, "approve", str(ent["id"]), "--fingerprint", dev.fp)
    assert eventually(lambda: admitted(pm, ca, dev.pair) is not None)
    r = admitted(pm, ca, dev.pair)
    assert backend_headers(r)["x-isthmus-device-mac"] == \
        "00:11:22:33:44:01"
    # the allow listener lists that MAC: it learns it there as well
    # (its peer is the same device, so the approval covers it)
    assert admitted(pa, ca, dev.pair).status == 200
    m = scrape(edge)
    assert value(m, "isthmus_device_tls_accepted_total",
                 listener="mixed") == 3
    assert value(m, "isthmus_device_tls_refused_total", listener="mixed",
                 reason="untrusted") == 0

    # rejected at the edge while the device is connected: its next
    # handshake is refused; the connection stays until a reload checks
    # it against the store, which disconnects it
    kept = connect(pm, ca, dev.pair)
    assert request(kept).status == 200
    # (a reload keeps an approved device connected)
    edge.signal(signal.SIGHUP)
    edge.wait_log(r"event=reloaded")
    assert request(kept).status == 200
    local(edge, "reject", str(ent["id"]))
    assert eventually(lambda: admitted(pm, ca, dev.pair) is None)
    edge.wait_log(r"event=device_refused listener=mixed .*"
                  r"reason=trust_rejected")
    assert request(kept).status == 200
    edge.signal(signal.SIGHUP)
    edge.wait_log(r"event=device_revoked listener=mixed .*"
                  r"mac=00:11:22:33:44:01 reason=trust_rejected "
                  r"action=disconnected")
    with pytest.raises((ssl.SSLError, OSError, EOFError)):
        request(kept)
    kept.close()
    # the vendor's device is not the store's business
    assert admitted(pm, ca, vdev).status == 200


def test_a_store_that_cannot_be_read_refuses_as_unavailable(site):
    vendor, vdev = vendor_device(site)
    state = site.tmp / "state"
    state.mkdir(mode=0o700)
    (state / "trust.db").write_bytes(b"not a trust store\n" * 64)
    (state / "trust.db").chmod(0o600)
    cloud, be = web_cloud(site)
    edge = start_edge(site, cloud, "agw", {"web": tofu_listener(
        site, f"device_ca = {vendor.crt}\n")}, "metrics = 127.0.0.1:0")
    edge.wait_log(r"event=trust_store_unavailable")
    ca, port = str(site.pki / "ca.crt"), edge.port("listener.web")
    dev = Device(site.tmp, "dev", "/CN=sensor 7")
    assert admitted(port, ca, dev.pair) is None
    edge.wait_log(r"event=device_refused listener=web .*"
                  r"reason=trust_unavailable")
    assert refused_count(edge, "web", "trust_unavailable") == 1
    # never written to
    assert (state / "trust.db").read_bytes() == b"not a trust store\n" * 64
    # devices of the vendor CA do not need the store
    assert admitted(port, ca, vdev).status == 200
