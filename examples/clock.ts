/**
 * A broadcast clock: every client receives the time each second, from one
 * encoded frame written to every connection (`broadcast`).
 *
 *   node --import tsx examples/clock.ts       (PORT=0 picks a free port; TICK_MS changes the period)
 */
import { broadcast, serve } from 'wskit';

const server = await serve(async (ws) => {
  await ws.send(new Date().toISOString()); // right away, then with everyone
  await ws.closed;
}, { host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 8765) });

const timer = setInterval(() => {
  // A client too slow to keep up misses ticks rather than holding up the others.
  broadcast(server.connections, new Date().toISOString(), { maxBuffered: 64 * 1024, onSlow: 'skip' });
}, Number(process.env.TICK_MS ?? 1000));

console.log(`clock on ${server.url}`);
const stop = (): void => {
  clearInterval(timer);
  void server.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
