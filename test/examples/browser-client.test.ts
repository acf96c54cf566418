/**
 * examples/browser-client.ts and browser-client.html: the page, served with
 * the browser build, runs in headless Chromium, shows each connection state
 * and the echoed replies.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { connect, InvalidStatus } from '../../src/index.js';
import { CHROMIUM, CHROMIUM_ARGS, skipWithoutChromium } from '../helpers.js';
import { runExample, type RunningExample } from './run-example.js';

const BUILT = existsSync(fileURLToPath(new URL('../../dist/browser/index.js', import.meta.url)));
const skipWithoutBuild: string | false = BUILT ? false : 'dist/browser is missing (run npm run build)';

describe('examples/browser-client.ts', { skip: skipWithoutBuild, timeout: 60_000 }, () => {
  let example: RunningExample;
  let base: string;
  before(async () => {
    example = runExample('browser-client.ts');
    base = (await example.line(/http:\/\/[^\s/]+/))[0];
  });
  after(() => example.stop());

  it('serves the page and the built modules, nothing else, and echoes on /echo', async () => {
    const page = await fetch(`${base}/`);
    assert.match(page.headers.get('content-type')!, /text\/html/);
    assert.match(await page.text(), /import \{ connect \} from '\/wskit\/browser\/index\.js'/);
    for (const module of ['/wskit/browser/index.js', '/wskit/client/reconnect.js', '/wskit/errors.js']) {
      const response = await fetch(`${base}${module}`);
      assert.equal(response.status, 200, module);
      assert.match(response.headers.get('content-type')!, /text\/javascript/);
    }
    for (const hidden of ['/wskit/browser/index.d.ts', '/wskit/%2e%2e/package.json', '/package.json', '/wskit/nope.js']) {
      assert.equal((await fetch(`${base}${hidden}`)).status, 404, hidden);
    }
    const ws = await connect(`${base.replace('http', 'ws')}/echo`);
    await ws.send('hi');
    assert.equal(await ws.recv(), 'echo: hi');
    await ws.close();
    await assert.rejects(connect(`${base.replace('http', 'ws')}/`), (e: InvalidStatus) => e instanceof InvalidStatus && e.response.status === 404);
  });

  it('in Chromium, shows connecting → open → closed and the replies', { skip: skipWithoutChromium }, async () => {
    let browser: Browser | null = null;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const lines = () => page.locator('#log div').allTextContents();
      // Each log line starts with the local time; the rest is what the page reports.
      const entries = async () => (await lines()).map((l) => l.replace(/^\S+ /, ''));
      const until = async (what: string, check: (log: string[]) => boolean) => {
        const deadline = Date.now() + 10_000;
        for (let log = await entries(); !check(log); log = await entries()) {
          if (Date.now() > deadline) throw new Error(`the page did not show ${what} within 10 s; its log: ${JSON.stringify(log)}`);
          await new Promise((r) => setTimeout(r, 25));
        }
      };
      const state = () => page.locator('#state').getAttribute('data-state');

      await page.goto(`${base}/`);
      await until('open', (log) => log.includes('state: open'));
      assert.equal(await state(), 'open');
      const wsUrl = `${base.replace('http', 'ws')}/echo`;
      assert.deepEqual((await entries()).slice(0, 2), [`state: connecting (${wsUrl})`, 'state: open']);

      await page.fill('#message', 'hello from Chromium');
      await page.click('#send');
      await until('the reply', (log) => log.includes('< echo: hello from Chromium'));
      assert.ok((await entries()).indexOf('> hello from Chromium') < (await entries()).indexOf('< echo: hello from Chromium'));

      await page.click('#disconnect');
      await until('closed', (log) => log.some((l) => /^state: closed \(1000\b/.test(l)));
      assert.equal(await state(), 'closed');
      assert.equal(await page.locator('#send').isDisabled(), true);

      await page.click('#connect');
      await until('open again', (log) => log.filter((l) => l === 'state: open').length === 2);
      await page.fill('#message', 'again');
      await page.click('#send');
      await until('the second reply', (log) => log.includes('< echo: again'));

      // The server going away closes the page's connection with 1001 (Going Away).
      await example.stop();
      await until('closed by the server', (log) => log.some((l) => /^state: closed \(1001\b/.test(l)));
      assert.equal(await state(), 'closed');
      await page.click('#connect');
      await until('failed', (log) => log.some((l) => l.startsWith('state: failed')));
      assert.deepEqual(errors, []);
    } finally {
      await browser?.close();
    }
  });
});
