/**
 * Limits and timeouts over real loopback sockets: maxMessageSize, maxQueue
 * backpressure, writeLimit, keepalive, handshakeTimeout and closeTimeout, on
 * the server and on the client side. Misbehaving peers are raw TCP sockets.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { connect, type Connection, type Server } from '../../src/index.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { clientFrame, rawClient, rawServer } from '../hardening/raw-peer.js';
import { delay, startServer, within } from '../helpers.js';

/** The server-side socket of a Connection, to look at what the kernel and Node buffered. */
const socketOf = (ws: Connection) => (ws as unknown as { socket: net.Socket }).socket;

/** A server whose handler hands the connection to the test and keeps it open. */
async function holdingServer(options: Parameters<typeof startServer>[1] = {}): Promise<{ server: Server; next: () => Promise<Connection> }> {
  const queue: Connection[] = [];
  const waiters: Array<(ws: Connection) => void> = [];
  const server = await startServer(async (ws) => {
    const waiter = waiters.shift();
    if (waiter) waiter(ws);
    else queue.push(ws);
    await ws.closed;
  }, options);
  return {
    server,
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve))),
  };
}

describe('maxMessageSize', { timeout: 20_000 }, () => {
  it('the server closes with 1009 from the frame header, without waiting for the payload', async () => {
    const server = await startServer(async (ws) => void (await ws.recv().catch(() => undefined)), { maxMessageSize: 1000 });
    try {
      const client = await rawClient(server.address()!.port);
      // The header of a 10 MiB masked binary frame, and not one byte of its payload.
      const header = clientFrame(0x2, Buffer.alloc(10 * 1024 * 1024)).subarray(0, 14);
      client.socket.write(header);
      const closed = await within(client.closed, 2000, 'the server closing');
      assert.equal(closed.code, 1009);
      assert.ok(closed.ms < 1000, `closed after ${closed.ms} ms`);
    } finally {
      await server.close();
    }
  });

  it('a wskit client sending too much sees 1009; a wskit client receiving too much closes with 1009', async () => {
    const { server, next } = await holdingServer({ maxMessageSize: 1000 });
    try {
      const ws = await connect(server.url);
      const serverSide = await next();
      await ws.send(Buffer.alloc(1001));
      assert.equal((await within(ws.closed, 2000, 'close')).code, 1009);
      assert.equal((await serverSide.closed).code, 1006);

      const small = await connect(server.url, { maxMessageSize: 100 });
      const other = await next();
      await other.send('x'.repeat(101));
      assert.equal((await within(other.closed, 2000, 'close')).code, 1009);
      await assert.rejects(small.recv(), (e: unknown) => (e as { closeCode?: number }).closeCode === 1006);
    } finally {
      await server.close();
    }
  });
});

describe('maxFragments: a budget that grows with the payload', { timeout: 30_000 }, () => {
  /** `total` bytes as `count` chunks, for a fragmented send. */
  const chunks = (total: number, count: number) => Array.from({ length: count }, (_, i) => Buffer.alloc(total / count, i & 0xff));

  it('a server echoes 4 MiB sent in 65,536 fragments (Autobahn 9.4.1) with the default budget', async () => {
    const server = await startServer(async (ws) => {
      for await (const message of ws) await ws.send(message);
    }, { maxMessageSize: 8 << 20, compression: false });
    try {
      const ws = await connect(server.url, { maxMessageSize: 8 << 20, compression: false });
      const parts = chunks(4 << 20, 65_536);
      await ws.send(parts);
      const echoed = (await within(ws.recv(), 20_000, 'the echo')) as Buffer;
      assert.ok(echoed.equals(Buffer.concat(parts)));
      await ws.close();
    } finally {
      await server.close();
    }
  });

  it('a client reads 4 MiB in 65,536 fragments, and refuses a flood of empty ones with 1008', async () => {
    const raw = await rawServer();
    try {
      const ws = await connect(`ws://127.0.0.1:${raw.port}/`, { maxMessageSize: 8 << 20, compression: false });
      const peer = await raw.next();
      const frames = chunks(4 << 20, 65_536).map((part, i) => encodeFrame(i === 0 ? 2 : 0, part, i === 65_535, false, null));
      peer.socket.write(Buffer.concat(frames));
      assert.equal(((await within(ws.recv(), 20_000, 'the message')) as Buffer).length, 4 << 20);
      const empty = encodeFrame(0, '', false, false, null);
      peer.socket.write(Buffer.concat([encodeFrame(2, 'x', false, false, null), ...Array.from({ length: 20_000 }, () => empty)]));
      // The client fails once its reader asks for the next message: its close frame, then its end of TCP.
      const ended = once(peer.socket, 'end');
      await assert.rejects(within(ws.recv(), 5000, 'the client failing'), { code: 'WS_CLOSED_ERROR' });
      await within(ended, 5000, 'the client ending TCP');
      assert.equal(peer.closes[0]?.code, 1008);
    } finally {
      await raw.close();
    }
  });

  it('maxFragments sets the base of the budget', async () => {
    const server = await startServer(async (ws) => {
      for await (const message of ws) await ws.send(message);
    }, { maxFragments: 10, compression: false });
    try {
      const ws = await connect(server.url, { compression: false });
      await ws.send(chunks(10, 10));
      assert.equal(((await ws.recv()) as Buffer).length, 10);
      await ws.send(chunks(11, 11));
      assert.equal((await within(ws.closed, 5000, 'the server failing')).code, 1008);
    } finally {
      await server.close();
    }
  });
});

describe('maxQueue backpressure', { timeout: 30_000 }, () => {
  it('a handler that never reads pauses the socket: the client buffers, not the server', async () => {
    // Without compression, so that bytes on the wire are the bytes sent.
    const { server, next } = await holdingServer({ maxQueue: 4, maxMessageSize: 1 << 20, compression: false });
    try {
      const ws = await connect(server.url, { writeLimit: 64 << 20, compression: false });
      const serverSide = await next();
      const message = Buffer.alloc(64 * 1024, 1);
      const total = 400; // 25 MiB
      const sends: Array<Promise<void>> = [];
      for (let i = 0; i < total; i++) {
        message.writeUInt32BE(i, 0);
        sends.push(ws.send(Buffer.from(message)));
      }
      await delay(500);
      const serverRead = socketOf(serverSide).bytesRead;
      // The server read far less than was sent: the kernel buffers are full and the rest waits on the client.
      assert.ok(serverRead < (total * message.length) / 2, `server read ${serverRead} bytes`);
      assert.ok(ws.bufferedAmount > 4 << 20, `client bufferedAmount ${ws.bufferedAmount}`);
      await delay(300);
      assert.ok(socketOf(serverSide).bytesRead - serverRead < 256 * 1024, 'the server stopped reading');
      // Reading again drains everything, in order.
      for (let i = 0; i < total; i++) {
        const received = (await within(serverSide.recv(), 5000, `message ${i}`)) as Buffer;
        assert.equal(received.readUInt32BE(0), i);
      }
      await Promise.all(sends);
      assert.equal(ws.bufferedAmount, 0);
      await ws.close();
    } finally {
      await server.close();
    }
  });
});

describe('writeLimit', { timeout: 30_000 }, () => {
  it('await send() of many MiB to a peer that does not read resolves only once the peer reads', async () => {
    const raw = await rawServer();
    try {
      const ws = await connect(`ws://127.0.0.1:${raw.port}/`, { writeLimit: 64 * 1024, pingInterval: null, compression: false });
      const peer = await raw.next();
      peer.socket.pause();
      let done = false;
      const sending = ws.send(Buffer.alloc(16 << 20, 7)).then(() => (done = true));
      await delay(500);
      assert.equal(done, false, 'send() resolved while the peer was not reading');
      assert.ok(ws.bufferedAmount > 1 << 20, `bufferedAmount ${ws.bufferedAmount}`);
      peer.socket.resume();
      await within(sending, 10_000, 'send() after the peer reads');
      assert.ok(peer.bytes() > 15 << 20 || ws.bufferedAmount <= 64 * 1024);
      ws.terminate();
    } finally {
      await raw.close();
    }
  });

  it('many sends to a peer that does not read: the later ones wait', async () => {
    const raw = await rawServer();
    try {
      const ws = await connect(`ws://127.0.0.1:${raw.port}/`, { writeLimit: 256 * 1024, pingInterval: null, compression: false });
      const peer = await raw.next();
      peer.socket.pause();
      let resolved = 0;
      const chunk = Buffer.alloc(1 << 20, 3);
      const sends = Array.from({ length: 16 }, () => ws.send(chunk).then(() => resolved++));
      await delay(400);
      assert.equal(resolved, 0);
      peer.socket.resume();
      await within(Promise.all(sends), 10_000, 'sends');
      assert.equal(resolved, 16);
      ws.terminate();
    } finally {
      await raw.close();
    }
  });
});

describe('keepalive', { timeout: 20_000 }, () => {
  it('the server closes a peer that never answers pings with 1011 within pingInterval + pingTimeout', async () => {
    const { server, next } = await holdingServer({ pingInterval: 100, pingTimeout: 100 });
    try {
      // rawClient decodes what it receives but never answers a ping.
      const client = await rawClient(server.address()!.port);
      const serverSide = await next();
      const closed = await within(client.closed, 3000, 'the keepalive close');
      assert.equal(closed.code, 1011);
      assert.ok(closed.ms < 200 + 1800, `closed after ${closed.ms} ms (slack for a loaded machine; the default timeouts are 10 s+)`);
      const info = await serverSide.closed;
      assert.equal(info.wasClean, false);
      await assert.rejects(serverSide.recv(), (e: unknown) => (e as Error).name === 'ConnectionClosedError');
    } finally {
      await server.close();
    }
  });

  it('a peer that answers pings stays connected', async () => {
    const { server, next } = await holdingServer({ pingInterval: 50, pingTimeout: 100 });
    try {
      const ws = await connect(server.url, { pingInterval: null });
      const serverSide = await next();
      await delay(500);
      assert.equal(serverSide.readyState, 1);
      assert.ok(serverSide.latency > 0, 'keepalive pings measured the latency');
      await ws.close();
    } finally {
      await server.close();
    }
  });

  it('the client closes a server that never answers pings with 1011 within pingInterval + pingTimeout', async () => {
    const raw = await rawServer();
    try {
      const started = performance.now();
      const ws = await connect(`ws://127.0.0.1:${raw.port}/`, { pingInterval: 100, pingTimeout: 100 });
      const peer = await raw.next();
      const info = await within(ws.closed, 3000, 'the keepalive close');
      const ms = performance.now() - started;
      assert.ok(ms < 200 + 1800, `closed after ${ms} ms (slack for a loaded machine)`);
      assert.equal(info.wasClean, false);
      await delay(50);
      assert.equal(peer.closes[0]?.code, 1011);
      await assert.rejects(ws.recv(), (e: unknown) => (e as Error).name === 'ConnectionClosedError');
    } finally {
      await raw.close();
    }
  });

  it('a paused (not reading) wskit client is closed by the server with 1011', async () => {
    const { server, next } = await holdingServer({ pingInterval: 100, pingTimeout: 100 });
    try {
      const ws = await connect(server.url, { pingInterval: null });
      const serverSide = await next();
      socketOf(ws).pause();
      const started = performance.now();
      await within(serverSide.closed, 3000, 'server-side close');
      assert.ok(performance.now() - started < 2000);
      socketOf(ws).resume();
      const info = await within(ws.closed, 3000, 'client-side close');
      assert.equal(info.code, 1011);
    } finally {
      await server.close();
    }
  });
});

describe('handshakeTimeout and closeTimeout', { timeout: 20_000 }, () => {
  it('handshakeTimeout closes a silent TCP connection', async () => {
    const server = await startServer(async () => undefined, { handshakeTimeout: 200 });
    try {
      const socket = net.connect(server.address()!.port, '127.0.0.1');
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      const started = performance.now();
      await within(once(socket, 'close'), 3000, 'the server dropping the connection');
      const ms = performance.now() - started;
      assert.ok(ms >= 150 && ms < 2500, `dropped after ${ms} ms`);
    } finally {
      await server.close();
    }
  });

  it('handshakeTimeout closes a connection that sends half a request', async () => {
    const server = await startServer(async () => undefined, { handshakeTimeout: 200 });
    try {
      const socket = net.connect(server.address()!.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
      await within(once(socket, 'close'), 3000, 'the server dropping the connection');
    } finally {
      await server.close();
    }
  });

  it('the server drops a peer that never answers its close after closeTimeout', async () => {
    const server = await startServer(async (ws) => void (await ws.close(1000, 'bye')), { closeTimeout: 200 });
    try {
      const client = await rawClient(server.address()!.port);
      const closed = await within(client.closed, 3000, 'the server dropping the connection');
      assert.equal(closed.code, 1000);
      assert.ok(closed.ms >= 150 && closed.ms < 1000, `dropped after ${closed.ms} ms`);
    } finally {
      await server.close();
    }
  });

  it('server.close() resolves within closeTimeout when a peer never answers', async () => {
    const server = await startServer(async (ws) => void (await ws.closed), { closeTimeout: 200 });
    const client = await rawClient(server.address()!.port);
    await delay(50);
    const started = performance.now();
    await within(server.close(), 3000, 'server.close()');
    assert.ok(performance.now() - started < 1000);
    assert.equal((await client.closed).code, 1001);
  });

  it('the client drops a server that never answers its close after closeTimeout', async () => {
    const raw = await rawServer();
    try {
      const ws = await connect(`ws://127.0.0.1:${raw.port}/`, { closeTimeout: 200, pingInterval: null });
      const peer = await raw.next();
      const started = performance.now();
      const info = await within(ws.close(4000, 'going'), 3000, 'close()');
      const ms = performance.now() - started;
      assert.ok(ms >= 150 && ms < 2500, `dropped after ${ms} ms`);
      assert.equal(info.code, 1006);
      assert.equal(info.wasClean, false);
      assert.deepEqual(peer.closes[0], { code: 4000, reason: 'going' });
    } finally {
      await raw.close();
    }
  });
});
