"""A daemon started as root gives root up (privdrop.h, docs/edge.md
"Running as root"): it binds and loads its keys, then becomes the config's
`user` with that user's group alone and no_new_privs; as root without
`user` it refuses to start; `user = root` is allowed and logged.

The real drop needs root (the tests run as root in make check) and a
directory the daemon's user may walk into: this test makes its own under
/tmp, mode 0755, with the keys root:nogroup 0640 so that a reload, which
reads them again as nobody, still works.
"""

import grp
import json
import os
import pwd
import re
import shutil
import signal
import stat
import tempfile
from pathlib import Path

import pytest

from http_lib import HTTPBackend, get
from isthmus_testlib import run
from tunnel_lib import Site

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="giving root up needs root")


def status_of(pid):
    """/proc/PID/status as {key: value}."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        out[k] = v.split()
    return out


def without_user(conf):
    text = re.sub(r"^user = .*\n", "", conf.read_text(), flags=re.M)
    conf.write_text(text)
    return conf


def with_user(conf, name):
    text = re.sub(r"^user = .*$", f"user = {name}", conf.read_text(),
                  flags=re.M)
    conf.write_text(text)
    return conf


@needs_root
def test_root_without_user_is_refused_with_what_to_write(site):
    cconf = without_user(site.cloud_conf({"A/t": ["127.0.0.1:1"]}))
    econf = without_user(site.edge_conf("agw", 1, {"t": "t"}))
    for kind, conf in (("cloud", cconf), ("edge", econf)):
        # --check has nothing against it: the refusal is about running.
        run(kind, "-c", conf, "--check", expect=0)
        res = run(kind, "-c", conf, expect=2)
        assert (f"isthmus {kind}: started as root without a user to "
                f"become: set user = NAME in [{kind}]") in res.stderr, \
            res.stderr
        assert "ready" not in res.stdout


def test_a_user_this_system_does_not_have_is_refused_by_check(site):
    for kind, conf in (
            ("cloud", site.cloud_conf({"A/t": ["127.0.0.1:1"]})),
            ("edge", site.edge_conf("agw", 1, {"t": "t"}))):
        with_user(conf, "no-such-isthmus-user")
        res = run(kind, "-c", conf, "--check", expect=2)
        assert re.search(r":\d+: user: user 'no-such-isthmus-user': no "
                         r"such user on this system", res.stderr) or \
            re.search(r": user: user 'no-such-isthmus-user': no such user",
                      res.stderr), res.stderr


@needs_root
def test_user_root_is_the_explicit_choice_to_stay_root_and_is_logged(site):
    be = HTTPBackend()
    site.backends.append(be)
    cloud = site.start("cloud", site.cloud_conf({"A/web": ([be],
                                                           "mode = http")}))
    cloud.wait_log(r"event=running_as_root user=root")
    assert status_of(cloud.proc.pid)["Uid"] == ["0"] * 4


@pytest.fixture
def open_site():
    """A Site in a directory nobody may walk into and read: 0755, the PKI
    root:nogroup, keys 0640."""
    d = Path(tempfile.mkdtemp(prefix="isthmus-privdrop-"))
    d.chmod(0o755)
    s = Site(d)
    gid = grp.getgrnam("nogroup").gr_gid
    for p in [s.pki, *s.pki.rglob("*")]:
        os.chown(p, 0, gid)
        if p.is_dir():
            p.chmod(0o750)
        elif p.suffix == ".key":
            p.chmod(0o640)
        else:
            p.chmod(0o644)
    yield s
    try:
        s.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@needs_root
def test_root_is_given_up_after_binding_and_reload_still_works(open_site):
    s = open_site
    nobody = pwd.getpwnam("nobody")
    nogroup = grp.getgrnam("nogroup").gr_gid
    be = HTTPBackend()
    s.backends.append(be)
    be.handler = lambda req: (200, b"from the backend", b"")
    cconf = with_user(s.cloud_conf({"A/web": ([be], "mode = http")}),
                      "nobody")
    cloud = s.start("cloud", cconf)
    econf = with_user(s.edge_conf(
        "agw", cloud.port("listen"),
        {"web": ("web", "mode = http\nstore_forward = on\n")},
        extra=f"state_dir = {s.tmp}/state\n"), "nobody")
    edge = s.start("edge", econf)
    edge.wait_log(r"event=tunnel_up")
    for d, kind in ((cloud, "cloud"), (edge, "edge")):
        d.wait_log(rf"event=privileges_dropped user=nobody "
                   rf"uid={nobody.pw_uid} gid={nogroup}")
        st = status_of(d.proc.pid)
        assert st["Uid"] == [str(nobody.pw_uid)] * 4, (kind, st["Uid"])
        assert st["Gid"] == [str(nogroup)] * 4, (kind, st["Gid"])
        assert st["Groups"] == [str(nogroup)], (kind, st["Groups"])
        assert st["NoNewPrivs"] == ["1"], kind
        assert st["CapEff"] == ["0000000000000000"], kind
    # The listener bound as root carries devices as nobody.
    res = get(edge.port("listener.web"), "/r")
    assert res.status == 200 and res.body == b"from the backend"
    # What it made for itself is nobody's: the state directory (the
    # queue's file in it) and the admin socket, which root still asks.
    edge.wait_log(r"event=queue_open")
    state = s.tmp / "state"
    assert state.stat().st_uid == nobody.pw_uid
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert (state / "queue.db").stat().st_uid == nobody.pw_uid
    sock = Path(edge.ready["admin"])
    assert sock.stat().st_uid == nobody.pw_uid
    st = json.loads(run("status", "-c", econf, "--json", expect=0).stdout)
    assert st["queue"]["up"] is True
    # A reload reads the config and keys again, as nobody: 0640 with
    # the daemon's group is enough.
    for d in (cloud, edge):
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log(r"event=reloaded")
    # A key only root may read (0600) cannot be read again: the reload
    # says so and the running configuration stays.
    key = s.pki / "agw.key"
    key.chmod(0o600)
    edge.proc.send_signal(signal.SIGHUP)
    edge.wait_log(r"event=reload_failed")
    assert "Permission denied" in edge.text()
    assert get(edge.port("listener.web"), "/r2").status == 200


@needs_root
def test_a_state_dir_its_user_does_not_own_is_named(open_site):
    """A state_dir left from a run as root: the edge says whose it is and
    what to run, its queue is unavailable, and devices still pass."""
    s = open_site
    be = HTTPBackend()
    s.backends.append(be)
    be.handler = lambda req: (201, b"", b"")
    cloud = s.start("cloud", with_user(
        s.cloud_conf({"A/web": ([be], "mode = http")}), "nobody"))
    state = s.tmp / "rootstate"
    state.mkdir(mode=0o700)
    econf = with_user(s.edge_conf(
        "agw", cloud.port("listen"),
        {"web": ("web", "mode = http\nstore_forward = on\n")},
        extra=f"state_dir = {state}\n"), "nobody")
    edge = s.start("edge", econf)
    edge.wait_log(rf"event=dir_not_owned key=state_dir reason=\"{state} "
                  rf"belongs to root, not to nobody, who the daemon "
                  rf"becomes: chown -R nobody {state}\"")
    edge.wait_log(r"event=queue_unavailable")
    edge.wait_log(r"event=tunnel_up")
    from http_lib import device, read_response
    sock, conn = device(edge.port("listener.web"))
    sock.sendall(b"POST /r HTTP/1.1\r\nHost: m\r\nContent-Length: 1\r\n\r\nx")
    assert read_response(conn).status == 201
    sock.close()
    assert state.stat().st_uid == 0 and list(state.iterdir()) == []
