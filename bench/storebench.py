#!/usr/bin/python3
"""Runs storebench (storebench.c) on SQLite and on a throwaway PostgreSQL
cluster (tests/system/pg_lib.py: initdb in a temporary directory, a unix
socket only, removed after), and prints its JSON lines.

    bench/storebench.py --bin build/release/bench/storebench [-n N]
"""

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent
                       / "tests" / "system"))
from pg_lib import PGCluster  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("-n", type=int, default=20000)
    args = ap.parse_args()
    pg = PGCluster()
    try:
        rc = subprocess.run([args.bin, "-n", str(args.n), "--pg",
                             pg.new_db()]).returncode
    finally:
        pg.close()
    return rc


if __name__ == "__main__":
    sys.exit(main())
