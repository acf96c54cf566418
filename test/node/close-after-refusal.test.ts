/**
 * A handshake answered with an HTTP refusal (an admission limit's 429, processRequest's 401) must not hold up
 * `server.close()`: the refused socket closes once the client has left. The scenario runs in a child process whose
 * only handles are the server and its clients (fixtures/close-after-refusal.ts), where a close() waiting on an
 * unref'd timer shows as exit 13 (unsettled top-level await) instead of a timing to measure.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const FIXTURE = fileURLToPath(new URL('./fixtures/close-after-refusal.ts', import.meta.url));

describe('server.close() after a refused handshake', () => {
  for (const [refusal, status] of [['rate', 429], ['processRequest', 401]] as const) {
    it(`resolves once the client refused by ${refusal} (${status}) has left`, async () => {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', FIXTURE, refusal], { timeout: 30_000 });
      assert.equal(stderr, '');
      assert.equal(stdout, `server rejected WebSocket connection: HTTP ${status}\nclosed 1001\n`);
    });
  }
});
