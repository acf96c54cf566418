/**
 * The server API over real loopback sockets: serve() on port 0, attach() and
 * handleUpgrade() on a node http.Server shared with plain HTTP, processRequest,
 * origins, subprotocols, request info, server.close(), and handshake rejects
 * as a raw TCP client sees them.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import {
  attach,
  connect,
  ConnectionClosedOK,
  InvalidStatus,
  type HttpResponse,
  Server,
  State,
  type Connection,
} from '../../src/index.js';
import { echo, rawExchange, startServer, within } from '../helpers.js';

async function listenHttp(server: http.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function closeHttp(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

const upgradeRequest = (extra = '', requestLine = 'GET / HTTP/1.1', key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n') =>
  `${requestLine}\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${key}Sec-WebSocket-Version: 13\r\n${extra}\r\n`;

describe('serve()', { timeout: 20_000 }, () => {
  it('listens on a free port with port 0; address() and url tell which', async () => {
    const server = await startServer(echo);
    try {
      const address = server.address();
      assert.ok(address !== null && address.port > 0);
      assert.equal(address.address, '127.0.0.1');
      assert.equal(server.url, `ws://127.0.0.1:${address.port}`);
      const ws = await connect(server.url);
      await ws.send('hi');
      assert.equal(await ws.recv(), 'hi');
      await ws.close();
    } finally {
      await server.close();
    }
  });

  it('exposes the request path, query, headers and the remote address', async () => {
    let seen: Connection | undefined;
    const server = await startServer(async (ws) => {
      seen = ws;
      await ws.send(JSON.stringify({ path: ws.request?.path, q: ws.request?.query.get('q'), h: ws.request?.headers.get('x-custom') }));
      await ws.closed;
    });
    try {
      const ws = await connect(`${server.url}/some/path?q=42&r=1`, { headers: { 'X-Custom': 'yes' } });
      assert.deepEqual(JSON.parse((await ws.recv()) as string), { path: '/some/path', q: '42', h: 'yes' });
      assert.equal(seen!.request!.target, '/some/path?q=42&r=1');
      assert.equal(seen!.remoteAddress, '127.0.0.1');
      assert.equal(ws.remoteAddress, '127.0.0.1');
      await ws.close();
    } finally {
      await server.close();
    }
  });

  it('negotiates a subprotocol: the server prefers its own order among those offered', async () => {
    const server = await startServer(
      async (ws) => {
        await ws.send(String(ws.subprotocol));
        await ws.closed;
      },
      { subprotocols: ['chat', 'superchat'] },
    );
    try {
      const ws = await connect(server.url, { subprotocols: ['superchat'] });
      assert.equal(ws.subprotocol, 'superchat');
      assert.equal(await ws.recv(), 'superchat');
      await ws.close();
      const both = await connect(server.url, { subprotocols: ['superchat', 'chat'] });
      assert.equal(both.subprotocol, 'chat');
      await both.close();
      const none = await connect(server.url, { subprotocols: ['other'] });
      assert.equal(none.subprotocol, null);
      assert.equal(await none.recv(), 'null');
      await none.close();
      // The ws client sees the same choice.
      const peer = new WebSocket(server.url, ['superchat']);
      await once(peer, 'open');
      assert.equal(peer.protocol, 'superchat');
      peer.close();
      await once(peer, 'close');
    } finally {
      await server.close();
    }
  });

  it('processRequest answers with 401 (InvalidStatus on the client) and serves GET /healthz over plain HTTP', async () => {
    const server = await startServer(echo, {
      processRequest: (request): HttpResponse | undefined => {
        if (request.path === '/healthz') return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: 'OK\n' };
        if (request.headers.get('authorization') !== 'Bearer good') {
          return { status: 401, headers: { 'WWW-Authenticate': 'Bearer' }, body: 'no\n' };
        }
        return undefined;
      },
    });
    try {
      const error = await connect(server.url).then(
        () => assert.fail('should be rejected'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof InvalidStatus, String(error));
      assert.equal(error.response.status, 401);
      assert.equal(error.response.headers.get('www-authenticate'), 'Bearer');
      const ok = await connect(server.url, { headers: { Authorization: 'Bearer good' } });
      await ok.send('in');
      assert.equal(await ok.recv(), 'in');
      await ok.close();
      assert.deepEqual(await httpGet(server.address()!.port, '/healthz'), { status: 200, body: 'OK\n' });
    } finally {
      await server.close();
    }
  });

  it('origins: a wrong Origin gets 403, an allowed one connects', async () => {
    const server = await startServer(echo, { origins: ['https://good.example', /^https:\/\/[a-z]+\.good\.example$/] });
    try {
      await assert.rejects(connect(server.url, { origin: 'https://evil.example' }), (e: unknown) => {
        assert.ok(e instanceof InvalidStatus);
        assert.equal(e.response.status, 403);
        return true;
      });
      await assert.rejects(connect(server.url), (e: unknown) => e instanceof InvalidStatus && e.response.status === 403);
      await assert.rejects(
        connect(server.url, { origin: 'https://a.good.example.evil' }),
        (e: unknown) => e instanceof InvalidStatus && e.response.status === 403,
      );
      for (const origin of ['https://good.example', 'https://app.good.example']) {
        const ws = await connect(server.url, { origin });
        await ws.close();
      }
    } finally {
      await server.close();
    }
  });

  it('close() closes every connection with 1001 and resolves', async () => {
    const server = await startServer(echo);
    const url = server.url;
    const clients = await Promise.all([connect(url), connect(url), connect(url)]);
    const peer = new WebSocket(server.url);
    await once(peer, 'open');
    const peerClosed = once(peer, 'close');
    await within(server.close(), 5000, 'server.close()');
    assert.equal(server.connections.size, 0);
    for (const ws of clients) {
      const info = await within(ws.closed, 2000, 'client close');
      assert.equal(info.code, 1001);
      assert.equal(info.wasClean, true);
      await assert.rejects(ws.recv(), ConnectionClosedOK);
    }
    const [code] = (await peerClosed) as [number];
    assert.equal(code, 1001);
    // Not listening any more.
    await assert.rejects(connect(url, { openTimeout: 2000 }));
  });
});

describe('attach() and handleUpgrade() on a node http.Server', { timeout: 20_000 }, () => {
  it('attach() shares the port with plain HTTP requests', async () => {
    const httpServer = http.createServer((req, res) => res.end(`http says ${req.url}`));
    const wsServer = attach(httpServer, echo, { logger: null });
    const port = await listenHttp(httpServer);
    try {
      assert.equal(wsServer.address(), null);
      assert.deepEqual(await httpGet(port, '/page'), { status: 200, body: 'http says /page' });
      const ws = await connect(`ws://127.0.0.1:${port}/socket`);
      await ws.send(Buffer.from([1, 2, 3]));
      assert.deepEqual(await ws.recv(), Buffer.from([1, 2, 3]));
      assert.deepEqual(await httpGet(port, '/again'), { status: 200, body: 'http says /again' });
      const closing = ws.closed;
      await wsServer.close();
      assert.equal((await closing).code, 1001);
    } finally {
      await closeHttp(httpServer);
    }
  });

  it('handleUpgrade() in a hand-written upgrade listener, with bytes sent right after the request', async () => {
    const wsServer = new Server(echo, { logger: null });
    const httpServer = http.createServer((_req, res) => res.end('plain'));
    httpServer.on('upgrade', (req, socket, head) => {
      if (req.url === '/ws') wsServer.handleUpgrade(req, socket, head);
      else socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    const port = await listenHttp(httpServer);
    try {
      const ws = await connect(`ws://127.0.0.1:${port}/ws`);
      await ws.send('through handleUpgrade');
      assert.equal(await ws.recv(), 'through handleUpgrade');
      await ws.close();
      await assert.rejects(connect(`ws://127.0.0.1:${port}/elsewhere`), (e: unknown) => e instanceof InvalidStatus && e.response.status === 404);
      assert.deepEqual(await httpGet(port, '/'), { status: 200, body: 'plain' });
    } finally {
      await wsServer.close();
      await closeHttp(httpServer);
    }
  });

  it('processRequest works through attach() too', async () => {
    const httpServer = http.createServer((_req, res) => res.end('plain'));
    const wsServer = attach(httpServer, echo, { logger: null, processRequest: () => ({ status: 401, body: 'no' }) });
    const port = await listenHttp(httpServer);
    try {
      await assert.rejects(connect(`ws://127.0.0.1:${port}/`), (e: unknown) => e instanceof InvalidStatus && e.response.status === 401);
    } finally {
      await wsServer.close();
      await closeHttp(httpServer);
    }
  });
});

describe('handshake rejects seen by a raw TCP client', { timeout: 20_000 }, () => {
  async function reply(request: string): Promise<{ status: number; head: string }> {
    const server = await startServer(echo);
    try {
      const text = (await rawExchange(server.address()!.port, request, 5000)).toString('latin1');
      return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), head: text.slice(0, text.indexOf('\r\n\r\n')) };
    } finally {
      await server.close();
    }
  }

  it('a missing Sec-WebSocket-Key gets 400', async () => {
    assert.equal((await reply(upgradeRequest('', 'GET / HTTP/1.1', ''))).status, 400);
  });

  it('a wrong version gets 426 with Sec-WebSocket-Version: 13', async () => {
    const request = upgradeRequest().replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 8');
    const { status, head } = await reply(request);
    assert.equal(status, 426);
    assert.match(head, /\r\nSec-WebSocket-Version: 13(\r\n|$)/i);
  });

  it('POST gets 405', async () => {
    assert.equal((await reply(upgradeRequest('', 'POST / HTTP/1.1'))).status, 405);
  });

  it('an oversized header gets 431', async () => {
    assert.equal((await reply(upgradeRequest(`X-Big: ${'a'.repeat(20_000)}\r\n`))).status, 431);
  });

  it('a valid request gets 101 with the right Sec-WebSocket-Accept', async () => {
    const server = await startServer(echo);
    try {
      const socket = (await import('node:net')).connect(server.address()!.port, '127.0.0.1');
      socket.write(upgradeRequest());
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      const text = chunk.toString('latin1');
      assert.match(text, /^HTTP\/1\.1 101 /);
      assert.match(text, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
      socket.destroy();
    } finally {
      await server.close();
    }
  });
});

describe('arguments of the wrong type (plain JavaScript callers)', { timeout: 20_000 }, () => {
  it('are rejected with a TypeError naming the call, nothing is sent, and the connection stays usable', async () => {
    const server = await startServer(echo);
    const ws = await connect(server.url);
    try {
      const untyped = ws as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      await assert.rejects(untyped.send!.call(ws, 50), { name: 'TypeError', message: /^send\(\) takes .* not a number$/ });
      await assert.rejects(untyped.send!.call(ws, { a: 1 }), { name: 'TypeError', message: /^send\(\) takes .* not an object \(Object\)$/ });
      await assert.rejects(untyped.send!.call(ws, [new Float32Array(2)].values()), { name: 'TypeError', message: /chunks are strings or Uint8Arrays/ });
      await assert.rejects(untyped.ping!.call(ws, 50), { name: 'TypeError', message: /^ping\(\) takes a string or a Uint8Array, not a number$/ });
      await assert.rejects(untyped.pong!.call(ws, {}), { name: 'TypeError', message: /^pong\(\) takes/ });
      // ws's CVE-2026-45736: a typed array as the close reason put uninitialised memory on the wire.
      await assert.rejects(untyped.close!.call(ws, 1000, new Float32Array(8)), { name: 'TypeError', message: /close reason must be a string/ });
      assert.equal(ws.readyState, State.OPEN);

      // Any typed array is binary: exactly the bytes of its view, offset and length respected.
      const backing = new Float32Array([1.5, -2.25, 3.125, 4]);
      const view = new Float32Array(backing.buffer, 4, 2);
      await ws.send(view);
      assert.deepEqual(await within(ws.recv(), 5000, 'echo'), Buffer.from(backing.buffer, 4, 8));
      assert.equal(typeof (await ws.ping('still alive')), 'number');
    } finally {
      await ws.close();
      await server.close();
    }
  });
});

describe('remoteAddress', { timeout: 20_000 }, () => {
  it('is known after the connection closed, even when first read then', async () => {
    let seen: string | undefined = 'never read';
    let done!: () => void;
    const read = new Promise<void>((resolve) => (done = resolve));
    const server = await startServer(async (ws) => {
      await ws.closed;
      seen = ws.remoteAddress;
      done();
    });
    try {
      const ws = await connect(server.url);
      ws.terminate();
      await within(read, 5000, 'the handler reading the address');
      assert.equal(seen, '127.0.0.1');
    } finally {
      await server.close();
    }
  });
});
