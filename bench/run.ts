/**
 * `npm run bench`: wskit against ws 8 without and with its native add-on bufferutil, side by side, same driver.
 *
 *   npm run bench -- [--quick] [--json] [--runs N] [--only echo,latency,...,http2] [--servers wskit,ws,wskit-cb,ws-bufferutil,node-floor,bun]
 *
 * `wskit` is the `for await` handler, `wskit-cb` the callback handler (`serve({ message })` with `sendNow()`).
 *
 * `--servers wskit-metrics,wskit` measures what metrics cost: wskit with `metrics: true` against wskit without,
 * the ratio column then being metrics-on / off per server-CPU-second (the run order rotates, so pairs interleave).
 *
 * For each run, for each scenario, for each server (order rotated per run): a
 * fresh server (bench/server.ts) pinned to CPU 0, the C driver (bench/driver.c,
 * built with gcc into bench/build/) pinned to CPU 1, the server's CPU time read
 * from /proc/<pid>/stat over the measured window. Prints medians of the runs and
 * the median of per-run wskit/ws ratios, both wall clock and per server-CPU-second
 * (the machine is shared: per-CPU-second figures are the ones to compare).
 *
 * `node-floor` is no WebSocket server but the least a server on Node's sockets can do and pass the driver
 * (bench/floor-server.ts): its column and its ratio to ws are the ceiling of what any library on `net.Socket`
 * can reach on that row. `bun` is Bun's built-in server (uWebSockets, bench/bun-server.ts, run by the `bun` npm
 * package's binary): the fastest server known here, the floor every column is read against (`x bun`). Both are
 * in the default columns; `bun` is left out, with the reason printed, where its binary does not run.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { http2Rows } from './http2.js';
import { buildDriver, buildServer, canPin, here, median, pin, root, runDriver, startServer, stopServer } from './harness.js';

interface Scenario {
  name: string;
  title: string;
  args: (quick: boolean) => string[];
  /** Figures reported: [result key, label, higher is better, per-CPU key or null]. */
  metrics: Array<{ key: string; label: string; higherBetter: boolean; perCpu?: string }>;
  serverArgs?: string[];
  /** Always on a freshly started server (memory is measured). */
  fresh?: boolean;
  /** The `node-floor` reference can serve it (plain echo and handshakes only). */
  floor?: boolean;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'echo',
    title: 'echo 64 B text, 50 conns x 16 in flight',
    args: (q) => ['echo', '-c', '50', '-P', '16', '-s', '64', ...time(q)],
    metrics: [{ key: 'msg_per_s', label: 'msgs/s', higherBetter: true, perCpu: 'msg_per_cpu_s' }],
    floor: true,
  },
  {
    name: 'latency',
    title: 'echo latency 64 B, 1 conn x 1 in flight',
    args: (q) => ['echo', '-c', '1', '-P', '1', '-s', '64', ...time(q)],
    metrics: [
      { key: 'rtt_p50_us', label: 'p50 us', higherBetter: false },
      { key: 'rtt_p99_us', label: 'p99 us', higherBetter: false },
    ],
    floor: true,
  },
  {
    name: 'large',
    title: 'echo 1 MiB binary, 4 conns x 2 in flight',
    // Quick mode measures 1.5 s here: a 1 MiB round trip on a starved CPU can outlast the other rows' 0.4 s window
    // (CI once saw `ws` complete none in it at load average 28).
    args: (q) => ['echo', '-c', '4', '-P', '2', '-s', '1048576', '-b', ...(q ? ['-t', '1.5', '-w', '0.3'] : time(q))],
    metrics: [{ key: 'mb_per_s', label: 'MB/s', higherBetter: true, perCpu: 'mb_per_cpu_s' }],
    floor: true,
  },
  {
    name: 'connect',
    title: 'handshakes, then idle connections held',
    args: (q) => ['connect', '-n', q ? '500' : '10000', '-C', '64', '-k', q ? '0.3' : '2'],
    metrics: [
      { key: 'hs_per_s', label: 'handshakes/s', higherBetter: true, perCpu: 'hs_per_cpu_s' },
      { key: 'rss_per_conn_kib', label: 'RSS KiB/idle conn', higherBetter: false },
    ],
    fresh: true,
    floor: true,
  },
  {
    name: 'broadcast',
    title: 'broadcast 64 B to 2,000 subscribers',
    args: (q) => ['fanout', '-c', q ? '100' : '2000', '-P', '16', '-s', '64', ...time(q)],
    metrics: [{ key: 'deliv_per_s', label: 'deliveries/s', higherBetter: true, perCpu: 'deliv_per_cpu_s' }],
  },
  {
    // 1 KiB of repetitive text, over the compression threshold: what a compressor shared by every subscriber
    // (server_no_context_takeover, offered by the driver) saves against one compression per subscriber.
    name: 'broadcast-deflate',
    title: 'broadcast 1 KiB text with permessage-deflate to 2,000 subscribers',
    args: (q) => ['fanout', '-z', '-c', q ? '100' : '2000', '-P', '16', '-s', '1024', ...time(q)],
    metrics: [{ key: 'deliv_per_s', label: 'deliveries/s', higherBetter: true, perCpu: 'deliv_per_cpu_s' }],
    serverArgs: ['--deflate'],
  },
  {
    name: 'deflate',
    title: 'echo 64 B text with permessage-deflate, 50 x 16',
    args: (q) => ['echo', '-z', '-c', '50', '-P', '16', '-s', '64', ...time(q)],
    metrics: [{ key: 'msg_per_s', label: 'msgs/s', higherBetter: true, perCpu: 'msg_per_cpu_s' }],
    serverArgs: ['--deflate'],
  },
];

function time(quick: boolean): string[] {
  return quick ? ['-t', '0.4', '-w', '0.2'] : ['-t', '5', '-w', '1.5'];
}

// ---------------------------------------------------------------- options

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(name);
const value = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = flag('--quick');
const json = flag('--json');
const runs = Number(value('--runs') ?? (quick ? 1 : 3));
const only = value('--only')?.split(',');
const hasBufferutil = ((): boolean => {
  try {
    createRequire(join(root, 'package.json'))('bufferutil');
    return true;
  } catch {
    return false;
  }
})();
const FLOOR = 'node-floor';
const BUN = 'bun';
const notes: string[] = [];
const bun = findBun();
// ws with its optional native add-on is the column users of `ws` in production compare against.
const defaultServers = ['wskit', 'ws', 'wskit-cb', ...(hasBufferutil ? ['ws-bufferutil'] : []), FLOOR, ...(bun.path ? [BUN] : [])];
const servers = (value('--servers')?.split(',') ?? defaultServers).filter((s) => s !== BUN || bun.path !== null);
const scenarios = SCENARIOS.filter((s) => !only || only.includes(s.name));
// The http2 rows (bench/http2.ts) compare wskit's two transports, not servers: their own table, after the main one.
// Text output only (`--json` reports the server columns): left out of --json unless asked for by --only.
const runHttp2 = only ? only.includes('http2') : !json;
if (!hasBufferutil && value('--servers') === undefined) notes.push('ws-bufferutil column skipped: bufferutil does not load here');
if (bun.path === null && (value('--servers') === undefined || value('--servers')!.split(',').includes(BUN))) {
  notes.push(`bun column skipped: ${bun.reason}`);
}

/**
 * Bun's binary, if it runs here: the `bun` npm package installed for the bench only (`npm install --no-save bun`;
 * not a devDependency, so `npm ci` and `npm test` never download it), else `bun` on PATH.
 */
function findBun(): { path: string | null; version: string; reason: string } {
  const installed = [join(root, 'node_modules', '.bin', 'bun'), join(root, 'node_modules', 'bun', 'bin', 'bun.exe')];
  const path = installed.find((c) => existsSync(c)) ?? (spawnSync('bun', ['--version']).status === 0 ? 'bun' : undefined);
  if (path === undefined) return { path: null, version: '', reason: 'bun is not installed (bench only: npm install --no-save bun)' };
  const run = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (run.status !== 0) return { path: null, version: '', reason: `${path} --version failed: ${(run.stderr || String(run.error ?? run.status)).trim().split('\n')[0]}` };
  return { path, version: run.stdout.trim(), reason: '' };
}
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

// ---------------------------------------------------------------- setup

let serverScript: string[] = [];
if (!canPin) notes.push('taskset unavailable or one CPU: server and driver are not pinned');

// ---------------------------------------------------------------- running

function startImpl(impl: string, extra: string[]): Promise<{ child: ChildProcess; port: number }> {
  // Bun runs its own server file (TypeScript, no build step); every other column is bench/server.ts on Node.
  const runtime = impl === BUN ? [bun.path!, join(here, 'bun-server.ts')] : [process.execPath, ...serverScript, impl];
  return startServer(pin(0, [...runtime, ...extra]), impl);
}

interface Sample {
  run: number;
  scenario: string;
  server: string;
  result: Record<string, string>;
}

async function main(): Promise<void> {
  const driver = buildDriver();
  serverScript = buildServer(notes);
  const samples: Sample[] = [];
  const skipped = new Set<string>();
  const live = new Map<string, { child: ChildProcess; port: number }>();
  for (let run = 1; run <= runs; run++) {
    for (const scenario of scenarios) {
      if (skipped.has(scenario.name)) continue;
      const order = servers.map((_, i) => servers[(i + run - 1) % servers.length]!);
      for (const server of order) {
        if (server === FLOOR && !scenario.floor) continue;
        // A fresh server per measurement; quick mode reuses one per server and options (CI speed).
        const key = `${server} ${(scenario.serverArgs ?? []).join(' ')}`;
        const started = (scenario.fresh ? undefined : live.get(key)) ?? (await startImpl(server, scenario.serverArgs ?? []));
        const { child, port } = started;
        let result: Record<string, string>;
        try {
          result = await runDriver(driver, scenario.args(quick), port, child.pid!);
        } finally {
          if (quick && !scenario.fresh && child.exitCode === null) live.set(key, started);
          else await stopServer(child);
        }
        if (result.exit === '3') {
          // The driver's "not negotiated" status: the server doesn't support this scenario.
          skipped.add(scenario.name);
          notes.push(`${scenario.name}: skipped, ${server} did not negotiate it (${result.stderr ?? ''})`);
          break;
        }
        samples.push({ run, scenario: scenario.name, server, result });
        const shown = scenario.metrics.map((m) => `${m.key}=${result[m.key]}${m.perCpu ? ` ${m.perCpu}=${result[m.perCpu]}` : ''}`);
        log(`[run ${run}] ${server.padEnd(6)} ${scenario.name.padEnd(10)} ${shown.join(' ')} srv_cpu=${result.srv_cpu_pct ?? '-'}% driver_cpu=${result.lg_cpu_pct ?? '-'}% errors=${result.errors}${result.stderr ? ` (${result.stderr})` : ''}`);
      }
    }
  }
  for (const { child } of live.values()) await stopServer(child);
  report(samples, runHttp2 ? await http2Rows(serverScript, runs, quick) : []);
}

interface Row {
  scenario: string;
  title: string;
  metric: string;
  higherBetter: boolean;
  values: Record<string, number>;
  perCpu: Record<string, number> | null;
  /** subject / reference, wall clock. */
  ratio: number | null;
  /** subject / reference per server-CPU-second, where the row has it. */
  perCpuRatio: number | null;
  /** node-floor / reference: per CPU-second where the row has it, else wall clock. */
  floorRatio: number | null;
  /** Every other server / reference: per CPU-second where the row has it, else wall clock. */
  ratios: Record<string, number | null>;
  /** subject / bun: per CPU-second where the row has it, else wall clock; null without a bun column. */
  bunRatio: number | null;
  errors: number;
}

function report(samples: Sample[], http2Lines: string[]): void {
  const rows: Row[] = [];
  const [subject, reference] = [servers[0]!, servers[1]];
  const withFloor = servers.includes(FLOOR) && reference !== FLOOR;
  const withBun = servers.includes(BUN) && subject !== BUN;
  const others = servers.filter((s) => s !== reference);
  for (const scenario of scenarios) {
    const mine = samples.filter((s) => s.scenario === scenario.name);
    if (mine.length === 0) continue;
    for (const metric of scenario.metrics) {
      const values: Record<string, number> = {};
      const perCpu: Record<string, number> = {};
      for (const server of servers) {
        const own = mine.filter((s) => s.server === server);
        if (own.length === 0) continue;
        values[server] = median(own.map((s) => Number(s.result[metric.key])));
        if (metric.perCpu) perCpu[server] = median(own.map((s) => Number(s.result[metric.perCpu!])));
      }
      /** The median of the per-run ratios top / bottom (runs interleave the servers, so pairs share conditions). */
      const ratioOf = (key: string, top = subject, bottom = reference): number | null => {
        if (bottom === undefined) return null;
        const ratios: number[] = [];
        for (let run = 1; run <= runs; run++) {
          const a = mine.find((s) => s.run === run && s.server === top)?.result[key];
          const b = mine.find((s) => s.run === run && s.server === bottom)?.result[key];
          if (a !== undefined && b !== undefined && Number(b) > 0) ratios.push(Number(a) / Number(b));
        }
        return ratios.length ? median(ratios) : null;
      };
      const compared = metric.perCpu ?? metric.key;
      rows.push({
        scenario: scenario.name,
        title: scenario.title,
        metric: metric.label,
        higherBetter: metric.higherBetter,
        values,
        perCpu: metric.perCpu ? perCpu : null,
        ratio: ratioOf(metric.key),
        perCpuRatio: metric.perCpu ? ratioOf(metric.perCpu) : null,
        floorRatio: withFloor ? ratioOf(compared, FLOOR) : null,
        ratios: Object.fromEntries(others.map((s) => [s, ratioOf(compared, s)])),
        bunRatio: withBun ? ratioOf(compared, subject, BUN) : null,
        errors: mine.reduce((n, s) => n + Number(s.result.errors ?? 1), 0),
      });
    }
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ quick, runs, servers, pinned: canPin, notes, rows, samples, http2: http2Lines }, null, 2)}\n`);
    return;
  }
  const fmt = (n: number | undefined): string =>
    n === undefined || Number.isNaN(n) ? '-' : n >= 1000 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 100 ? 0 : 2);
  const times = (ratio: number | null | undefined): string => (ratio === null || ratio === undefined || Number.isNaN(ratio) ? '-' : `${ratio.toFixed(2)}x`);
  const ratioHeads = others.map((s) => `${s}/${reference ?? '-'}`);
  const lines = [
    `wskit benchmark: ${runs} run(s)${quick ? ', quick' : ''}, medians; ratios are medians of per-run ratios, per server-CPU-second where the row has it, else wall clock`,
    `server pinned to CPU 0, driver to CPU 1: ${canPin ? 'yes' : 'no'}; node ${process.version}${bun.path ? `; bun ${bun.version}` : ''}`,
    '',
    `| scenario | metric | ${servers.join(' | ')} | ${servers.map((s) => `${s} per CPU-s`).join(' | ')} | ${ratioHeads.join(' | ')} |${withBun ? ` ${subject}/${BUN} |` : ''} errors |`,
    `|---|---|${servers.map(() => '---:|').join('')}${servers.map(() => '---:|').join('')}${others.map(() => '---:|').join('')}${withBun ? '---:|' : ''}---:|`,
  ];
  for (const row of rows) {
    const better = row.higherBetter ? '' : ' (lower is better)';
    lines.push(
      `| ${row.title} | ${row.metric}${better} | ${servers.map((s) => fmt(row.values[s])).join(' | ')} | ` +
        `${servers.map((s) => (row.perCpu ? fmt(row.perCpu[s]) : '-')).join(' | ')} | ${others.map((s) => times(row.ratios[s])).join(' | ')} |` +
        `${withBun ? ` ${times(row.bunRatio)} |` : ''} ${row.errors} |`,
    );
  }
  lines.push(...http2Lines);
  for (const note of notes) lines.push(`note: ${note}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (rows.some((r) => r.errors > 0)) process.exitCode = 1;
}

await main();
