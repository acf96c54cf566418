/**
 * A real Prometheus scrapes `wskit echo --metrics` while `wskit bench` loads it; the figures read back through
 * Prometheus's HTTP query API equal what the load generators counted, exactly: connections opened, messages
 * and bytes each way, close codes (1000 from the bench's clients, 1006 from clients that vanish).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { connect } from '../../src/index.js';
import { delay, freePort } from '../helpers.js';
import { killAll, start, stop, waitForLine, wskit } from './cli-helpers.js';

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const skipWithoutPrometheus: string | false = existsSync(PROMETHEUS) ? false : 'prometheus is not installed (apt-get install prometheus)';

let prometheus: ChildProcess | null = null;
let dataDir = '';
after(async () => {
  if (prometheus !== null && prometheus.exitCode === null) {
    const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
    prometheus.kill('SIGTERM');
    const timer = setTimeout(() => prometheus!.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  await killAll();
  if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
});

/** One instant query; the value of its single series, or null when there is none. */
async function query(base: string, promql: string): Promise<number | null> {
  const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as { status: string; data: { result: Array<{ value: [number, string] }> } };
  assert.equal(body.status, 'success', JSON.stringify(body));
  if (body.data.result.length === 0) return null;
  assert.equal(body.data.result.length, 1, `${promql}: ${JSON.stringify(body.data.result)}`);
  return Number(body.data.result[0]!.value[1]);
}

test('Prometheus scrapes wskit under wskit bench load; the totals match the load generator exactly', { skip: skipWithoutPrometheus, timeout: 120_000 }, async () => {
  const echo = start(['echo', '--port', '0', '--metrics']);
  const url = await waitForLine(echo, /Listening on (ws:\/\/\S+)/);
  const target = new URL(url).host;

  dataDir = await mkdtemp(path.join(tmpdir(), 'wskit-prometheus-'));
  const config = path.join(dataDir, 'prometheus.yml');
  await writeFile(
    config,
    ['global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', 'scrape_configs:', '  - job_name: wskit', '    static_configs:', `      - targets: ['${target}']`, ''].join('\n'),
  );
  const webPort = await freePort();
  const base = `http://127.0.0.1:${webPort}`;
  let log = '';
  prometheus = spawn(PROMETHEUS, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${path.join(dataDir, 'data')}`,
    `--web.listen-address=127.0.0.1:${webPort}`,
    '--storage.tsdb.retention.time=1h',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  prometheus.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  const readyBy = Date.now() + 30_000;
  for (;;) {
    const ready = await fetch(`${base}/-/ready`).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (Date.now() > readyBy || prometheus.exitCode !== null) throw new Error(`prometheus did not start:\n${log}`);
    await delay(200);
  }
  // Scraping has begun (the first scrape comes up to one interval after start), so the load below is seen in progress.
  while ((await query(base, 'up{job="wskit"}')) !== 1) {
    if (Date.now() > readyBy) throw new Error(`prometheus never scraped ${target}:\n${log}`);
    await delay(200);
  }

  // The load: messages from wskit bench, handshakes from wskit bench --connect, and clients that vanish (1006).
  const messages = await wskit(['bench', url, '-c', '8', '--inflight', '4', '--count', '4000', '--rate', '1000', '--json'], { timeoutMs: 60_000 });
  assert.equal(messages.code, 0, messages.stderr + messages.stdout);
  const load = JSON.parse(messages.stdout) as { sent: number; received: number; size: number; connections: number; errors: number };
  const handshakes = await wskit(['bench', url, '--connect', '-c', '4', '--count', '50', '--json'], { timeoutMs: 60_000 });
  assert.equal(handshakes.code, 0, handshakes.stderr + handshakes.stdout);
  const connects = JSON.parse(handshakes.stdout) as { opened: number; errors: number };
  const vanishing = 7;
  for (let i = 0; i < vanishing; i++) (await connect(url)).terminate();
  assert.equal(load.errors + connects.errors, 0);

  const expected: Record<string, number> = {
    'wskit_connections_opened_total': load.connections + connects.opened + vanishing,
    'wskit_connections_closed_total{code="1000"}': load.connections + connects.opened,
    'wskit_connections_closed_total{code="1006"}': vanishing,
    'sum(wskit_connections_closed_total)': load.connections + connects.opened + vanishing,
    'wskit_connections': 0,
    'wskit_messages_received_total{opcode="text"}': load.sent,
    'wskit_received_bytes_total{opcode="text"}': load.sent * load.size,
    'wskit_messages_sent_total{opcode="text"}': load.received,
    'wskit_sent_bytes_total{opcode="text"}': load.received * load.size,
    'wskit_messages_received_total{opcode="binary"}': 0,
    'wskit_handshakes_total{result="accepted"}': load.connections + connects.opened + vanishing,
    'sum(wskit_handshakes_total{result="refused"})': 0,
    'up{job="wskit"}': 1,
  };
  // Wait (bounded) for a scrape taken after the load ended, then compare every figure exactly.
  const deadline = Date.now() + 30_000;
  let seen: Record<string, number | null> = {};
  for (;;) {
    seen = Object.fromEntries(await Promise.all(Object.keys(expected).map(async (q) => [q, await query(base, q)] as const)));
    if (Object.keys(expected).every((q) => seen[q] === expected[q]) || Date.now() > deadline) break;
    await delay(500);
  }
  assert.deepEqual(seen, expected);
  assert.equal(load.sent, 4000);
  // Scraped under load (the bench ran for about 4 s at 1,000 messages/s): a scrape saw its connections open.
  const peakConnections = await query(base, 'max_over_time(wskit_connections[10m])');
  assert.ok(peakConnections !== null && peakConnections >= 1, `peak connections ${peakConnections}`);
  const raw = await fetch(`${base}/api/v1/query?query=${encodeURIComponent('wskit_messages_received_total{opcode="text"}[10m]')}`);
  const scraped = ((await raw.json()) as { data: { result: Array<{ values: Array<[number, string]> }> } }).data.result[0]!.values.map(([, v]) => Number(v));
  assert.ok(scraped.some((v) => v > 0 && v < load.sent), `no scrape during the load: ${scraped.join(' ')}`);

  // Prometheus parsed every line: the target is healthy with no scrape error.
  const targets = (await (await fetch(`${base}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ health: string; lastError: string }> } };
  assert.deepEqual(targets.data.activeTargets.map((t) => [t.health, t.lastError]), [['up', '']]);
  // And the histogram is usable as one (histogram_quantile over its buckets answers, even with no observation).
  const quantile = await fetch(`${base}/api/v1/query?query=${encodeURIComponent('histogram_quantile(0.99, sum by (le) (wskit_keepalive_rtt_seconds_bucket))')}`);
  assert.equal(((await quantile.json()) as { status: string }).status, 'success');
  process.stdout.write(`# prometheus read back: ${JSON.stringify(seen)}\n`);
  await stop(echo);
});

test('the alert rules in docs/operating.md are valid Prometheus rules (promtool)', { skip: existsSync(PROMTOOL) ? false : 'promtool is not installed (apt-get install prometheus)' }, async () => {
  const guide = await readFile(new URL('../../docs/operating.md', import.meta.url), 'utf8');
  const rules = /```yaml\n([\s\S]*?)```/.exec(guide)?.[1];
  assert.ok(rules !== undefined, 'no yaml block in docs/operating.md');
  const dir = await mkdtemp(path.join(tmpdir(), 'wskit-rules-'));
  try {
    await writeFile(path.join(dir, 'rules.yml'), rules);
    const out = execFileSync(PROMTOOL, ['check', 'rules', path.join(dir, 'rules.yml')], { encoding: 'utf8' });
    assert.match(out, /SUCCESS: 8 rules found/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
