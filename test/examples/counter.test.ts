import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { connect } from '../../src/index.js';
import { CHROMIUM, CHROMIUM_ARGS, skipWithoutChromium, within } from '../helpers.js';
import { runExample, type RunningExample } from './run-example.js';

const URL_LINE = /(?:ws|http):\/\/[^\s/]+/;

describe('examples/counter.ts', () => {
  let example: RunningExample;
  let url: string;
  before(async () => {
    example = runExample('counter.ts');
    url = (await example.line(URL_LINE))[0];
  });
  after(() => example.stop());

  it('speaks JSON state and users events over the WebSocket', async () => {
    const wsUrl = url.replace('http://', 'ws://');
    const a = await connect(`${wsUrl}/`);
    const first = JSON.parse((await a.recv()) as string) as { type: string; value: number };
    assert.equal(first.type, 'state');
    assert.deepEqual(JSON.parse((await a.recv()) as string), { type: 'users', count: 1 });
    await a.send(JSON.stringify({ action: 'plus' }));
    assert.deepEqual(JSON.parse((await a.recv()) as string), { type: 'state', value: first.value + 1 });
    await a.send(JSON.stringify({ action: 'minus' }));
    assert.deepEqual(JSON.parse((await a.recv()) as string), { type: 'state', value: first.value });
    await a.close();
  });

  it('two browser pages stay in sync and show how many users are online', { skip: skipWithoutChromium, timeout: 60_000 }, async () => {
    let browser: Browser | null = null;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      const one = await browser.newPage();
      const two = await browser.newPage();
      const text = (page: Page, selector: string) => page.locator(selector).textContent();
      const until = async (page: Page, selector: string, expected: string) =>
        within(
          (async () => {
            while ((await text(page, selector)) !== expected) await new Promise((r) => setTimeout(r, 25));
          })(),
          10_000,
          `${selector} to read "${expected}" (it reads "${await text(page, selector)}")`,
        );
      await one.goto(`${url}/`);
      await until(one, '#users', '1 user online');
      await two.goto(`${url}/`);
      await until(one, '#users', '2 users online');
      await until(two, '#users', '2 users online');
      const start = Number(await text(one, '#value'));
      assert.equal(await text(two, '#value'), String(start));

      for (let i = 0; i < 3; i++) await one.click('#plus');
      await until(one, '#value', String(start + 3));
      await until(two, '#value', String(start + 3));
      await two.click('#minus');
      await until(one, '#value', String(start + 2));
      await until(two, '#value', String(start + 2));

      await two.close();
      await until(one, '#users', '1 user online');
    } finally {
      await browser?.close();
    }
  });
});
