#!/usr/bin/python3
"""The backend behind HAProxy in the tunnel-admission measure: writes one
byte to each connection as soon as it is accepted (the proof, for the load
generator, that HAProxy admitted the client), then waits for EOF."""

import asyncio
import sys


async def greet(reader, writer):
    writer.write(b"g")
    try:
        await writer.drain()
        while await reader.read(4096):
            pass
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(greet, "127.0.0.1", port,
                                        backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
