/**
 * `wskit proxy` bridging HTTP/2 and HTTP/1.1 WebSockets through the real CLI: a client on h2c to a backend on
 * HTTP/1.1, a client on HTTP/1.1 to a backend on h2 (`--target-http2`), refusals passed on, and the frame log
 * naming the streams.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { connect, type Connection, type Server } from '../../src/index.js';
import { startServer, within } from '../helpers.js';
import { killAll, start, stop, waitForLine } from './cli-helpers.js';

/** A backend echoing each text with the HTTP version and stream that carried the WebSocket. */
function backend(options: Parameters<typeof startServer>[1] = {}): Promise<Server> {
  return startServer(
    async (ws: Connection) => {
      for await (const message of ws) await ws.send(`${ws.request?.httpVersion}/${ws.request?.streamId ?? '-'}:${String(message)}`);
    },
    { subprotocols: ['chat'], processRequest: (request) => (request.path === '/forbidden' ? { status: 403, body: 'no\n' } : undefined), ...options },
  );
}

/** Starts `wskit proxy` to `target`; its URL and everything it prints. */
async function proxy(target: string, extra: string[] = []): Promise<{ url: string; child: ReturnType<typeof start>; log: () => string; until: (pattern: RegExp) => Promise<void> }> {
  const child = start(['proxy', '--listen', '0', '--target', target, ...extra]);
  const url = (await waitForLine(child, /Proxying (ws:\/\/\S+)/)).match(/ws:\/\/\S+/)![0];
  let text = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const until = async (pattern: RegExp): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!pattern.test(text)) {
      if (Date.now() > deadline) throw new Error(`no proxy line matching ${pattern}; got:\n${text}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return { url, child, log: () => text, until };
}

describe('wskit proxy between HTTP/2 and HTTP/1.1', { timeout: 60_000 }, () => {
  after(() => killAll());

  test('h2c client → proxy → HTTP/1.1 backend: two WebSockets on one session, streams named per line', async () => {
    const server = await backend();
    const p = await proxy(server.url);
    try {
      const [a, b] = await Promise.all([connect(`${p.url}/a`, { http2: true, subprotocols: ['chat'] }), connect(`${p.url}/b`, { http2: true })]);
      assert.equal(a.subprotocol, 'chat', 'the backend chose it; the proxy passed it on as an h2 field');
      await Promise.all([a.send('one'), b.send('two')]);
      assert.deepEqual(await within(Promise.all([a.recv(), b.recv()]), 5000, 'the echoes'), ['1.1/-:one', '1.1/-:two']);
      await Promise.all([a.close(4001, 'bye'), b.close()]);
      // Each WebSocket is a connection of the log, named by its client stream (1 and 3 of one h2c session).
      await p.until(/#\d+ \[h2 1\] > CONNECT \/a HTTP\/2|#\d+ \[h2 3\] > CONNECT \/a HTTP\/2/);
      await p.until(/\[h2 [13]\] < HTTP\/1\.1 101 Switching Protocols/);
      await p.until(/\[h2 [13]\] > TEXT FIN 'one' \[3 bytes\]/);
      await p.until(/\[h2 [13]\] < TEXT FIN '1\.1\/-:one'/);
      await p.until(/\[h2 [13]\] > CLOSE FIN 4001 .*bye/);
      assert.equal((p.log().match(/HTTP\/2 \(h2c\) connection/g) ?? []).length, 1, 'one TCP connection carried both');
    } finally {
      await stop(p.child);
      await server.close();
    }
  });

  test('HTTP/1.1 client → proxy --target-http2 → h2c backend: the backend sees HTTP/2 streams', async () => {
    const server = await backend({ http2: true });
    const p = await proxy(server.url, ['--target-http2']);
    try {
      const [a, b] = await Promise.all([connect(`${p.url}/a`, { subprotocols: ['chat'] }), connect(`${p.url}/b`)]);
      assert.equal(a.subprotocol, 'chat', 'the 101 the proxy made carries the subprotocol of the h2 answer');
      await Promise.all([a.send('one'), b.send('two')]);
      const replies = await within(Promise.all([a.recv(), b.recv()]), 5000, 'the echoes');
      assert.match(String(replies[0]), /^2\/[13]:one$/);
      assert.match(String(replies[1]), /^2\/[13]:two$/);
      assert.equal(server.http2SessionCount, 1, 'both WebSockets share one session to the backend');
      await Promise.all([a.close(), b.close()]);
      await p.until(/#\d+ \[→h2 [13]\] < HTTP\/2 200/);
      await p.until(/#\d+ \[→h2 [13]\] > TEXT FIN 'two'/);
    } finally {
      await stop(p.child);
      await server.close();
    }
  });

  test('refusals pass through both ways: 403 from the backend reaches the client with its status', async () => {
    const h1Backend = await backend();
    const h2Backend = await backend({ http2: true });
    const toH1 = await proxy(h1Backend.url);
    const toH2 = await proxy(h2Backend.url, ['--target-http2']);
    try {
      await assert.rejects(connect(`${toH1.url}/forbidden`, { http2: true }), (error: Error & { response?: { status: number } }) => error.response?.status === 403);
      await assert.rejects(connect(`${toH2.url}/forbidden`), (error: Error & { response?: { status: number } }) => error.response?.status === 403);
      await toH2.until(/< HTTP\/2 403/);
    } finally {
      await Promise.all([stop(toH1.child), stop(toH2.child)]);
      await Promise.all([h1Backend.close(), h2Backend.close()]);
    }
  });

  test('--target-http2 to a backend without HTTP/2: 502 and one line', async () => {
    const server = await backend();
    const p = await proxy(server.url, ['--target-http2']);
    try {
      await assert.rejects(connect(`${p.url}/x`), (error: Error & { response?: { status: number } }) => error.response?.status === 502);
      await p.until(/cannot reach ws:\/\/\S+ over HTTP\/2: /);
    } finally {
      await stop(p.child);
      await server.close();
    }
  });
});
