/** `wskit serve --topics` and `wskit connect --subscribe/--publish`: real CLI processes, memory and Redis history. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ChildProcess, ChildProcessWithoutNullStreams } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { TOPICS_PROTOCOL, encodeTopicFrame } from '../../src/index.js';
import { freePort, skipWithoutRedis, startServer, until, within } from '../helpers.js';
import { startRedis } from '../redis-server.js';
import { finish, hasStackTrace, killAll, start, stop, waitForLine, wskit } from './cli-helpers.js';

/** Starts `wskit serve --topics ...args` on a free port; resolves with the process and its URL. */
async function serveTopics(args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; url: string; banner: string }> {
  const child = start(['serve', '--topics', '--port', '0', ...args]);
  const banner = await waitForLine(child, /Listening on ws:\/\/\S+ .*/, 15_000);
  return { child, url: /ws:\/\/\S+/.exec(banner)![0], banner };
}

/** Starts a subscriber and resolves once it said it is subscribed to every topic given. */
async function subscriber(url: string, topics: string[], extra: string[] = []): Promise<ChildProcessWithoutNullStreams> {
  const child = start(['connect', url, ...topics.flatMap((topic) => ['--subscribe', topic]), ...extra]);
  let said = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not subscribed within 10 s: ${said}`)), 10_000);
    child.stderr.on('data', (chunk: Buffer) => {
      said += chunk.toString();
      if ((said.match(/Subscribed to /g) ?? []).length >= topics.length) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return child;
}

describe('wskit serve --topics / wskit connect --subscribe --publish', { timeout: 90_000 }, () => {
  after(killAll);

  test('publications are printed one line each, topic TAB offset TAB payload, escaped; publishing is by glob', async () => {
    const { child: server, url } = await serveTopics(['--allow-publish', 'chat/*']);
    try {
      const sub = await subscriber(url, ['chat/a', 'chat/b\x1b'], ['-n', '5', '-t', '20']);
      const output = finish(sub);
      const text = await wskit(['connect', url, '--publish', 'chat/a'], { input: 'hello\n\x1b]0;pwned\x07 two\tcols\n' });
      assert.equal(text.code, 0, text.stderr);
      const json = await wskit(['connect', url, '--publish', 'chat/b\x1b', '--json', '-x', '{"t":21.5}'], { input: '[1,2]\n' });
      assert.equal(json.code, 0, json.stderr);
      const bytes = await wskit(['connect', url, '--publish', 'chat/a', '--binary'], { input: 'AB\n' });
      assert.equal(bytes.code, 0, bytes.stderr);
      const result = await output;
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.trimEnd().split('\n');
      assert.deepEqual(lines.filter((line) => line.startsWith('chat/a')), [
        'chat/a\t1\t"hello"',
        'chat/a\t2\t"\\u001b]0;pwned\\u0007 two\\tcols"',
        'chat/a\t3\t0x4142',
      ]);
      assert.deepEqual(lines.filter((line) => line.startsWith('chat/b')), ['chat/b\\e\t1\t{"t":21.5}', 'chat/b\\e\t2\t[1,2]']);
      assert.ok(!result.stdout.includes('\x1b') && !result.stderr.includes('\x1b'));

      const refused = await wskit(['connect', url, '--publish', 'news'], { input: 'x\n' });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /publish to news failed: forbidden: not allowed to publish to news/);
      assert.ok(!hasStackTrace(refused.stderr));
      const bad = await wskit(['connect', url, '--publish', 'chat/a', '--json'], { input: 'not json\n' });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /not a JSON value, not published: not json/);
    } finally {
      await stop(server);
    }
  });

  test('nobody may publish by default; a bare --allow-publish allows every topic; --count and --timeout', async () => {
    const closed = await serveTopics([]);
    const open = await serveTopics(['--history-size', '10', '--allow-publish']);
    try {
      assert.equal((await wskit(['connect', closed.url, '--publish', 'a'], { input: 'x\n' })).code, 1);
      const ok = await wskit(['connect', open.url, '--publish', 'any/thing', '-x', 'one'], { input: '' });
      assert.equal(ok.code, 0, ok.stderr);
      const late = await wskit(['connect', open.url, '--subscribe', 'any/thing', '-n', '1', '-t', '0.5']);
      assert.equal(late.code, 1, 'no replay without a position: nothing arrives');
      assert.match(late.stderr, /Subscribed to any\/thing at offset 1 of epoch [0-9a-f]{16}\./);
      assert.match(late.stderr, /timed out after 0\.5 s with 0 of 1 publications/);
    } finally {
      await Promise.all([stop(closed.child), stop(open.child)]);
    }
  });

  test('bad arguments and the wrong server are one line and an exit status, never a stack trace', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['serve', '--history-size', '5'], 2, /--history-size goes with --topics/],
      [['serve', '--topics', '--broadcast'], 2, /--topics cannot be combined with --broadcast or --exec/],
      [['serve', '--topics', '--history-size', '0'], 2, /invalid --history-size '0'/],
      [['serve', '--topics', '--history-age', '-1'], 2, /history-age/],
      [['serve', '--topics', '--redis', `redis://127.0.0.1:${await freePort()}`, '--port', '0'], 1, /cannot connect to Redis at redis:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/],
      [['connect', 'ws://127.0.0.1:9', '--subscribe', 'a', '-U'], 2, /--receive-only does not go with --subscribe or --publish/],
      [['connect', 'ws://127.0.0.1:9', '--publish', 'a', '--json', '--binary'], 2, /--json and --binary exclude each other/],
      [['connect', `ws://127.0.0.1:${await freePort()}`, '--subscribe', 'a'], 1, /cannot connect to ws:\/\/127\.0\.0\.1:\d+: connection refused/],
    ];
    for (const [args, code, message] of cases) {
      const result = await wskit(args, { input: '', timeoutMs: 15_000 });
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.ok(!hasStackTrace(result.stderr), result.stderr);
    }
    const echo = start(['echo', '--port', '0']);
    try {
      const url = await waitForLine(echo, /Listening on (ws:\/\/\S+)/);
      const result = await wskit(['connect', url, '--subscribe', 'a'], { timeoutMs: 15_000 });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /the server does not speak wskit\.topics\.v1 \(start it with: wskit serve --topics\)/);
    } finally {
      await stop(echo);
    }
  });

  test('a hostile topics server cannot drive the terminal through topics or payloads', async () => {
    const server = await startServer(
      async (ws) => {
        const request = JSON.parse(String(await ws.recv())) as { id: number; topic: string };
        await ws.send(encodeTopicFrame({ type: 'subscribed', id: request.id, topic: request.topic, epoch: 'e', offset: 0, recovered: true }));
        await ws.send(encodeTopicFrame({ type: 'pub', topic: request.topic, offset: 1, epoch: 'e' }, { json: '"\\u001b[2J\u009b\u202e"' }));
        await ws.recv().catch(() => undefined);
      },
      { subprotocols: [TOPICS_PROTOCOL] },
    );
    try {
      const result = await wskit(['connect', `ws://127.0.0.1:${server.address()!.port}`, '--subscribe', 't\x07\n', '-n', '1']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 't\\x07\\n\t1\t"\\u001b[2J\\x9b\\u202e"\n');
    } finally {
      await server.close();
    }
  });

  describe('with --redis (Redis Streams history)', { skip: skipWithoutRedis }, () => {
    let redis: ChildProcess;
    let redisUrl = '';
    before(async () => {
      const port = await freePort();
      redis = await startRedis(port);
      redisUrl = `redis://127.0.0.1:${port}`;
    });
    after(() => {
      redis?.kill('SIGKILL');
    });

    test('two nodes share topics: published on one, printed by a subscriber of the other, offsets continuing', async () => {
      const a = await serveTopics(['--redis', redisUrl, '--allow-publish']);
      const b = await serveTopics(['--redis', redisUrl, '--allow-publish']);
      try {
        assert.match(a.banner, /topics, history in Redis Streams at redis:/);
        const sub = await subscriber(b.url, ['room'], ['-n', '4', '-t', '20']);
        const output = finish(sub);
        assert.equal((await wskit(['connect', a.url, '--publish', 'room'], { input: 'one\ntwo\n' })).code, 0);
        assert.equal((await wskit(['connect', b.url, '--publish', 'room'], { input: 'three\nfour\n' })).code, 0);
        const result = await output;
        assert.equal(result.code, 0, result.stderr);
        assert.deepEqual(result.stdout.trimEnd().split('\n'), ['room\t1\t"one"', 'room\t2\t"two"', 'room\t3\t"three"', 'room\t4\t"four"']);
      } finally {
        await Promise.all([stop(a.child), stop(b.child)]);
      }
    });

    test('a subscriber whose stdout is not read: 20 MB published, its memory stays bounded, then it prints each once, in order', async () => {
      const server = await serveTopics(['--redis', redisUrl, '--allow-publish', '--history-size', '50000']);
      const sub = start(['connect', server.url, '--subscribe', 'flood', '--reconnect-delay', '0.2']);
      try {
        let said = '';
        sub.stderr.setEncoding('utf8').on('data', (text: string) => (said += text));
        await within(until(() => said.includes('Subscribed to flood'), 10_000, 'subscribed'), 15_000);
        sub.stdout.pause(); // nobody reads: the pipe fills (a write to it then blocks on Linux, waits for 'drain' elsewhere)
        const total = 20_000;
        const pad = 'x'.repeat(1000);
        const lines = Array.from({ length: total }, (_, i) => `${i + 1} ${pad}`);
        const published = await wskit(['connect', server.url, '--publish', 'flood', '-q'], { input: lines.join('\n') + '\n', timeoutMs: 60_000 });
        assert.equal(published.code, 0, published.stderr);
        // Far more than the socket buffers hold: the subscriber stops reading its connection instead of buffering.
        const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${sub.pid}/status`, 'utf8'))![1]) / 1024;
        assert.ok(rss < 150, `subscriber RSS ${rss.toFixed(0)} MiB with 20 MB published and nothing read`);
        let out = '';
        sub.stdout.setEncoding('utf8').on('data', (text: string) => (out += text));
        sub.stdout.resume();
        await within(until(() => out.includes(`\t${total}\t`), 30_000, 'every publication printed'), 35_000);
        const numbers = out.trimEnd().split('\n').map((line) => Number(/^flood\t(\d+)\t"(\d+) /.exec(line)?.[2]));
        // Before the topic server closed slow subscribers itself, broadcast() skipped publications on them: a gap.
        const firstBad = numbers.findIndex((n, i) => n !== i + 1);
        assert.equal(numbers.length, total, `${total - numbers.length} missing, first at line ${firstBad + 1}: ${numbers.slice(Math.max(0, firstBad - 1), firstBad + 2).join(', ')}`);
        assert.ok(numbers.every((n, i) => n === i + 1), 'each once, in order');
        assert.doesNotMatch(said, /not recovered/);
      } finally {
        await Promise.all([stop(sub), stop(server.child)]);
      }
    });
  });
});
