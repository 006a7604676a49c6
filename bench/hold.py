#!/usr/bin/python3
"""Opens N idle device connections to 127.0.0.1:PORT and holds them until
SIGTERM; prints "held N" once all are connected."""

import signal
import socket
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(n):
    socks.append(socket.create_connection(("127.0.0.1", port), timeout=30))
print(f"held {len(socks)}", flush=True)
signal.sigwait([signal.SIGTERM, signal.SIGINT])
for s in socks:
    s.close()
