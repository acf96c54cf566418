/**
 * permessage-deflate against headless Chromium, whose WebSocket always offers
 * `permessage-deflate; client_max_window_bits`. The server picks each
 * no_context_takeover combination (it may add both, RFC 7692 §7.1.1).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { Connection } from '../../src/index.js';
import { CHROMIUM, CHROMIUM_ARGS, skipWithoutChromium } from '../helpers.js';
import { pageServer } from './page-server.js';
import { deflateMessages, NO_CONTEXT_TAKEOVER_COMBOS, sameMessage } from './deflate-messages.js';

describe('permessage-deflate with Chromium', { skip: skipWithoutChromium }, () => {
  let browser: Browser;
  before(async () => {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
  });

  for (const combo of NO_CONTEXT_TAKEOVER_COMBOS) {
    const label = `server_no_context_takeover=${combo.serverNoContextTakeover}, client_no_context_takeover=${combo.clientNoContextTakeover}`;
    it(`browser → wskit → browser and wskit → browser → wskit, ${label}`, { timeout: 60_000 }, async () => {
      // The server sends its own messages first (the browser echoes them), then echoes the browser's.
      const sent = deflateMessages();
      let serverSide: Connection | null = null;
      let serverCheck: Promise<void> = Promise.resolve();
      const server = await pageServer(
        async (ws) => {
          serverSide = ws;
          serverCheck = (async () => {
            for (const message of sent) await ws.send(message);
            for (const message of sent) assert.ok(sameMessage(await ws.recv(), message), 'browser echo differs');
          })();
          await serverCheck;
          await ws.send('__done__');
          for await (const message of ws) await ws.send(message);
        },
        { compression: { ...combo, threshold: 0 }, maxMessageSize: 4 * 1024 * 1024 },
      );
      const page = await browser.newPage();
      try {
        await page.goto(server.page);
        // tsx (esbuild keepNames) wraps named functions in __name(), which the page doesn't have.
        await page.evaluate('globalThis.__name = (f) => f');
        const result = await page.evaluate(
          async ({ url, count }) => {
            const ws = new WebSocket(url);
            ws.binaryType = 'arraybuffer';
            const inbox: Array<string | ArrayBuffer> = [];
            let wake: (() => void) | null = null;
            ws.onmessage = (event) => {
              inbox.push(event.data as string | ArrayBuffer);
              wake?.();
            };
            const next = async (): Promise<string | ArrayBuffer> => {
              while (inbox.length === 0) await new Promise<void>((resolve) => (wake = resolve));
              return inbox.shift()!;
            };
            await new Promise((resolve, reject) => {
              ws.onopen = resolve;
              ws.onerror = reject;
            });
            // Echo the server's messages.
            for (let i = 0; i < count; i++) ws.send(await next());
            if ((await next()) !== '__done__') return { ok: false, extensions: ws.extensions, why: 'no __done__' };
            // Now the browser's own messages, small and large, text and binary.
            let seed = 1;
            const bytes = (n: number, random: boolean) => {
              const out = new Uint8Array(n);
              for (let i = 0; i < n; i++) out[i] = random ? (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24 : 0x42;
              return out;
            };
            const text = JSON.stringify(Array.from({ length: 3000 }, (_, i) => ({ id: i, v: `item ${i}` })));
            const mine: Array<string | Uint8Array> = ['', 'short', 'é'.repeat(100), text, bytes(0, false), bytes(100, true), bytes(300_000, true), bytes(900_000, false)];
            for (const message of mine) ws.send(message);
            for (const message of mine) {
              const got = await next();
              if (typeof message === 'string') {
                if (got !== message) return { ok: false, extensions: ws.extensions, why: 'text differs' };
              } else {
                const view = new Uint8Array(got as ArrayBuffer);
                if (view.length !== message.length || view.some((b, i) => b !== message[i])) {
                  return { ok: false, extensions: ws.extensions, why: 'binary differs' };
                }
              }
            }
            ws.close(1000);
            await new Promise((resolve) => (ws.onclose = resolve));
            return { ok: true, extensions: ws.extensions, why: '' };
          },
          { url: server.url, count: sent.length },
        );
        await serverCheck;
        assert.equal(result.why, '');
        assert.equal(result.ok, true);
        assert.match(result.extensions, /^permessage-deflate/);
        if (combo.serverNoContextTakeover) assert.match(result.extensions, /server_no_context_takeover/);
        if (combo.clientNoContextTakeover) assert.match(result.extensions, /client_no_context_takeover/);
        assert.notEqual(serverSide, null);
      } finally {
        await page.close();
        await server.close();
      }
    });
  }
});
