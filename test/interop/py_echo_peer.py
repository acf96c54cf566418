"""Shared command handling of the Python websockets peers used by the interop suite.

Every message is echoed with its type, except these text commands:
  __close__ CODE REASON   close the connection with CODE and REASON
  __ping__                ping, and send "__pong__" once the pong arrives
  __frag__                send "fragmented text" as three text fragments
  __fragbin__             send bytes 0..29 as three binary fragments
"""
import json
import sys


async def echo_loop(ws):
    async for message in ws:
        if isinstance(message, str) and message.startswith("__"):
            if message.startswith("__close__ "):
                _, code, reason = message.split(" ", 2)
                await ws.close(int(code), reason)
                continue
            if message == "__ping__":
                waiter = await ws.ping()
                await waiter
                await ws.send("__pong__")
                continue
            if message == "__frag__":
                await ws.send(["frag", "mented", " text"])
                continue
            if message == "__fragbin__":
                await ws.send([bytes(range(0, 10)), bytes(range(10, 20)), bytes(range(20, 30))])
                continue
        await ws.send(message)


def report(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()
