import assert from 'node:assert/strict';
import { it } from 'node:test';
import { fuzz } from './harness.js';

it('a short fuzz run against a live server finds no crash, wrong close code or memory growth', { timeout: 120_000 }, async () => {
  const seed = Number(process.env.WSKIT_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`fuzz seed ${seed} (replay: npm run fuzz -- --seed ${seed} --iterations 300)`);
  const report = await fuzz({ iterations: 300, seed });
  console.log(JSON.stringify({ ...report, failures: report.failures.length }));
  assert.deepEqual(report.failures, []);
  assert.ok(report.frameCases > 100 && report.handshakeCases > 30 && report.compressedCases > 15);
});
