/**
 * Issue 16 item 2: a peer that half-closes (TCP FIN, no close frame) ends its connection on every server path.
 * Node's http.Server keeps half-open sockets (allowHalfOpen), so on attach() nothing closed them: 200 such clients
 * left 200 CLOSE-WAIT sockets and server.close() never resolved. The connection now ends the socket itself on EOF,
 * the same way under serve() and attach(). What the peer sent before its FIN is still delivered to a reader that is
 * behind (the input held while the queue is full is parsed before the EOF takes effect).
 */
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { attach, type Handler, type Server, type ServerOptions } from '../../src/index.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { clientFrame, rawClient, type RawClient } from './raw-peer.js';
import { escaped } from './tripwire.js';
import { delay, echo, startServer, until, within } from '../helpers.js';

after(() => {
  assert.deepEqual(escaped, [], 'no uncaught exception or unhandled rejection');
});

const CLIENTS = 200;

/** Opens CLIENTS raw connections, half-closes each, and waits until the server has closed every one. */
async function halfCloseAll(port: number, server: Server): Promise<void> {
  const clients: RawClient[] = [];
  for (let i = 0; i < CLIENTS; i++) clients.push(await rawClient(port));
  await until(() => server.connections.size === CLIENTS, 5000, 'all connections open');
  for (const client of clients) client.socket.end(); // FIN, no close frame
  const results = await within(Promise.all(clients.map((c) => c.closed)), 10_000, 'the server closing every half-closed connection');
  // No close frame was exchanged: the server neither invents one nor waits for one.
  assert.ok(results.every((r) => r.code === null), 'no close frame sent to a peer that left');
  await until(() => server.connections.size === 0, 5000, 'the server forgetting the connections');
}

function openSockets(httpServer: HttpServer): Promise<number> {
  return new Promise((resolve, reject) => httpServer.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

/** Runs `test` against a server made by attach() on a node:http server, then closes both. */
async function withAttached(handler: Handler, options: ServerOptions, test: (port: number, server: Server, http: HttpServer) => Promise<void>): Promise<void> {
  const httpServer = createServer();
  const sockets = new Set<Socket>();
  httpServer.on('connection', (socket: Socket) => sockets.add(socket));
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const server = attach(httpServer, handler, { logger: null, ...options });
  try {
    await test((httpServer.address() as { port: number }).port, server, httpServer);
    await within(server.close(), 5000, 'server.close()');
  } finally {
    for (const socket of sockets) socket.destroy(); // after a failure, so that closing does not hang
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  }
}

/** Runs `test` against a server made by serve(), then closes it. */
async function withServed(handler: Handler, options: ServerOptions, test: (port: number, server: Server) => Promise<void>): Promise<void> {
  const server = await startServer(handler, options);
  try {
    await test(server.address()!.port, server);
  } finally {
    await within(server.close(), 5000, 'server.close()');
  }
}

describe('a peer that half-closes (FIN without a close frame)', () => {
  it(`attach(): ${CLIENTS} half-closing clients leave no socket open, and server.close() resolves`, async () => {
    await withAttached(echo, {}, async (port, server, httpServer) => {
      await halfCloseAll(port, server);
      assert.equal(await openSockets(httpServer), 0, 'no socket left in CLOSE-WAIT');
    });
  });

  it(`serve(): ${CLIENTS} half-closing clients are closed the same way`, async () => {
    await withServed(echo, {}, (port, server) => halfCloseAll(port, server));
  });

  for (const [how, withServer] of [['serve()', withServed], ['attach()', withAttached]] as const) {
    it(`${how}: 100 messages, a close frame and a FIN in one burst all reach a slow reader, close code included`, async () => {
      // Half of them compressed: 'a' deflated on its own, without the 00 00 ff ff tail (RFC 7692 §7.2.1).
      const tiny = zlib.deflateRawSync('a', { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
      const frames = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? clientFrame(Opcode.TEXT, `m${i}`) : clientFrame(Opcode.TEXT, tiny, true, true)));
      const close4000 = clientFrame(Opcode.CLOSE, Buffer.from([0x0f, 0xa0]));
      let seen!: (result: { messages: string[]; code: number }) => void;
      const result = new Promise<{ messages: string[]; code: number }>((resolve) => (seen = resolve));
      const slowReader: Handler = async (ws) => {
        const messages: string[] = [];
        try {
          for await (const message of ws) {
            messages.push(String(message));
            await delay(1); // slower than the burst: the queue (maxQueue 4) fills and the rest of the input is held
          }
        } finally {
          seen({ messages, code: (await ws.closed).code });
        }
      };
      await withServer(slowReader, { maxQueue: 4 }, async (port) => {
        const client = await rawClient(port, '/', 'Sec-WebSocket-Extensions: permessage-deflate\r\n');
        client.socket.end(Buffer.concat([...frames, close4000])); // then FIN
        const { messages, code } = await within(result, 10_000, 'the reader reaching the end');
        assert.deepEqual(messages, Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? `m${i}` : 'a')));
        assert.equal(code, 4000);
      });
    });
  }
});
