/**
 * The callback handler (`serve({ open, message, close, drain })`) over real loopback sockets: the lifecycle and the
 * order of the callbacks, `sendNow()`'s statuses, drain after backpressure, backpressureLimit, maxQueue with async
 * callbacks, keepalive, permessage-deflate, close codes, failing callbacks (1011, logged, the process lives on), and
 * the same callbacks through attach() and a router.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import {
  attach,
  connect,
  router,
  SendStatus,
  type Connection,
  type Message,
  type ServerLogger,
  type WebSocketHandlers,
} from '../../src/index.js';
import { clientFrame, rawClient } from '../hardening/raw-peer.js';
import { startServer, until, within } from '../helpers.js';

/** A logger that records what the server reports as errors. */
function recordingLogger(): ServerLogger & { errors: unknown[][] } {
  const errors: unknown[][] = [];
  return { errors, error: (...args: unknown[]) => void errors.push(args), warn: () => undefined, info: () => undefined } as ServerLogger & { errors: unknown[][] };
}

describe('callback handler', { timeout: 30_000 }, () => {
  it('calls open, message (text and binary, with isBinary) and close in order; sendNow returns the frame size', async () => {
    const events: string[] = [];
    const statuses: number[] = [];
    let closedWith: [number, string] | null = null;
    const server = await startServer(
      {
        open(ws) {
          events.push('open');
          statuses.push(ws.sendNow('welcome'));
        },
        message(ws, data, isBinary) {
          events.push(`message ${typeof data === 'string' ? data : `bytes ${data.length}`} ${isBinary}`);
          statuses.push(ws.sendNow(data));
        },
        close(ws, code, reason) {
          events.push('close');
          closedWith = [code, reason];
          assert.equal(ws.closeCode, code);
        },
      },
      { compression: false },
    );
    try {
      const ws = await connect(server.url);
      assert.equal(await ws.recv(), 'welcome');
      await ws.send('hi');
      assert.equal(await ws.recv(), 'hi');
      await ws.send(Buffer.alloc(300, 7));
      assert.deepEqual(await ws.recv(), Buffer.alloc(300, 7));
      await ws.close(4000, 'bye');
      await until(() => closedWith !== null, 5000, 'close callback');
      assert.deepEqual(events, ['open', 'message hi false', 'message bytes 300 true', 'close']);
      assert.deepEqual(closedWith, [4000, 'bye']);
      // Frames: 2 + 7, 2 + 2, 4 + 300 bytes (a 16-bit length above 125).
      assert.deepEqual(statuses, [9, 4, 304]);
    } finally {
      await server.close();
    }
  });

  it('sendNow returns DROPPED once the connection is closing, and throws a TypeError for other data', async () => {
    let result: { afterClose: number; thrown: unknown } | null = null;
    const server = await startServer(
      {
        message(ws) {
          let thrown: unknown;
          try {
            ws.sendNow({} as unknown as string);
          } catch (error) {
            thrown = error;
          }
          void ws.close(1000);
          result = { afterClose: ws.sendNow('late'), thrown };
        },
      },
      { compression: false },
    );
    try {
      const ws = await connect(server.url);
      await ws.send('x');
      const info = await within(ws.closed, 5000, 'close');
      assert.equal(info.code, 1000);
      assert.ok(result !== null);
      const { afterClose, thrown } = result as { afterClose: number; thrown: unknown };
      assert.equal(afterClose, SendStatus.DROPPED);
      assert.ok(thrown instanceof TypeError && /sendNow\(\) takes a string or bytes/.test(thrown.message));
    } finally {
      await server.close();
    }
  });

  it('returns BACKPRESSURE past writeLimit, calls drain once it is written, and drops past backpressureLimit', async () => {
    const chunk = Buffer.alloc(64 * 1024, 1);
    const statuses: number[] = [];
    let drains = 0;
    const server = await startServer(
      {
        message(ws) {
          // The client reads nothing yet (maxQueue 1 and no recv()): the kernel buffers fill, then ours.
          for (let i = 0; i < 200; i++) {
            const status = ws.sendNow(chunk);
            statuses.push(status);
            if (status === SendStatus.DROPPED) break;
          }
        },
        drain() {
          drains++;
        },
      },
      { compression: false, writeLimit: 256 * 1024, backpressureLimit: 2 * 1024 * 1024 },
    );
    try {
      const ws = await connect(server.url, { maxQueue: 1, compression: false, maxMessageSize: 1 << 20 });
      await ws.send('go');
      await until(() => statuses.at(-1) === SendStatus.DROPPED, 10_000, 'a dropped message');
      const sent = statuses.filter((s) => s > 0).length;
      const backpressured = statuses.filter((s) => s === SendStatus.BACKPRESSURE).length;
      assert.ok(sent >= 1, `some messages went out within writeLimit (${statuses.join(',')})`);
      assert.ok(backpressured >= 1, 'BACKPRESSURE once over writeLimit');
      assert.ok(sent + backpressured < 200, 'the loop stopped at DROPPED');
      // In one call: within writeLimit, then over it, then over backpressureLimit.
      assert.deepEqual(statuses.slice(0, sent), Array(sent).fill(chunk.length + 10), 'a 64 KiB frame has a 10-byte header');
      assert.equal(statuses[sent + backpressured], SendStatus.DROPPED);
      const frame = chunk.length + 10;
      assert.ok(sent * frame <= 256 * 1024 && (sent + 1) * frame > 256 * 1024, statuses.join(','));
      assert.ok((sent + backpressured) * frame > 2 * 1024 * 1024 && (sent + backpressured - 1) * frame <= 2 * 1024 * 1024, statuses.join(','));
      // Every message accepted (sent or backpressured) arrives, and drain is called once what waited is written.
      for (let i = 0; i < sent + backpressured; i++) assert.equal(((await ws.recv()) as Buffer).length, chunk.length);
      await until(() => drains === 1, 10_000, 'the drain callback');
      assert.equal(server.connections.size, 1);
      assert.equal([...server.connections][0]!.bufferedAmount, 0);
      await ws.close();
    } finally {
      await server.close();
    }
  });

  it('with a writeLimit under the 16 KiB high-water mark of the socket, drain still comes and await send() resolves', async () => {
    const statuses: number[] = [];
    let drains = 0;
    let sent = false;
    const server = await startServer(
      {
        message(ws, data) {
          if (data === 'now') statuses.push(ws.sendNow(Buffer.alloc(2048)));
          else void ws.send(Buffer.alloc(2048)).then(() => (sent = true));
        },
        drain: () => void drains++,
      },
      { writeLimit: 1024, compression: false },
    );
    try {
      const ws = await connect(server.url, { compression: false });
      await ws.send('now');
      assert.equal(((await ws.recv()) as Buffer).length, 2048);
      await until(() => drains === 1, 5000, 'the drain callback');
      assert.deepEqual(statuses, [SendStatus.BACKPRESSURE]);
      await ws.send('paced');
      assert.equal(((await ws.recv()) as Buffer).length, 2048);
      await until(() => sent, 5000, 'await send() over writeLimit resolving');
      await ws.close();
    } finally {
      await server.close();
    }
  });

  it('a throwing message callback closes with 1011, is logged, and other connections carry on', async () => {
    const logger = recordingLogger();
    const server = await startServer(
      {
        message(ws, data) {
          if (data === 'boom') throw new Error('handler bug');
          ws.sendNow(data);
        },
      },
      { logger, compression: false },
    );
    try {
      const healthy = await connect(server.url);
      const ws = await connect(server.url);
      await ws.send('boom');
      // Messages after the failure are not handed on.
      await ws.send('after');
      const info = await within(ws.closed, 5000, 'close');
      assert.equal(info.code, 1011);
      assert.equal(logger.errors.length, 1);
      assert.match(String(logger.errors[0]![0]), /handler failed/);
      assert.equal((logger.errors[0]![1] as Error).message, 'handler bug');
      await healthy.send('still here');
      assert.equal(await healthy.recv(), 'still here');
      await healthy.close();
    } finally {
      await server.close();
    }
  });

  it('a rejected promise from message, and a throwing open, close with 1011 and are logged', async () => {
    const logger = recordingLogger();
    const server = await startServer(
      {
        open(ws) {
          if (ws.request?.path === '/open-fails') throw new Error('open bug');
        },
        async message() {
          await Promise.resolve();
          throw new Error('async bug');
        },
      },
      { logger, compression: false },
    );
    try {
      const a = await connect(`${server.url}/open-fails`);
      assert.equal((await within(a.closed, 5000, 'close')).code, 1011);
      const b = await connect(server.url);
      await b.send('x');
      assert.equal((await within(b.closed, 5000, 'close')).code, 1011);
      assert.deepEqual(logger.errors.map((e) => (e[1] as Error).message), ['open bug', 'async bug']);
    } finally {
      await server.close();
    }
  });

  it('maxQueue bounds the messages whose callback promise is pending: reading pauses, then resumes', async () => {
    const received: Message[] = [];
    const release: Array<() => void> = [];
    const server = await startServer(
      {
        message(_ws, data) {
          received.push(data);
          return new Promise<void>((resolve) => release.push(resolve));
        },
      },
      { maxQueue: 2, compression: false },
    );
    try {
      const ws = await connect(server.url);
      for (let i = 0; i < 10; i++) await ws.send(`m${i}`);
      await until(() => received.length === 2, 5000, 'two messages');
      // A round trip on another connection: the server has had its turns to read, and still holds the rest.
      const other = await connect(server.url);
      await other.ping();
      await other.close();
      assert.equal(received.length, 2);
      // Releasing down to the low mark (maxQueue / 4 = 0) reads on; each new message is released as it comes.
      const drainAll = (): void => {
        while (release.length > 0) release.shift()!();
      };
      const timer = setInterval(drainAll, 5);
      try {
        await until(() => received.length === 10, 5000, 'all ten messages');
      } finally {
        clearInterval(timer);
        drainAll();
      }
      assert.deepEqual(received, Array.from({ length: 10 }, (_, i) => `m${i}`));
      await ws.close();
    } finally {
      await server.close();
    }
  });

  it('keepalive pings run in callback mode; a peer that never answers is closed', async () => {
    let closeCode: number | null = null;
    const server = await startServer(
      { close: (_ws, code) => void (closeCode = code) },
      { pingInterval: 50, pingTimeout: 100, compression: false },
    );
    try {
      const ws = await connect(server.url, { pingInterval: null });
      const serverSide = (): Connection => [...server.connections][0]!;
      await until(() => server.connections.size === 1 && serverSide().latency > 0, 5000, 'an answered keepalive ping');
      await ws.close();
      // A raw client answers nothing: the server gives up after pingTimeout and closes (no close frame from the peer).
      const raw = await rawClient(server.address()!.port);
      const closed = await within(raw.closed, 5000, 'keepalive timeout');
      assert.equal(closed.code, 1011);
      await until(() => closeCode === 1006, 5000, 'close callback with 1006');
    } finally {
      await server.close();
    }
  });

  it('permessage-deflate: messages are decompressed for message() and sendNow() compresses, in order', async () => {
    const server = await startServer({
      message(ws, data) {
        ws.sendNow(data);
        ws.sendNow('x');
      },
    });
    try {
      const ws = await connect(server.url);
      assert.match(ws.extensions, /permessage-deflate/);
      const big = 'abc'.repeat(10_000);
      await ws.send(big);
      await ws.send('small');
      assert.equal(await ws.recv(), big);
      assert.equal(await ws.recv(), 'x');
      assert.equal(await ws.recv(), 'small');
      assert.equal(await ws.recv(), 'x');
      await ws.close();
    } finally {
      await server.close();
    }
  });

  it('close codes: the server closes with its code; invalid UTF-8 from the peer gets 1007', async () => {
    let peerClose: number | null = null;
    const server = await startServer(
      {
        message(ws, data) {
          if (data === 'leave') void ws.close(4001, 'asked to');
        },
        close: (_ws, code) => void (peerClose = code),
      },
      { compression: false },
    );
    try {
      const ws = await connect(server.url);
      await ws.send('leave');
      const info = await within(ws.closed, 5000, 'close');
      assert.deepEqual([info.code, info.reason], [4001, 'asked to']);
      await until(() => peerClose === 4001, 5000, 'close callback (the client echoes 4001)');
      const raw = await rawClient(server.address()!.port);
      raw.socket.write(clientFrame(1, Buffer.from([0xff, 0xfe])));
      assert.equal((await within(raw.closed, 5000, 'close')).code, 1007);
    } finally {
      await server.close();
    }
  });

  it('works through attach() and as a route of a router (the route option)', async () => {
    const httpServer = http.createServer((_request, response) => response.end('plain'));
    const wss = attach(httpServer, { message: (ws, data) => void ws.sendNow(`attached ${String(data)}`) }, { logger: null, compression: false });
    httpServer.listen(0, '127.0.0.1');
    await once(httpServer, 'listening');
    const port = (httpServer.address() as AddressInfo).port;
    const routes = router({
      '/rooms/{room}': { message: (ws, data) => void ws.sendNow(`${ws.params.room}: ${String(data)}`) } satisfies WebSocketHandlers,
      '/async': async (ws) => {
        for await (const message of ws) await ws.send(`async ${String(message)}`);
      },
    });
    const routed = await startServer(() => undefined, { route: routes, compression: false });
    try {
      const a = await connect(`ws://127.0.0.1:${port}/`);
      await a.send('x');
      assert.equal(await a.recv(), 'attached x');
      await a.close();
      const b = await connect(`${routed.url}/rooms/blue`);
      await b.send('hi');
      assert.equal(await b.recv(), 'blue: hi');
      await b.close();
      const c = await connect(`${routed.url}/async`);
      await c.send('hi');
      assert.equal(await c.recv(), 'async hi');
      await c.close();
    } finally {
      await routed.close();
      await wss.close();
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
    }
  });

  it('refuses a handler object whose members are not functions', async () => {
    await assert.rejects(startServer({ message: 'nope' } as unknown as WebSocketHandlers), /the message handler must be a function/);
    await assert.rejects(startServer(42 as unknown as WebSocketHandlers), /a function or an object of callbacks/);
  });
});
