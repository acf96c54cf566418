/**
 * Issue 16 item 3: an unawaited send() (or ping(), pong(), close(), publish()) whose connection has dropped must not
 * end the process with an unhandled rejection. Node exits on one, so the calls run in a child process
 * (fixtures/unawaited-calls.ts) that must outlive its peers dropping it, on the server and on the client side.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { rawClient } from './raw-peer.js';
import { startServer, within } from '../helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/unawaited-calls.ts', import.meta.url));

describe('unawaited calls on a dropped connection', () => {
  it('never crash the process; an awaited send() and ws.closed still report the failure', async () => {
    // The parent's server drops the child's client as soon as it hears from it.
    const dropper = await startServer(async (ws) => {
      await ws.recv();
      ws.terminate();
    });
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dropper.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const port = await within(
        new Promise<number>((resolve, reject) => {
          const check = (): void => {
            const match = /listening (\d+)/.exec(stdout);
            if (match !== null) resolve(Number(match[1]));
          };
          child.stdout.on('data', check);
          void exited.then(() => reject(new Error(`child exited early: ${stderr}`)));
        }),
        20_000,
        'child server listening',
      );
      // A compressing client (the child's large sends go through zlib) that reads a little, then drops.
      const peer = await rawClient(port, '/', 'Sec-WebSocket-Extensions: permessage-deflate\r\n');
      await within(new Promise((resolve) => peer.socket.once('data', resolve)), 5000, 'first message from the child');
      peer.socket.destroy();
      const code = await within(exited, 20_000, 'child exit');
      assert.equal(code, 0, `the child survived (exit ${code}); stderr: ${stderr.slice(0, 2000)}`);
      assert.match(stdout, /survived server/);
      assert.match(stdout, /survived client/);
      assert.match(stdout, /observed server ConnectionClosedError 1006/);
      assert.match(stdout, /observed client ConnectionClosedError 1006/);
    } finally {
      child.kill();
      await dropper.close();
    }
  });
});
