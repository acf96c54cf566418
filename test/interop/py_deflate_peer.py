"""permessage-deflate interop peer on Python websockets 10.4 (Debian's /usr/bin/python3).

  py_deflate_peer.py server SNCT CNCT   echo server; prints {"port": N}, runs until stdin closes
  py_deflate_peer.py client SNCT CNCT URL
      sends a fixed set of messages, checks each echo byte for byte; prints {"ok": ..., "extensions": ...}

SNCT/CNCT are 0 or 1: server_no_context_takeover / client_no_context_takeover.
"""
import asyncio
import json
import os
import random
import sys

import websockets
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)


def messages():
    rng = random.Random(7)
    big_text = json.dumps([{"id": i, "name": "item %d" % i, "tags": ["a", "b"]} for i in range(3000)])
    return [
        "",
        "short",
        "é" * 100,
        big_text,
        b"",
        bytes(rng.getrandbits(8) for _ in range(100)),
        os.urandom(300_000),
        b"A" * 900_000,
        big_text,
    ]


async def server(snct, cnct):
    async def echo(ws, path=None):
        async for message in ws:
            await ws.send(message)

    factory = ServerPerMessageDeflateFactory(
        server_no_context_takeover=snct,
        client_no_context_takeover=cnct,
        server_max_window_bits=12,
        client_max_window_bits=12,
        compress_settings={"memLevel": 5},
    )
    async with websockets.serve(echo, "127.0.0.1", 0, extensions=[factory], compression=None,
                                max_size=None, ping_interval=None) as srv:
        print(json.dumps({"port": srv.sockets[0].getsockname()[1]}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def client(snct, cnct, url):
    factory = ClientPerMessageDeflateFactory(
        server_no_context_takeover=snct,
        client_no_context_takeover=cnct,
        client_max_window_bits=True,
        compress_settings={"memLevel": 5},
    )
    ok = True
    async with websockets.connect(url, extensions=[factory], compression=None, max_size=None,
                                  ping_interval=None) as ws:
        extensions = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        for message in messages():
            await ws.send(message)
            echoed = await ws.recv()
            if echoed != message or type(echoed) is not type(message):
                ok = False
    print(json.dumps({"ok": ok, "extensions": extensions}), flush=True)


def main():
    mode, snct, cnct = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"
    if mode == "server":
        asyncio.run(server(snct, cnct))
    else:
        asyncio.run(client(snct, cnct, sys.argv[4]))


main()
