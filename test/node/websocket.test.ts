/**
 * What wskit's standard `WebSocket` does beyond the browser's (the Chromium comparison in
 * test/interop/websocket-chromium.test.ts covers what both do): Node buffers, connect()'s options, the error's
 * cause, order behind Blobs, and the specification's rule for a reason without a code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CloseEvent, ErrorEvent, InvalidStatus, WebSocket, type Connection, type Server } from '../../src/index.js';
import { startServer } from '../helpers.js';

/** Resolves with the event of the next `type` on `ws`. */
function next<E extends Event>(ws: WebSocket, type: string): Promise<E> {
  return new Promise((resolve) => ws.addEventListener(type, (event) => resolve(event as E), { once: true }));
}

describe('WebSocket in Node', () => {
  let server: Server;
  const received: Array<string | Buffer> = [];
  let lastHeaders: Record<string, string | undefined> = {};

  before(async () => {
    server = await startServer(
      async (ws: Connection) => {
        lastHeaders = { authorization: ws.request?.headers.get('authorization') ?? undefined };
        for await (const message of ws) {
          received.push(message);
          if (message === 'close') await ws.close(1000, 'as asked');
          else await ws.send(message);
        }
      },
      { processRequest: (request) => (request.path === '/404' ? { status: 404, body: 'no\n' } : undefined) },
    );
  });
  after(async () => {
    await server?.close();
  });

  it("delivers binary as a Buffer with binaryType 'nodebuffer', and ignores a value outside the enumeration", async () => {
    const ws = new WebSocket(server.url);
    assert.equal(ws.binaryType, 'blob');
    ws.binaryType = 'nodebuffer';
    ws.binaryType = 'text' as never;
    assert.equal(ws.binaryType, 'nodebuffer');
    await next(ws, 'open');
    ws.send(Buffer.from([1, 2, 3]));
    const event = await next<MessageEvent>(ws, 'message');
    assert.ok(Buffer.isBuffer(event.data));
    assert.deepEqual([...(event.data as Buffer)], [1, 2, 3]);
    ws.close();
    await next(ws, 'close');
  });

  it("takes connect()'s options, as the third argument or (ws's way) the second", async () => {
    const ws = new WebSocket(server.url, [], { headers: { Authorization: 'Bearer a' }, compression: false });
    await next(ws, 'open');
    assert.equal(lastHeaders.authorization, 'Bearer a');
    assert.equal(ws.extensions, '');
    ws.close();
    await next(ws, 'close');
    const other = new WebSocket(server.url, { headers: { Authorization: 'Bearer b' } });
    await next(other, 'open');
    assert.equal(lastHeaders.authorization, 'Bearer b');
    assert.match(other.extensions, /^permessage-deflate/);
    other.close();
    await next(other, 'close');
  });

  it('keeps the order of messages sent behind a Blob, and counts them in bufferedAmount meanwhile', async () => {
    received.length = 0;
    const ws = new WebSocket(server.url);
    await next(ws, 'open');
    ws.send(new Blob(['first']));
    ws.send('second');
    ws.send(new Blob([new Uint8Array([3])]));
    ws.send('fourth');
    assert.equal(ws.bufferedAmount, 5 + 6 + 1 + 6);
    ws.send('close');
    const closed = await next<CloseEvent>(ws, 'close');
    assert.deepEqual([closed.code, closed.reason, closed.wasClean], [1000, 'as asked', true]);
    assert.deepEqual(received, [Buffer.from('first'), 'second', Buffer.from([3]), 'fourth', 'close']);
  });

  it('says in the error event why the connection failed', async () => {
    const ws = new WebSocket(server.url + '/404');
    const close = next<CloseEvent>(ws, 'close'); // dispatched right after 'error'
    const error = await next<ErrorEvent>(ws, 'error');
    assert.ok(error instanceof ErrorEvent);
    assert.ok(error.error instanceof InvalidStatus);
    assert.equal(error.error.response.status, 404);
    assert.match(error.message, /HTTP 404/);
    assert.equal((await close).code, 1006);
  });

  it('sends a reason without a code with 1000 (the specification; Chromium takes the missing code for 0)', async () => {
    const ws = new WebSocket(server.url);
    await next(ws, 'open');
    assert.throws(() => ws.close(undefined, 'x'.repeat(124)), { name: 'SyntaxError' });
    ws.close(undefined, 'a reason');
    const closed = await next<CloseEvent>(ws, 'close');
    assert.equal(closed.code, 1000);
  });

  it('refuses a URL without a scheme: Node has no page to resolve it against', () => {
    assert.throws(() => new WebSocket('127.0.0.1:8765'), (error: unknown) => error instanceof DOMException && error.name === 'SyntaxError');
    assert.throws(() => new WebSocket('/chat'), { name: 'SyntaxError' });
  });
});
