/**
 * wskit's standard `WebSocket` against the browser's: each scenario (websocket-scenarios.ts) runs in headless
 * Chromium with its native WebSocket and in Node with wskit's class, against the same wskit server, and the two
 * event sequences (events, states, data by binaryType, close codes and reasons, exceptions) must be equal.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { WebSocket } from '../../src/index.js';
import { CHROMIUM, CHROMIUM_ARGS, skipWithoutChromium } from '../helpers.js';
import { SCENARIO_SOURCE, SCENARIOS, scenarioServer } from './websocket-scenarios.js';

type Scenario = (args: { url: string; refusedUrl: string; scenario: string }) => Promise<unknown[]>;
const inNode = new Function('WebSocket', `return (${SCENARIO_SOURCE})`)(WebSocket) as Scenario;

/** A ws:// URL on 127.0.0.1 where nothing listens (a port just released). */
async function refusedUrl(): Promise<string> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return `ws://127.0.0.1:${port}/`;
}

describe('wskit WebSocket and Chromium WebSocket: the same events', { skip: skipWithoutChromium, timeout: 120_000 }, () => {
  let browser: Browser;
  let page: Page;
  let server: Awaited<ReturnType<typeof scenarioServer>>;
  let refused: string;

  before(async () => {
    server = await scenarioServer();
    refused = await refusedUrl();
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    await page.goto(server.page);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  for (const scenario of SCENARIOS) {
    it(scenario, async () => {
      const args = { url: server.url, refusedUrl: refused, scenario };
      const chromium = (await page.evaluate(`(${SCENARIO_SOURCE})(${JSON.stringify(args)})`)) as unknown[];
      const node = await inNode(args);
      assert.ok(chromium.length > 1, `Chromium logged ${JSON.stringify(chromium)}`);
      assert.deepEqual(node, chromium);
    });
  }
});
