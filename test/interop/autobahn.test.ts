/**
 * Autobahn|Testsuite conformance, the CI selection ({@link CI_CASES}: every case but the slow 9.* and the 12.* and
 * 13.* compression cases, plus a sample of those) in both modes: the suite against `wskit echo`, and against
 * wskit's client. Any case FAILED, NON-STRICT or UNIMPLEMENTED fails the test. The full run is
 * `npm run conformance` (docs/conformance.md). Skipped, with the reason, where the suite or its Python packages
 * are absent.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { CI_CASES, CONFORMANCE_ECHO_ARGS, conformant, PROJECT_ROOT, runClientMode, runServerMode, suiteSkipReason, type ModeResult } from './autobahn.js';
import { AUTOBAHN_CLIENT_OPTIONS } from './autobahn-client.js';

const skip = suiteSkipReason();
const outRoot = skip === false ? mkdtempSync(path.join(os.tmpdir(), 'wskit-autobahn-')) : '';
let keepReports = false;

function check(result: ModeResult): void {
  const problems = result.notOk.filter((c) => c.behavior !== 'INFORMATIONAL').map((c) => `${c.id} ${c.behavior}: ${c.result}`);
  if (!conformant(result)) keepReports = true;
  assert.ok(conformant(result), `${result.summary}\n${problems.join('\n')}\nreports: ${result.outDir}`);
  // Every case of the selection ran (the runner's time limit did not cut it short).
  assert.ok(result.total > 250, `only ${result.total} cases ran`);
}

describe('Autobahn|Testsuite (CI selection)', { skip, concurrency: 1 }, () => {
  after(() => {
    if (!keepReports && outRoot !== '') rmSync(outRoot, { recursive: true, force: true });
  });

  it('wskit echo (server mode): no case FAILED or NON-STRICT', async () => {
    check(await runServerMode({ cases: CI_CASES, outDir: path.join(outRoot, 'server'), timeLimit: 100 }));
  });

  it("wskit's client (client mode): no case FAILED or NON-STRICT", async () => {
    check(await runClientMode({ cases: CI_CASES, outDir: path.join(outRoot, 'client'), timeLimit: 100 }));
  });
});

it('docs/conformance.md states the configuration the runs use', () => {
  const doc = readFileSync(path.join(PROJECT_ROOT, 'docs/conformance.md'), 'utf8');
  assert.ok(doc.includes(`wskit echo ${CONFORMANCE_ECHO_ARGS.join(' ')}`), 'the server command');
  assert.deepEqual(AUTOBAHN_CLIENT_OPTIONS, { maxMessageSize: 64 * 1024 * 1024 });
  assert.ok(doc.includes('connect(url, { maxMessageSize: 64 * 1024 * 1024 })'), "the client's options");
});
