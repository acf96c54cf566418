/**
 * What a connection keeps on its socket (memory per idle connection), over real loopback sockets: its 'end' listener
 * merged with Node's own, and the behaviour both stand for kept.
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
});
