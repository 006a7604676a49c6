#!/usr/bin/python3
"""The backend of the idle-memory measure: accepts connections and holds
them open, writing how many it holds to PORT.count (for bench.py)."""

import asyncio
import sys
from pathlib import Path

held = 0


async def hold(reader, writer):
    global held
    held += 1
    try:
        while await reader.read(65536):
            pass
    finally:
        held -= 1
        writer.close()


async def report(path):
    last = -1
    while True:
        if held != last:
            path.write_text(str(held))
            last = held
        await asyncio.sleep(0.1)


async def main(port, path):
    server = await asyncio.start_server(hold, "127.0.0.1", port,
                                        backlog=4096)
    async with server:
        await asyncio.gather(server.serve_forever(), report(path))


if __name__ == "__main__":
    port = int(sys.argv[1])
    asyncio.run(main(port, Path(sys.argv[2])))
