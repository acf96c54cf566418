/**
 * The programs behind the code blocks of README.md and docs/ (examples/snippets/, included there by
 * `npm run docs:include`): each runs to the end on its own, one at a time (they listen on 8765 as the docs show),
 * exits 0 with nothing on stderr, and prints exactly its `.out` file.
 *
 * They are compiled once (TypeScript's `transpileModule`, what tsx does per run) into `.tmp/snippets/` and run with
 * plain `node`, which starts in a third of tsx's time: the whole set stays well under a minute on a busy 2-core machine.
 * `npm run typecheck` type-checks them (examples/ is in tsconfig.json). A snippet that uses `redisBackplane` gets
 * `REDIS_URL` of a redis-server this file starts on a free loopback port, one that reads `PROXY_URL` a tinyproxy
 * (also as `http_proxy`), each skipped without its program; every snippet gets `API_TOKEN` (the secret of the
 * authentication recipes). A browser snippet (importing `wskit/browser`) runs in headless Chromium instead, on a page
 * whose server has the `/live` endpoint it talks to (chromium-snippet.ts). A transcript (`.sh`, sourcing
 * transcript.bash) runs in bash with this checkout's `wskit` on PATH; its `.out` is the terminal session a doc shows. `SNIPPETS_UPDATE=name.ts` writes that snippet's `.out` from this run (read it before
 * committing it). A snippet without an `.out` is a server that another test drives (e.g. nginx.test.ts): that test
 * must name its path.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import type { Handler } from '../../src/index.js';
import { freePort, skipWithoutChromium, skipWithoutRedis } from '../helpers.js';
import { runInChromium } from './chromium-snippet.js';
import { startRedis } from '../redis-server.js';
import { skipWithoutTinyproxy, startTinyproxy } from '../tinyproxy.js';

const DIR = 'examples/snippets';
const OUT = '.tmp/snippets';
const snippets = readdirSync(DIR).filter((file) => file.endsWith('.ts') || file.endsWith('.sh'));
const source = (file: string): string => readFileSync(`${DIR}/${file}`, 'utf8');
const expectedOutput = (file: string): string => `${DIR}/${file.replace(/\.(ts|sh)$/, '.out')}`;

/** A directory with a `wskit` command (this checkout's bin/wskit.js) for the transcripts (*.sh) to find on PATH. */
function wskitOnPath(): string {
  const bin = resolve(OUT, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'wskit'), `#!/bin/sh\nexec '${process.execPath}' '${resolve('bin/wskit.js')}' "$@"\n`, { mode: 0o755 });
  return bin;
}

/** Writes `.tmp/snippets/<name>.mjs`: the snippet with its types stripped (inside the package, so `wskit` resolves to dist/). */
function compile(file: string): string {
  const { outputText } = ts.transpileModule(source(file), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: file,
  });
  const path = `${OUT}/${file.replace(/\.ts$/, '.mjs')}`;
  writeFileSync(path, outputText);
  return path;
}

/** Whether a snippet is browser code (run in Chromium by runInChromium). */
const inBrowser = (file: string): boolean => source(file).includes("from 'wskit/browser'");

/**
 * The page's `/live` endpoint for browser snippets: the first connection gets "tick 1" and 1012 (Service Restart),
 * the next "tick 2", the bytes 1 2 3 and 4000.
 */
let liveVisits = 0;
const browserLive: Handler = async (ws) => {
  liveVisits++;
  if (liveVisits === 1) {
    await ws.send('tick 1');
    await ws.close(1012, 'restarting');
    return;
  }
  await ws.send('tick 2');
  await ws.send(new Uint8Array([1, 2, 3]));
  await ws.close(4000, 'done');
};

/** A program a snippet talks to, started once for all the snippets whose text has `uses`; they get `env`. */
interface Service {
  uses: string;
  skip: string | false;
  start(): Promise<{ env: Record<string, string>; stop(): void }>;
}

const SERVICES: Service[] = [
  {
    uses: 'redisBackplane(',
    skip: skipWithoutRedis,
    async start() {
      const port = await freePort();
      const redis = await startRedis(port);
      return { env: { REDIS_URL: `redis://127.0.0.1:${port}` }, stop: () => void redis.kill('SIGKILL') };
    },
  },
  {
    uses: 'process.env.PROXY_URL',
    skip: skipWithoutTinyproxy,
    async start() {
      const proxy = await startTinyproxy([8765], ['user', 'secret']);
      const url = `http://user:secret@127.0.0.1:${proxy.port}`;
      return { env: { PROXY_URL: url, http_proxy: url, no_proxy: '', NO_PROXY: '' }, stop: proxy.stop };
    },
  },
];

describe('the docs’ code blocks run as written', { concurrency: 1 }, () => {
  const started = new Map<Service, Promise<{ env: Record<string, string>; stop(): void }>>();
  const servicesOf = (file: string) => SERVICES.filter((service) => source(file).includes(service.uses));
  before(() => mkdirSync(OUT, { recursive: true }));
  after(async () => {
    for (const service of started.values()) (await service).stop();
  });

  for (const file of snippets.filter((file) => file.endsWith('.ts') && !existsSync(expectedOutput(file)) && process.env.SNIPPETS_UPDATE !== file)) {
    it(`${file}: a server without an .out file, run by the test that names it`, () => {
      const tests = readdirSync('test', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.ts') && !f.endsWith('snippets.test.ts'));
      assert.ok(tests.some((test) => readFileSync(join('test', test), 'utf8').includes(`${DIR}/${file}`)), `no test runs ${DIR}/${file}`);
    });
  }

  for (const file of snippets.filter((file) => existsSync(expectedOutput(file)) || process.env.SNIPPETS_UPDATE === file)) {
    const skip = (inBrowser(file) && skipWithoutChromium) || (servicesOf(file).find((service) => service.skip !== false)?.skip ?? false);
    it(file, { skip }, async () => {
      const env: Record<string, string> = { API_TOKEN: 'snippet-test-token' };
      for (const service of servicesOf(file)) {
        if (!started.has(service)) started.set(service, service.start());
        Object.assign(env, (await started.get(service)!).env);
      }
      const { stdout, stderr } = file.endsWith('.sh')
        ? await promisify(execFile)('bash', [`${DIR}/${file}`], {
            timeout: 60_000, // several commands, each a Node start-up: slow on a loaded machine
            env: { ...process.env, ...env, PATH: `${wskitOnPath()}:${process.env.PATH}` },
          })
        : inBrowser(file)
          ? await runInChromium(readFileSync(compile(file), 'utf8'), browserLive)
          : await promisify(execFile)(process.execPath, [compile(file)], { timeout: 30_000, env: { ...process.env, ...env } });
      assert.equal(stderr, '');
      if (process.env.SNIPPETS_UPDATE === file) writeFileSync(expectedOutput(file), stdout);
      assert.equal(stdout, readFileSync(expectedOutput(file), 'utf8'));
    });
  }
});
