"""Say what the other side saw: when an edge refuses the cloud's
certificate (another CA in its `ca`, another key in its `cloud_pin`), the
cloud logs the TLS alert the edge sent, with the peer's address, within the
log limit; and a daemon that fails to start has not said it was listening.

    edge (ca = other CA | cloud_pin = another key) --x--> cloud
    python TLS clients x100 (wrong CA) -------------x--> cloud
"""

import re
import socket
import ssl

from isthmus_testlib import run
from tunnel_lib import scrape, spki, value

ALERT_LINE = (r"level=warn sub=cloud event=handshake_failed "
              r"peer=127\.0\.0\.1:\d+ edge=- reason=peer_alert "
              r"alert=\"{}\" alert_code={} meaning=\"the peer refused this "
              r"cloud's certificate")


def _other_ca(site):
    other = site.tmp / "other"
    run("pki", "init", other, expect=0)
    return other / "ca.crt"


def test_edge_with_another_ca_is_named_by_the_cloud(site):
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [site.backend("A")]}, extra="metrics = 127.0.0.1:0"))
    conf = site.edge_conf("agw", cloud.port("listen"), {"t": "t"})
    conf.write_text(conf.read_text().replace(
        f"ca = {site.pki}/ca.crt", f"ca = {_other_ca(site)}"))
    edge = site.start("edge", conf)
    edge.wait_log(r"event=connect_failed")
    cloud.wait_log(ALERT_LINE.format("unknown CA", 48))
    assert "reason=tls_error" not in cloud.text()
    assert value(scrape(cloud), "isthmus_handshakes_failed_total",
                 reason="peer_alert") >= 1


def test_edge_with_another_pin_is_named_by_the_cloud(site):
    cloud = site.start("cloud", site.cloud_conf({"A/t": [site.backend("A")]}))
    site.start("edge", site.edge_conf("agw", cloud.port("listen"), {"t": "t"},
                                      pin=spki(site.pki / "bgw.crt")))
    found = cloud.wait_log(r"reason=peer_alert alert=\"([^\"]+)\" "
                           r"alert_code=(\d+) meaning=\"the peer refused")
    assert found[0] == ("handshake failure", "40"), found
    assert "reason=tls_error" not in cloud.text()


def test_peer_alerts_are_rate_limited(site):
    """100 refusals in a burst: every one counted, 20 logged and the rest
    reported as suppressed (the limit of handshake_failed lines)."""
    cloud = site.start("cloud", site.cloud_conf(
        {"A/t": [site.backend("A")]}, extra="metrics = 127.0.0.1:0\n"
                                            "workers = 1"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(_other_ca(site))
    ctx.check_hostname = False
    for _ in range(100):
        with socket.create_connection(("127.0.0.1", cloud.port("listen")),
                                      timeout=10) as s:
            try:
                ctx.wrap_socket(s).close()
                raise AssertionError("the cloud's certificate was accepted")
            except ssl.SSLCertVerificationError:
                pass
    cloud.wait_log(r"event=log_suppressed suppressed_event=handshake_failed "
                   r"count=\d+")
    text = cloud.text()
    logged = len(re.findall(ALERT_LINE.format("unknown CA", 48), text))
    suppressed = sum(int(n) for n in re.findall(
        r"suppressed_event=handshake_failed count=(\d+)", text))
    assert 20 <= logged < 100, text
    assert logged + suppressed == 100
    assert value(scrape(cloud), "isthmus_handshakes_failed_total",
                 reason="peer_alert") == 100


def test_edge_that_cannot_bind_its_second_listener_never_said_listening(site):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        conf = site.edge_conf("agw", 1, {"first": "t", "second": "t"})
        text = conf.read_text()
        i = text.index("listen = 127.0.0.1:0", text.index("[listener second]"))
        conf.write_text(text[:i] + f"listen = 127.0.0.1:"
                        f"{busy.getsockname()[1]}" + text[i + 20:])
        res = run("edge", "-c", conf)
        assert res.returncode != 0
        assert "listener second: cannot listen" in res.stderr, res.stderr
        assert "event=listening" not in res.stderr, res.stderr
        assert "event=ready" not in res.stderr
    finally:
        busy.close()


def test_edge_logs_listening_once_started(site):
    edge = site.start("edge", site.edge_conf("agw", 1, {"first": "t",
                                                         "second": "t"}))
    text = edge.text()
    assert re.search(r"event=listening listener=first .*\n.*"
                     r"event=listening listener=second .*\n.*event=ready",
                     text), text
