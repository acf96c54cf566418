/**
 * What topic history costs, and how fast a resume is: publications per second to one subscriber over a real
 * loopback connection with plain publish (`server.publish`, at most once; in this process, and through a Redis
 * backplane) next to `topicServer().publish()` with its history in memory and in Redis Streams; then the time a
 * client that missed 10,000 publications takes to get all of them after subscribing with its position.
 *
 *   node --import tsx bench/history.ts [--runs N] [--count N] [--gap N] [--only TEXT]
 *
 * Each run measures every variant once, the order rotated from run to run (the machine is shared: pairs
 * interleave); the medians of the runs are printed. Every variant publishes the same 64-byte JSON payloads in
 * windows: at most 512 published and not yet received, so no variant is measured by how much it can buffer. The
 * rate is the count divided by the time from the first publish to the last one received. The resume time runs from
 * the `subscribe` request (with `since` 10,000 publications back) to the 10,000th publication received.
 * Redis is a redis-server started here on a free port, without persistence (an fsynced append-only file costs the
 * disk's fsync time on top of each XADD).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { connect } from '../src/node/client.js';
import type { Connection } from '../src/node/connection.js';
import { serve, type Server } from '../src/node/server.js';
import { memoryHistory } from '../src/pubsub/memory-history.js';
import { redisBackplane } from '../src/pubsub/redis-backplane.js';
import { redisHistory } from '../src/pubsub/redis-history.js';
import { topicServer, type TopicServer } from '../src/pubsub/topic-server.js';
import { TOPICS_PROTOCOL, decodeTopicFrame, encodeTopicFrame } from '../src/client/topics-wire.js';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const at = argv.indexOf(name);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const RUNS = flag('--runs', 5);
const COUNT = flag('--count', 20_000);
const GAP = flag('--gap', 10_000);
const WINDOW = 512;
const payload = { n: 0, sensor: 't1', value: 21.5, unit: 'celsius', pad: 'x'.repeat(8) };

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Counts what a connection receives; `reached(n)` resolves once n messages came. */
class Counter {
  received = 0;
  private waiting: { n: number; resolve: () => void } | null = null;

  constructor(
    ws: Connection,
    private readonly accept: (message: string | Buffer) => boolean,
  ) {
    void (async () => {
      for await (const message of ws) {
        if (!this.accept(message)) continue;
        this.received++;
        if (this.waiting !== null && this.received >= this.waiting.n) {
          this.waiting.resolve();
          this.waiting = null;
        }
      }
    })().catch(() => undefined);
  }

  reached(n: number): Promise<void> {
    if (this.received >= n) return Promise.resolve();
    return new Promise((resolve) => (this.waiting = { n, resolve }));
  }
}

const isPub = (message: string | Buffer): boolean => typeof message === 'string' && message.startsWith('{"type":"pub"');

/** Publishes COUNT payloads through `publish` with at most WINDOW unreceived; resolves with publications per second. */
async function measure(counter: Counter, publish: (i: number) => unknown): Promise<number> {
  const start = performance.now();
  const base = counter.received;
  const pending: unknown[] = [];
  for (let i = 1; i <= COUNT; i++) {
    pending.push(publish(i));
    if (i % 64 === 0) {
      await Promise.all(pending.splice(0));
      await counter.reached(base + i - WINDOW);
    }
  }
  await Promise.all(pending);
  await counter.reached(base + COUNT);
  return COUNT / ((performance.now() - start) / 1000);
}

/** A client connection to `server`. */
async function pair(server: Server, subprotocols: string[] = []): Promise<Connection> {
  const { port } = server.address()!;
  return connect(`ws://127.0.0.1:${port}`, { subprotocols, pingInterval: null, maxQueue: 1 << 20, compression: false });
}

async function plain(redisUrl: string | null): Promise<number> {
  const server = await serve(
    async (ws) => {
      ws.subscribe('bench');
      await ws.send('ready');
      for await (const _ of ws);
    },
    { port: 0, host: '127.0.0.1', logger: null, backplane: redisUrl === null ? undefined : redisBackplane({ url: redisUrl, logger: null }) },
  );
  const ws = await pair(server);
  let ready!: () => void;
  const subscribed = new Promise<void>((resolve) => (ready = resolve));
  const counter = new Counter(ws, (message) => {
    if (message !== 'ready') return true;
    ready();
    return false;
  });
  await subscribed;
  // Through a backplane, a publication reaches this node's subscribers once Redis relayed it.
  const rate = await measure(counter, (i) => server.publish('bench', JSON.stringify({ ...payload, n: i })));
  await ws.close();
  await server.close();
  return rate;
}

async function topicsServer(topics: TopicServer): Promise<Server> {
  await topics.start();
  return serve(topics.handler, { port: 0, host: '127.0.0.1', logger: null, subprotocols: [TOPICS_PROTOCOL] });
}

/** Subscribes (with `since` if given) and resolves once the server answered, with the counter of publications. */
async function subscribe(ws: Connection, topic: string, since?: { offset: number; epoch: string }): Promise<{ counter: Counter; epoch: string; offset: number }> {
  let answered!: (reply: { epoch: string; offset: number }) => void;
  const reply = new Promise<{ epoch: string; offset: number }>((resolve) => (answered = resolve));
  const counter = new Counter(ws, (message) => {
    if (isPub(message)) return true;
    const { header } = decodeTopicFrame(message);
    if (header.type === 'subscribed') answered({ epoch: String(header.epoch), offset: Number(header.offset) });
    return false;
  });
  await ws.send(encodeTopicFrame({ type: 'subscribe', id: 1, topic, ...(since === undefined ? {} : { since }) }));
  return { counter, ...(await reply) };
}

let topicRun = 0;

async function withHistory(redisUrl: string | null): Promise<number> {
  const history = redisUrl === null ? memoryHistory({ size: COUNT }) : redisHistory({ url: redisUrl, size: COUNT, logger: null, prefix: 'bench' });
  const topics = topicServer({ history, logger: null });
  const server = await topicsServer(topics);
  const ws = await pair(server, [TOPICS_PROTOCOL]);
  const topic = `rate-${++topicRun}`;
  const { counter } = await subscribe(ws, topic);
  const rate = await measure(counter, (i) => topics.publish(topic, { ...payload, n: i }));
  await ws.close();
  await server.close();
  await topics.close();
  return rate;
}

/** Publishes GAP publications nobody receives, then times a subscription from before them until all arrived (ms). */
async function resume(redisUrl: string | null): Promise<number> {
  const history = redisUrl === null ? memoryHistory({ size: GAP }) : redisHistory({ url: redisUrl, size: GAP, logger: null, prefix: 'bench' });
  const topics = topicServer({ history, logger: null });
  const server = await topicsServer(topics);
  const topic = `resume-${++topicRun}`;
  const first = await pair(server, [TOPICS_PROTOCOL]);
  const { epoch, offset } = await subscribe(first, topic);
  await first.close();
  for (let i = 1; i <= GAP; i += 256) {
    await Promise.all(Array.from({ length: Math.min(256, GAP - i + 1) }, (_, k) => topics.publish(topic, { ...payload, n: i + k })));
  }
  const ws = await pair(server, [TOPICS_PROTOCOL]);
  const start = performance.now();
  const { counter } = await subscribe(ws, topic, { offset, epoch });
  await counter.reached(GAP);
  const ms = performance.now() - start;
  await ws.close();
  await server.close();
  await topics.close();
  return ms;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error('redis-server did not start (is it installed?)');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, child };
}

const redis = await startRedis();
const variants: Array<[string, () => Promise<number>]> = [
  ['plain publish (at most once), one process', () => plain(null)],
  ['plain publish through a Redis backplane', () => plain(redis.url)],
  ['topics, history in memory', () => withHistory(null)],
  ['topics, history in Redis Streams', () => withHistory(redis.url)],
];
const resumes: Array<[string, () => Promise<number>]> = [
  [`resume ${GAP} missed, history in memory`, () => resume(null)],
  [`resume ${GAP} missed, history in Redis Streams`, () => resume(redis.url)],
];
// --only TEXT keeps the variants whose name contains TEXT (to profile one).
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1]! : '';
for (const list of [variants, resumes]) list.splice(0, list.length, ...list.filter(([name]) => name.includes(only)));
const rates = new Map<string, number[]>();
const times = new Map<string, number[]>();
try {
  for (let run = 0; run < RUNS; run++) {
    for (let k = 0; k < variants.length; k++) {
      const [name, go] = variants[(k + run) % variants.length]!;
      rates.set(name, [...(rates.get(name) ?? []), await go()]);
    }
    for (let k = 0; k < resumes.length; k++) {
      const [name, go] = resumes[(k + run) % resumes.length]!;
      times.set(name, [...(times.get(name) ?? []), await go()]);
    }
    process.stderr.write(`run ${run + 1}/${RUNS} done\n`);
  }
} finally {
  redis.child.kill('SIGKILL');
}
console.log(`${COUNT} publications of ${JSON.stringify(payload).length} bytes to one subscriber, ${RUNS} runs, medians (min-max):`);
for (const [name, values] of rates) {
  console.log(`  ${name.padEnd(44)} ${Math.round(median(values)).toLocaleString('en-US').padStart(8)} publications/s  (${Math.round(Math.min(...values)).toLocaleString('en-US')}-${Math.round(Math.max(...values)).toLocaleString('en-US')})`);
}
for (const [name, values] of times) {
  console.log(`  ${name.padEnd(44)} ${median(values).toFixed(0).padStart(8)} ms  (${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)})`);
}
