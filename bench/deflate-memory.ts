/**
 * Server memory per compressed connection: for each compression setting, a fresh server process accepts N
 * connections from `ws` clients (which offer permessage-deflate like a browser) and holds them idle (sampled), then
 * each sends one 200-byte JSON message and waits for its echo (sampled again, connections still open). Prints the
 * growth of the server's RSS and of its live heap (after GC) divided by N, idle and active. The figures in
 * docs/compression.md come from here.
 *
 *   node --import tsx bench/deflate-memory.ts [--connections 2000]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { serve, type CompressionOptions } from '../src/index.js';

const SETTINGS: Record<string, false | CompressionOptions | true> = {
  'compression: false': false,
  'default': true,
  'serverNoContextTakeover: false': { serverNoContextTakeover: false },
  'no_context_takeover both ways': { serverNoContextTakeover: true, clientNoContextTakeover: true },
};

const { values } = parseArgs({
  options: { connections: { type: 'string', default: '2000' }, 'server-mode': { type: 'string' } },
});

interface Sample {
  rss: number;
  heap: number;
}

if (values['server-mode'] !== undefined) {
  await runServer(values['server-mode']);
} else {
  await measureAll(Number(values.connections));
}

async function runServer(setting: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const server = await serve(
    async (ws) => {
      for await (const message of ws) await ws.send(message);
    },
    { host: '127.0.0.1', port: 0, logger: null, pingInterval: null, compression: SETTINGS[setting]! },
  );
  const sample = (): Sample => {
    gc();
    gc();
    return { rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed };
  };
  process.on('message', (request) => {
    if (request === 'sample') process.send!(sample());
    if (request === 'stop') void server.close().then(() => process.exit(0));
  });
  process.send!({ port: server.address()!.port });
}

function ask<T>(child: ChildProcess, request: string): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (reply) => resolve(reply as T));
    child.send(request);
  });
}

async function measure(setting: string, count: number): Promise<{ idle: Sample; active: Sample; extensions: string }> {
  const child = fork(fileURLToPath(import.meta.url), ['--server-mode', setting], { execArgv: ['--import', 'tsx', '--expose-gc'] });
  const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', (m) => resolve(m as { port: number })));
  const before = await ask<Sample>(child, 'sample');
  const payload = JSON.stringify({ type: 'reading', values: [0.31, -0.97, 10.04], timestamp: 3925657519043709, accuracy: 2, note: 'x'.repeat(100) });
  const sockets: WebSocket[] = [];
  let extensions = '';
  for (let i = 0; i < count; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, count - i) }, async () => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: { threshold: 0 } });
        sockets.push(ws);
        await new Promise((resolve, reject) => {
          ws.once('open', resolve);
          ws.once('error', reject);
        });
        extensions = ws.extensions;
      }),
    );
  }
  const idle = await ask<Sample>(child, 'sample');
  for (let i = 0; i < count; i += 100) {
    await Promise.all(
      sockets.slice(i, i + 100).map(
        (ws) =>
          new Promise((resolve) => {
            ws.once('message', resolve);
            ws.send(payload);
          }),
      ),
    );
  }
  const active = await ask<Sample>(child, 'sample');
  for (const ws of sockets) ws.terminate();
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));
  const per = (sample: Sample): Sample => ({ rss: (sample.rss - before.rss) / count / 1024, heap: (sample.heap - before.heap) / count / 1024 });
  return { idle: per(idle), active: per(active), extensions };
}

async function measureAll(count: number): Promise<void> {
  console.log(`${count} connections from ws clients offering permessage-deflate; server RSS and live heap growth per connection (KiB),`);
  console.log('idle: connected, nothing sent; active: after one 200-byte JSON message each way, connections held');
  console.log(`${'setting'.padEnd(34)} ${'idle RSS'.padStart(9)} ${'heap'.padStart(6)} ${'active RSS'.padStart(11)} ${'heap'.padStart(6)}   negotiated`);
  const f = (n: number, w: number): string => n.toFixed(1).padStart(w);
  for (const setting of Object.keys(SETTINGS)) {
    const { idle, active, extensions } = await measure(setting, count);
    console.log(`${setting.padEnd(34)} ${f(idle.rss, 9)} ${f(idle.heap, 6)} ${f(active.rss, 11)} ${f(active.heap, 6)}   ${extensions || '(none)'}`);
  }
}
