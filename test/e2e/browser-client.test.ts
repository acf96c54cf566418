import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, skipWithoutChromium } from '../helpers.js';
import { ChildServer } from '../node/child-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// tsx (esbuild keepNames) wraps named functions in __name(); functions passed to page.evaluate need it too.
const PAGE = `<!doctype html><meta charset="utf-8"><title>wskit browser test</title>
<script>window.__name = (f) => f;</script>
<script type="module">import * as wskit from '/browser/index.js'; window.wskit = wskit; window.ready = true;</script>`;

declare global {
  interface Window {
    wskit: typeof import('../../src/browser/index.js');
    ready: boolean;
    log: string[];
    client: import('../../src/browser/index.js').ReconnectingClient;
  }
}

describe('browser build in headless Chromium', { skip: skipWithoutChromium, timeout: 80_000 }, () => {
  let out: string;
  let web: http.Server;
  let browser: Browser;
  let page: Page;
  let wsPort: number;
  let server: ChildServer;

  before(async () => {
    // Compile exactly what `npm run build` ships for the browser, into a temp dir.
    out = mkdtempSync(join(tmpdir(), 'wskit-browser-'));
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.browser.json'), '--outDir', out], { stdio: 'inherit' });
    web = http.createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      try {
        const body = readFileSync(join(out, normalize(path).replace(/^(\.\.[/\\])+/, '')));
        res.writeHead(200, { 'content-type': extname(path) === '.js' ? 'text/javascript' : 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    ({ server, port: wsPort } = await ChildServer.start(0));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(web.address() as { port: number }).port}/`);
    await page.waitForFunction(() => window.ready === true, undefined, { timeout: 10_000 });
  });

  after(async () => {
    await browser?.close();
    await ChildServer.killAll();
    await new Promise((resolve) => web?.close(resolve));
    if (out) rmSync(out, { recursive: true, force: true });
  });

  test('the bundle imports nothing from Node', () => {
    for (const file of ['browser/index.js', 'client/reconnect.js', 'client/backoff.js', 'client/send-queue.js', 'errors.js']) {
      assert.doesNotMatch(readFileSync(join(out, file), 'utf8'), /from ['"]node:|require\(/, file);
    }
  });

  test('connect, send, recv, binary, async iteration and close', async () => {
    const result = await page.evaluate(async (url) => {
      const ws = await window.wskit.connect(url);
      await ws.send('hello');
      const text = await ws.recv();
      await ws.send(new Uint8Array([1, 2, 255]));
      const binary = Array.from((await ws.recv()) as Uint8Array);
      for (const m of ['a', 'b', 'c']) await ws.send(m);
      const iterated: string[] = [];
      for await (const m of ws) {
        iterated.push(m as string);
        if (iterated.length === 3) break;
      }
      const closed = await ws.close(1000, 'bye');
      return { text, binary, iterated, closed, state: ws.readyState };
    }, `ws://127.0.0.1:${wsPort}/`);
    assert.deepEqual(result, {
      text: 'hello',
      binary: [1, 2, 255],
      iterated: ['a', 'b', 'c'],
      closed: { code: 1000, reason: 'bye', wasClean: true }, // the server echoes the reason back (RFC 6455 §5.5.1)
      state: 3,
    });
  });

  test('reconnecting iteration and ReconnectingClient survive a server restart; queued sends arrive in order', async () => {
    await page.evaluate((url) => {
      window.log = [];
      const reconnect = { initialDelay: 100, maxDelay: 300 };
      void (async () => {
        let opens = 0;
        for await (const ws of window.wskit.connect(url, { reconnect })) {
          opens++;
          window.log.push(`iter-open ${opens}`);
          await ws.send(`iter ${opens}`);
          try {
            for await (const m of ws) window.log.push(`iter-msg ${String(m)}`);
          } catch (error) {
            window.log.push(`iter-drop ${(error as { closeCode: number }).closeCode}`);
          }
          if (opens === 2) break;
        }
      })();
      window.client = new window.wskit.ReconnectingClient(url, {
        reconnect,
        onOpen: () => window.log.push('client-open'),
        onMessage: (m) => window.log.push(`client-msg ${String(m)}`),
        onClose: (info) => window.log.push(`client-close ${info.code}`),
      });
    }, `ws://127.0.0.1:${wsPort}/`);
    const count = (prefix: string) => page.evaluate((p) => window.log.filter((l) => l.startsWith(p)).length, prefix);
    await page.waitForFunction(() => window.log.includes('iter-msg iter 1') && window.log.includes('client-open'), undefined, { timeout: 10_000 });

    await server.kill();
    await page.waitForFunction(() => window.log.includes('client-close 1006') && window.log.includes('iter-drop 1006'), undefined, { timeout: 10_000 });
    const queued = await page.evaluate(() => {
      for (let i = 0; i < 5; i++) window.client.send(`q${i}`);
      return window.client.queued;
    });
    assert.equal(queued, 5);

    ({ server } = await ChildServer.start(wsPort));
    await page.waitForFunction(() => window.log.includes('iter-msg iter 2') && window.log.filter((l) => l.startsWith('client-msg q')).length === 5, undefined, { timeout: 15_000 });
    const log = await page.evaluate(() => window.log);
    assert.deepEqual(log.filter((l) => l.startsWith('client-msg')), ['client-msg q0', 'client-msg q1', 'client-msg q2', 'client-msg q3', 'client-msg q4']);
    assert.deepEqual(server.received.filter((m) => m.startsWith('q')), ['q0', 'q1', 'q2', 'q3', 'q4']);
    assert.equal(await count('client-open'), 2);
    await page.evaluate(() => window.client.close());
  });
});
