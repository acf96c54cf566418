/**
 * The benchmark's quick mode works end to end: servers start, the C driver
 * builds and verifies every echoed byte, figures come back positive. Timings
 * are never asserted (the machine is shared).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const gcc = spawnSync('gcc', ['--version']).status === 0;
// bun is asked for always: where it is not installed (bench only, not a devDependency) or does not run, the report leaves its column out and says why.
const servers = ['wskit', 'ws', ...(loads('bufferutil') ? ['ws-bufferutil'] : []), 'node-floor', 'bun'];

function loads(name: string): boolean {
  try {
    createRequire(join(root, 'package.json'))(name);
    return true;
  } catch {
    return false;
  }
}

test('npm run bench -- --quick --json measures every scenario without errors, node-floor where it serves, bun or why not', { skip: gcc ? false : 'gcc is not installed', timeout: 180_000 }, () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--json', '--servers', servers.join(',')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 170_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const report = JSON.parse(out) as {
    servers: string[];
    rows: Array<{
      scenario: string;
      metric: string;
      values: Record<string, number>;
      perCpu: Record<string, number> | null;
      ratio: number | null;
      perCpuRatio: number | null;
      floorRatio: number | null;
      ratios: Record<string, number | null>;
      bunRatio: number | null;
      errors: number;
    }>;
    samples: Array<{ scenario: string; server: string; result: Record<string, string> }>;
    notes: string[];
  };
  const withBun = report.servers.includes('bun');
  if (!withBun) assert.ok(report.notes.some((n) => n.startsWith('bun column skipped: ')), 'a missing bun column is explained');
  const scenarios = new Set(report.rows.map((r) => r.scenario));
  for (const name of ['echo', 'latency', 'large', 'connect', 'broadcast']) assert.ok(scenarios.has(name), `scenario ${name} measured`);
  for (const row of report.rows) {
    assert.equal(row.errors, 0, `${row.scenario}: no errors`);
    for (const [server, value] of Object.entries(row.values)) assert.ok(value > 0, `${row.scenario} ${row.metric} ${server}: ${value} > 0`);
    for (const [server, value] of Object.entries(row.perCpu ?? {})) assert.ok(value > 0, `${row.scenario} per CPU-s ${server}: ${value} > 0`);
    assert.ok(row.ratio !== null && row.ratio > 0, `${row.scenario} ${row.metric}: a ratio`);
    // The node-floor reference serves plain echo and handshakes only, and then has its ceiling ratio.
    const floorServes = ['echo', 'latency', 'large', 'connect'].includes(row.scenario);
    assert.equal('node-floor' in row.values, floorServes, `${row.scenario}: node-floor measured only where it can serve`);
    if (floorServes) assert.ok(row.floorRatio !== null && row.floorRatio > 0, `${row.scenario} ${row.metric}: a ceiling ratio`);
    assert.equal(row.ratios['wskit'], row.perCpuRatio ?? row.ratio, `${row.scenario} ${row.metric}: wskit/ws in the ratio columns`);
    if (withBun) assert.ok(row.bunRatio !== null && row.bunRatio > 0 && 'bun' in row.values, `${row.scenario} ${row.metric}: a bun column and wskit/bun`);
  }
  for (const sample of report.samples) assert.equal(sample.result.errors, '0', `${sample.scenario} ${sample.server}: driver saw no errors`);
});
