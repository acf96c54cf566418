/**
 * Server memory per compressed connection: for each compression setting, a fresh server process accepts N
 * connections from `ws` clients (which offer permessage-deflate like a browser), each sends one 200-byte JSON message
 * and waits for its echo, then the connections stay open. Prints the growth of the server's RSS and of its live
 * heap (after GC) divided by N. The figures in docs/compression.md come from here.
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
  'default (context takeover)': true,
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

async function measure(setting: string, count: number): Promise<{ rss: number; heap: number; extensions: string }> {
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
        await new Promise((resolve) => {
          ws.once('message', resolve);
          ws.send(payload);
        });
      }),
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const after = await ask<Sample>(child, 'sample');
  for (const ws of sockets) ws.terminate();
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));
  return { rss: (after.rss - before.rss) / count / 1024, heap: (after.heap - before.heap) / count / 1024, extensions };
}

async function measureAll(count: number): Promise<void> {
  console.log(`${count} connections, one 200-byte JSON message each, server RSS and live heap growth per connection`);
  for (const setting of Object.keys(SETTINGS)) {
    const { rss, heap, extensions } = await measure(setting, count);
    console.log(`${setting.padEnd(32)} RSS ${rss.toFixed(1).padStart(6)} KiB   heap ${heap.toFixed(1).padStart(5)} KiB   ${extensions || '(none)'}`);
  }
}
