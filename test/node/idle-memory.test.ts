/**
 * What a connection keeps (memory per idle connection), over real loopback sockets: its 'end' listener merged with
 * Node's own, the peer's address kept once, the request's headers kept as text; the behaviour each stands for kept.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { Connection } from '../../src/node/connection.js';
import { connect } from '../../src/index.js';
import { startServer, within } from '../helpers.js';

/** A server Connection on an accepted loopback socket, and the raw client socket at the other end. */
async function socketPair(): Promise<{ server: Connection; socket: net.Socket; client: net.Socket; close: () => void }> {
  const listener = net.createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  const [socket] = await within(accepted, 5000, 'accept');
  const server = new Connection(socket, 'server', { pingInterval: null });
  return { server, socket, client, close: () => listener.close() };
}

describe("a connection's socket", () => {
  it("has one 'end' listener, and a peer's FIN still closes both the connection (1006) and our side", async () => {
    const { server, socket, client, close } = await socketPair();
    try {
      assert.equal(socket.listenerCount('end'), 1);
      const clientEnded = once(client, 'end');
      client.end();
      const info = await within(server.closed, 5000, 'the connection closed');
      assert.equal(info.code, 1006);
      // Node's own listener still ran: without half-open, our side was ended too.
      await within(clientEnded, 5000, "the server's FIN");
    } finally {
      client.destroy();
      close();
    }
  });

  it("keeps any other transport's 'end' listeners and adds its own", () => {
    const other = new net.Socket();
    const theirs = (): void => {};
    other.on('end', theirs);
    const ws = new Connection(other, 'server', { pingInterval: null });
    assert.equal(other.listenerCount('end'), 3);
    assert.equal(other.listeners('end')[1], theirs);
    ws.terminate();
    other.destroy();
  });

  it("keeps no copy of the peer's address once the request has it, which outlives a reset", async () => {
    let opened!: (ws: Connection) => void;
    const open = new Promise<Connection>((resolve) => (opened = resolve));
    const server = await startServer({ open: (ws) => opened(ws) });
    try {
      const client = await connect(`ws://127.0.0.1:${server.address()!.port}/`);
      const ws = await within(open, 5000, 'open');
      const socket = (ws as unknown as { socket: net.Socket & { _peername?: unknown } }).socket;
      assert.equal(socket._peername, undefined);
      client.terminate();
      await within(ws.closed, 5000, 'the connection closed');
      assert.equal(ws.remoteAddress, '127.0.0.1');
      assert.equal(ws.request!.remoteAddress, '127.0.0.1');
    } finally {
      await server.close();
    }
  });

  it('reads ws.request and its headers, kept as the head\'s text until first read, as the handshake saw them', async () => {
    let opened!: (ws: Connection) => void;
    const open = new Promise<Connection>((resolve) => (opened = resolve));
    const server = await startServer({ open: (ws) => opened(ws) });
    try {
      const client = await connect(`ws://127.0.0.1:${server.address()!.port}/chat/room?id=7&x=a%20b`, { headers: { 'X-Token': 'abc' } });
      const ws = await within(open, 5000, 'open');
      await client.close();
      await within(ws.closed, 5000, 'the connection closed');
      const request = ws.request!;
      assert.equal(request, ws.request);
      assert.equal(request.headers, request.headers, 'the headers made once');
      assert.equal(request.path, '/chat/room');
      assert.equal(request.target, '/chat/room?id=7&x=a%20b');
      assert.equal(request.query.get('x'), 'a b');
      assert.equal(ws.query.get('id'), '7');
      assert.equal(request.headers.get('x-token'), 'abc');
      assert.equal(request.headers.get('sec-websocket-version'), '13');
      assert.equal(request.httpVersion, '1.1');
      assert.equal(request.streamId, undefined);
      assert.equal(request.remoteAddress, '127.0.0.1');
    } finally {
      await server.close();
    }
  });

  it('keeps the very request a processRequest hook was given', async () => {
    let hooked: unknown;
    let opened!: (ws: Connection) => void;
    const open = new Promise<Connection>((resolve) => (opened = resolve));
    const server = await startServer({ open: (ws) => opened(ws) }, { processRequest: (request) => void (hooked = request) });
    try {
      const client = await connect(`ws://127.0.0.1:${server.address()!.port}/a?b=c`);
      const ws = await within(open, 5000, 'open');
      assert.equal(ws.request, hooked);
      assert.equal(ws.request!.path, '/a');
      await client.close();
    } finally {
      await server.close();
    }
  });
});
