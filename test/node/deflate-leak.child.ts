/**
 * Run by deflate.test.ts with --expose-gc: connect/send/close cycles with
 * permessage-deflate (context takeover, so each side holds a deflater and an
 * inflater), then memory after GC compared with a warmed-up baseline.
 * Prints one JSON line.
 */
import { connect, serve } from '../../src/index.js';

const cycles = Number(process.argv[2] ?? 2000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const settle = async () => {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
};

const server = await serve(
  async (ws) => {
    for await (const message of ws) await ws.send(message);
  },
  { host: '127.0.0.1', port: 0, logger: null },
);
const payload = JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ i, s: 'value' })));

async function cycle(): Promise<void> {
  const ws = await connect(server.url, { pingInterval: null });
  if (ws.extensions === '') throw new Error('compression was not negotiated');
  await ws.send(payload);
  if ((await ws.recv()) !== payload) throw new Error('bad echo');
  await ws.close();
}

const batch = async (n: number) => {
  // 20 at a time: realistic concurrency without measuring the peak of 2,000 open connections.
  for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: Math.min(20, n - i) }, cycle));
};

await batch(200);
await settle();
const baseline = process.memoryUsage();
let peakExternal = baseline.external;
const sampler = setInterval(() => (peakExternal = Math.max(peakExternal, process.memoryUsage().external)), 5);
await batch(cycles);
clearInterval(sampler);
while (server.connections.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
await settle();
const after = process.memoryUsage();
await server.close();
process.stdout.write(`${JSON.stringify({ cycles, baseline, after, peakExternal })}\n`);
