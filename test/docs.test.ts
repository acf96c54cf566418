/** The docs never drift from the code: included examples are current, and the API reference builds without warnings. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

/** Languages of code blocks that are programs (shell sessions, transcripts and configuration are not). */
const CODE = new Set(['ts', 'typescript', 'js', 'javascript', 'html']);

/** `file: first line` of every program block of the docs that is not included from a file. */
function uncheckedBlocks(): string[] {
  const found: string[] = [];
  for (const file of docFiles()) {
    const lines = readFileSync(file, 'utf8').split('\n');
    let previous = '';
    for (let i = 0; i < lines.length; i++) {
      const fence = /^\s*```(\S*)\s*$/.exec(lines[i]!);
      if (fence === null) {
        if (lines[i]!.trim() !== '') previous = lines[i]!.trim();
        continue;
      }
      const end = lines.findIndex((line, j) => j > i && /^\s*```\s*$/.test(line));
      if (CODE.has(fence[1]!) && !previous.startsWith('<!-- include: ')) found.push(`${file}: ${lines[i + 1]!.trim()}`);
      i = end;
      previous = '';
    }
  }
  return found;
}

it('every TypeScript, JavaScript and HTML block of README.md and docs/ is included from a file that a test runs', () => {
  assert.deepEqual(uncheckedBlocks(), []);
});

it('every include block names a file that exists', () => {
  const included = docFiles().flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/<!-- include: (\S+) -->/g)].map((m) => m[1]!));
  for (const path of included) assert.ok(existsSync(path), path);
});

it('no included program is written against declare const placeholders, and every snippet is shown in a doc', () => {
  const included = new Set(docFiles().flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/<!-- include: (\S+) -->/g)].map((m) => m[1]!)));
  for (const path of included) assert.doesNotMatch(readFileSync(path, 'utf8'), /^\s*declare const /m, path);
  // A program (.ts) is shown as it is, a transcript (.sh) by the session it prints (.out).
  const snippets = readdirSync('examples/snippets')
    .filter((file) => file.endsWith('.ts') || file.endsWith('.sh'))
    .map((file) => `examples/snippets/${file.replace(/\.sh$/, '.out')}`);
  assert.deepEqual(snippets.filter((path) => !included.has(path)), []);
});
