/**
 * Every feature of a connection over the h2 path (RFC 8441), between wskit's client and server over h2c on
 * loopback: routing with a 404 for an unknown path, keepalive pings, maxMessageSize, writeLimit backpressure from
 * the stream's flow-control window, broadcast() and topics across WebSockets of one session, and the reconnecting
 * client coming back over h2 after the server restarts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { broadcast, connect, ReconnectingClient, router, type Connection } from '../../src/index.js';
import { freePort, startServer, until, within } from '../helpers.js';

const byVersion = (ws: Connection, text: string): string => `${ws.request?.httpVersion}:${text}`;

describe('the h2 path shares every feature', { timeout: 30_000 }, () => {
  it('routing: path parameters, and 404 for an unknown path', async () => {
    const routes = router({ '/rooms/{room}': async (ws) => void (await ws.send(byVersion(ws, ws.params.room!))) });
    const server = await startServer(routes.handler, { http2: true, route: routes });
    try {
      const ws = await connect(`${server.url}/rooms/blue`, { http2: true });
      assert.equal(await ws.recv(), '2:blue');
      await ws.close();
      await assert.rejects(connect(`${server.url}/nowhere`, { http2: true }), /404/);
    } finally {
      await server.close();
    }
  });

  it('keepalive pings and maxMessageSize', async () => {
    const server = await startServer(async (ws) => {
      for await (const message of ws) await ws.send(message);
    }, { http2: true, maxMessageSize: 1000 });
    try {
      const ws = await connect(server.url, { http2: true });
      assert.equal(typeof (await within(ws.ping('p'), 5000, 'the pong')), 'number');
      await ws.send('x'.repeat(1001)).catch(() => undefined);
      const info = await within(ws.closed, 5000, 'the close');
      assert.equal(info.code, 1009);
    } finally {
      await server.close();
    }
  });

  it('writeLimit backpressure: send() waits while the peer does not read (the stream window is closed)', async () => {
    let sent = 0;
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    const server = await startServer(async (ws) => {
      const chunk = Buffer.alloc(16 * 1024, 7);
      const deadline = Date.now() + 10_000;
      // A client that reads nothing lets about its h2 windows (64 KiB + 64 KiB) and writeLimit through, then stops us.
      while (Date.now() < deadline) {
        const done = ws.send(chunk).then(() => true);
        const waited = await Promise.race([done, new Promise<boolean>((resolve) => setTimeout(resolve, 300, false))]);
        if (!waited) break;
        sent += chunk.length;
      }
      release();
    }, { http2: true, writeLimit: 64 * 1024, compression: false });
    try {
      const ws = await connect(server.url, { http2: true, compression: false, maxQueue: 1 });
      await within(stalled, 15_000, 'the server stalling');
      assert.ok(sent < 4 * 1024 * 1024, `sent ${sent} bytes to a peer that reads nothing`);
      ws.terminate();
      await until(() => server.connections.size === 0, 5000, 'the server dropping the reset stream');
    } finally {
      await server.close();
    }
  });

  it('broadcast() and topics over WebSockets sharing one session', async () => {
    const server = await startServer(async (ws) => {
      ws.subscribe('news');
      for await (const message of ws) if (message === 'publish') ws.publish('news', 'from a peer');
    }, { http2: true });
    try {
      const sockets = await Promise.all([1, 2, 3].map(() => connect(server.url, { http2: true })));
      await until(() => server.connections.size === 3, 5000, 'three connections');
      assert.equal(server.http2SessionCount, 1);
      assert.equal(broadcast(server.connections, 'all').sent, 3);
      assert.deepEqual(await Promise.all(sockets.map((ws) => ws.recv())), ['all', 'all', 'all']);
      await sockets[0]!.send('publish');
      assert.deepEqual(await Promise.all(sockets.slice(1).map((ws) => ws.recv())), ['from a peer', 'from a peer']);
      await Promise.all(sockets.map((ws) => ws.close()));
    } finally {
      await server.close();
    }
  });

  it('the reconnecting client comes back over h2 after the server restarts', async () => {
    const port = await freePort();
    const handler = async (ws: Connection): Promise<void> => void (await ws.send(byVersion(ws, 'hello')));
    let server = await startServer(handler, { http2: true, port });
    const messages: unknown[] = [];
    const closes: number[] = [];
    const client = new ReconnectingClient(`ws://127.0.0.1:${port}/`, {
      http2: true,
      reconnect: { initialDelay: 50, maxDelay: 200 },
      openTimeout: 1000,
      onMessage: (message) => void messages.push(message),
      onClose: (info) => void closes.push(info.code),
    });
    try {
      await until(() => messages.length === 1, 5000, 'the first hello');
      await server.close(1012);
      server = await startServer(handler, { http2: true, port });
      await until(() => messages.length === 2, 10_000, 'the hello after the restart');
      assert.deepEqual(messages, ['2:hello', '2:hello']);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
