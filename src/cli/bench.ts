/**
 * `wskit bench URL`: a load generator for echo-style servers. Each connection
 * keeps `-n` messages in flight; replies are matched to send times in order
 * (a preallocated ring per connection) and latencies go into an HDR-like
 * histogram, so the per-message work is a few array operations.
 */
import type { Connection } from '../node/connection.js';
import type { ConnectOptions } from '../node/client.js';
import { openConnection } from '../node/client.js';
import { BYTES, COUNT, SECONDS, UsageError, numberFlag, parseOptions } from './args.js';
import { CLIENT_OPTIONS, checkUrl, clientOptions } from './client-flags.js';
import { escapeControl, explainConnectError, formatNumber, palette } from './format.js';
import { Histogram, formatMs, rate, summarize, type LatencySummary } from './stats.js';

/** One line for `wskit --help`. */
export const summary = 'load generator: messages/s, MB/s and latency percentiles, or handshakes/s with --connect';

/** `wskit bench --help`. */
export const help = `Usage: wskit bench URL [options]

Measures an echo server: opens -c connections, keeps --inflight messages in
flight on each (a reply releases the next send), and reports messages/s, MB/s,
round-trip latency percentiles (p50, p90, p99, p99.9, max) and errors.
The server must send one reply per message, in order (any echo server).

With --connect it measures the opening handshake instead: -c workers open
connections as fast as they can and keep them open (idle), reporting
handshakes/s, handshake latency and how many connections were held.

Options:
  -c, --connections N   concurrent connections (default 10)
      --inflight N      messages in flight per connection (default 1)
      --size BYTES      message size (default 64; 4k, 1M accepted)
  -b, --binary          send binary messages (default text)
  -d, --duration SEC    run time (default 10, unless --count; 500ms, 2m accepted)
  -n, --count N         stop after N replies in total (or N connections with --connect)
  -r, --rate N          at most N messages/s in total (default: as fast as replies come)
      --connect         measure handshakes/s and hold idle connections
      --compression     offer permessage-deflate (off by default)
      --json            print the result as JSON on stdout
  plus the connection flags of 'wskit connect': -H, -s/--subprotocol, -o,
  --auth, -k/--insecure/--no-check, --ca, --cert/--key/--passphrase

-s and -n mean what they mean in 'wskit connect' (subprotocol, count of
messages); -c is the load generators' connections (wrk, ab, autocannon).

A live progress line is shown on stderr when it is a terminal.

Exit status: 0 no errors, 1 errors happened (failed connections, unexpected
closes) or nothing could be measured, 2 bad arguments.

Examples:
  wskit bench ws://127.0.0.1:8765 -c 50 --inflight 10 --duration 10
  wskit bench ws://127.0.0.1:8765 --size 64k --binary --count 10k
  wskit bench ws://127.0.0.1:8765 -c 10 --rate 5000 --json
  wskit bench ws://127.0.0.1:8765 --connect -c 20 --count 5000
`;

interface BenchSettings {
  url: string;
  options: ConnectOptions;
  connections: number;
  inflight: number;
  size: number;
  binary: boolean;
  durationMs: number;
  count: number;
  rate: number;
  json: boolean;
}

/** The result of a message benchmark, as printed with --json. */
export interface BenchResult {
  /** The target URL. */
  url: string;
  /** `messages` or `connect`. */
  mode: 'messages' | 'connect';
  /** Connections requested. */
  connections: number;
  /** Messages in flight per connection. */
  inflight: number;
  /** Message size in bytes. */
  size: number;
  /** Whether messages were binary. */
  binary: boolean;
  /** Measured time in seconds. */
  seconds: number;
  /** Messages sent. */
  sent: number;
  /** Replies received. */
  received: number;
  /** Replies per second. */
  messagesPerSecond: number;
  /** Reply payload megabytes (10^6 bytes) per second. */
  mbPerSecond: number;
  /** Round-trip latency in ms. */
  latency: LatencySummary;
  /** Errors (failed connections, unexpected closes, send failures). */
  errors: number;
  /** The first few error messages. */
  errorSamples: string[];
}

/** The result of a `--connect` benchmark. */
export interface ConnectResult {
  /** The target URL. */
  url: string;
  /** Always `connect`. */
  mode: 'connect';
  /** Concurrent workers opening connections. */
  connections: number;
  /** Measured time in seconds. */
  seconds: number;
  /** Handshakes completed. */
  opened: number;
  /** Handshakes per second. */
  handshakesPerSecond: number;
  /** Connections still open at the end. */
  held: number;
  /** Handshake latency in ms. */
  latency: LatencySummary;
  /** Failed attempts and drops. */
  errors: number;
  /** The first few error messages. */
  errorSamples: string[];
}

/** Runs the benchmark; resolves with the exit status. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    args,
    {
      ...CLIENT_OPTIONS,
      connections: { type: 'string', short: 'c' },
      inflight: { type: 'string' },
      size: { type: 'string' },
      binary: { type: 'boolean', short: 'b' },
      duration: { type: 'string', short: 'd' },
      count: { type: 'string', short: 'n' },
      rate: { type: 'string', short: 'r' },
      connect: { type: 'boolean' },
      compression: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    true,
  );
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  const url = checkUrl(positionals[0], 'bench');
  const options = clientOptions(values);
  const count = numberFlag('--count', values.count, COUNT) ?? 0;
  const duration = numberFlag('--duration', values.duration, SECONDS) ?? (count > 0 ? 0 : 10);
  if (duration === 0 && count === 0) throw new UsageError('--duration must be above 0');
  const size = numberFlag('--size', values.size, BYTES) ?? 64;
  const settings: BenchSettings = {
    url,
    options: {
      ...options,
      pingInterval: null,
      compression: values.compression === true ? undefined : false,
      maxMessageSize: Math.max(1 << 20, size * 2),
      maxQueue: 1024,
      writeLimit: 1 << 20,
    },
    connections: numberFlag('--connections', values.connections, COUNT) ?? 10,
    inflight: numberFlag('--inflight', values.inflight, COUNT) ?? 1,
    size,
    binary: values.binary === true,
    durationMs: duration * 1000,
    count,
    rate: numberFlag('--rate', values.rate, { unit: 'count' }) ?? 0,
    json: values.json === true,
  };
  if (values.connect) {
    const result = await benchConnect(settings);
    if (settings.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else printConnect(result);
    return result.errors > 0 || result.opened === 0 ? 1 : 0;
  }
  const result = await benchMessages(settings);
  if (settings.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else printMessages(result);
  return result.errors > 0 || result.received === 0 ? 1 : 0;
}

/** Shared counters of a run. */
class Totals {
  sent = 0;
  received = 0;
  errors = 0;
  readonly errorSamples: string[] = [];
  readonly histogram = new Histogram();
  stopping = false;

  error(raw: string): void {
    const message = escapeControl(raw);
    this.errors++;
    if (this.errorSamples.length < 5 && !this.errorSamples.includes(message)) this.errorSamples.push(message);
  }
}

/** One connection's send/receive loop. */
class Worker {
  private readonly times: Float64Array;
  private head = 0;
  private tail = 0;
  inflight = 0;
  /** Sends allowed by the rate limiter and not yet made (Infinity without a limit). */
  budget = Infinity;

  constructor(
    private readonly ws: Connection,
    private readonly payload: string | Buffer,
    private readonly limit: number,
    private readonly totals: Totals,
    private readonly maxSent: number,
  ) {
    this.times = new Float64Array(limit);
  }

  /** Fills the in-flight window as far as the budget and the count allow. */
  pump(): void {
    const totals = this.totals;
    while (this.inflight < this.limit && this.budget >= 1 && !totals.stopping && (this.maxSent === 0 || totals.sent < this.maxSent)) {
      if (this.ws.readyState !== 1) return;
      this.times[this.tail] = performance.now();
      this.tail = this.tail + 1 === this.limit ? 0 : this.tail + 1;
      this.inflight++;
      this.budget--;
      totals.sent++;
      this.ws.send(this.payload).then(undefined, noop);
    }
  }

  async receive(): Promise<void> {
    const totals = this.totals;
    const histogram = totals.histogram;
    try {
      for await (const _message of this.ws) {
        if (this.inflight === 0) continue; // an unsolicited message: not an echo server
        const now = performance.now();
        histogram.record((now - this.times[this.head]!) * 1000);
        this.head = this.head + 1 === this.limit ? 0 : this.head + 1;
        this.inflight--;
        totals.received++;
        this.pump();
      }
    } catch (error) {
      if (!totals.stopping) totals.error(`connection closed: ${(error as Error).message}`);
    }
  }

  close(): Promise<unknown> {
    return this.ws.close(1000).catch(noop);
  }
}

function noop(): void {}

async function openAll(settings: BenchSettings, totals: Totals, n: number): Promise<Connection[]> {
  const results = await Promise.allSettled(Array.from({ length: n }, () => openConnection(settings.url, settings.options)));
  const open: Connection[] = [];
  for (const result of results) {
    if (result.status === 'fulfilled') open.push(result.value);
    else totals.error(explainConnectError(result.reason, settings.url));
  }
  return open;
}

async function benchMessages(settings: BenchSettings): Promise<BenchResult> {
  const totals = new Totals();
  const payload = settings.binary ? Buffer.alloc(settings.size, 0x61) : 'x'.repeat(settings.size);
  const connections = await openAll(settings, totals, settings.connections);
  if (connections.length === 0) throw new Error(totals.errorSamples[0] ?? `cannot connect to ${settings.url}`);
  const workers = connections.map((ws) => new Worker(ws, payload, settings.inflight, totals, settings.count));
  const progress = new Progress(settings, totals, 'msg/s', settings.size);
  const started = performance.now();
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const receiving = Promise.all(workers.map((w) => w.receive())).then(() => finished());
  let limiter: NodeJS.Timeout | null = null;
  if (settings.rate > 0) {
    const perWorker = settings.rate / Math.max(1, workers.length);
    for (const worker of workers) worker.budget = 1; // the first message goes at once
    let last = started;
    limiter = setInterval(() => {
      const now = performance.now();
      const grant = ((now - last) / 1000) * perWorker;
      last = now;
      for (const worker of workers) {
        worker.budget = Math.min(worker.budget + grant, Math.max(1, perWorker)); // at most a second's burst
        worker.pump();
      }
    }, 5);
  }
  for (const worker of workers) worker.pump();
  const stopAt = settings.durationMs > 0 ? setTimeout(() => (totals.stopping = true), settings.durationMs) : null;
  const countWatch = settings.count > 0
    ? setInterval(() => {
        if (totals.received >= settings.count) totals.stopping = true;
      }, 2)
    : null;
  // Stop: no new sends; wait (briefly) for the replies in flight.
  await Promise.race([
    done,
    new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (totals.stopping || workers.length === 0) {
          clearInterval(check);
          resolve();
        }
      }, 2);
    }),
  ]);
  const measured = performance.now() - started;
  const drainUntil = performance.now() + 2000;
  while (workers.some((w) => w.inflight > 0) && performance.now() < drainUntil && totals.received < totals.sent) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  totals.stopping = true;
  if (stopAt) clearTimeout(stopAt);
  if (countWatch) clearInterval(countWatch);
  if (limiter) clearInterval(limiter);
  progress.stop();
  await Promise.all(workers.map((w) => w.close()));
  await receiving;
  const elapsed = Math.max(measured, 1);
  const received = totals.received;
  return {
    url: settings.url,
    mode: 'messages',
    connections: settings.connections,
    inflight: settings.inflight,
    size: settings.size,
    binary: settings.binary,
    seconds: Math.round(elapsed) / 1000,
    sent: totals.sent,
    received,
    messagesPerSecond: Math.round(rate(received, elapsed)),
    mbPerSecond: Math.round(rate(received * settings.size, elapsed) / 1e4) / 100,
    latency: summarize(totals.histogram),
    errors: totals.errors,
    errorSamples: totals.errorSamples,
  };
}

async function benchConnect(settings: BenchSettings): Promise<ConnectResult> {
  const totals = new Totals();
  const held: Connection[] = [];
  const progress = new Progress(settings, totals, 'handshakes/s', 0);
  const started = performance.now();
  const deadline = settings.durationMs > 0 ? started + settings.durationMs : Infinity;
  let attempts = 0;
  const worker = async () => {
    while (performance.now() < deadline && (settings.count === 0 || attempts < settings.count)) {
      attempts++;
      const t0 = performance.now();
      try {
        const ws = await openConnection(settings.url, settings.options);
        totals.histogram.record((performance.now() - t0) * 1000);
        totals.received++;
        held.push(ws);
        void ws.closed.then(() => {
          if (!totals.stopping) totals.error('an idle connection was closed by the server');
        });
      } catch (error) {
        totals.error(explainConnectError(error, settings.url));
        if (totals.errors > 100 && totals.received === 0) return;
      }
    }
  };
  await Promise.all(Array.from({ length: settings.connections }, worker));
  if (totals.received === 0) throw new Error(totals.errorSamples[0] ?? `cannot connect to ${settings.url}`);
  const elapsed = Math.max(performance.now() - started, 1);
  progress.stop();
  const open = held.filter((ws) => ws.readyState === 1).length;
  totals.stopping = true;
  await Promise.all(held.map((ws) => ws.close(1000).catch(noop)));
  return {
    url: settings.url,
    mode: 'connect',
    connections: settings.connections,
    seconds: Math.round(elapsed) / 1000,
    opened: totals.received,
    handshakesPerSecond: Math.round(rate(totals.received, elapsed)),
    held: open,
    latency: summarize(totals.histogram),
    errors: totals.errors,
    errorSamples: totals.errorSamples,
  };
}

/** The live progress line on a terminal (stderr). */
class Progress {
  private readonly timer: NodeJS.Timeout | null = null;
  private last = 0;
  private lastAt = performance.now();
  private readonly startedAt = performance.now();

  constructor(
    settings: BenchSettings,
    private readonly totals: Totals,
    private readonly unit: string,
    private readonly size: number,
  ) {
    if (process.stderr.isTTY !== true || settings.json) return;
    const colors = palette(process.stderr);
    this.timer = setInterval(() => {
      const now = performance.now();
      const count = this.totals.received;
      const perSecond = rate(count - this.last, now - this.lastAt);
      this.last = count;
      this.lastAt = now;
      const latency = summarize(this.totals.histogram);
      let line = `${colors.dim(`[${((now - this.startedAt) / 1000).toFixed(0).padStart(3)} s]`)} ${formatNumber(perSecond)} ${this.unit}`;
      if (this.size > 0) line += `  ${(perSecond * this.size / 1e6).toFixed(1)} MB/s`;
      line += `  p50 ${formatMs(latency.p50)} ms  p99 ${formatMs(latency.p99)} ms  errors ${this.totals.errors}`;
      process.stderr.write(`\r\x1b[K${line}`);
    }, 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    process.stderr.write('\r\x1b[K');
  }
}

function latencyLine(latency: LatencySummary): string {
  return `p50 ${formatMs(latency.p50)}  p90 ${formatMs(latency.p90)}  p99 ${formatMs(latency.p99)}  p99.9 ${formatMs(latency['p99.9'])}  max ${formatMs(latency.max)} ms`;
}

function printMessages(r: BenchResult): void {
  const lines = [
    `Target:      ${r.url} (${r.connections} connection${r.connections === 1 ? '' : 's'} × ${r.inflight} in flight, ${r.size}-byte ${r.binary ? 'binary' : 'text'} messages)`,
    `Duration:    ${r.seconds.toFixed(2)} s`,
    `Messages:    ${formatNumber(r.sent)} sent, ${formatNumber(r.received)} received`,
    `Rate:        ${formatNumber(r.messagesPerSecond)} msg/s, ${r.mbPerSecond.toFixed(2)} MB/s each way`,
    `Latency:     ${latencyLine(r.latency)}`,
    `Errors:      ${r.errors}${r.errorSamples.length ? ` (${r.errorSamples.join('; ')})` : ''}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

function printConnect(r: ConnectResult): void {
  const lines = [
    `Target:      ${r.url} (${r.connections} concurrent handshake${r.connections === 1 ? '' : 's'})`,
    `Duration:    ${r.seconds.toFixed(2)} s`,
    `Handshakes:  ${formatNumber(r.opened)} (${formatNumber(r.handshakesPerSecond)}/s)`,
    `Held open:   ${formatNumber(r.held)} idle connections at the end`,
    `Latency:     ${latencyLine(r.latency)}`,
    `Errors:      ${r.errors}${r.errorSamples.length ? ` (${r.errorSamples.join('; ')})` : ''}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
