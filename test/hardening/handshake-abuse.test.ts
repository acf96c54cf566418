/**
 * Handshake abuse over real sockets (RFC 6455 §4.2.1, RFC 9112): each bad
 * request gets the right 4xx or a close within the handshake timeout, memory
 * stays bounded, and a well-behaved client is served promptly meanwhile.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect, type Server } from '../../src/index.js';
import { delay, echo, rawExchange, startServer, until, within } from '../helpers.js';

let server: Server;
let port: number;

before(async () => {
  server = await startServer(echo, { handshakeTimeout: 1500 });
  port = server.address()!.port;
});
after(() => server.close());

const valid = (extra = '', requestLine = 'GET / HTTP/1.1') =>
  `${requestLine}\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

async function status(request: string | Buffer): Promise<number | null> {
  const reply = await rawExchange(port, request, 5000);
  const match = /^HTTP\/1\.1 (\d{3})/.exec(reply.toString('latin1'));
  return match ? Number(match[1]) : null;
}

/** The status of the response head, without waiting for the connection to close (a 101 keeps it open). */
function headStatus(request: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.includes('\r\n\r\n')) {
        socket.destroy();
        resolve(Number(received.slice(9, 12)));
      }
    });
    socket.write(request);
  });
}

describe('bad handshakes get the right HTTP status', () => {
  it('an oversized request line gets 414', async () => {
    assert.equal(await status(valid('', `GET /${'a'.repeat(10_000)} HTTP/1.1`)), 414);
  });

  it('10,000 headers get 431', async () => {
    const headers = Array.from({ length: 10_000 }, (_, i) => `X-H${i}: v\r\n`).join('');
    assert.equal(await status(valid(headers)), 431);
  });

  it('a 1 MiB header value gets 431 without the server reading it all', async () => {
    assert.equal(await status(valid(`X-Big: ${'v'.repeat(1024 * 1024)}\r\n`)), 431);
  });

  it('garbage instead of HTTP gets 400', async () => {
    assert.equal(await status(Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', 'latin1')), 400);
  });

  it('HTTP/1.0 gets 400', async () => {
    assert.equal(await status(valid('', 'GET / HTTP/1.0')), 400);
  });

  it('HTTP/2.0 in a request line gets 505', async () => {
    assert.equal(await status(valid('', 'GET / HTTP/2.0')), 505);
  });

  it('a POST upgrade gets 405', async () => {
    assert.equal(await status(valid('', 'POST / HTTP/1.1')), 405);
  });

  it('a missing key gets 400', async () => {
    const request = 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n';
    assert.equal(await status(request), 400);
  });

  it('a malformed key (not 16 bytes of base64) gets 400', async () => {
    const request = valid().replace('dGhlIHNhbXBsZSBub25jZQ==', 'c2hvcnQ=');
    assert.equal(await status(request), 400);
  });

  it('a wrong version gets 426 with Sec-WebSocket-Version: 13', async () => {
    const reply = (await rawExchange(port, valid().replace('Version: 13', 'Version: 8'))).toString('latin1');
    assert.match(reply, /^HTTP\/1\.1 426/);
    assert.match(reply, /\r\nSec-WebSocket-Version: 13\r\n/);
  });

  it('a plain HTTP GET gets 426 Upgrade Required', async () => {
    assert.equal(await status('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 426);
  });

  it('a repeated Host header gets 400', async () => {
    assert.equal(await status(valid('Host: other\r\n')), 400);
  });

  it('a header name with "__proto__" or "constructor" is just a header', async () => {
    const code = await headStatus(valid('__proto__: x\r\nconstructor: y\r\nSec-WebSocket-Extensions: __proto__, hasOwnProperty\r\n'));
    assert.equal(code, 101);
  });
});

describe('header parsing is linear-time', () => {
  it('pathological Sec-WebSocket-Protocol and Extensions values are handled in milliseconds', async () => {
    const evil = 'b' + ' '.repeat(7000) + 'x';
    const started = performance.now();
    const code = await headStatus(valid(`Sec-WebSocket-Protocol: ${evil}\r\nSec-WebSocket-Extensions: a;${' '.repeat(7000)}b\r\n`));
    assert.ok(code === 101 || code === 400, `status ${code}`);
    assert.ok(performance.now() - started < 500, 'answered quickly');
  });
});

describe('slow and silent clients', () => {
  it('slowloris connections are dropped at the handshake timeout while a good client is served promptly', async () => {
    const sockets: net.Socket[] = [];
    const closedAt: number[] = [];
    const started = performance.now();
    for (let i = 0; i < 200; i++) {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('close', () => closedAt.push(performance.now() - started));
      sockets.push(socket);
    }
    const request = valid();
    const trickle = setInterval(() => {
      for (const socket of sockets) if (!socket.destroyed) socket.write(request[Math.floor(Math.random() * 10)]!);
    }, 200);
    try {
      await delay(300);
      const t0 = performance.now();
      const ws = await connect(`ws://127.0.0.1:${port}`);
      await ws.send('prompt');
      assert.equal(await ws.recv(), 'prompt');
      assert.ok(performance.now() - t0 < 500, 'the good client was served promptly');
      await ws.close();
      await within(
        (async () => {
          while (closedAt.length < sockets.length) await delay(50);
        })(),
        4000,
        'slowloris sockets closing',
      );
      assert.ok(Math.max(...closedAt) < 1500 + 1500, 'all dropped around the handshake timeout');
    } finally {
      clearInterval(trickle);
      for (const socket of sockets) socket.destroy();
    }
  });

  it('a silent TCP connection is closed at the handshake timeout', async () => {
    const socket = net.connect(port, '127.0.0.1');
    const started = performance.now();
    await new Promise((resolve) => socket.on('close', resolve));
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 1400 && elapsed < 2500, `closed after ${elapsed} ms`);
  });
});

describe('admission limits', () => {
  it('maxConnectionsPerIp answers 429 past the limit', async () => {
    const limited = await startServer(echo, { maxConnectionsPerIp: 2 });
    try {
      const url = limited.url.replace('localhost', '127.0.0.1');
      const a = await connect(url);
      const b = await connect(url);
      await assert.rejects(connect(url), (e: { response?: { status: number } }) => e.response?.status === 429);
      await a.close();
      await b.close();
      await delay(50);
      const c = await connect(url);
      await c.close();
      assert.equal(limited.refused.perIp, 1);
    } finally {
      await limited.close();
    }
  });

  it('connectionRate answers 429 past the rate', async () => {
    const limited = await startServer(echo, { connectionRate: { perIp: 3, intervalMs: 60_000 } });
    try {
      const url = limited.url.replace('localhost', '127.0.0.1');
      for (let i = 0; i < 3; i++) await (await connect(url)).close();
      await assert.rejects(connect(url), (e: { response?: { status: number } }) => e.response?.status === 429);
    } finally {
      await limited.close();
    }
  });

  it('maxPendingHandshakes drops connections beyond the cap', async () => {
    const limited = await startServer(echo, { maxPendingHandshakes: 5, handshakeTimeout: 3000 });
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const s = net.connect(limited.address()!.port, '127.0.0.1');
        s.on('error', () => undefined);
        sockets.push(s);
      }
      await delay(100);
      const extra = net.connect(limited.address()!.port, '127.0.0.1');
      extra.on('error', () => undefined);
      await within(new Promise((r) => extra.on('close', r)), 1000, 'drop');
      assert.equal(limited.refused.pending, 1);
    } finally {
      for (const s of sockets) s.destroy();
      await limited.close();
    }
  });

  it('one address with silent sockets past the whole budget cannot lock another address out (maxPendingHandshakesPerIp)', async () => {
    // Default per-address share (64), a small budget so that the test stays fast: 300 silent sockets from 127.0.0.1.
    const limited = await startServer(echo, { maxPendingHandshakes: 200, handshakeTimeout: 5000 });
    const port = limited.address()!.port;
    const silent: net.Socket[] = [];
    try {
      let connected = 0;
      for (let i = 0; i < 300; i++) {
        const s = net.connect(port, '127.0.0.1', () => connected++);
        s.on('error', () => undefined);
        silent.push(s);
      }
      await until(() => connected === 300 && limited.refused.pending + limited.refused.pendingPerIp >= 100, 5000, 'the silent sockets accepted');
      // The address took half the budget; it was refused past that, while it held more than its share.
      await until(() => limited.refused.pendingPerIp === 200, 5000, 'the rest refused');
      assert.equal(limited.refused.pending, 0, 'the whole budget was never used up');
      // Another address is still served at once.
      const socket = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
      const ws = await within(connect(`ws://127.0.0.1:${port}`, { socket }), 3000, 'handshake from 127.0.0.2');
      await ws.send('still served');
      assert.equal(await ws.recv(), 'still served');
      await ws.close();
    } finally {
      for (const s of silent) s.destroy();
      await limited.close();
    }
  });
});
