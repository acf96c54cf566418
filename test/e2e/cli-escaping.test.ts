/**
 * Terminal injection: a hostile server's bytes (HTTP reason phrase, header
 * values in error text, close reasons, sensor names) reach no terminal raw, in
 * any command. Each command runs as a child process against a hostile peer on
 * loopback; its stdout and stderr must hold no ESC, BEL or 8-bit CSI, and must
 * show the escaped form instead.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { escapeControl } from '../../src/cli/format.js';
import { startServer } from '../helpers.js';
import { killAll, start, waitForLine, wskit, type Finished } from './cli-helpers.js';

/** OSC retitle + BEL, clear screen, red, and an 8-bit CSI (U+009B as a Latin-1 byte on the wire). */
const HOSTILE = '\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x9b2J';

function assertClean(result: Finished, what: string): void {
  const all = result.stdout + result.stderr;
  assert.ok(!/[\x1b\x07\x9b]/.test(all), `${what} wrote raw control characters: ${JSON.stringify(all)}`);
}

/** A TCP server answering every request with `head` (a hostile HTTP response). */
async function rawHttp(head: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.end(Buffer.from(head, 'latin1')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { url: `ws://127.0.0.1:${port}/`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('escaping network bytes before the terminal', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wskit-escape-'));
  let reason: Awaited<ReturnType<typeof rawHttp>>;
  let badAccept: Awaited<ReturnType<typeof rawHttp>>;
  before(async () => {
    reason = await rawHttp(`HTTP/1.1 403 ${HOSTILE}\r\nContent-Length: 0\r\n\r\n`);
    badAccept = await rawHttp(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${HOSTILE}\r\n\r\n`);
  });
  after(async () => {
    await killAll();
    await reason?.close();
    await badAccept?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('escapeControl: C0, C1, DEL and bidi controls become visible; idempotent', () => {
    assert.equal(escapeControl('a\x1b[2Jb\x07\x9b\x7f\u202e'), 'a\\e[2Jb\\x07\\x9b\\x7f\\u202e');
    assert.equal(escapeControl(escapeControl(HOSTILE)), escapeControl(HOSTILE));
    assert.equal(escapeControl('tab\tand ünïcode ✓'), 'tab\tand ünïcode ✓');
  });

  test('connect: the HTTP reason phrase of a refused handshake', async () => {
    const result = await wskit(['connect', reason.url], { input: '' });
    assert.equal(result.code, 1);
    assertClean(result, 'connect');
    assert.match(result.stderr, /server answered HTTP 403 \\e\]0;pwned\\x07\\e\[2J\\e\[31mred\\x9b2J instead of 101/);
  });

  test('connect: a header value quoted in a handshake error', async () => {
    const result = await wskit(['connect', badAccept.url], { input: '' });
    assert.equal(result.code, 1);
    assertClean(result, 'connect');
    assert.match(result.stderr, /^wskit connect: cannot connect to /);
  });

  test('bench and bench --connect: the reason phrase in the error line', async () => {
    for (const args of [['bench', reason.url, '-d', '0.3', '--connections', '1'], ['bench', reason.url, '--connect', '--count', '2']]) {
      const result = await wskit(args);
      assert.equal(result.code, 1, result.stderr);
      assertClean(result, args.join(' '));
      assert.match(result.stderr, /HTTP 403 \\e\]0;pwned/);
    }
  });

  test('bench: a close reason in the error samples', async () => {
    const server = await startServer(async (ws) => {
      await ws.recv();
      await ws.close(4000, HOSTILE.replace('\x9b', '\u009b'));
    });
    try {
      const result = await wskit(['bench', `ws://127.0.0.1:${server.address()!.port}`, '-d', '0.5', '--connections', '1']);
      assertClean(result, 'bench');
    } finally {
      await server.close();
    }
  });

  test('replay: the reason phrase, and hostile text inside the log', async () => {
    const log = path.join(dir, 'hostile.jsonl');
    writeFileSync(log, [
      { type: 'frame', conn: 1, time: 1, from: 'client', opcode: 1, op: 'TEXT', fin: true, rsv: 0, masked: true, length: 5, text: 'hello' },
    ].map((e) => JSON.stringify(e)).join('\n') + '\n');
    const result = await wskit(['replay', log, reason.url]);
    assert.equal(result.code, 1);
    assertClean(result, 'replay');
    assert.match(result.stderr, /HTTP 403 \\e\]0;pwned/);
  });

  test('proxy: a hostile status line and a malformed response from the target', async () => {
    for (const target of [reason.url, badAccept.url]) {
      const proxy = start(['proxy', '--listen', '0', '--target', target, '-v']);
      const url = await waitForLine(proxy, /Proxying (ws:\/\/\S+)/);
      await wskit(['connect', url, '-q'], { input: '' });
      proxy.kill('SIGTERM');
      let out = '';
      proxy.stdout.on('data', (d) => (out += d));
      await new Promise((resolve) => proxy.once('close', resolve));
      assert.ok(!/[\x1b\x07\x9b]/.test(out), JSON.stringify(out));
    }
  });

  test('sensors: close reasons and sensor names from the phone', async () => {
    // A hostile phone: one sample of a sensor named with escapes, then a permanent close code with an escaped reason.
    const phone = await startServer(async (ws) => {
      await ws.send(JSON.stringify({ type: `android.sensor.${HOSTILE}`, values: [1, 2, 3], timestamp: 1, accuracy: 3 }));
      await ws.close(4001, `Sensor ${HOSTILE} not found`);
    });
    try {
      const result = await wskit(['sensors', `ws://127.0.0.1:${phone.address()!.port}/sensors/connect?types=[]`, '--json', path.join(dir, 's.jsonl'), '--duration', '5']);
      assertClean(result, 'sensors');
      assert.match(result.stderr, /4001 sensor not found on this phone — "Sensor \\e\]0;pwned/);
      assert.match(result.stderr, /\\e\]0;pwned\\x07\\e\[2J\\e\[31mred\\x9b2J 0\.0 Hz, 1 samples/);
    } finally {
      await phone.close();
    }
  });

  test('sensors --list: names and types from the phone', async () => {
    const web = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify([{ name: HOSTILE, type: `android.sensor.${HOSTILE}` }]));
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    try {
      const result = await wskit(['sensors', '127.0.0.1:1', '--list', '--web-port', String((web.address() as net.AddressInfo).port)]);
      assert.equal(result.code, 0, result.stderr);
      assertClean(result, 'sensors --list');
      assert.match(result.stdout, /android\.sensor\.\\e\]0;pwned/);
    } finally {
      web.close();
    }
  });
});
