"""The state store's unit tests (tests/unit/test_store.c) on PostgreSQL:
the same binary and assertions as on SQLite, against a throwaway cluster
(pg_lib), which the test also stops and starts again to take the server
away in the middle of a run."""

import os
import re
import subprocess

from isthmus_testlib import BIN
from pg_lib import pg_cluster, pg_url  # noqa: F401 (fixtures)


def test_store_unit_tests_on_postgresql(pg_cluster, pg_url):  # noqa: F811
    exe = BIN.parent / "tests" / "unit" / "test_store"
    assert exe.is_file(), f"{exe}: build the unit tests first"
    env = dict(os.environ, ISTHMUS_TEST_PG=pg_url,
               ISTHMUS_TEST_PG_STOP=pg_cluster.command("stop", "-m",
                                                       "immediate"),
               ISTHMUS_TEST_PG_START=pg_cluster.command("start"),
               CMOCKA_MESSAGE_OUTPUT="stdout")
    res = subprocess.run([str(exe)], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=600)
    pg_cluster.running = True   # the binary started it again
    out = res.stdout
    assert res.returncode == 0, out
    assert re.search(r"^\[  PASSED  \] [1-9][0-9]* test", out, re.M), out
    assert "[  SKIPPED ]" not in out, out
    for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                "runtime error:"):
        assert bad not in out, out
