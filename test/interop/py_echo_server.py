"""A Python websockets echo server for interop tests: prints {"port": N}, then
{"event": "closed", "path": ..., "code": ..., "reason": ...} as each connection ends.
Run with Debian's /usr/bin/python3 (python3-websockets)."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402
from py_echo_peer import echo_loop, report  # noqa: E402


async def handler(ws, path=None):
    try:
        await echo_loop(ws)
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    report(event="closed", path=ws.path, code=ws.close_code, reason=ws.close_reason,
           subprotocol=ws.subprotocol)


async def main():
    subprotocols = sys.argv[1].split(",") if len(sys.argv) > 1 and sys.argv[1] else None
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None, ping_interval=None,
                                subprotocols=subprotocols) as server:
        port = server.sockets[0].getsockname()[1]
        report(port=port)
        # Run until stdin closes (the test ends) or the process is killed.
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


asyncio.run(main())
