/** The docs never drift from the code: included examples are current, and the API reference builds without warnings. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { docFiles, refresh } from '../scripts/docs-include.js';

it('every code block included from a file matches the file (npm run docs:include)', () => {
  const stale = docFiles().filter((file) => {
    const text = readFileSync(file, 'utf8');
    return refresh(text) !== text;
  });
  assert.deepEqual(stale, []);
});

it('the API reference builds from the TSDoc comments with no warnings (typedoc)', { timeout: 120_000 }, async () => {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['node_modules/typedoc/bin/typedoc', '--out', '.tmp/api-check'], {
    timeout: 110_000,
  });
  assert.doesNotMatch(stdout + stderr, /warning|error/i);
});
