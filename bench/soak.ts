/**
 * Soak: holds many idle connections with keepalive plus churn, and prints the
 * server's RSS over time. The server runs here; clients run in a child process
 * (one process cannot hold both ends of 10,000 connections within 20,000 fds).
 *
 *   npm run soak -- --minutes 10 [--connections 10000] [--churn 50] [--ping-interval 5] [--ping-timeout 20]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, serve, type Connection } from '../src/index.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    seconds: { type: 'string' },
    connections: { type: 'string', default: '10000' },
    churn: { type: 'string', default: '50' },
    'ping-interval': { type: 'string', default: '5' },
    'ping-timeout': { type: 'string', default: '20' },
    'client-mode': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

if (values['client-mode'] !== undefined) {
  await runClients(values['client-mode']);
} else {
  await runServer();
}

async function runServer(): Promise<void> {
  const seconds = values.seconds !== undefined ? Number(values.seconds) : Number(values.minutes) * 60;
  const connections = Number(values.connections);
  const pingInterval = Number(values['ping-interval']) * 1000;
  const pingTimeout = Number(values['ping-timeout']) * 1000;
  let messages = 0;
  const server = await serve(
    async (ws) => {
      for await (const message of ws) {
        messages++;
        await ws.send(message);
      }
    },
    { host: '127.0.0.1', port: 0, pingInterval, pingTimeout, maxPendingHandshakes: 20_000, logger: null },
  );
  const baseline = process.memoryUsage().rss;
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--client-mode', server.url, '--connections', String(connections), '--churn', values.churn!], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // Time starts once every client is connected, however long a loaded machine takes to get there.
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`soak clients exited with ${code}`)));
  });
  const samples: Array<{ t: number; connections: number; rssMiB: number; heapMiB: number; messages: number }> = [];
  const started = Date.now();
  const sample = () => {
    const memory = process.memoryUsage();
    const point = {
      t: Math.round((Date.now() - started) / 1000),
      connections: server.connections.size,
      rssMiB: +(memory.rss / 1048576).toFixed(1),
      heapMiB: +(memory.heapUsed / 1048576).toFixed(1),
      messages,
    };
    samples.push(point);
    if (!values.json) console.log(`t=${point.t}s connections=${point.connections} rss=${point.rssMiB} MiB heap=${point.heapMiB} MiB messages=${messages}`);
  };
  const timer = setInterval(sample, Math.min(10_000, Math.max(1000, (seconds * 1000) / 20)));
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearInterval(timer);
  sample();
  child.kill('SIGTERM');
  await server.close();
  const peak = Math.max(...samples.map((s) => s.rssMiB));
  const held = samples.filter((s) => s.connections > 0);
  const perConnection = held.length > 0 ? ((peak - baseline / 1048576) * 1024) / Math.max(...held.map((s) => s.connections)) : 0;
  const summary = { seconds, connections, baselineMiB: +(baseline / 1048576).toFixed(1), peakMiB: peak, kibPerConnection: +perConnection.toFixed(2), samples };
  if (values.json) console.log(JSON.stringify(summary));
  else console.log(`peak RSS ${peak} MiB (baseline ${summary.baselineMiB} MiB), ~${summary.kibPerConnection} KiB per connection`);
}

async function runClients(url: string): Promise<void> {
  const count = Number(values.connections);
  const churn = Number(values.churn);
  const clients = new Set<Connection>();
  const open = async () => {
    const ws = await connect(url, { pingInterval: null, openTimeout: 30_000 });
    clients.add(ws);
    void ws.closed.then(() => clients.delete(ws));
  };
  for (let i = 0; i < count; i += 250) await Promise.all(Array.from({ length: Math.min(250, count - i) }, open));
  process.send?.('ready');
  // Churn: close and reopen some connections every second, and send a message on a few.
  setInterval(() => {
    const all = [...clients];
    for (const ws of all.slice(0, churn)) void ws.close().then(open, () => undefined);
    for (const ws of all.slice(-churn)) ws.send('soak').then(() => ws.recv()).catch(() => undefined);
  }, 1000);
  process.on('SIGTERM', () => process.exit(0));
}
