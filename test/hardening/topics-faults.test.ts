/**
 * Nothing lost across faults, counted at the application: a `wskit connect --subscribe` process follows a topic that
 * a `wskit connect --publish` process fills with a numbered sequence (1, 2, 3, ... at 50 publications/s), served by
 * `wskit serve --topics --redis` (Redis Streams history, Redis with an fsynced append-only file), while the server is
 * SIGKILLed and restarted, Redis is SIGKILLed and restarted, the subscriber's network is cut (a relay that resets its
 * connections), and the subscriber lands on another server node. The subscriber's output is counted: lost,
 * duplicated and reordered publications are 0, 0, 0 within the history window; beyond it the subscriber says
 * `not recovered` with the exact gap, and nothing else is missing.
 */
import assert from 'node:assert/strict';
import type { ChildProcess, ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCutProxy, type CutProxy } from '../cut-proxy.js';
import { freePort, skipWithoutRedis } from '../helpers.js';
import { startRedis } from '../redis-server.js';
import { finish, killAll, start, stop, waitForLine } from '../e2e/cli-helpers.js';

/** Publications per second of the publisher. */
const RATE = 50;
/** Publications of each run: 5 s of traffic. */
const TOTAL = 250;

/** A process's output as it comes, with a way to wait for a condition on it (a deadline, no polling). */
class Watched {
  stdout = '';
  stderr = '';
  private readonly waiters = new Set<() => void>();

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8').on('data', (text: string) => this.grew(() => (this.stdout += text)));
    child.stderr.setEncoding('utf8').on('data', (text: string) => this.grew(() => (this.stderr += text)));
    child.once('exit', () => this.grew(() => undefined));
  }

  /** Resolves once `condition` holds; rejects after `ms` saying `what`, with what the process printed. */
  until(condition: () => boolean, ms: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${what}: not within ${ms} ms\nstdout tail: ${this.stdout.slice(-300)}\nstderr: ${this.stderr.slice(-1500)}`));
      }, ms);
      this.waiters.add(check);
    });
  }

  private grew(append: () => void): void {
    append();
    for (const check of [...this.waiters]) check();
  }
}

/** One printed publication: its offset and the publisher's number. */
interface Line {
  offset: number;
  n: number;
}

function linesOf(subscriber: Watched, topic: string): Line[] {
  return subscriber.stdout
    .split('\n')
    .filter((line) => line.startsWith(`${topic}\t`))
    .map((line) => {
      const [, offset, n] = line.split('\t');
      return { offset: Number(offset), n: Number(n) };
    });
}

/** Lost, duplicated and reordered publications of the sequence 1..total among those printed. */
function count(lines: Line[], total: number): { lost: number; duplicated: number; reordered: number } {
  const seen = new Set(lines.map((line) => line.n));
  let reordered = 0;
  for (let i = 1; i < lines.length; i++) if (lines[i]!.n < lines[i - 1]!.n) reordered++;
  let lost = 0;
  for (let n = 1; n <= total; n++) if (!seen.has(n)) lost++;
  return { lost, duplicated: lines.length - seen.size, reordered };
}

/** A `wskit serve --topics --redis` node on `port`. */
async function serveNode(port: number, redisUrl: string, extra: string[] = []): Promise<ChildProcessWithoutNullStreams> {
  const child = start(['serve', '--topics', '--redis', redisUrl, '--allow-publish', '--port', String(port), ...extra]);
  await waitForLine(child, /Listening on ws:\/\/\S+/, 15_000);
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/**
 * A run: a subscriber on `subscriberUrl`, a publisher on `publisherUrl` fed 1..TOTAL at RATE/s; `fault` runs once the
 * subscriber printed `faultAfter` publications, while the publisher goes on. Resolves once the publisher had every
 * publication acknowledged (it exits 0 only then) and the subscriber printed the last one (or the deadline passed).
 */
async function run(
  topic: string,
  subscriberUrl: string,
  publisherUrl: string,
  fault: (fed: () => number) => Promise<void>,
  faultAfter = 60,
): Promise<{ subscriber: Watched; publisher: Watched; lines: Line[] }> {
  const subscriber = new Watched(start(['connect', subscriberUrl, '--subscribe', topic, '--reconnect-delay', '0.2']));
  await subscriber.until(() => subscriber.stderr.includes(`Subscribed to ${topic} at offset 0 `), 10_000, 'subscribed');
  const publisher = new Watched(start(['connect', publisherUrl, '--publish', topic, '--json', '--reconnect-delay', '0.2']));
  let fed = 0;
  const feeder = setInterval(() => {
    publisher.child.stdin.write(`${++fed}\n`);
    if (fed === TOTAL) {
      clearInterval(feeder);
      publisher.child.stdin.end();
    }
  }, 1000 / RATE);
  try {
    await subscriber.until(() => linesOf(subscriber, topic).length >= faultAfter, 10_000, `${faultAfter} publications before the fault`);
    await fault(() => fed);
    const published = await finish(publisher.child, 20_000);
    assert.equal(published.code, 0, `the publisher had every publication acknowledged: ${publisher.stderr}`);
    await subscriber.until(() => linesOf(subscriber, topic).some((line) => line.n === TOTAL), 10_000, 'the last publication printed');
  } finally {
    clearInterval(feeder);
    await stop(subscriber.child);
  }
  return { subscriber, publisher, lines: linesOf(subscriber, topic) };
}

/** Every publication once, in order, each at the offset of its number (no resend was appended twice). */
function assertExactlyOnce(lines: Line[], subscriber: Watched): void {
  const counted = count(lines, TOTAL);
  assert.deepEqual(counted, { lost: 0, duplicated: 0, reordered: 0 }, `lost, duplicated, reordered\n${subscriber.stderr}`);
  assert.ok(lines.every((line) => line.offset === line.n), 'publication n at offset n');
  assert.doesNotMatch(subscriber.stderr, /not recovered/);
}

describe('topics under faults: lost, duplicated, reordered = 0, 0, 0 (real processes)', { skip: skipWithoutRedis, timeout: 240_000 }, () => {
  let redis: ChildProcess;
  let redisPort = 0;
  let redisUrl = '';
  let aof = '';
  before(async () => {
    aof = mkdtempSync(join(tmpdir(), 'wskit-topics-faults-'));
    redisPort = await freePort();
    redis = await startRedis(redisPort, (child) => child, aof);
    redisUrl = `redis://127.0.0.1:${redisPort}`;
  });
  after(async () => {
    await killAll();
    redis?.kill('SIGKILL');
    rmSync(aof, { recursive: true, force: true });
  });

  it('(a) the server process SIGKILLed and restarted: the subscriber resumes from Redis', { timeout: 30_000 }, async () => {
    const port = await freePort();
    let server = await serveNode(port, redisUrl);
    const url = `ws://127.0.0.1:${port}`;
    try {
      const { lines, subscriber } = await run('faults/server-kill', url, url, async () => {
        await kill(server);
        server = await serveNode(port, redisUrl);
      });
      assertExactlyOnce(lines, subscriber);
      assert.match(subscriber.stderr, /Resumed faults\/server-kill after offset \d+: \d+ missed publication\(s\) follow\./);
    } finally {
      await stop(server);
    }
  });

  it('(b) Redis SIGKILLed and restarted on its append-only file: offsets and history survive', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const server = await serveNode(port, redisUrl);
    const url = `ws://127.0.0.1:${port}`;
    try {
      const { lines, subscriber, publisher } = await run('faults/redis-kill', url, url, async (fed) => {
        await kill(redis);
        // Down for 20 publications at least: the publisher's are refused (1013) and resent once Redis is back.
        await waitFed(fed, fed() + 20);
        redis = await startRedis(redisPort, (child) => child, aof);
      });
      assertExactlyOnce(lines, subscriber);
      assert.match(`${publisher.stderr}${subscriber.stderr}`, /1013/, 'the outage was seen: connections closed with 1013');
    } finally {
      await stop(server);
    }
  });

  it('(c) the subscriber’s network cut for a second (connections reset): it resumes through the relay', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const server = await serveNode(port, redisUrl);
    const proxy = await startCutProxy(port);
    try {
      const { lines, subscriber } = await run('faults/net-cut', `ws://127.0.0.1:${proxy.port}`, `ws://127.0.0.1:${port}`, async (fed) => {
        proxy.cut();
        const from = fed();
        await waitFed(fed, from + RATE);
        proxy.restore();
      });
      assertExactlyOnce(lines, subscriber);
      assert.match(subscriber.stderr, /Resumed faults\/net-cut after offset \d+/);
      assert.ok(proxy.relayed >= 2, 'the subscriber reconnected through the relay');
    } finally {
      await proxy.close();
      await stop(server);
    }
  });

  it('(d) two server nodes on one Redis: the subscriber reconnects to the other node and resumes there', { timeout: 30_000 }, async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const nodeA = await serveNode(portA, redisUrl);
    const nodeB = await serveNode(portB, redisUrl);
    const proxy = await startCutProxy(portA);
    try {
      // The publisher is on node B, the subscriber on node A (live through Redis), then on node B (a resume).
      const { lines, subscriber } = await run('faults/other-node', `ws://127.0.0.1:${proxy.port}`, `ws://127.0.0.1:${portB}`, async () => {
        proxy.retarget(portB);
        await kill(nodeA);
      });
      assertExactlyOnce(lines, subscriber);
      assert.match(subscriber.stderr, /Resumed faults\/other-node after offset \d+/);
    } finally {
      await proxy.close();
      await Promise.all([stop(nodeA), stop(nodeB)]);
    }
  });

  it('beyond the history window: the subscriber says not recovered with the exact gap, and nothing else is missing', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const server = await serveNode(port, redisUrl, ['--history-size', '20']);
    const proxy = await startCutProxy(port);
    try {
      const { lines, subscriber } = await run('faults/beyond', `ws://127.0.0.1:${proxy.port}`, `ws://127.0.0.1:${port}`, async (fed) => {
        proxy.cut();
        await waitFed(fed, fed() + 60); // 60 publications missed, 20 kept
        proxy.restore();
      });
      const gap = /not recovered: the publications after offset (\d+) of epoch \S+ are gone .*; going on after offset (\d+) of epoch/.exec(subscriber.stderr);
      assert.ok(gap !== null, `the gap is said: ${subscriber.stderr}`);
      const [from, to] = [Number(gap[1]), Number(gap[2])];
      assert.ok(to - from > 20, `the gap (${from}, ${to}] is beyond the 20 kept`);
      const counted = count(lines, TOTAL);
      assert.deepEqual([counted.duplicated, counted.reordered], [0, 0]);
      assert.equal(counted.lost, to - from, 'lost exactly the gap reported');
      const printed = new Set(lines.map((line) => line.n));
      for (let n = from + 1; n <= to; n++) assert.ok(!printed.has(n), `${n} is in the reported gap`);
      assert.ok(lines.every((line) => line.offset === line.n));
    } finally {
      await proxy.close();
      await stop(server);
    }
  });
});

/** Resolves once the feeder has written `target` publications (or all of them). */
function waitFed(fed: () => number, target: number): Promise<void> {
  return new Promise((resolve) => {
    const check = setInterval(() => {
      if (fed() >= Math.min(target, TOTAL)) {
        clearInterval(check);
        resolve();
      }
    }, 5);
  });
}
