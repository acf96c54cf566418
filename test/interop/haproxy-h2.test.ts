/**
 * RFC 8441 against an independent implementation: Debian's HAProxy (2.6) in front of wskit. wskit's client opens a
 * WebSocket as an extended CONNECT on HAProxy's TLS h2 frontend, which forwards it to wskit over HTTP/1.1; and an
 * HTTP/1.1 WebSocket to HAProxy reaches wskit as an extended CONNECT on an h2c backend (`proto h2`).
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type Connection, type Server } from '../../src/index.js';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  chromiumHomeTrusting,
  freePort,
  makeCertificate,
  skipWithoutCertutil,
  skipWithoutChromium,
  skipWithoutOpenssl,
  skipWithoutPythonWebsockets,
  SYSTEM_PYTHON,
  startServer,
  until,
  type TestCertificate,
} from '../helpers.js';

const HAPROXY = '/usr/sbin/haproxy';
const skipWithoutHaproxy: string | false = existsSync(HAPROXY) ? false : 'haproxy is not installed (apt-get install haproxy)';

/** Resolves once something accepts TCP connections on `port` (deadline `ms`). */
async function listening(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(true));
      socket.once('error', () => resolve(false));
      socket.once('connect', () => socket.destroy());
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('HAProxy in front of wskit, h2 on either side', { skip: skipWithoutHaproxy || skipWithoutOpenssl, timeout: 60_000 }, () => {
  let certificate: TestCertificate;
  let server: Server;
  let haproxy: ChildProcess;
  let h2Frontend: number;
  let h2Backend: number;
  const versions: string[] = [];
  /** HAProxy's log: one line per request, `frontend method version status`. */
  let haproxyLog = '';

  before(async () => {
    certificate = makeCertificate();
    writeFileSync(join(certificate.dir, 'both.pem'), Buffer.concat([certificate.cert, certificate.key]));
    server = await startServer(
      async (ws: Connection) => {
        versions.push(ws.request?.httpVersion ?? '?');
        for await (const message of ws) await ws.send(message);
      },
      { http2: true },
    );
    const port = server.address()!.port;
    [h2Frontend, h2Backend] = [await freePort(), await freePort()];
    const config = [
      'global',
      '  log stdout format raw local0 info',
      'defaults',
      '  log global',
      '  log-format "%ft %HM %HV %ST"',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 10s',
      '  timeout server 10s',
      '  timeout tunnel 10s',
      'frontend h2_in',
      `  bind 127.0.0.1:${h2Frontend} ssl crt ${join(certificate.dir, 'both.pem')} alpn h2,http/1.1`,
      '  default_backend http11_out',
      'frontend http11_in',
      `  bind 127.0.0.1:${h2Backend}`,
      '  default_backend h2_out',
      'backend http11_out',
      `  server wskit 127.0.0.1:${port}`,
      'backend h2_out',
      `  server wskit 127.0.0.1:${port} proto h2`,
      '',
    ].join('\n');
    writeFileSync(join(certificate.dir, 'haproxy.cfg'), config);
    haproxy = spawn(HAPROXY, ['-db', '-f', join(certificate.dir, 'haproxy.cfg')], { stdio: ['ignore', 'pipe', 'ignore'] });
    haproxy.stdout!.setEncoding('utf8').on('data', (text: string) => (haproxyLog += text));
    await listening(h2Frontend, 10_000);
    await listening(h2Backend, 10_000);
  });

  after(async () => {
    haproxy?.kill();
    await server?.close();
    certificate?.remove();
  });

  it('wskit client over HAProxy h2 (extended CONNECT) to a wskit HTTP/1.1 backend', async () => {
    versions.length = 0;
    const sockets = await Promise.all([1, 2].map(() => connect(`wss://localhost:${h2Frontend}/chat`, { http2: true, ca: certificate.cert })));
    await Promise.all(sockets.map((ws, i) => ws.send(`m${i}`)));
    assert.deepEqual(await Promise.all(sockets.map((ws) => ws.recv())), ['m0', 'm1']);
    const closed = await Promise.all(sockets.map((ws) => ws.close(4001, 'bye')));
    assert.deepEqual(closed.map((info) => info.code), [4001, 4001]);
    assert.deepEqual(versions, ['1.1', '1.1']);
  });

  it('HTTP/1.1 client to HAProxy, which speaks h2 (extended CONNECT) to wskit', async () => {
    versions.length = 0;
    const ws = await connect(`ws://127.0.0.1:${h2Backend}/chat`);
    await ws.send('x'.repeat(100_000));
    assert.equal(await ws.recv(), 'x'.repeat(100_000));
    await ws.send(Buffer.from([1, 2, 3]));
    assert.deepEqual(await ws.recv(), Buffer.from([1, 2, 3]));
    assert.equal((await ws.close(1000)).code, 1000);
    assert.deepEqual(versions, ['2']);
  });

  it('Python websockets (HTTP/1.1) to HAProxy, which speaks h2 (extended CONNECT) to wskit', { skip: skipWithoutPythonWebsockets }, async () => {
    versions.length = 0;
    // An independent client: Python websockets sends text and bytes and prints what came back and how it closed.
    const script = [
      'import asyncio, json, sys, websockets',
      'async def main():',
      '    async with websockets.connect(sys.argv[1], max_size=None) as ws:',
      "        await ws.send('y' * 70000)",
      '        text = await ws.recv()',
      "        await ws.send(bytes([4, 5, 6]))",
      '        data = await ws.recv()',
      "        await ws.close(4002, 'python done')",
      "    print(json.dumps({'text': len(text), 'same': text == 'y' * 70000, 'bytes': list(data), 'code': ws.close_code}))",
      'asyncio.run(main())',
    ].join('\n');
    const { stdout } = await promisify(execFile)(SYSTEM_PYTHON, ['-c', script, `ws://127.0.0.1:${h2Backend}/chat`], { timeout: 20_000 });
    assert.deepEqual(JSON.parse(stdout), { text: 70000, same: true, bytes: [4, 5, 6], code: 4002 });
    assert.deepEqual(versions, ['2']);
  });

  it('Chromium over HAProxy h2 (extended CONNECT on the page connection) to wskit', { skip: skipWithoutChromium || skipWithoutCertutil }, async () => {
    versions.length = 0;
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, env: { ...process.env, HOME: chromiumHomeTrusting(certificate) } });
    try {
      const page = await browser.newPage();
      // The page is wskit's answer to a plain GET, through HAProxy over h2: what matters is the connection it opens.
      await page.goto(`https://localhost:${h2Frontend}/`);
      const script = `new Promise((resolve, reject) => {
        const ws = new WebSocket('wss://localhost:${h2Frontend}/chat');
        ws.onopen = () => ws.send('from chromium');
        ws.onmessage = (event) => { ws.close(4003, 'done'); resolve(event.data); };
        ws.onerror = () => reject(new Error('WebSocket error'));
      })`;
      assert.equal(await page.evaluate(script), 'from chromium');
      assert.equal(await page.evaluate('performance.getEntriesByType("navigation")[0].nextHopProtocol'), 'h2');
      assert.deepEqual(versions, ['1.1']);
      // HAProxy logs a WebSocket when it ends, as its internal form (an Upgrade GET answered 101) with the version it
      // arrived in: HTTP/2.0 on the h2 frontend, so it was an extended CONNECT stream (RFC 8441), not an HTTP/1.1 GET.
      await until(() => /h2_in~ GET HTTP\/2\.0 101/.test(haproxyLog), 5000, `HAProxy logging the WebSocket (log: ${haproxyLog})`);
    } finally {
      await browser.close();
    }
  });
});
