/**
 * A protocol error after complete messages in the same read (RFC 6455 §7.1.7, Autobahn cases 3.2, 4.1.3, 5.15):
 * the messages reach the application, and its answers reach the peer, before the connection fails. Real sockets;
 * the peer writes the messages and the bad frame in one write, so they arrive in one read.
 */
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { connect, ConnectionClosedError, ProtocolError, type Server } from '../../src/index.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { clientFrame, rawClient, rawServer } from '../hardening/raw-peer.js';
import { echo, startServer, within } from '../helpers.js';

const TEXT = 1;
const BINARY = 2;
const PING = 9;

/** A text frame with RSV2 set: no extension defines it, so it fails the connection with 1002. */
function badFrame(mask: boolean): Buffer {
  const frame = mask ? clientFrame(TEXT, 'bad') : encodeFrame(TEXT, 'bad', true, false, null);
  frame[0] |= 0x20;
  return frame;
}

async function withServer(options: Parameters<typeof startServer>[1], body: (server: Server) => Promise<void>): Promise<void> {
  const server = await startServer(echo, options);
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

describe('messages complete before a protocol error are handled before the connection fails', { timeout: 20_000 }, () => {
  it('server: two messages, a bad frame and a ping in one write: both echoed, then 1002', async () => {
    await withServer({}, async (server) => {
      const client = await rawClient(server.address()!.port);
      client.socket.write(
        Buffer.concat([clientFrame(TEXT, 'Hello'), clientFrame(BINARY, Buffer.of(1, 2, 3)), badFrame(true), clientFrame(PING, 'p')]),
      );
      const closed = await within(client.closed, 5000, 'the server closing');
      assert.deepEqual(closed.messages, ['Hello', Buffer.of(1, 2, 3)]);
      assert.equal(closed.code, 1002);
    });
  });

  it('server: a compressed message and a bad frame in one write: echoed, then 1002', async () => {
    await withServer({ compression: true }, async (server) => {
      const client = await rawClient(server.address()!.port, '/', 'Sec-WebSocket-Extensions: permessage-deflate\r\n');
      // RFC 7692 §7.2.1: the deflate output without its final 00 00 ff ff.
      const deflated = deflateRawSync('Hello', { finishFlush: 2 /* Z_SYNC_FLUSH */ }).subarray(0, -4);
      client.socket.write(Buffer.concat([clientFrame(TEXT, deflated, true, true), badFrame(true)]));
      const closed = await within(client.closed, 5000, 'the server closing');
      assert.deepEqual(closed.messages, ['Hello']);
      assert.equal(closed.code, 1002);
    });
  });

  it('server: with no message before the error, and a handler that never reads, the connection fails at once', async () => {
    const server = await startServer(async (ws) => void (await ws.closed), { closeTimeout: 60_000 });
    try {
      const client = await rawClient(server.address()!.port);
      client.socket.write(badFrame(true));
      const closed = await within(client.closed, 5000, 'the server closing');
      assert.equal(closed.code, 1002);
    } finally {
      await server.close();
    }
  });

  it('server: a handler that never reads its queued message fails the connection after closeTimeout', async () => {
    const server = await startServer(async (ws) => void (await ws.closed), { closeTimeout: 200 });
    try {
      const client = await rawClient(server.address()!.port);
      client.socket.write(Buffer.concat([clientFrame(TEXT, 'unread'), badFrame(true)]));
      const closed = await within(client.closed, 5000, 'the server closing');
      assert.equal(closed.code, 1002);
      assert.deepEqual(closed.messages, []);
    } finally {
      await server.close();
    }
  });

  it('client: a message and a bad frame in one write: the message is read and answered, then 1002', async () => {
    const raw = await rawServer();
    try {
      const ws = await connect(`ws://127.0.0.1:${raw.port}/`, { compression: false });
      const peer = await raw.next();
      peer.socket.write(Buffer.concat([encodeFrame(TEXT, 'Hello', true, false, null), badFrame(false)]));
      const seen: string[] = [];
      const reading = (async () => {
        for await (const message of ws) {
          seen.push(message as string);
          await ws.send(`echo ${message as string}`);
        }
      })();
      const error = await within(reading.then(() => null, (e: unknown) => e), 5000, 'the client failing');
      assert.deepEqual(seen, ['Hello']);
      assert.ok(error instanceof ConnectionClosedError);
      assert.ok(error.cause instanceof ProtocolError);
      assert.equal(error.cause.closeCode, 1002);
      await within(ws.closed, 5000, 'the client closing');
      assert.deepEqual(peer.messages, ['echo Hello']);
      assert.equal(peer.closes[0]?.code, 1002);
    } finally {
      await raw.close();
    }
  });
});
