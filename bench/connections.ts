/**
 * `npm run bench:connections`: 100,000 WebSocket connections held on this machine, wskit beside `ws` and node-floor.
 *
 *   npm run bench:connections -- [--connections 100000 | --quick] [--runs N] [--servers wskit,ws,node-floor]
 *     [--idle 20] [--active 10] [--ping-interval 20000] [--concurrency 256] [--sources K] [--sample-rate R]
 *     [--probe-hz 100] [--ramp-timeout 600] [--shards S] [--json]
 *
 * Per run, per server (order rotated per run): a fresh server process (bench/server.ts, keepalive every
 * `--ping-interval` ms, pinned to CPU 0) and the C driver's `hold` mode (bench/driver.c, pinned to CPU 1), which
 *  1. opens the connections, `--concurrency` handshakes in flight, spread over the source addresses 127.0.B.1 to
 *     127.0.B.K (one address reaches the server from at most ~28k ephemeral ports, and connects fast only while
 *     the even half of them lasts: at most 45 % of the range per address; B is 1 + the server process's
 *     index, so drivers side by side use addresses of their own), and reads the server's RSS at
 *     every tenth of the ramp: handshakes per second over the whole ramp, wall and per server-CPU-second;
 *  2. holds them idle for `--idle` s, answering the server's keepalive pings: the server's CPU over that window is
 *     what keepalive costs at idle, its RSS at the end over the connections is RSS per idle connection;
 *  3. for `--active` s, times a probe connection's 64-byte echoes (`--probe-hz`, one in flight) and echoes on a
 *     rotating sample of the held connections (`--sample-rate` messages per second, default 1 % of them per s):
 *     the probe's p50/p99 while every connection is held; RSS sampled every second from 2. on (is it flat?).
 * The driver resets its connections at the end (no TIME_WAIT left behind), then the server is stopped.
 * Failures are counted, not fatal: a connection the server closes or that misbehaves while held is reported as lost
 * (with the first reason) and the others go on; a handshake dropped by the server is retried on a new socket, and a
 * slot is given up after 5 tries; a ramp cut by `--ramp-timeout` goes on with what it opened. "errors" counts only
 * what makes a measurement void (a driver that could not run, a bad probe handshake).
 *
 * Both processes need more open files than connections: the script raises its own limit (children inherit it)
 * with prlimit, up to the hard limit, beyond it where it may (root or CAP_SYS_RESOURCE), and otherwise says what
 * is needed. RSS figures are what count on a shared machine; CPU figures are per server-CPU-second where they can.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildDriver, buildServer, canPin, median, pin, runDriver, startServer, stopServer } from './harness.js';

const { values } = parseArgs({
  options: {
    connections: { type: 'string' },
    quick: { type: 'boolean', default: false },
    runs: { type: 'string', default: '1' },
    servers: { type: 'string', default: 'wskit,ws,node-floor' },
    idle: { type: 'string', default: '20' },
    active: { type: 'string', default: '10' },
    'ping-interval': { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '256' },
    sources: { type: 'string' },
    shards: { type: 'string' },
    'sample-rate': { type: 'string' },
    'probe-hz': { type: 'string', default: '100' },
    'ramp-timeout': { type: 'string', default: '600' },
    json: { type: 'boolean', default: false },
  },
});

/** A positive number from an option, or one line on stderr and exit status 2. */
function positive(name: string, text: string, integer: boolean): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    process.stderr.write(`bench/connections: --${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return n;
}

const connections = positive('connections', values.connections ?? (values.quick ? '10000' : '100000'), true);
const runs = positive('runs', values.runs, true);
const servers = values.servers.split(',');
const idle = positive('idle', values.idle, false);
const active = positive('active', values.active, false);
const pingInterval = positive('ping-interval', values['ping-interval'], true);
const concurrency = positive('concurrency', values.concurrency, true);
const probeHz = positive('probe-hz', values['probe-hz'], false);
const rampTimeout = positive('ramp-timeout', values['ramp-timeout'], false);
const sampleRate = values['sample-rate'] !== undefined ? positive('sample-rate', values['sample-rate'], false) : Math.max(1, connections / 100);
const portsPerSource = ephemeralPorts();
/** Open files per process beyond its connections: the probe, the runtime's own (libuv, V8, stdio). */
const FILES_SPARE = 1024;
const notes: string[] = [];
if (!canPin) notes.push('taskset unavailable or one CPU: server and driver are not pinned');

/**
 * One server process is pinned to CPU 0 and its driver to CPU 1, as in `npm run bench`; several are left to the
 * scheduler (on one CPU their handshakes would queue behind each other for minutes on a shared machine).
 */
const pinned = (shards: number): boolean => canPin && shards === 1;

function ephemeralPorts(): number {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return high! - low! + 1;
  } catch {
    return 28_232; // Linux's default 32768-60999
  }
}

function fileLimits(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))!;
  const [soft, hard] = line.slice('Max open files'.length).trim().split(/\s+/).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
  return { soft: soft!, hard: hard! };
}

/**
 * Raises this process's open-file limit toward `wanted` (the servers and drivers inherit it): the soft limit up to
 * the hard one is always allowed; beyond the hard limit only with CAP_SYS_RESOURCE (root). Returns the soft limit
 * reached and, when it is short of `wanted`, why.
 */
function raiseFileLimit(wanted: number): { limit: number; why: string } {
  const before = fileLimits();
  if (before.soft >= wanted) return { limit: before.soft, why: '' };
  let raised = spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${wanted}:${Math.max(before.hard, wanted)}`], { encoding: 'utf8' });
  let why = raised.error ? `prlimit did not run (${raised.error.message})` : (raised.stderr.trim().split('\n')[0] ?? '');
  if (fileLimits().soft < wanted && before.soft < before.hard && !raised.error) {
    // Not allowed past the hard limit: the soft one up to it still is.
    raised = spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${before.hard}:${before.hard}`], { encoding: 'utf8' });
  }
  const after = fileLimits();
  if (after.soft !== before.soft) notes.push(`open files per process raised from ${before.soft} to ${after.soft} (hard ${after.hard})`);
  return { limit: after.soft, why: after.soft >= wanted ? '' : `${why || 'not permitted'} (soft ${before.soft}, hard ${before.hard})` };
}

/**
 * Server processes for the connections: one where a process may open them all, else as many as the open-file limit
 * needs (each process's RSS over its own connections, summed: the per-connection figure is the same quantity), and
 * `--shards` forces a number. Exits saying what is needed when even that cannot work.
 */
function shardsFor(connections: number): number {
  const { limit, why } = raiseFileLimit(connections + FILES_SPARE);
  const perProcess = limit - FILES_SPARE;
  const needed = perProcess > 0 ? Math.ceil(connections / perProcess) : Infinity;
  const shards = values.shards !== undefined ? positive('shards', values.shards, true) : needed;
  if (shards < needed || !Number.isFinite(shards) || shards > 64) {
    process.stderr.write(
      `bench/connections: ${connections} connections need ${connections + FILES_SPARE} open files in one process; ` +
        `the limit here is ${limit} and could not be raised: ${why}. Raise it where that is allowed ` +
        `(as root with CAP_SYS_RESOURCE: ulimit -Hn ${connections + FILES_SPARE}; ulimit -n ${connections + FILES_SPARE}), ` +
        `or spread them over server processes: --shards ${Number.isFinite(needed) ? needed : 'N'} (at most 64)\n`,
    );
    process.exit(2);
  }
  if (shards > 1) {
    const reason = shards === needed && why !== '' ? `one process may open ${limit} files here (${why})` : 'as asked (--shards)';
    notes.push(`${shards} server processes of ~${Math.ceil(connections / shards)} connections each, ${reason}: figures are sums over them`);
  }
  return shards;
}

interface Sample {
  run: number;
  server: string;
  /** One driver's RESULT per server process. */
  shards: Array<Record<string, string>>;
}

const sum = (shards: Array<Record<string, string>>, key: string): number => shards.reduce((n, r) => n + Number(r[key] ?? NaN), 0);

/** Columns of the report: one run's figure over all its server processes. */
const COLUMNS: Array<{ label: string; of: (r: Array<Record<string, string>>) => number; digits: number }> = [
  { label: 'held', of: (r) => sum(r, 'opened'), digits: 0 },
  { label: 'held at the end', of: (r) => sum(r, 'held_end'), digits: 0 },
  { label: 'lost while held', of: (r) => sum(r, 'lost'), digits: 0 },
  { label: 'RSS KiB/conn, idle, all held', of: (r) => (sum(r, 'rss_idle_end_kib') - sum(r, 'rss_before_kib')) / sum(r, 'opened'), digits: 2 },
  { label: 'RSS KiB/conn at 1/10 of the ramp', of: firstTenth, digits: 2 },
  { label: 'RSS growth over the hold %', of: (r) => (100 * (sum(r, 'rss_hold_max_kib') - sum(r, 'rss_idle_start_kib'))) / sum(r, 'rss_idle_start_kib'), digits: 1 },
  { label: 'handshakes/s (whole ramp)', of: (r) => sum(r, 'opened') / Math.max(...r.map((s) => Number(s.ramp_secs ?? NaN))), digits: 0 },
  { label: 'handshakes per server-CPU-s', of: (r) => sum(r, 'opened') / sum(r, 'ramp_srv_cpu_s'), digits: 0 },
  { label: 'handshakes dropped and retried', of: (r) => sum(r, 'hs_failed'), digits: 0 },
  { label: 'handshakes given up (5 tries)', of: (r) => sum(r, 'hs_abandoned'), digits: 0 },
  { label: 'idle keepalive CPU ms/s', of: (r) => sum(r, 'idle_cpu_ms_per_s'), digits: 1 },
  { label: 'pings answered/s at idle', of: (r) => sum(r, 'idle_pings') / Number(r[0]?.idle_secs ?? NaN), digits: 0 },
  { label: 'probe p50 us', of: (r) => Number(r[0]?.probe_p50_us ?? NaN), digits: 0 },
  { label: 'probe p99 us', of: (r) => Number(r[0]?.probe_p99_us ?? NaN), digits: 0 },
  { label: 'probe max us', of: (r) => Number(r[0]?.probe_max_us ?? NaN), digits: 0 },
  { label: 'sample echoes', of: (r) => sum(r, 'sample_echoed'), digits: 0 },
  { label: 'sample echoes missing', of: (r) => sum(r, 'sample_missing'), digits: 0 },
  { label: 'errors', of: (r) => r.reduce((n, s) => n + Number(s.errors ?? 1), 0), digits: 0 },
];

/** RSS per connection at the ramp's first mark (a tenth of the connections), from the processes' RSS curves. */
function firstTenth(r: Array<Record<string, string>>): number {
  let conns = 0;
  let kib = 0;
  for (const shard of r) {
    const first = (shard.rss_curve ?? '-').split(',')[0]!.split(':').map(Number);
    if (first.length !== 2) return NaN;
    conns += first[0]!;
    kib += first[1]! - Number(shard.rss_before_kib);
  }
  return conns > 0 ? kib / conns : NaN;
}

/**
 * One measurement: `shards` server processes of `server`, a driver each (the first one also times the probe);
 * the drivers' idle windows start together once every ramp is done.
 */
async function measure(server: string, shards: number, driver: string, serverScript: string[]): Promise<Array<Record<string, string>>> {
  const started = await Promise.all(
    Array.from({ length: shards }, () => {
      const command = [process.execPath, ...serverScript, server, '--ping-interval', String(pingInterval)];
      return startServer(pinned(shards) ? pin(0, command) : command, server);
    }),
  );
  try {
    const drivers: Array<import('node:child_process').ChildProcess> = [];
    let ramped = 0;
    let released = false;
    const go = (): void => {
      if (released) return;
      released = true;
      for (const d of drivers) if (d.exitCode === null) d.stdin!.end('go\n');
    };
    const perShard = (i: number): number => Math.floor(connections / shards) + (i < connections % shards ? 1 : 0);
    return await Promise.all(
      started.map(({ child, port }, i) => {
        const n = perShard(i);
        // At most 45 % of the range per address: Linux's connect() looks for a free port among the range's even
        // ports first (its odd ones are left for bind()), and once those toward the server are taken every connect()
        // scans all of them before it tries an odd one: at ~14,100 connections per address the ramp crawled (a
        // connect() took milliseconds of the driver's CPU; handshakes it could not write in time hit the server's 10 s
        // handshake timeout and were reset).
        const sources = values.sources !== undefined ? positive('sources', values.sources, true) : Math.max(1, Math.ceil(n / Math.floor(portsPerSource * 0.45)));
        // Each driver its own block of source addresses (127.0.<1 + i>.x): drivers side by side share no address's ports.
        const args = ['hold', '-n', String(n), '-C', String(Math.max(1, Math.round(concurrency / shards))), '-a', String(sources), '-B', String(1 + i), '-i', String(idle), '-A', String(active), '-T', String(rampTimeout)];
        args.push('-e', String((sampleRate * n) / connections), '-r', i === 0 ? String(probeHz) : '0', '-W');
        // The ramp is bounded by the driver (-T); the rest by the windows.
        const result = runDriver(driver, args, port, child.pid!, (rampTimeout + idle + active + 60) * 1000, (d) => {
          drivers.push(d);
          // A driver that failed and exited has a closed stdin: its error is in its result, not here.
          d.stdin!.on('error', () => {});
          let out = '';
          d.stdout!.on('data', (chunk: Buffer) => {
            if (out.includes('RAMPED')) return;
            out += chunk.toString();
            if (out.includes('RAMPED') && ++ramped === shards) go();
          });
        }, pinned(shards) ? 1 : null);
        // A driver that ends early (an error) releases the others' wait.
        return result.finally(() => {
          if (ramped < shards) go();
        });
      }),
    );
  } finally {
    await Promise.all(started.map(({ child }) => stopServer(child)));
  }
}

async function main(): Promise<void> {
  const shards = shardsFor(connections);
  const driver = buildDriver();
  const serverScript = buildServer(notes);
  const samples: Sample[] = [];
  for (let run = 1; run <= runs; run++) {
    const order = servers.map((_, i) => servers[(i + run - 1) % servers.length]!);
    for (const server of order) {
      const results = await measure(server, shards, driver, serverScript);
      samples.push({ run, server, shards: results });
      const figure = (label: string): string => {
        const column = COLUMNS.find((c) => c.label === label)!;
        return column.of(results).toFixed(column.digits);
      };
      const problems = results.map((r) => r.stderr).filter((e) => e !== undefined);
      process.stderr.write(
        `[run ${run}] ${server.padEnd(10)} held=${figure('held')} rss_kib_per_conn=${figure('RSS KiB/conn, idle, all held')} ` +
          `hs_per_s=${figure('handshakes/s (whole ramp)')} idle_cpu_ms_per_s=${figure('idle keepalive CPU ms/s')} ` +
          `probe_p50_us=${figure('probe p50 us')} probe_p99_us=${figure('probe p99 us')} lost=${figure('lost while held')} ` +
          `given_up=${figure('handshakes given up (5 tries)')} errors=${figure('errors')}` +
          `${problems.length ? ` (${problems.join(' | ')})` : ''}\n`,
      );
    }
  }
  report(samples, shards);
}

function report(samples: Sample[], shards: number): void {
  const rows = servers.map((server) => {
    const own = samples.filter((s) => s.server === server).map((s) => s.shards);
    return { server, runs: own.length, medians: Object.fromEntries(COLUMNS.map((c) => [c.label, median(own.map(c.of))])) };
  });
  const settings = { connections, runs, shards, concurrency, idleSecs: idle, activeSecs: active, pingIntervalMs: pingInterval, sampleRate, probeHz };
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ settings, pinned: pinned(shards), notes, rows, samples }, null, 2)}\n`);
  } else {
    const fmt = (n: number, digits: number): string => (Number.isNaN(n) ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
    const lines = [
      `wskit bench:connections: ${connections.toLocaleString('en-US')} connections in ${shards} server process(es), keepalive every ${pingInterval} ms, ` +
        `idle ${idle} s then active ${active} s (probe ${probeHz}/s, sample ${sampleRate}/s); medians of ${runs} run(s)`,
      `servers pinned to CPU 0, drivers to CPU 1: ${pinned(shards) ? 'yes' : 'no'}; node ${process.version}; CPU figures measured on a shared machine`,
      '',
      `| figure | ${rows.map((r) => r.server).join(' | ')} |`,
      `|---|${rows.map(() => '---:|').join('')}`,
      ...COLUMNS.map((c) => `| ${c.label} | ${rows.map((r) => fmt(r.medians[c.label]!, c.digits)).join(' | ')} |`),
    ];
    for (const note of notes) lines.push(`note: ${note}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  if (samples.some((s) => s.shards.some((r) => Number(r.errors ?? 1) > 0))) process.exitCode = 1;
}

await main();
