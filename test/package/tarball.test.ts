/**
 * The package a user installs: `npm pack` of the built tree (what `npm run build` left in dist/ and web/vendor/),
 * installed offline into a new project, then used the way users use it: an ES module program, a CommonJS program
 * (`require('wskit')`), and strict TypeScript type-checks with `esModuleInterop` off under the `node16`, `nodenext` and
 * `bundler` resolutions (the TypeScript programs are compiled and run too). TypeScript and @types/node come from this
 * repository's node_modules, linked into the project: nothing is fetched from the registry.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cleanEnv } from './npm-env.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

/** Files of the tarball, without the leading `package/`. */
async function tarballFiles(tarball: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-tzf', tarball], { maxBuffer: 16 << 20 });
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('package/') && !line.endsWith('/'))
    .map((line) => line.slice('package/'.length));
}

// The TypeScript user's strictest usual settings, with the interop helpers off: the shipped .d.ts must not lean on
// synthetic default imports (`import tls from 'node:tls'` is TS1192 there).
const STRICT = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  noImplicitOverride: true,
  esModuleInterop: false,
  allowSyntheticDefaultImports: false,
  skipLibCheck: false,
  target: 'ES2022',
  lib: ['ES2022'],
  types: ['node'],
};

const ESM_PROGRAM = `import { connect, serve, type Connection, type ServerOptions } from 'wskit';
import { Opcode, encodeFrame } from 'wskit/protocol';

const options: ServerOptions = { host: '127.0.0.1', port: 0, logger: null };
const server = await serve(async (ws: Connection) => {
  for await (const message of ws) await ws.send(message);
}, options);
const client = await connect(server.url);
await client.send('hello from ESM');
const reply = await client.recv();
await client.close();
await server.close();
console.log(JSON.stringify({ reply, text: Opcode.TEXT, frame: encodeFrame(Opcode.TEXT, new Uint8Array(0)).length }));
`;

const CJS_PROGRAM = `import wskit = require('wskit');

async function main(): Promise<void> {
  const server = await wskit.serve(async (ws) => {
    for await (const message of ws) await ws.send(message);
  }, { host: '127.0.0.1', port: 0, logger: null });
  const client = await wskit.connect(server.url);
  await client.send('hello from CommonJS');
  const reply = await client.recv();
  await client.close();
  await server.close();
  console.log(JSON.stringify({ reply, normal: wskit.closeCodeName(1000) }));
}
void main();
`;

const BROWSER_PROGRAM = `import { connect, ReconnectingClient } from 'wskit/browser';

export async function hello(url: string): Promise<string | Uint8Array> {
  const ws = await connect(url);
  await ws.send('hello');
  return ws.recv();
}
export const client = new ReconnectingClient('ws://127.0.0.1:8765', { onMessage: (m) => console.log(m) });
`;

describe('the npm package', { timeout: 180_000 }, () => {
  let work: string;
  let tarball: string;
  let files: string[];
  let project: string;

  before(async () => {
    assert.ok(existsSync(join(ROOT, 'dist/index.js')), 'run npm run build first');
    work = mkdtempSync(join(tmpdir(), 'wskit-pack-'));
    // --ignore-scripts: pack what the build made; prepack would rebuild dist/ under the other tests' feet.
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
      cwd: ROOT,
      env: cleanEnv({ npm_config_cache: join(work, 'cache') }),
      maxBuffer: 16 << 20,
    });
    tarball = join(work, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename);
    files = await tarballFiles(tarball);
    project = join(work, 'project');
    mkdirSync(project);
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('carries the MIT license file that package.json names', () => {
    assert.ok(files.includes('LICENSE'));
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license: string };
    assert.equal(manifest.license, 'MIT');
    const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
    assert.match(license, /^MIT License\n\nCopyright \(c\) \d{4} wskit contributors\n/);
  });

  it('has source maps whose every source is in the package', async () => {
    const maps = files.filter((file) => file.endsWith('.map'));
    assert.ok(maps.length > 50, `${maps.length} maps`);
    const shipped = new Set(files);
    const missing: string[] = [];
    const list = await run('tar', ['-xzf', tarball, '-C', work]);
    assert.equal(list.stderr, '');
    for (const map of maps) {
      const { sources, sourceRoot = '' } = JSON.parse(readFileSync(join(work, 'package', map), 'utf8')) as {
        sources: string[];
        sourceRoot?: string;
      };
      for (const source of sources) {
        const resolved = posix.normalize(posix.join(posix.dirname(map), sourceRoot, source));
        if (!shipped.has(resolved)) missing.push(`${map} → ${resolved}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('costs a library user no dependency: the dashboard ships its chart library and wskit/browser in web/vendor/', () => {
    const manifest = JSON.parse(readFileSync(join(work, 'package/package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      scripts?: Record<string, string>;
      engines?: Record<string, string>;
    };
    assert.deepEqual(Object.keys(manifest.dependencies ?? {}), []);
    const vendored = ['web/vendor/uplot/uPlot.esm.js', 'web/vendor/uplot/uPlot.min.css', 'web/vendor/uplot/LICENSE'];
    vendored.push('web/vendor/wskit/browser/index.js', 'web/vendor/wskit/client/reconnect.js', 'web/vendor/wskit/client/topics-client.js', 'web/vendor/wskit/client/topics-wire.js');
    for (const file of vendored) {
      assert.ok(files.includes(file), file);
    }
    // No script that runs when the package is installed (npm 11 lists prepare of a tarball as one).
    for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(manifest.scripts?.[script], undefined, script);
    // require() of an ES module works without a flag from Node 20.19 and 22.12.
    assert.equal(manifest.engines?.node, '^20.19.0 || >=22.12.0');
  });

  it('installs offline from the tarball without a warning', async () => {
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'wskit-user', version: '1.0.0', private: true }));
    const { stdout, stderr } = await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], {
      cwd: project,
      env: cleanEnv({ npm_config_cache: join(work, 'cache') }),
    });
    assert.doesNotMatch(stderr, /warn/i, stderr);
    assert.match(stdout, /added 1 package/);
    // TypeScript and Node's types, from this repository.
    mkdirSync(join(project, 'node_modules/@types'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules/typescript'), join(project, 'node_modules/typescript'));
    symlinkSync(join(ROOT, 'node_modules/@types/node'), join(project, 'node_modules/@types/node'));
  });

  it('runs a CommonJS program that calls require("wskit")', async () => {
    const program = join(project, 'plain.cjs');
    writeFileSync(
      program,
      `const { serve, connect } = require('wskit');
const { Opcode } = require('wskit/protocol');
(async () => {
  const server = await serve(async (ws) => { for await (const m of ws) await ws.send(m); }, { host: '127.0.0.1', port: 0, logger: null });
  const ws = await connect(server.url);
  await ws.send('plain CommonJS');
  console.log(await ws.recv(), Opcode.BINARY);
  await ws.close();
  await server.close();
})();
`,
    );
    const { stdout, stderr } = await run(process.execPath, [program], { cwd: project, timeout: 20_000 });
    assert.equal(stdout, 'plain CommonJS 2\n');
    assert.equal(stderr, '');
  });

  const tsc = (config: object, name: string) => {
    writeFileSync(join(project, `tsconfig.${name}.json`), JSON.stringify(config, null, 2));
    return run(process.execPath, [join(project, 'node_modules/typescript/bin/tsc'), '-p', `tsconfig.${name}.json`], {
      cwd: project,
      timeout: 60_000,
    }).catch((error: { stdout?: string }) => {
      throw new Error(`tsc -p tsconfig.${name}.json failed:\n${error.stdout ?? String(error)}`);
    });
  };

  it('type-checks strictly (esModuleInterop off) with module node16 and runs the ES module program', async () => {
    writeFileSync(join(project, 'esm.mts'), ESM_PROGRAM);
    await tsc({ compilerOptions: { ...STRICT, module: 'node16', moduleResolution: 'node16', outDir: 'out-node16' }, files: ['esm.mts'] }, 'node16');
    const { stdout, stderr } = await run(process.execPath, [join(project, 'out-node16/esm.mjs')], { cwd: project, timeout: 20_000 });
    assert.deepEqual(JSON.parse(stdout), { reply: 'hello from ESM', text: 1, frame: 2 });
    assert.equal(stderr, '');
  });

  it('type-checks strictly with module nodenext, ES module and CommonJS (import = require), and runs the CommonJS program', async () => {
    writeFileSync(join(project, 'cjs.cts'), CJS_PROGRAM);
    await tsc(
      { compilerOptions: { ...STRICT, module: 'nodenext', moduleResolution: 'nodenext', outDir: 'out-nodenext' }, files: ['esm.mts', 'cjs.cts'] },
      'nodenext',
    );
    const { stdout, stderr } = await run(process.execPath, [join(project, 'out-nodenext/cjs.cjs')], { cwd: project, timeout: 20_000 });
    assert.deepEqual(JSON.parse(stdout), { reply: 'hello from CommonJS', normal: 'OK' });
    assert.equal(stderr, '');
  });

  it('type-checks strictly with moduleResolution bundler, for Node and for the browser build', async () => {
    writeFileSync(join(project, 'esm.ts'), ESM_PROGRAM);
    writeFileSync(join(project, 'browser.ts'), BROWSER_PROGRAM);
    await tsc({ compilerOptions: { ...STRICT, module: 'esnext', moduleResolution: 'bundler', noEmit: true }, files: ['esm.ts'] }, 'bundler');
    // A browser project: the DOM library, no Node types.
    await tsc(
      { compilerOptions: { ...STRICT, module: 'esnext', moduleResolution: 'bundler', noEmit: true, lib: ['ES2022', 'DOM'], types: [] }, files: ['browser.ts'] },
      'browser',
    );
  });
});


