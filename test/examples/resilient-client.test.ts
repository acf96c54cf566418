/**
 * examples/resilient-client.ts against real trouble: its server killed and
 * restarted on the same port, and a server that completes the handshake and
 * then never answers a ping (a frozen process).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import { freePort, within } from '../helpers.js';
import { runExample, type RunningExample } from './run-example.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A server that answers the opening handshake, then reads and writes nothing more, like a hung process. */
async function frozenServer(port: number): Promise<{ close(): Promise<void>; handshakes: () => number }> {
  const sockets = new Set<net.Socket>();
  let handshakes = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      // Not reading any further keeps pings and the close frame unanswered.
      socket.pause();
      const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? '';
      const accept = createHash('sha1').update(key + GUID).digest('base64');
      handshakes++;
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    handshakes: () => handshakes,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const exited = (example: RunningExample) =>
  example.child.exitCode !== null ? Promise.resolve(example.child.exitCode) : new Promise((resolve) => example.child.once('exit', resolve));

describe('examples/resilient-client.ts', { timeout: 60_000 }, () => {
  it('survives its server being killed and restarted on the same port', async () => {
    const port = await freePort();
    const env = { PORT: String(port) };
    let server = runExample('echo-server.ts', [], env);
    const client = runExample('resilient-client.ts', [`ws://127.0.0.1:${port}`], { PING_MS: '1000', RETRY_MS: '200' });
    try {
      await server.line(/^Listening on /);
      await client.line(/^connected to .* \(connection #1\)$/);
      await client.line(/^< hello from connection #1$/);

      server.child.kill('SIGKILL'); // no close frame: the TCP connection just ends
      await exited(server);
      const [dropped] = await client.line(/^dropped: .*/);
      assert.match(dropped!, /1006/); // closed without a close frame
      await client.line(/^retry #\d+ in \d+ ms/); // nothing listens: refused, retried with backoff

      server = runExample('echo-server.ts', [], env);
      await server.line(/^Listening on /);
      await client.line(/^< hello from connection #2$/, 20_000);

      await server.stop(); // a clean shutdown closes with 1001, and the client comes back again
      await client.line(/^closed: 1001/);
      server = runExample('echo-server.ts', [], env);
      await client.line(/^< hello from connection #3$/, 20_000);

      client.child.kill('SIGINT');
      assert.equal(await within(exited(client), 10_000, 'client exit'), 0);
      assert.ok(client.output.includes('stopped'), client.output.join('\n'));
    } finally {
      client.child.kill('SIGKILL');
      server.child.kill('SIGKILL');
    }
  });

  it('notices a frozen server through its pings and moves on to a live one', async () => {
    const port = await freePort();
    const frozen = await frozenServer(port);
    const client = runExample('resilient-client.ts', [`ws://127.0.0.1:${port}`], { PING_MS: '500', RETRY_MS: '200' });
    let server: RunningExample | null = null;
    try {
      await client.line(/^connected to .* \(connection #1\)$/);
      const started = Date.now();
      const [dropped] = await client.line(/^dropped: .*/, 10_000);
      // A ping every 500 ms and 500 ms to answer it: noticed within about a second, plus the close timeout.
      assert.ok(Date.now() - started < 5_000, `noticed after ${Date.now() - started} ms`);
      assert.match(dropped!, /keepalive ping timeout/, client.output.join('\n'));
      assert.equal(client.output.filter((l) => l.startsWith('< ')).length, 0, 'a frozen server sends nothing');

      await frozen.close();
      server = runExample('echo-server.ts', [], { PORT: String(port) });
      // The client may have reconnected to the frozen server before it went away; it then has to notice again.
      await client.line(/^< hello from connection #\d+$/, 20_000);
      assert.ok(frozen.handshakes() >= 1);
      client.child.kill('SIGINT');
      assert.equal(await within(exited(client), 10_000, 'client exit'), 0);
    } finally {
      client.child.kill('SIGKILL');
      server?.child.kill('SIGKILL');
      await frozen.close();
    }
  });
});
