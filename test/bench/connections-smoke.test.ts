/**
 * `npm run bench:connections` runs end to end at a small scale: servers start, the C driver's hold mode opens,
 * holds (answering keepalive pings), echoes and times a probe, and the report has every figure. Timings are
 * never asserted (the machine is shared); the benchmark itself is run by hand (bench/PROFILE.md).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const gcc = spawnSync('gcc', ['--version']).status === 0;

test('bench:connections --connections 200 holds, pings, echoes and reports every figure for wskit and node-floor', { skip: gcc ? false : 'gcc is not installed', timeout: 60_000 }, () => {
  const args = ['--import', 'tsx', 'bench/connections.ts', '--connections', '200', '--idle', '0.7', '--active', '0.8', '--ping-interval', '250', '--servers', 'wskit,node-floor', '--json'];
  const out = execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 55_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const report = JSON.parse(out) as {
    settings: { connections: number; shards: number };
    rows: Array<{ server: string; runs: number; medians: Record<string, number> }>;
    samples: Array<{ server: string; shards: Array<Record<string, string>> }>;
  };
  assert.equal(report.settings.shards, 1);
  assert.deepEqual(report.rows.map((r) => r.server), ['wskit', 'node-floor']);
  for (const row of report.rows) {
    const m = row.medians;
    assert.equal(m['held'], 200, `${row.server}: every connection held`);
    assert.equal(m['errors'], 0, `${row.server}: no errors`);
    assert.ok(m['RSS KiB/conn, idle, all held']! > 0, `${row.server}: RSS per connection ${m['RSS KiB/conn, idle, all held']}`);
    assert.ok(m['handshakes/s (whole ramp)']! > 0 && m['handshakes per server-CPU-s']! > 0, `${row.server}: handshake rates`);
    assert.ok(m['probe p50 us']! > 0 && m['probe p99 us']! >= m['probe p50 us']!, `${row.server}: probe latencies`);
    assert.ok(m['sample echoes']! > 0, `${row.server}: the sample echoed`);
  }
  // wskit pings every 300 ms here; node-floor has no keepalive.
  const wskit = report.rows.find((r) => r.server === 'wskit')!.medians;
  assert.ok(wskit['pings answered/s at idle']! > 0, 'wskit pinged the held connections and the driver answered');
  assert.equal(report.rows.find((r) => r.server === 'node-floor')!.medians['pings answered/s at idle'], 0);
});
