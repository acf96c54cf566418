/**
 * What an idle connection keeps, by kind of object: a heap snapshot of the server process before and after N idle
 * connections, the difference per connection grouped by constructor (V8's own heap), beside RSS per connection
 * (the rest: sockets' native state, libuv handles, malloc'd buffers, heap slack).
 *
 *   node --import tsx bench/idle-heap.ts [--server wskit|ws|node-floor] [--connections 10000] [--top 25]
 *
 * The server is bench/server.ts (built as `npm run bench` builds it) with --heapsnapshot-signal; the connections
 * are opened by the C driver's hold mode, which keeps them (answering keepalive) while the snapshot is written.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildDriver, buildServer, runDriver, startServer, stopServer } from './harness.js';

const { values } = parseArgs({
  options: {
    server: { type: 'string', default: 'wskit' },
    connections: { type: 'string', default: '10000' },
    top: { type: 'string', default: '25' },
  },
});
const connections = Number(values.connections);
const top = Number(values.top);
if (!Number.isInteger(connections) || connections <= 0 || connections > 18_000) {
  process.stderr.write(`bench/idle-heap: --connections must be an integer from 1 to 18000 (one process's open files), got ${values.connections}\n`);
  process.exit(2);
}

interface Group {
  count: number;
  bytes: number;
}

/** Self sizes and counts by kind: objects by constructor, strings and code by their type only. */
function groups(file: string): Map<string, Group> {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const types = snapshot.snapshot.meta.node_types[0];
  const byName = new Set(['object', 'closure', 'native', 'hidden', 'array', 'object shape', 'synthetic', 'regexp']);
  const out = new Map<string, Group>();
  const nodes = snapshot.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]!]!;
    const key = byName.has(type) ? `${type} ${snapshot.strings[nodes[i + nameAt]!]!.slice(0, 60)}` : type;
    const group = out.get(key) ?? { count: 0, bytes: 0 };
    group.count++;
    group.bytes += nodes[i + sizeAt]!;
    out.set(key, group);
  }
  return out;
}

function rssKib(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]);
}

/** Asks the server for a snapshot (SIGUSR2) and waits until the file is complete (its size stable for 1 s). */
async function snapshot(child: ChildProcess, dir: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  child.kill('SIGUSR2');
  const deadline = Date.now() + 120_000;
  let last = -1;
  for (;;) {
    if (Date.now() > deadline) throw new Error('no heap snapshot within 120 s');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const file = readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    if (file === undefined) continue;
    const size = statSync(join(dir, file)).size;
    if (size > 0 && size === last) return join(dir, file);
    last = size;
  }
}

async function main(): Promise<void> {
  const notes: string[] = [];
  const driver = buildDriver();
  const script = buildServer(notes);
  const dir = mkdtempSync(join(tmpdir(), 'wskit-idle-heap-'));
  const { child, port } = await startServer([process.execPath, `--diagnostic-dir=${dir}`, '--heapsnapshot-signal=SIGUSR2', ...script, values.server!], values.server!);
  try {
    // Warm up: the code paths of a handshake and a held connection run once before the baseline.
    await runDriver(driver, ['hold', '-n', '20', '-C', '8', '-a', '1', '-i', '0.1', '-A', '0.3', '-e', '20', '-r', '50'], port, child.pid!);
    const baseline = await snapshot(child, dir);
    const rss0 = rssKib(child.pid!);
    let rss1 = 0;
    let held = '';
    const done = runDriver(driver, ['hold', '-n', String(connections), '-C', '64', '-a', '1', '-i', '0.1', '-A', '0.1', '-e', '1', '-r', '0', '-W'], port, child.pid!, 300_000, (d) => {
      let out = '';
      d.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (held !== '' || !out.includes('RAMPED')) return;
        held = out;
        // Settled: a second for the last handshakes' garbage to be collected like the rest.
        setTimeout(() => {
          rss1 = rssKib(child.pid!);
          void snapshot(child, dir).then((file) => {
            held = file;
            d.stdin!.end('go\n');
          });
        }, 1000);
      });
    });
    const result = await done;
    if (Number(result.errors ?? 1) > 0) throw new Error(`driver: ${result.stderr ?? 'failed'}`);
    const a = groups(baseline);
    const b = groups(held);
    const rows = [...b.entries()]
      .map(([key, g]) => ({ key, count: g.count - (a.get(key)?.count ?? 0), bytes: g.bytes - (a.get(key)?.bytes ?? 0) }))
      .sort((x, y) => y.bytes - x.bytes);
    // Node reports some native state in the snapshot (e.g. `synthetic Node / TCPSocketWrap`): counted apart from V8's objects.
    const isNative = (key: string): boolean => key.startsWith('synthetic ') || key.startsWith('native ');
    const heap = rows.filter((r) => !isNative(r.key)).reduce((n, r) => n + r.bytes, 0) / connections;
    const native = rows.filter((r) => isNative(r.key)).reduce((n, r) => n + r.bytes, 0) / connections;
    const rss = ((rss1 - rss0) * 1024) / connections;
    const kib = (bytes: number): string => (bytes / 1024).toFixed(2);
    const lines = [
      `${values.server}: ${connections} idle connections; per connection: RSS ${kib(rss)} KiB = V8 heap objects ${kib(heap)} KiB + ` +
        `native state the snapshot reports ${kib(native)} KiB + the rest ${kib(rss - heap - native)} KiB ` +
        `(kernel-side socket buffers are not in RSS; the rest is malloc'd memory, libuv handles and heap slack)`,
      '',
      '| kind (snapshot type and constructor) | objects per connection | bytes per connection |',
      '|---|---:|---:|',
      ...rows.slice(0, top).map((r) => `| ${r.key.replace(/\|/g, '\\|')} | ${(r.count / connections).toFixed(2)} | ${(r.bytes / connections).toFixed(0)} |`),
    ];
    for (const note of notes) lines.push(`note: ${note}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await stopServer(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
