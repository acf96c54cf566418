/**
 * Issue 16 item 1: a peer streaming tiny compressed messages as fast as it can. Each 9-byte frame became a
 * decompression job queued behind the others, never counted by maxQueue, and reading never paused: `wskit echo`
 * grew by 2.5 GiB in 30 s, on the server and on the client side. Now a message counts toward maxQueue from the moment
 * it is received, and the core holds the rest of a chunk while the queue is full, so memory stays bounded by the
 * limits whatever the flood, and a flooded connection does not hold up the others.
 *
 * Floods are bounded in time (FLOOD_MS each); memory is measured as the test process's heap (server and client of
 * each test live here), sampled during the flood, against a baseline taken just before it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import zlib from 'node:zlib';
import { after, describe, it } from 'node:test';
import { connect } from '../../src/index.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { computeAccept } from '../../src/protocol/handshake.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { rawClient } from './raw-peer.js';
import { escaped } from './tripwire.js';
import { echo, startServer, within } from '../helpers.js';

after(() => {
  assert.deepEqual(escaped, [], 'no uncaught exception or unhandled rejection');
});

const FLOOD_MS = 1500;
/** Heap growth allowed during a flood. Before the fix it was hundreds of MiB within the first second. */
const HEAP_BOUND = 48 * 1024 * 1024;

/** 'a' deflated on its own, flushed, without the 00 00 ff ff tail (RFC 7692 §7.2.1): a valid message in any context. */
const TINY = zlib.deflateRawSync('a', { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);

/** About 64 KiB of 1-byte compressed text frames, masked (towards a server) or not. */
function burst(masked: boolean): Buffer {
  const frame = encodeFrame(Opcode.TEXT, TINY, true, true, masked ? randomBytes(4) : null);
  return Buffer.concat(Array.from({ length: Math.floor(65536 / frame.length) }, () => frame));
}

/** Writes `bytes` over and over for FLOOD_MS, as fast as the socket takes them. Returns the bytes written. */
async function flood(socket: net.Socket, bytes: Buffer): Promise<number> {
  const end = performance.now() + FLOOD_MS;
  let written = 0;
  while (performance.now() < end && !socket.destroyed) {
    written += bytes.length;
    if (!socket.write(bytes)) {
      // Pushed back: wait for room, but keep the deadline.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(1, end - performance.now()));
        function done(): void {
          clearTimeout(timer);
          socket.off('drain', done);
          resolve();
        }
        socket.once('drain', done);
      });
    }
  }
  return written;
}

/** Samples heapUsed while `run` runs; returns its result and the peak growth over the heap before it. */
async function heapGrowth<T>(run: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 10);
  try {
    const result = await run();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    return { result, growth: peak - before };
  } finally {
    clearInterval(sampler);
  }
}

const MiB = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

describe('a flood of tiny compressed messages', () => {
  it('server side: memory stays bounded while a peer floods and reads the echoes', async () => {
    let received = 0;
    const server = await startServer(async (ws) => {
      for await (const message of ws) {
        received++;
        await ws.send(message);
      }
    });
    try {
      const client = await rawClient(server.address()!.port, '/', 'Sec-WebSocket-Extensions: permessage-deflate\r\n');
      client.socket.removeAllListeners('data'); // read the echoes as fast as they come, keeping none
      client.socket.on('data', () => undefined);
      const { result: written, growth } = await heapGrowth(() => flood(client.socket, burst(true)));
      assert.ok(received > 1000, `the server kept serving the flood (${received} messages)`);
      assert.ok(growth < HEAP_BOUND, `heap grew by ${MiB(growth)} while ${MiB(written)} of tiny messages came in`);
      client.socket.destroy();
    } finally {
      await server.close();
    }
  });

  it('client side: connect() stays bounded while a server floods it', async () => {
    const listener = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', (head) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(head.toString('latin1'))?.[1] ?? '';
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${computeAccept(key)}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n`,
        );
        void flood(socket, burst(false));
      });
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const ws = await connect(`ws://127.0.0.1:${(listener.address() as net.AddressInfo).port}`);
      assert.match(ws.extensions, /permessage-deflate/);
      // Reads as fast as it can for the flood's duration, then drops the connection (what the kernel buffered by then
      // would take a while to decompress one message at a time).
      const stop = setTimeout(() => ws.terminate(), FLOOD_MS);
      const { result: received, growth } = await heapGrowth(async () => {
        let count = 0;
        await (async () => {
          for await (const _ of ws) count++;
        })().catch(() => undefined);
        return count;
      });
      clearTimeout(stop);
      assert.ok(received > 1000, `the client kept reading (${received} messages)`);
      assert.ok(growth < HEAP_BOUND, `heap grew by ${MiB(growth)}`);
    } finally {
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  });

  it('a flooded connection does not hold up another one on the same server', async () => {
    const server = await startServer(echo);
    try {
      const flooder = await rawClient(server.address()!.port, '/', 'Sec-WebSocket-Extensions: permessage-deflate\r\n');
      flooder.socket.removeAllListeners('data');
      flooder.socket.on('data', () => undefined);
      const flooding = flood(flooder.socket, burst(true));
      // Another compressing client exchanges messages large enough to go through zlib, meanwhile.
      const other = await connect(server.url.replace('localhost', '127.0.0.1'));
      const message = JSON.stringify({ text: 'x'.repeat(200), n: 0 });
      let exchanged = 0;
      await within(
        (async () => {
          for (; exchanged < 20; exchanged++) {
            await other.send(message);
            assert.equal(await other.recv(), message);
          }
        })(),
        10_000,
        `20 round trips beside the flood (${exchanged} done)`,
      );
      await other.close();
      await flooding;
      flooder.socket.destroy();
    } finally {
      await server.close();
    }
  });
});
