"""A throwaway PostgreSQL for the tests: a cluster made by initdb in a
temporary directory, listening only on a unix socket in that directory
(listen_addresses = '', no TCP port taken), trust authentication, stopped
and removed at the end. Run as the `postgres` system user when the tests
run as root (the server refuses root), as the current user otherwise.

Fixtures (import them into a test module: `from pg_lib import pg_url`):
- pg_cluster: one cluster for the session (PGCluster).
- pg_url: a fresh, empty database on it for one test, as a
  postgresql:// URI whose host is the socket directory.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import pytest

SUPERUSER = "isthmus"


def pg_bindir():
    """The newest installed server's bin directory, or None."""
    base = Path("/usr/lib/postgresql")
    if not base.is_dir():
        return None
    versions = sorted((d for d in base.iterdir()
                       if (d / "bin" / "initdb").is_file()),
                      key=lambda d: int(d.name) if d.name.isdigit() else 0)
    return versions[-1] / "bin" if versions else None


class PGCluster:
    def __init__(self):
        self.bindir = pg_bindir()
        if self.bindir is None:
            raise RuntimeError("no PostgreSQL server installed "
                               "(scripts/deps.sh installs it)")
        # Not under pytest's tmp_path: that is root's 0700 directory,
        # which the postgres user could not enter.
        self.dir = Path(tempfile.mkdtemp(prefix="isthmus-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o755)
        self._as_owner(["initdb", "-D", str(self.data), "-U", SUPERUSER,
                        "--auth=trust", "-E", "UTF8", "--no-sync",
                        "--locale=C"])
        self.running = False
        self.start()
        self.ndb = 0

    def _as_owner(self, argv, check=True):
        cmd = [str(self.bindir / argv[0])] + argv[1:]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--"] + cmd
        return subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              check=check, timeout=60)

    def command(self, action, *extra):
        """The shell command that does pg_ctl action on this cluster
        (for a program that stops or starts it itself)."""
        opts = ("-c listen_addresses='' -c fsync=off "
                f"-c unix_socket_directories='{self.dir}'")
        argv = [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                str(self.log), "-w", "-o", opts, action, *extra]
        if self.user is not None:
            argv = ["runuser", "-u", self.user, "--"] + argv
        return " ".join(quote_sh(a) for a in argv)

    def start(self):
        subprocess.run(self.command("start"), shell=True, check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        self.running = True

    def stop(self, mode="fast"):
        """mode immediate: as if the server died."""
        if self.running:
            subprocess.run(self.command("stop", "-m", mode), shell=True,
                           check=False, stdout=subprocess.DEVNULL,
                           timeout=60)
            self.running = False

    def url(self, db="postgres"):
        return (f"postgresql://{SUPERUSER}@/{db}?host="
                f"{quote(str(self.dir), safe='/')}")

    def psql(self, sql, db="postgres"):
        res = subprocess.run([str(self.bindir / "psql"), "-X", "-q", "-A",
                              "-t", "-v", "ON_ERROR_STOP=1", "-d",
                              self.url(db), "-c", sql],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, timeout=60)
        if res.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {res.stderr}")
        return res.stdout.strip()

    def new_db(self):
        """A fresh, empty database; its URI."""
        self.ndb += 1
        name = f"t{self.ndb}_{int(time.time() * 1000) % 100000}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def close(self):
        self.stop("fast")
        shutil.rmtree(self.dir, ignore_errors=True)


def quote_sh(s):
    return "'" + s.replace("'", "'\\''") + "'"


@pytest.fixture(scope="session")
def pg_cluster():
    if pg_bindir() is None:
        pytest.fail("PostgreSQL is not installed (scripts/deps.sh)")
    c = PGCluster()
    yield c
    c.close()


@pytest.fixture
def pg_url(pg_cluster):
    """A fresh database on the session's cluster (started again if a
    test stopped it)."""
    if not pg_cluster.running:
        pg_cluster.start()
    yield pg_cluster.new_db()
    if not pg_cluster.running:
        pg_cluster.start()
