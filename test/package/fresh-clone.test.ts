/**
 * The README's two set-up commands, exactly as written there, in order, on a fresh clone of this repository (its
 * committed HEAD) with an empty npm cache: the first installs and runs the echo server, the second installs and
 * passes the tests. Running the whole suite inside the suite would recurse, so the second command runs with
 * TEST_FILES naming one test file (the test script honours it): the install, the build and the type-check it
 * does first are the whole set-up.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect } from '../../src/index.js';
import { cleanEnv, skipWithoutRegistry } from './npm-env.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The commands of the README's "Set up" block: one per line, comments dropped. */
export function setUpCommands(readme: string): string[] {
  const section = /^## Set up\n([\s\S]*?)^## /m.exec(readme)?.[1];
  assert.ok(section, 'README.md has a "## Set up" section');
  const block = /^```sh\n([\s\S]*?)^```/m.exec(section)?.[1];
  assert.ok(block, 'the Set up section has a ```sh block');
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Collects a child's output and resolves `exited` with its status. */
function watch(child: ChildProcess): { output: () => string; exited: Promise<number | null> } {
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { output: () => output, exited };
}

/** Resolves with the first match of `pattern` in the child's output; rejects if it exits or `ms` pass first. */
async function waitFor(watched: ReturnType<typeof watch>, pattern: RegExp, ms: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + ms;
  let exited = false;
  void watched.exited.then(() => (exited = true));
  for (;;) {
    const match = pattern.exec(watched.output());
    if (match) return match;
    if (exited || Date.now() > deadline) {
      throw new Error(`${exited ? 'exited' : `no ${pattern} within ${ms} ms`}; output:\n${watched.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const registry = await skipWithoutRegistry();

describe('the README set-up on a fresh clone', { skip: registry, timeout: 600_000 }, () => {
  const commands = setUpCommands(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  let work: string;
  let repo: string;
  let env: NodeJS.ProcessEnv;
  let server: ChildProcess | undefined;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'wskit-clone-'));
    repo = join(work, 'repo');
    await promisify(execFile)('git', ['clone', '--quiet', ROOT, repo]);
    // An empty npm cache of its own; PORT=0: the echo server takes a free port instead of 8765.
    env = cleanEnv({ npm_config_cache: join(work, 'npm-cache'), PORT: '0', TEST_FILES: '^test/protocol/mask\\.test\\.ts$' });
  });

  after(() => {
    if (server?.pid !== undefined && server.exitCode === null && server.signalCode === null) process.kill(-server.pid, 'SIGKILL');
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('has two commands', () => {
    assert.equal(commands.length, 2, commands.join('\n'));
  });

  it('first command: installs and runs the echo server, from the project itself', async () => {
    // Its own process group, so that SIGINT reaches npm, sh and node as Ctrl-C in a terminal would.
    server = spawn('sh', ['-c', commands[0]!], { cwd: repo, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const watched = watch(server);
    const url = (await waitFor(watched, /Listening on (ws:\/\/\S+)/, 180_000))[1]!;
    const ws = await connect(url);
    await ws.send('hello from a fresh clone');
    assert.equal(await ws.recv(), 'hello from a fresh clone');
    await ws.close();
    process.kill(-server.pid!, 'SIGINT');
    const timer = setTimeout(() => process.kill(-server!.pid!, 'SIGKILL'), 10_000);
    await watched.exited;
    clearTimeout(timer);
    // Nothing named wskit came from the registry, and npx's cache was not involved.
    assert.doesNotMatch(cacheKeys(join(work, 'npm-cache')), /registry\.npmjs\.org\/wskit\b/);
    assert.equal(existsSync(join(work, 'npm-cache/_npx')), false);
  });

  it('second command: installs, builds, type-checks and runs the tests', async () => {
    const child = spawn('sh', ['-c', commands[1]!], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const watched = watch(child);
    const code = await watched.exited;
    const output = watched.output();
    assert.equal(code, 0, output);
    assert.match(output, /\btsc -p tsconfig\.build\.json/);
    assert.match(output, /> tsc -p tsconfig\.json --noEmit/);
    assert.match(output, /^# pass [1-9]/m);
    assert.match(output, /^# fail 0$/m);
  });
});

/** Every key (request URL) in an npm cache's index. */
function cacheKeys(cache: string): string {
  const index = join(cache, '_cacache/index-v5');
  if (!existsSync(index)) return '';
  return readdirSync(index, { recursive: true, encoding: 'utf8' })
    .map((file) => join(index, file))
    .filter((file) => /\/[0-9a-f]{40,}$/.test(file))
    .map((file) => readFileSync(file, 'utf8'))
    .join('\n');
}
