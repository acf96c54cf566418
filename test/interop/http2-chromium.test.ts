/**
 * RFC 8441 against a real browser: headless Chromium loads a page over HTTPS/h2 and opens wss:// WebSockets,
 * which arrive at wskit as extended CONNECT streams on the page's own HTTP/2 connection (one TCP connection, one
 * session), not as new TCP connections. Text, binary, permessage-deflate and close codes both ways. The test CA is
 * trusted through an NSS database (certutil), not by ignoring certificate errors.
 */
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { attach, type Connection, type Server } from '../../src/index.js';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  chromiumHomeTrusting,
  makeCertificate,
  skipWithoutCertutil,
  skipWithoutChromium,
  skipWithoutOpenssl,
  startServer,
  until,
  type TestCertificate,
} from '../helpers.js';

/** What the server saw of each WebSocket. */
interface Seen {
  httpVersion: string;
  extensions: string;
  closeCode?: number;
  closeReason?: string;
}

/** Echoes; 'close-me' is answered by a server-side close 4002. Records each connection. */
function recordingEcho(seen: Seen[]) {
  return async (ws: Connection): Promise<void> => {
    const entry: Seen = { httpVersion: ws.request?.httpVersion ?? '?', extensions: ws.extensions };
    seen.push(entry);
    void ws.closed.then((info) => {
      entry.closeCode = info.code;
      entry.closeReason = info.reason;
    });
    for await (const message of ws) {
      if (message === 'close-me') await ws.close(4002, 'server');
      else await ws.send(message);
    }
  };
}

/** Runs in the page: opens sockets to `url` at once, exchanges messages, closes them both ways. */
const PAGE_SCRIPT = `async (url) => {
  const open = () => new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error('WebSocket error'));
  });
  const next = (ws) => new Promise((resolve) => ws.addEventListener('message', (e) => resolve(e.data), { once: true }));
  const closed = (ws) => new Promise((resolve) => ws.addEventListener('close', (e) => resolve([e.code, e.reason, e.wasClean]), { once: true }));
  const sockets = await Promise.all([open(), open(), open()]);
  const big = 'compressible '.repeat(20000);
  const replies = [];
  sockets[0].send('hello'); replies.push(await next(sockets[0]));
  sockets[1].send(new Uint8Array([0, 1, 2, 255])); replies.push([...new Uint8Array(await next(sockets[1]))]);
  sockets[2].send(big); replies.push((await next(sockets[2])) === big);
  const closes = [closed(sockets[0]), closed(sockets[1]), closed(sockets[2])];
  sockets[0].close(4001, 'browser');
  sockets[1].send('close-me');
  sockets[2].close(1000);
  return { extensions: sockets.map((ws) => ws.extensions), replies, closes: await Promise.all(closes) };
}`;

interface PageResult {
  extensions: string[];
  replies: unknown[];
  closes: Array<[number, string, boolean]>;
}

describe('Chromium opens WebSockets over HTTP/2 (RFC 8441)', { skip: skipWithoutChromium || skipWithoutOpenssl || skipWithoutCertutil, timeout: 60_000 }, () => {
  let certificate: TestCertificate;
  let browser: Browser;

  before(async () => {
    certificate = makeCertificate();
    const { chromium } = await import('playwright-core');
    // No --ignore-certificate-errors: the test CA is trusted in the NSS database of this HOME.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, env: { ...process.env, HOME: chromiumHomeTrusting(certificate) } });
  });

  after(async () => {
    await browser?.close();
    certificate?.remove();
  });

  /** Loads `origin`/ in a fresh context, runs the page script against `wsUrl`, checks what the page saw. */
  async function runPage(origin: string, wsUrl: string, whileOpen: () => void): Promise<PageResult> {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${origin}/`);
      const result = (await page.evaluate(`(${PAGE_SCRIPT})(${JSON.stringify(wsUrl)})`)) as PageResult;
      assert.deepEqual(result.replies, ['hello', [0, 1, 2, 255], true]);
      for (const extensions of result.extensions) assert.match(extensions, /^permessage-deflate/);
      assert.deepEqual(result.closes, [
        [4001, 'browser', true],
        [4002, 'server', true],
        [1000, '', true],
      ]);
      whileOpen();
      return result;
    } finally {
      await context.close();
    }
  }

  function checkSeen(seen: Seen[]): void {
    assert.equal(seen.length, 3);
    for (const entry of seen) {
      assert.equal(entry.httpVersion, '2');
      assert.match(entry.extensions, /^permessage-deflate/);
    }
    assert.deepEqual(seen.map((entry) => entry.closeCode).sort(), [1000, 4001, 4002]);
  }

  it('attach() to an application http2 server: the page and its WebSockets share one TCP connection', async () => {
    const app = http2.createSecureServer({ cert: certificate.cert, key: certificate.key, allowHTTP1: true }, (request, response) => {
      response.setHeader('content-type', 'text/html; charset=utf-8');
      response.end(`<!doctype html><title>h2</title><p>HTTP/${request.httpVersion}</p>`);
    });
    let tcpConnections = 0;
    let sessions = 0;
    app.on('connection', () => tcpConnections++);
    app.on('session', () => sessions++);
    const seen: Seen[] = [];
    const server: Server = attach(app, recordingEcho(seen), { logger: null });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const port = (app.address() as { port: number }).port;
    try {
      await runPage(`https://localhost:${port}`, `wss://localhost:${port}/socket`, () => undefined);
      await until(() => seen.length === 3 && seen.every((entry) => entry.closeCode !== undefined), 5000, 'the server seeing the closes');
      checkSeen(seen);
      assert.equal(tcpConnections, 1, 'the WebSockets came over the page connection');
      assert.equal(sessions, 1);
    } finally {
      await server.close();
      await new Promise<void>((resolve) => app.close(() => resolve()));
    }
  });

  it('serve({ http2, tls }): WebSockets over one h2 session of the wskit server', async () => {
    const seen: Seen[] = [];
    const server = await startServer(recordingEcho(seen), { http2: true, tls: { cert: certificate.cert, key: certificate.key } });
    const port = server.address()!.port;
    try {
      // The page is the server's 404 for a plain GET: what matters is the h2 session (one TCP connection) it opens.
      await runPage(`https://localhost:${port}`, `wss://localhost:${port}/socket`, () => assert.equal(server.http2SessionCount, 1));
      await until(() => seen.length === 3 && seen.every((entry) => entry.closeCode !== undefined), 5000, 'the server seeing the closes');
      checkSeen(seen);
    } finally {
      await server.close();
    }
  });
});
