/**
 * `wskit console` in headless Chromium against a wskit echo server: text, JSON
 * and binary round trips, a bad URL, close codes in words; plus the page's
 * pure helpers (URL checks, mixed content, hex, JSON) in Node.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createConsoleServer } from '../../src/cli/console.js';
import type { Server } from '../../src/index.js';
import { CHROMIUM, CHROMIUM_ARGS, echo, skipWithoutChromium, startServer } from '../helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const lib: any = await import(pathToFileURL(path.join(ROOT, 'web/console/lib.js')).href);

describe('console page helpers', () => {
  it('checks URLs and explains the mixed-content trap', () => {
    assert.deepEqual(lib.checkUrl('ws://127.0.0.1:8765/chat?x=1'), { url: 'ws://127.0.0.1:8765/chat?x=1' });
    assert.equal(lib.checkUrl('https://example.com/socket').url, 'wss://example.com/socket');
    assert.match(lib.checkUrl('not a url').error, /not a valid URL/);
    assert.match(lib.checkUrl('localhost:8765').error, /Did you mean ws:\/\/localhost:8765/);
    assert.match(lib.checkUrl('ftp://x').error, /Unsupported scheme/);
    assert.match(lib.checkUrl('ws://x/#frag').error, /fragment/);
    assert.match(lib.checkUrl('ws://10.0.0.2:8080/', 'https:').error, /mixed content/);
    assert.equal(lib.checkUrl('wss://10.0.0.2:8080/', 'https:').url, 'wss://10.0.0.2:8080/');
  });

  it('parses hex, subprotocols and JSON with helpful errors', () => {
    assert.deepEqual([...lib.parseHex('48 65 0x6c,6C').bytes], [0x48, 0x65, 0x6c, 0x6c]);
    assert.match(lib.parseHex('4').error, /Odd number/);
    assert.match(lib.parseHex('zz').error, /not a hex digit/);
    assert.deepEqual(lib.parseProtocols('chat, v2.json').protocols, ['chat', 'v2.json']);
    assert.match(lib.parseProtocols('a b a').error, /twice/);
    assert.match(lib.parseProtocols('bad"name').error, /not a valid subprotocol/);
    assert.match(lib.checkJson('{"a":\n 1,}').error, /line 2/);
    assert.match(lib.describeClose(4005), /closed by the app's user/);
    assert.match(lib.describeClose(1006), /abnormal/);
  });
});

describe('wskit console in Chromium', { skip: skipWithoutChromium }, () => {
  let browser: Browser;
  let page: Page;
  let echoServer: Server;
  let consoleUrl: string;
  const consoleServer = createConsoleServer();

  before(async () => {
    echoServer = await startServer(echo, { subprotocols: ['chat'] });
    await new Promise<void>((resolve) => consoleServer.listen(0, '127.0.0.1', resolve));
    consoleUrl = `http://127.0.0.1:${(consoleServer.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.setDefaultTimeout(10_000);
  });
  after(async () => {
    await browser?.close();
    consoleServer.closeAllConnections();
    await new Promise((resolve) => consoleServer.close(resolve));
    await echoServer?.close();
  });

  const logText = () => page.locator('#log').innerText();

  it('connects, sends text, JSON and binary, and shows the echoes', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${consoleUrl}?url=${encodeURIComponent(echoServer.url + '/echo')}`);
    await page.fill('#protocols', 'chat');
    await page.click('#connect');
    await page.locator('#state[data-state="open"]').waitFor({ timeout: 5000 });
    assert.match(await page.locator('#state').innerText(), /subprotocol chat/);

    await page.fill('#message', 'hello <b>wskit</b>');
    await page.keyboard.press('Control+Enter');
    await page.locator('.entry.received', { hasText: 'hello <b>wskit</b>' }).waitFor({ timeout: 5000 });
    assert.equal(await page.locator('.entry.received b').count(), 0, 'received text is not parsed as HTML');

    await page.check('input[name="mode"][value="json"]');
    await page.fill('#message', '{"op":"subscribe",');
    assert.match(await page.locator('#message-status').innerText(), /Invalid JSON/);
    assert.equal(await page.locator('#send').isDisabled(), true);
    await page.fill('#message', '{"op":"subscribe","topics":["a","b"]}');
    await page.click('#send');
    const json = page.locator('.entry.received details.json').last();
    await json.waitFor({ timeout: 5000 });
    assert.match(await json.locator('pre').innerText(), /"topics": \[\n\s+"a",/);

    await page.check('input[name="mode"][value="binary"]');
    await page.fill('#message', 'de ad be ef 00 41');
    await page.click('#send');
    const binary = page.locator('.entry.received.binary').last();
    await binary.waitFor({ timeout: 5000 });
    assert.match(await binary.innerText(), /de ad be ef 00 41\s+.*\.\.\.\.\.A/);
    assert.match(await binary.innerText(), /6 B/);

    // Saved messages survive a reload (localStorage).
    await page.locator('#saved-box summary').click();
    await page.fill('#save-name', 'four bytes');
    await page.click('#save');
    assert.equal(await page.locator('#saved li').count(), 1);

    // Filter and count.
    await page.fill('#filter', 'subscribe');
    assert.match(await page.locator('#log-count').innerText(), /^2 of \d+ entries shown/);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.fill('#filter', '');
    await page.evaluate(() => {
      (document.activeElement as HTMLElement | null)?.blur();
      window.scrollTo(0, 0);
      const log = document.getElementById('log')!;
      log.scrollTop = log.scrollHeight;
    });
    await page.screenshot({ path: path.join(ARTIFACTS, 'console.png') });
    // The README's picture changes only when asked, so a test run leaves the checkout clean.
    if (process.env.UPDATE_DOCS_IMAGES === '1') {
      mkdirSync(path.join(ROOT, 'docs/images'), { recursive: true });
      copyFileSync(path.join(ARTIFACTS, 'console.png'), path.join(ROOT, 'docs/images/console.png'));
    }

    await page.locator('.close-options summary').click();
    await page.fill('#close-reason', 'done testing');
    await page.fill('#close-code', '4000');
    await page.click('#disconnect');
    await page.locator('#state[data-state="closed"]').waitFor({ timeout: 5000 });
    assert.match(await page.locator('#state').innerText(), /Closed: 4000 private-use code/);
    assert.deepEqual(errors, []);

    await page.reload();
    assert.equal(await page.locator('#saved li').count(), 1);
    assert.match((await page.locator('#saved li').textContent()) ?? '', /four bytes/);
  });

  it('explains a bad URL and an unreachable server', async () => {
    await page.goto(consoleUrl);
    await page.fill('#url', 'localhost:1');
    await page.click('#connect');
    assert.match(await page.locator('#problem').innerText(), /not a valid URL.*Did you mean ws:\/\/localhost:1/);
    assert.equal(await page.locator('#state').getAttribute('data-state'), 'idle');

    await page.fill('#url', 'ws://127.0.0.1:1/nothing-here');
    await page.click('#connect');
    await page.locator('#state[data-state="closed"]').waitFor({ timeout: 10_000 });
    assert.match(await page.locator('#problem').innerText(), /Could not connect to ws:\/\/127\.0\.0\.1:1\/nothing-here \(1006 abnormal closure/);
    assert.match(await logText(), /Could not connect/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-error.png') });
  });
});
