/**
 * Every numeric flag of every command goes through the library's checkNumber:
 * units where they make sense (64k, 1M, 500ms), anything else refused in one
 * line with exit status 2 — never a limit silently removed.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { connect } from '../../src/index.js';
import { hasStackTrace, killAll, start, waitForLine, wskit } from '../e2e/cli-helpers.js';

describe('numeric flags', { timeout: 150_000 }, () => {
  after(killAll);

  const bad: Array<[string[], string]> = [
    [['echo', '--max-size', 'abc'], '--max-size'],
    [['echo', '--max-size', '1M?'], '--max-size'],
    [['echo', '--max-size=-1'], '--max-size'],
    [['echo', '--port', '70000'], '--port'],
    [['echo', '--port', '1.5'], '--port'],
    [['serve', '--max-size', '0'], '--max-size'],
    [['serve', '--max-size', 'NaN'], '--max-size'],
    [['echo', '--max-fragments', '0'], '--max-fragments'],
    [['serve', '--max-fragments', '1.5'], '--max-fragments'],
    [['console', '--port', 'abc'], '--port'],
    [['connect', 'ws://127.0.0.1:1', '--count', '0'], '--count'],
    [['connect', 'ws://127.0.0.1:1', '--count', '2.5'], '--count'],
    [['connect', 'ws://127.0.0.1:1', '--wait', 'soon'], '--wait'],
    [['connect', 'ws://127.0.0.1:1', '--timeout', '0'], '--timeout'],
    [['connect', 'ws://127.0.0.1:1', '--ping-interval=-1'], '--ping-interval'],
    [['bench', 'ws://127.0.0.1:1', '--connections', '0'], '--connections'],
    [['bench', 'ws://127.0.0.1:1', '--inflight', 'x'], '--inflight'],
    [['bench', 'ws://127.0.0.1:1', '--size', '1q'], '--size'],
    [['bench', 'ws://127.0.0.1:1', '--duration=-1'], '--duration'],
    [['bench', 'ws://127.0.0.1:1', '--count', '1.5'], '--count'],
    [['bench', 'ws://127.0.0.1:1', '--rate', 'fast'], '--rate'],
    [['proxy', '--listen', 'x', '--target', 'ws://127.0.0.1:1'], '--listen'],
    [['proxy', '--listen', '0', '--target', 'ws://127.0.0.1:1', '--max-chars', '2'], '--max-chars'],
    [['proxy', '--listen', '0', '--target', 'ws://127.0.0.1:1', '--record-limit', '1.3k'], '--record-limit'],
    [['replay', 'x.jsonl', 'ws://127.0.0.1:1', '--speed', '0'], '--speed'],
    [['replay', 'x.jsonl', 'ws://127.0.0.1:1', '--conn', '0'], '--conn'],
    [['sensors', '127.0.0.1:1', '--duration', '0'], '--duration'],
    [['sensors', '127.0.0.1:1', '--port', 'x'], '--port'],
    [['sensors', '--simulate', '--rate', '0'], '--rate'],
    [['sensors', '--simulate', '--limit=-1'], '--limit'],
    [['sensors', '--simulate', '--drop', '1'], '--drop'],
    [['sensors', '--simulate', '--seed', '1.5'], '--seed'],
    [['sensors', '--simulate', '--web-port', '99999'], '--web-port'],
  ];
  // Short-lived processes that fail at argument parsing: a few at a time.
  describe('refused values', { concurrency: 4 }, () => {
    for (const [args, flag] of bad) {
      test(`wskit ${args.join(' ')}: one line naming ${flag}, exit 2`, async () => {
        const result = await wskit(args, { input: '', timeoutMs: 20_000 });
        assert.equal(result.code, 2, result.stderr);
        const [first] = result.stderr.split('\n');
        assert.match(first!, new RegExp(`^wskit \\w+: invalid ${flag} '[^']*' \\(expected `), result.stderr);
        assert.ok(!hasStackTrace(result.stderr), result.stderr);
      });
    }
  });

  test('wskit echo --max-size 64k keeps a 64 KiB limit (it used to remove the limit)', async () => {
    const child = start(['echo', '--port', '0', '--max-size', '64k']);
    const url = await waitForLine(child, /Listening on (ws:\/\/\S+)/);
    const ws = await connect(url, { compression: false });
    await ws.send('x'.repeat(65536));
    assert.equal((await ws.recv()).length, 65536);
    await ws.send('x'.repeat(65537));
    const closed = await ws.closed;
    assert.equal(closed.code, 1009);
  });

  test('wskit serve --max-fragments 4 sets the base of the fragment budget (1008 beyond)', async () => {
    const child = start(['serve', '--port', '0', '--max-fragments', '4']);
    const url = await waitForLine(child, /Listening on (ws:\/\/\S+)/);
    const ws = await connect(url, { compression: false });
    await ws.send(['a', 'b', 'c', 'd']);
    assert.equal(await ws.recv(), 'abcd');
    await ws.send(['a', 'b', 'c', 'd', 'e']);
    assert.equal((await ws.closed).code, 1008);
  });

  test('units in time and count flags: connect --wait 300ms, bench --count 1k', async () => {
    const child = start(['echo', '--port', '0']);
    const url = await waitForLine(child, /Listening on (ws:\/\/\S+)/);
    const t0 = Date.now();
    const result = await wskit(['connect', url, '-x', 'hi', '--wait', '300ms', '-q'], { input: '' });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'hi\n');
    assert.ok(Date.now() - t0 < 8000);
    const bench = await wskit(['bench', url, '--count', '1k', '--connections', '2', '--json']);
    assert.equal(bench.code, 0, bench.stderr);
    assert.ok(JSON.parse(bench.stdout).received >= 1000);
  });
});
