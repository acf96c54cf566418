/**
 * `wskit proxy` holds nothing for a peer that left: a handshake deadline for
 * its own clients, the target's socket closed when the client goes (and the
 * other way round, a half-closed side cut after a grace period), and output
 * to a closed stdout (| head) stops while relaying goes on.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { connect } from '../../src/index.js';
import { echo, startServer } from '../helpers.js';
import { WSKIT, killAll, start, waitForLine } from './cli-helpers.js';

const UPGRADE = 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/** A target that counts its open sockets; `answer` says what it does with a request. */
async function target(answer: 'never' | 'upgrade-and-hold'): Promise<{ url: string; open: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const all = new Set<net.Socket>();
  // allowHalfOpen: a FIN from the proxy does not close it; only the proxy cutting the socket does.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    all.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      all.delete(socket);
    });
    socket.on('end', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', () => {
      if (answer === 'upgrade-and-hold') {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    open: () => sockets.size,
    close: () => {
      for (const s of all) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function until(check: () => boolean, ms: number, what: string): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Date.now() - started;
}

/** Sockets the process holds open (its listening socket included), from /proc (Linux). */
function socketsOf(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Starts `wskit proxy -q` in front of `targetUrl`; resolves with it, its port and the sockets it holds when idle. */
async function startProxy(targetUrl: string, ...extra: string[]): Promise<{ pid: number; port: number; baseline: number }> {
  const proxy = start(['proxy', '--listen', '0', '--target', targetUrl, '-q', ...extra]);
  const port = Number(await waitForLine(proxy, /Proxying ws:\/\/127\.0\.0\.1:(\d+)/));
  return { pid: proxy.pid!, port, baseline: socketsOf(proxy.pid!) };
}

function rawClient(port: number): net.Socket {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  return socket;
}

describe('wskit proxy releases what a departed peer held', { timeout: 90_000 }, () => {
  after(killAll);

  test('silent clients are dropped after --handshake-timeout', async () => {
    const t = await target('never');
    const { port } = await startProxy(t.url, '--handshake-timeout', '1');
    try {
      const clients = await Promise.all(Array.from({ length: 200 }, () => new Promise<net.Socket>((resolve) => {
        const socket = rawClient(port);
        socket.once('connect', () => resolve(socket));
      })));
      let closed = 0;
      for (const socket of clients) socket.once('close', () => closed++);
      const took = await until(() => closed === clients.length, 6000, 'closing 200 silent clients');
      console.log(`# 200 silent clients closed by the proxy ${took} ms after connecting (deadline 1 s)`);
      assert.equal(t.open(), 0, 'no connection was opened to the target for them');
    } finally {
      await t.close();
    }
  });

  test('a target that never answers: 504 to the client at the deadline, and its socket closed', async () => {
    const t = await target('never');
    const { pid, port, baseline } = await startProxy(t.url, '--handshake-timeout', '1');
    try {
      const client = rawClient(port);
      let reply = '';
      client.on('data', (d) => (reply += d));
      client.write(UPGRADE);
      await until(() => t.open() === 1, 3000, 'the request reaching the target');
      await until(() => client.destroyed || client.readableEnded, 5000, 'the proxy answering the client');
      assert.match(reply, /^HTTP\/1\.1 504 /);
      await until(() => t.open() === 0, 3000, 'the target socket closing');
      await until(() => socketsOf(pid) === baseline, 3000, 'the proxy releasing both sockets');
    } finally {
      await t.close();
    }
  });

  test('the client leaving before the target answers closes the target socket at once', async () => {
    const t = await target('never');
    const { pid, port, baseline } = await startProxy(t.url);
    try {
      const client = rawClient(port);
      client.write(UPGRADE);
      await until(() => t.open() === 1, 3000, 'the request reaching the target');
      client.destroy();
      const took = await until(() => t.open() === 0 && socketsOf(pid) === baseline, 3000, 'the proxy closing the target socket');
      assert.ok(took < 2000, `${took} ms`);
    } finally {
      await t.close();
    }
  });

  test('after the upgrade: a client that leaves (FIN only) does not leave the target socket open', async () => {
    const t = await target('upgrade-and-hold');
    const { pid, port, baseline } = await startProxy(t.url);
    try {
      const client = rawClient(port);
      let reply = '';
      client.on('data', (d) => (reply += d));
      client.write(UPGRADE);
      await until(() => reply.includes('\r\n\r\n'), 3000, 'the 101');
      assert.match(reply, /^HTTP\/1\.1 101 /);
      assert.equal(socketsOf(pid), baseline + 2);
      client.end(); // TCP FIN, no close frame; the target ignores the FIN it gets in turn and never closes
      const took = await until(() => socketsOf(pid) === baseline, 9000, 'the proxy releasing the target socket');
      console.log(`# target socket closed ${took} ms after the client left (grace 5 s)`);
    } finally {
      await t.close();
    }
  });

  test('the target leaving closes the client', async () => {
    const t = await target('upgrade-and-hold');
    const { port } = await startProxy(t.url);
    const client = rawClient(port);
    let closed = false;
    client.on('close', () => (closed = true));
    client.resume();
    client.write(UPGRADE);
    await until(() => t.open() === 1, 3000, 'the upgrade');
    await t.close();
    await until(() => closed, 8000, 'the client being closed');
  });

  test('proxy | head -2: no EPIPE stack trace, and the proxy keeps relaying', async () => {
    const server = await startServer(echo);
    const targetUrl = `ws://127.0.0.1:${server.address()!.port}`;
    const shell = spawn('bash', ['-c', `"${process.execPath}" "${WSKIT}" proxy --listen 0 --target ${targetUrl} 2>"$ERR" | head -1`], {
      detached: true,
      env: { ...process.env, NO_COLOR: '1', ERR: `/tmp/wskit-proxy-epipe-${process.pid}.err` },
    });
    try {
      let out = '';
      shell.stdout.on('data', (d) => (out += d));
      await until(() => /Proxying ws:\/\/\S+/.test(out), 10_000, 'the proxy starting');
      const proxyUrl = /Proxying (ws:\/\/\S+)/.exec(out)![1]!;
      // head has exited after its line: every frame line the proxy prints now hits a closed pipe.
      for (let round = 0; round < 3; round++) {
        const ws = await connect(proxyUrl);
        for (let i = 0; i < 50; i++) {
          await ws.send(`message ${i}`);
          assert.equal(await ws.recv(), `message ${i}`);
        }
        await ws.close();
      }
      const { readFileSync } = await import('node:fs');
      const stderr = readFileSync(`/tmp/wskit-proxy-epipe-${process.pid}.err`, 'utf8');
      assert.doesNotMatch(stderr, /EPIPE|\n\s+at /, stderr);
    } finally {
      process.kill(-shell.pid!, 'SIGTERM');
      await server.close();
    }
  });
});
