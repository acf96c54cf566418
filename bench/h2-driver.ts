/**
 * The driver of the http2 rows (bench/http2.ts): N WebSockets to a wskit server, all as streams of one HTTP/2
 * session (`h2`) or each on its own TCP connection (`tcp`), opened by wskit's own client (the same client both
 * ways, so the rows compare the server's two transports). Measures, reading the server's /proc entries:
 * handshakes per second and per server-CPU-second, server RSS per open WebSocket, and echo messages (64 B, one in
 * flight per WebSocket) per second and per server-CPU-second. Prints one `RESULT {json}` line.
 *
 *   node bench/h2-driver.ts PORT SERVER_PID h2|tcp N ECHO_SECONDS
 */
import { readFileSync } from 'node:fs';
import { connect, type Connection } from '../src/index.js';

const [port, pid, mode, count, seconds] = process.argv.slice(2);
const n = Number(count);
const url = `ws://127.0.0.1:${port}/`;
const ticks = 100; // USER_HZ

function serverCpuSeconds(): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

function serverRssKib(): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 1000));

await settle();
const rssBefore = serverRssKib();
let cpu = serverCpuSeconds();
let start = performance.now();
const sockets: Connection[] = [];
// 64 handshakes in flight at once, as the connect row of `npm run bench` does.
let next = 0;
await Promise.all(
  Array.from({ length: 64 }, async () => {
    while (next < n) {
      next++;
      sockets.push(await connect(url, { http2: mode === 'h2', compression: false, pingInterval: null }));
    }
  }),
);
const hsSeconds = (performance.now() - start) / 1000;
const hsCpu = serverCpuSeconds() - cpu;
await settle();
const rssPerWs = (serverRssKib() - rssBefore) / n;

const payload = 'x'.repeat(64);
let echoed = 0;
let running = true;
cpu = serverCpuSeconds();
start = performance.now();
const stop = setTimeout(() => (running = false), Number(seconds) * 1000);
await Promise.all(
  sockets.map(async (ws) => {
    while (running) {
      await ws.send(payload);
      await ws.recv();
      echoed++;
    }
  }),
);
clearTimeout(stop);
const echoSeconds = (performance.now() - start) / 1000;
const echoCpu = serverCpuSeconds() - cpu;
await Promise.all(sockets.map((ws) => ws.close().catch(() => undefined)));
process.stdout.write(
  `RESULT ${JSON.stringify({
    hs_per_s: n / hsSeconds,
    hs_per_cpu_s: n / Math.max(hsCpu, 0.01),
    rss_per_ws_kib: rssPerWs,
    msg_per_s: echoed / echoSeconds,
    msg_per_cpu_s: echoed / Math.max(echoCpu, 0.01),
  })}\n`,
);
process.exit(0);
