"""A Python websockets echo client for interop tests: connects to argv[1], echoes
every message (see py_echo_peer.py for the commands), and when the connection ends
prints {"code": ..., "reason": ..., "subprotocol": ...}.
Run with Debian's /usr/bin/python3 (python3-websockets)."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402
from py_echo_peer import echo_loop, report  # noqa: E402


async def main():
    url = sys.argv[1]
    subprotocols = sys.argv[2].split(",") if len(sys.argv) > 2 and sys.argv[2] else None
    try:
        async with websockets.connect(url, max_size=None, ping_interval=None,
                                      subprotocols=subprotocols) as ws:
            try:
                await echo_loop(ws)
            except websockets.ConnectionClosed:
                pass
            await ws.wait_closed()
            report(code=ws.close_code, reason=ws.close_reason, subprotocol=ws.subprotocol)
    except Exception as error:  # noqa: BLE001
        report(error=repr(error))


asyncio.run(main())
