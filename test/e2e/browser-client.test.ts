import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { memoryHistory, serve, topicServer, TOPICS_PROTOCOL, type Server, type TopicServer } from '../../src/index.js';
import { CHROMIUM, CHROMIUM_ARGS, delay, freePort, skipWithoutChromium } from '../helpers.js';
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
    numbers: number[];
    answers: Array<{ recovered: boolean; resumed: boolean; offset: number; epoch: string }>;
    acks: Array<{ offset: number; duplicate: boolean }>;
  }
}

/** A topics server on a fixed port whose listening server the test closes and opens again (same history, or a new one). */
class TopicsNode {
  server: Server | null = null;
  constructor(
    readonly port: number,
    public topics: TopicServer,
  ) {}

  async up(): Promise<void> {
    this.server = await serve(this.topics.handler, { host: '127.0.0.1', port: this.port, logger: null, subprotocols: [TOPICS_PROTOCOL] });
  }

  async down(): Promise<void> {
    await this.server?.close();
    this.server = null;
  }
}

/** Lost, duplicated and reordered numbers in `got`, against `from`..`to` (each number once, in order). */
function countFaults(got: number[], from: number, to: number): { lost: number; dup: number; reorder: number } {
  const seen = new Set<number>();
  let dup = 0;
  let reorder = 0;
  got.forEach((n, i) => {
    if (seen.has(n)) dup++;
    else if (i > 0 && n < got[i - 1]!) reorder++;
    seen.add(n);
  });
  let lost = 0;
  for (let n = from; n <= to; n++) if (!seen.has(n)) lost++;
  return { lost, dup, reorder };
}

describe('browser build in headless Chromium', { skip: skipWithoutChromium, timeout: 120_000 }, () => {
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
    for (const file of ['browser/index.js', 'client/reconnect.js', 'client/backoff.js', 'client/send-queue.js', 'client/topics-client.js', 'client/topics-wire.js', 'errors.js']) {
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

  test('topics: a subscription at 50 publications/s survives a server restart: every number once, in order', async () => {
    const node = new TopicsNode(await freePort(), topicServer({ logger: null }));
    await node.up();
    let sent = 0;
    const publisher = setInterval(() => void node.topics.publish('numbers', ++sent), 20); // ~50/s, numbered
    try {
      await page.evaluate((url) => {
        window.numbers = [];
        window.answers = [];
        window.client = new window.wskit.ReconnectingClient(url, { topics: true, reconnect: { initialDelay: 100, maxDelay: 300 } });
        window.client.subscribe('numbers', (n) => window.numbers.push(n as number), { onSubscribed: (info) => window.answers.push(info) });
      }, `ws://127.0.0.1:${node.port}/`);
      await page.waitForFunction(() => window.numbers.length >= 25, undefined, { timeout: 10_000 });
      await node.down(); // the listening server and its connections go; the publisher goes on into the history
      await delay(1000);
      assert.ok(sent - (await page.evaluate(() => window.numbers.length)) >= 25, 'publications were made while the page was away');
      await node.up();
      await page.waitForFunction(() => window.answers.length === 2, undefined, { timeout: 15_000 });
      const target = sent + 25;
      await page.waitForFunction((n) => window.numbers.includes(n), target, { timeout: 15_000 });
      clearInterval(publisher);
      const { numbers, answers } = await page.evaluate(() => ({ numbers: window.numbers, answers: window.answers }));
      const first = numbers[0]!; // the subscription starts at the present: numbers before it are not asked for
      const faults = countFaults(numbers.slice(0, numbers.indexOf(target) + 1), first, target);
      console.log(`# browser topics: ${target - first + 1} publications across a server restart; lost/dup/reorder ${faults.lost}/${faults.dup}/${faults.reorder}`);
      assert.deepEqual(faults, { lost: 0, dup: 0, reorder: 0 });
      assert.deepEqual(numbers.slice(0, numbers.indexOf(target) + 1), Array.from({ length: target - first + 1 }, (_, i) => first + i));
      assert.deepEqual(answers.map((a) => [a.recovered, a.resumed]), [[true, false], [true, true]]);
    } finally {
      clearInterval(publisher);
      await page.evaluate(() => window.client?.close());
      await node.down();
      await node.topics.close();
    }
  });

  test('topics: publishes made while offline are acknowledged once after the restart; a lost history is reported as recovered: false', async () => {
    const node = new TopicsNode(await freePort(), topicServer({ logger: null, publish: true, history: memoryHistory() }));
    await node.up();
    try {
      await page.evaluate((url) => {
        window.numbers = [];
        window.answers = [];
        window.acks = [];
        window.client = new window.wskit.ReconnectingClient(url, { topics: true, reconnect: { initialDelay: 100, maxDelay: 300 } });
        window.client.subscribe('chat', (n) => window.numbers.push(n as number), { onSubscribed: (info) => window.answers.push(info) });
      }, `ws://127.0.0.1:${node.port}/`);
      await page.waitForFunction(() => window.answers.length === 1, undefined, { timeout: 10_000 });
      await page.evaluate(() => window.client.publish('chat', 1).then((ack) => window.acks.push(ack)));
      await node.down();
      await page.waitForFunction(() => !window.client.connected, undefined, { timeout: 10_000 });
      const pending = await page.evaluate(() => {
        for (const n of [2, 3]) void window.client.publish('chat', n).then((ack) => window.acks.push(ack));
        return window.client.pendingPublishes;
      });
      assert.equal(pending, 2);
      // The server comes back with a new, empty history (a restart without persistence): a new epoch.
      const lostEpoch = await page.evaluate(() => window.answers[0]!.epoch);
      await node.topics.close();
      node.topics = topicServer({ logger: null, publish: true });
      await node.up();
      await page.waitForFunction(() => window.acks.length === 3 && window.answers.length === 2, undefined, { timeout: 15_000 });
      const { answers, acks } = await page.evaluate(() => ({ answers: window.answers, acks: window.acks }));
      assert.equal(answers[1]!.recovered, false, 'the page is told the topic lost its history');
      assert.notEqual(answers[1]!.epoch, lostEpoch);
      assert.deepEqual(acks.map((a) => [a.offset, a.duplicate]), [[1, false], [1, false], [2, false]]);
      await page.waitForFunction(() => window.numbers.length === 3, undefined, { timeout: 10_000 });
      assert.deepEqual(await page.evaluate(() => window.numbers), [1, 2, 3]);
    } finally {
      await page.evaluate(() => window.client?.close());
      await node.down();
      await node.topics.close();
    }
  });
});
