/**
 * Shutdown at scale and resource hygiene: 10,000 connections closed in bounded
 * time; 8,000 connect/message/close cycles leave heap, file descriptors and
 * timers at their baseline.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { connect } from '../../src/index.js';
import { delay, echo, startServer, within } from '../helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('graceful shutdown at scale', () => {
  it('server.close() with 10,000 open connections sends 1001 to all and finishes within 15 s', { timeout: 90_000 }, async () => {
    const server = await startServer(echo, { pingInterval: null, maxPendingHandshakes: 20_000 });
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/hardening/fixtures/many-clients.ts', server.url.replace('localhost', '127.0.0.1'), '10000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const ready = await within(lines.next(), 60_000, '10,000 connections');
      assert.equal(ready.value, 'ready 10000');
      assert.equal(server.connections.size, 10_000);
      const started = performance.now();
      await within(server.close(), 15_000, 'server.close()');
      const elapsed = performance.now() - started;
      const tally = JSON.parse((await within(lines.next(), 15_000, 'client tally')).value as string);
      assert.deepEqual(tally, { 1001: 10_000 });
      assert.equal(server.connections.size, 0);
      console.log(`closed 10,000 connections in ${elapsed.toFixed(0)} ms`);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('resource hygiene', () => {
  for (const compression of [true, false]) {
    it(`8,000 connect/message/close cycles ${compression ? 'with' : 'without'} compression leave heap, file descriptors and timers at baseline`, { timeout: 120_000 }, async () => {
      const server = await startServer(echo, { compression });
      const url = server.url.replace('localhost', '127.0.0.1');
      const cycle = async () => {
        const ws = await connect(url, { compression });
        // Above the 128-byte threshold, so compressed connections really inflate and deflate.
        await ws.send('ping '.repeat(40));
        await ws.recv();
        await ws.close();
      };
      // Warm up so lazily created pools and JIT code count in the baseline.
      for (let i = 0; i < 500; i++) await cycle();
      await delay(100);
      gc();
      const baseline = { heap: process.memoryUsage().heapUsed, fds: openFds(), resources: process.getActiveResourcesInfo().length };
      const concurrency = 50;
      for (let done = 0; done < 8_000; done += concurrency) await Promise.all(Array.from({ length: concurrency }, cycle));
      await delay(200);
      await settle();
      gc();
      const after = { heap: process.memoryUsage().heapUsed, fds: openFds(), resources: process.getActiveResourcesInfo().length };
      await server.close();
      console.log(compression ? 'compressed' : 'uncompressed', 'baseline', baseline, 'after', after);
      // 4 MiB over 8,000 cycles: a leak of 512 bytes per connection fails it.
      assert.ok(after.heap - baseline.heap < 4 * 1024 * 1024, `heap grew by ${after.heap - baseline.heap} bytes`);
      assert.ok(after.fds <= baseline.fds + 2, `fds ${baseline.fds} -> ${after.fds}`);
      assert.ok(after.resources <= baseline.resources + 2, `active resources ${baseline.resources} -> ${after.resources}`);
    });
  }
});
