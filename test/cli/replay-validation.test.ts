/**
 * `wskit replay` checks the whole log before connecting: a close frame the API
 * would refuse, a payload field of the wrong type or size, a header that could
 * not be sent. Each is one line naming the file and line, exit status 2, at
 * once (it used to hang forever, or allocate 1.7 GB for an object as base64).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Server } from '../../src/index.js';
import { echo, startServer } from '../helpers.js';
import { hasStackTrace, wskit } from '../e2e/cli-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'wskit-replay-'));
const request = { type: 'request', conn: 1, time: 0, method: 'GET', target: '/', headers: [['Host', 'x']] };
const text = (t: string) => ({ type: 'frame', conn: 1, time: 1, from: 'client', opcode: 1, op: 'TEXT', fin: true, rsv: 0, masked: true, length: Buffer.byteLength(t), text: t });
const close = (code: number | undefined, reason: string | undefined, length: number) => ({
  type: 'frame', conn: 1, time: 2, from: 'client', opcode: 8, op: 'CLOSE', fin: true, rsv: 0, masked: true, length, base64: Buffer.alloc(length).toString('base64'), code, reason,
});

function logFile(name: string, entries: unknown[]): string {
  const file = path.join(dir, `${name}.jsonl`);
  writeFileSync(file, entries.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n') + '\n');
  return file;
}

describe('wskit replay validates the log up front', { timeout: 60_000 }, () => {
  let server: Server;
  let url = '';
  before(async () => {
    server = await startServer(echo);
    url = `ws://127.0.0.1:${server.address()!.port}`;
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: Array<[string, unknown[], number, RegExp]> = [
    ['close code 999', [request, text('hi'), close(999, '', 2)], 3, /close frame cannot be replayed: invalid close code 999/],
    ['1005 with a reason', [request, text('hi'), close(1005, 'why', 0)], 3, /close frame cannot be replayed: a close without a status code cannot carry a reason/],
    ['a reason over 123 bytes', [request, close(1000, 'x'.repeat(124), 126)], 2, /close frame cannot be replayed: close reason must be at most 123 bytes/],
    ['base64 as an object', [request, { ...text('hi'), text: undefined, base64: { length: 1.7e9 } }], 2, /"base64" must be a string, not object/],
    ['base64 of the wrong size', [request, { ...text('hi'), text: undefined, base64: Buffer.alloc(10).toString('base64') }], 2, /the payload holds 10 bytes but "length" says 2/],
    ['base64 with junk', [request, { ...text('hi'), text: undefined, base64: 'a$b=' }], 2, /"base64" is not valid base64/],
    ['a huge length', [request, { ...text('hi'), length: 1e300 }], 2, /"length" must be an integer/],
    ['opcode 99', [request, { ...text('hi'), opcode: 99 }], 2, /"opcode" must be an integer from 0 to 15, got 99/],
    ['text as a number', [request, { ...text('hi'), text: 12 }], 2, /"text" must be a string, not number/],
    ['no conn', [{ ...text('hi'), conn: undefined }], 1, /missing "conn"/],
    ['an unknown entry', [{ type: 'bogus', conn: 1, time: 0 }], 1, /unknown entry type "bogus"/],
    ['not JSON', ['{"type":'], 1, /not a wskit proxy log line/],
    ['a 200-byte ping', [request, { ...text('x'.repeat(200)), opcode: 9, op: 'PING' }], 2, /a ping payload is at most 125 bytes/],
    ['a header that would inject a line', [{ ...request, headers: [['X-A', 'b\r\nX-Injected: 1']] }, text('hi')], 1, /recorded request header cannot be sent again/],
    ['a subprotocol that is not a token', [{ ...request, headers: [['Sec-WebSocket-Protocol', 'a b']] }, text('hi')], 1, /recorded request header cannot be sent again: invalid subprotocol/],
  ];
  describe('refused logs', { concurrency: 4 }, () => {
  for (const [name, entries, line, pattern] of cases) {
    test(`${name}: one line with file and line number, exit 2, at once`, async () => {
      const file = logFile(name.replace(/\W+/g, '-'), entries);
      // A hang (the old behaviour) is killed at the timeout and fails the exit-code check; no wall-clock bound,
      // which a loaded CI machine would break.
      const result = await wskit(['replay', file, url, '--fast'], { timeoutMs: 15_000 });
      assert.equal(result.code, 2, result.stderr);
      const first = result.stderr.split('\n')[0]!;
      assert.ok(first.startsWith(`wskit replay: ${file}:${line}: `), first);
      assert.match(first, pattern);
      assert.ok(!hasStackTrace(result.stderr), result.stderr);
    });
  }
  });

  test('a valid log with an empty close frame (1005) replays and exits 0', async () => {
    const file = logFile('ok', [request, text('hello'), close(1005, '', 0)]);
    const result = await wskit(['replay', file, url, '--fast'], { timeoutMs: 8000 });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /> hello\n/);
    assert.match(result.stderr, /Replayed 1 message; .*Connection closed: 1005 \(no status received\)/);
  });
});
