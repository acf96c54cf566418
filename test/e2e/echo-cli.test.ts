/**
 * `wskit echo` as a user runs it: the built CLI (`node bin/wskit.js echo --port 0`)
 * in a child process, driven by a wskit client; SIGTERM closes connections with
 * 1001 and the process exits 0. Needs `npm run build` (dist/); skipped without it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { connect } from '../../src/index.js';
import { within } from '../helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const skip = existsSync(`${root}dist/cli/main.js`) ? false : 'dist/ is missing: run `npm run build` first';

describe('wskit echo', { skip, timeout: 30_000 }, () => {
  it('prints its URL, echoes text and binary, and on SIGTERM closes with 1001 and exits 0', async () => {
    const child = spawn(process.execPath, [`${root}bin/wskit.js`, 'echo', '--port', '0'], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    try {
      const url = await within(
        new Promise<string>((resolve, reject) => {
          child.stdout.on('data', (chunk) => {
            stdout += chunk;
            const match = /(ws:\/\/\S+)/.exec(stdout);
            if (match) resolve(match[1]!);
          });
          void exited.then(({ code }) => reject(new Error(`wskit echo exited with ${code}: ${stderr}`)));
        }),
        10_000,
        'wskit echo printing its URL',
      );
      assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+$/);

      const ws = await connect(`${url}/any/path`);
      await ws.send('hello, echo');
      assert.equal(await ws.recv(), 'hello, echo');
      const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) & 0xff));
      await ws.send(bytes);
      const echoed = await ws.recv();
      assert.ok(Buffer.isBuffer(echoed) && echoed.equals(bytes));
      await ws.send(['frag', 'mented']);
      assert.equal(await ws.recv(), 'fragmented');

      child.kill('SIGTERM');
      const info = await within(ws.closed, 5000, 'the close on SIGTERM');
      assert.equal(info.code, 1001);
      assert.equal(info.wasClean, true);
      assert.deepEqual(await within(exited, 5000, 'the process exiting'), { code: 0, signal: null });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
