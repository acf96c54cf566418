/** `wskit bench` against `wskit echo` and a `ws` echo server; `wskit serve` modes. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { connect } from '../../src/index.js';
import { delay, freePort, skipWithoutRedis, within } from '../helpers.js';
import { startRedis } from '../redis-server.js';
import { hasStackTrace, killAll, start, startEcho, stop, waitForLine, wskit } from './cli-helpers.js';

describe('wskit bench', { timeout: 80_000 }, () => {
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let wss: WebSocketServer;
  let wsUrl = '';
  before(async () => {
    echo = await startEcho();
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    await new Promise((resolve) => wss.once('listening', resolve));
    wsUrl = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
  });
  after(async () => {
    await stop(echo.child);
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
    await killAll();
  });

  for (const [name, url] of [['wskit echo', () => echo.url], ['ws echo server', () => wsUrl]] as const) {
    test(`against ${name}: non-zero rates, percentiles and zero errors (--json)`, async () => {
      const result = await wskit(['bench', url(), '-c', '8', '--inflight', '8', '--duration', '1.5', '--json']);
      assert.equal(result.code, 0, result.stderr + result.stdout);
      const report = JSON.parse(result.stdout);
      assert.equal(report.errors, 0, JSON.stringify(report.errorSamples));
      assert.ok(report.received > 1000, `received ${report.received}`);
      assert.ok(report.messagesPerSecond > 0);
      assert.ok(report.mbPerSecond > 0);
      assert.ok(report.sent - report.received <= 64, 'every reply in flight is awaited');
      const l = report.latency;
      assert.ok(l.p50 > 0 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l['p99.9'] && l['p99.9'] <= l.max, JSON.stringify(l));
      process.stdout.write(`# bench vs ${name}: ${report.messagesPerSecond} msg/s, p50 ${l.p50} ms, p99 ${l.p99} ms\n`);
    });
  }

  test('text report with --count, binary messages and a rate limit', async () => {
    const result = await wskit(['bench', echo.url, '-c', '2', '--count', '300', '--binary', '--size', '1024', '--rate', '1000']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /1024-byte binary messages/);
    assert.match(result.stdout, /Messages:\s+300 sent, 300 received/);
    const seconds = Number(/Duration:\s+([\d.]+) s/.exec(result.stdout)![1]);
    assert.ok(seconds >= 0.2, `300 messages at 1000/s took ${seconds} s`);
    assert.match(result.stdout, /Latency:\s+p50 [\d.]+ {2}p90 [\d.]+ {2}p99 [\d.]+ {2}p99\.9 [\d.]+ {2}max [\d.]+ ms/);
    assert.match(result.stdout, /Errors:\s+0/);
  });

  test('--connect: handshakes/s and idle connections held', async () => {
    const result = await wskit(['bench', wsUrl, '--connect', '-c', '4', '--count', '200', '--json']);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const report = JSON.parse(result.stdout);
    assert.equal(report.opened, 200);
    assert.equal(report.held, 200);
    assert.ok(report.handshakesPerSecond > 0);
    assert.equal(report.errors, 0);
  });
});

describe('wskit serve', { timeout: 60_000 }, () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wskit-serve-'));
    await writeFile(path.join(dir, 'index.html'), '<h1>hello</h1>\n');
  });
  after(async () => {
    await killAll();
    await rm(dir, { recursive: true, force: true });
  });

  test('--broadcast sends every message to every client; --static serves files on the same port; --log', async () => {
    const server = start(['serve', '--port', '0', '--broadcast', '--static', dir, '--log']);
    let output = '';
    server.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const url = await waitForLine(server, /Listening on (ws:\/\/\S+)/);
    const a = await connect(url);
    const b = await connect(url);
    await a.send('from a');
    assert.equal(await a.recv(), 'from a');
    assert.equal(await b.recv(), 'from a');
    const page = await fetch(url.replace('ws:', 'http:') + '/');
    assert.equal(page.status, 200);
    assert.equal(await page.text(), '<h1>hello</h1>\n');
    assert.equal((await fetch(url.replace('ws:', 'http:') + '/%2e%2e/%2e%2e/etc/passwd')).status, 404, 'no escape from the directory');
    await a.close();
    await b.close();
    await stop(server);
    assert.match(output, /\+ 127\.0\.0\.1 \//);
    assert.match(output, /- 127\.0\.0\.1 \/ 1000 \(OK\)/);
  });

  test('--exec runs a command per connection: messages in on stdin, lines out as messages', async () => {
    const server = start(['serve', '--port', '0', '--exec', 'while read line; do echo "got: $line"; done']);
    const url = await waitForLine(server, /Listening on (ws:\/\/\S+)/);
    const result = await wskit(['connect', url, '--count', '2'], { input: 'one\ntwo\n' });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'got: one\ngot: two\n');
    await stop(server);
  });

  test('--redis without a reachable Redis fails in one line', async () => {
    const result = await wskit(['serve', '--port', '0', '--redis', 'redis://127.0.0.1:1']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^wskit serve: cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/);
    assert.ok(!/\n\s+at /.test(result.stderr), result.stderr);
  });

  test('--redis: two servers share messages; a Redis outage is reported in one line and recovered from', { skip: skipWithoutRedis }, async () => {
    const redisPort = await freePort();
    let redis = await startRedis(redisPort);
    try {
      const redisUrl = `redis://127.0.0.1:${redisPort}`;
      const one = start(['serve', '--port', '0', '--redis', redisUrl]);
      const two = start(['serve', '--port', '0', '--redis', redisUrl]);
      let errors = '';
      one.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
      const a = await connect(await waitForLine(one, /Listening on (ws:\/\/\S+)/));
      const b = await connect(await waitForLine(two, /Listening on (ws:\/\/\S+)/));
      // A topic's first subscriber on a server costs a Redis SUBSCRIBE: until it is done, publishes elsewhere miss it.
      const relayed = async (text: string, ms: number): Promise<void> => {
        // Earlier texts, sent again while waiting, may still be on their way: skip them.
        const received = within(
          (async () => {
            let got = await b.recv();
            while (got !== text) got = await b.recv();
            return got;
          })(),
          ms,
          `'${text}' relayed across servers`,
        );
        let sending = true;
        void (async () => {
          while (sending) {
            await a.send(text);
            await delay(100);
          }
        })();
        try {
          assert.equal(await received, text);
        } finally {
          sending = false;
        }
      };
      await relayed('before', 5000);

      redis.kill('SIGKILL');
      await within(
        (async () => {
          while (!errors.includes('Redis backplane lost')) await delay(50);
        })(),
        10_000,
        'outage report',
      );
      assert.match(errors, /^wskit: Redis backplane lost redis:\/\/127\.0\.0\.1:\d+: .+; reconnecting\n/);
      assert.ok(!hasStackTrace(errors), errors);

      redis = await startRedis(redisPort);
      // The backplane resubscribes on its own; keep sending until the other server relays again.
      await relayed('after', 15_000);
      await a.close();
      await b.close();
      await stop(one);
      await stop(two);
    } finally {
      redis.kill('SIGKILL');
    }
  });
});
