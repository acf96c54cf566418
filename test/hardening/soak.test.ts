import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { it } from 'node:test';
import { promisify } from 'node:util';

it('the soak script holds idle connections with keepalive and churn and reports RSS over time (short run)', { timeout: 90_000 }, async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'bench/soak.ts', '--seconds', '6', '--connections', '1000', '--churn', '20', '--ping-interval', '1', '--json'],
    { timeout: 80_000 },
  );
  const summary = JSON.parse(stdout.trim().split('\n').pop()!);
  assert.equal(summary.connections, 1000);
  assert.ok(summary.samples.length >= 3);
  // Churn closes and reopens 20 a second, so a sample may catch a few in between.
  const held = Math.max(...summary.samples.map((s: { connections: number }) => s.connections));
  assert.ok(held >= 900, `connections were held (at most ${held} seen)`);
  assert.ok(summary.samples.at(-1).messages > 0, 'churn messages were echoed');
  assert.ok(summary.peakMiB < summary.baselineMiB + 200, 'RSS stayed bounded');
});
