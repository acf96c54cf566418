/**
 * A compressed publish to many subscribers compresses once when their compressors keep no context
 * (server_no_context_takeover, RFC 7692 §7.1.1.1): real sockets, real `ws` clients, zlib runs counted by the
 * server's own limiter, and the compressed bytes read off the wire by raw peers and inflated by Node's zlib.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { constants, inflateRawSync } from 'node:zlib';
import { WebSocket } from 'ws';
import { ZlibLimiter, type Server } from '../../src/index.js';
import { computeAccept } from '../../src/protocol/handshake.js';
import { Protocol } from '../../src/protocol/protocol.js';
import { startServer, until, within } from '../helpers.js';

/** A server whose connections all subscribe to topic `t`, with a limiter of its own to count zlib runs. */
async function topicServer(compression: Record<string, unknown> = {}): Promise<{ server: Server; limiter: ZlibLimiter }> {
  const limiter = new ZlibLimiter();
  const server = await startServer(
    async (ws) => {
      ws.subscribe('t');
      await ws.closed;
    },
    { pingInterval: null, compression: { limiter, ...compression } },
  );
  return { server, limiter };
}

/** `count` real `ws` clients; each resolves `messages` with what it received once it has `expected` messages. */
async function wsClients(server: Server, count: number, expected: number, perMessageDeflate: object | boolean = true) {
  const clients: Array<{ ws: WebSocket; messages: Promise<string[]> }> = [];
  for (let i = 0; i < count; i++) {
    const ws = new WebSocket(server.url, { perMessageDeflate });
    const received: string[] = [];
    const messages = new Promise<string[]>((resolve, reject) => {
      ws.on('message', (data) => {
        received.push(String(data));
        if (received.length === expected) resolve(received);
      });
      ws.on('error', reject);
    });
    messages.catch(() => undefined); // reported where awaited
    clients.push({ ws, messages });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
  }
  return clients;
}

/** A message as a raw peer read it off the wire. */
interface WireMessage {
  data: Buffer;
  binary: boolean;
  /** RSV1 was set on its first frame (RFC 7692 §6). */
  compressed: boolean;
}

/** A TCP client that offers permessage-deflate and decodes the server's frames with the client-side core, inflating nothing. */
async function rawDeflateClient(port: number): Promise<{ socket: net.Socket; messages: WireMessage[] }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  const key = randomBytes(16).toString('base64');
  const messages: WireMessage[] = [];
  const decoder = new Protocol('client', {
    onWrite: () => undefined,
    onMessage: (data, binary, compressed) => messages.push({ data: Buffer.from(data), binary, compressed }),
    onText: (text) => messages.push({ data: Buffer.from(text, 'utf8'), binary: false, compressed: false }),
    onPing: () => undefined,
    onPong: () => undefined,
    onCloseFrame: () => undefined,
    onEnd: () => undefined,
  }, { rsv1Allowed: true });
  let head = Buffer.alloc(0);
  const headDone = new Promise<string>((resolve) => {
    const onHead = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onHead);
      socket.on('data', (data: Buffer) => decoder.receiveData(data));
      decoder.receiveData(head.subarray(end + 4));
      resolve(head.subarray(0, end).toString('latin1'));
    };
    socket.on('data', onHead);
  });
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n`,
  );
  const text = await within(headDone, 5000, 'the 101');
  assert.match(text, /^HTTP\/1\.1 101/);
  assert.ok(text.includes(computeAccept(key)));
  assert.match(text, /server_no_context_takeover/);
  return { socket, messages };
}

const message = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'] })) });

describe('broadcast with a shared compressor (server_no_context_takeover)', () => {
  it('one compression reaches 120 real ws subscribers, the same compressed frame on the wire', async () => {
    const { server, limiter } = await topicServer();
    const clients = await wsClients(server, 120, 2);
    const port = Number(new URL(server.url).port);
    const raw = [await rawDeflateClient(port), await rawDeflateClient(port)];
    try {
      await until(() => server.subscribers('t') === 122, 10_000, '122 subscribers');
      assert.ok([...server.connections].every((ws) => ws.extensions.includes('server_no_context_takeover')));
      const before = limiter.completed;
      assert.deepEqual(server.publish('t', message), { sent: 122, skipped: 0, closed: 0 });
      await until(() => raw.every((peer) => peer.messages.length === 1), 10_000, 'the message at the raw peers');
      assert.equal(limiter.completed - before, 1, 'zlib ran once for 122 subscribers');
      // What the wire carries: a text message with RSV1 set (compressed, RFC 7692 §6), the same bytes for both peers;
      // it inflates (after the 0x00 0x00 0xff 0xff tail is put back, §7.2.2) to the message, and is much smaller.
      const [a, b] = raw.map((peer) => peer.messages[0]!);
      assert.equal(a!.binary, false);
      assert.equal(a!.compressed, true);
      assert.deepEqual(a!.data, b!.data);
      assert.ok(a!.data.length < message.length / 4, `compressed ${message.length} to ${a!.data.length} bytes`);
      assert.equal(inflateRawSync(Buffer.concat([a!.data, Buffer.of(0, 0, 0xff, 0xff)]), { finishFlush: constants.Z_SYNC_FLUSH }).toString(), message);
      // A second publish, binary this time: one more zlib run, and every ws client decodes both.
      const binary = Buffer.from('binary '.repeat(100));
      assert.equal(server.publish('t', binary).sent, 122);
      const all = await within(Promise.all(clients.map((client) => client.messages)), 10_000, 'delivery to 120 ws clients');
      for (const got of all) assert.deepEqual(got, [message, binary.toString()]);
      assert.equal(limiter.completed - before, 2);
    } finally {
      for (const { ws } of clients) ws.terminate();
      for (const peer of raw) peer.socket.destroy();
      await server.close();
    }
  });

  it('subscribers with context takeover compress each; those without share one compression', async () => {
    // The server keeps context unless a client asks otherwise (§7.1.1.1): ws clients offering
    // server_no_context_takeover share a compressor, the others have one each.
    const { server, limiter } = await topicServer({ serverNoContextTakeover: false });
    const sharing = await wsClients(server, 30, 3, { serverNoContextTakeover: true });
    const own = await wsClients(server, 5, 3, true);
    try {
      await until(() => server.subscribers('t') === 35, 10_000, '35 subscribers');
      const connections = [...server.connections];
      assert.equal(connections.filter((ws) => ws.extensions.includes('server_no_context_takeover')).length, 30);
      const before = limiter.completed;
      // Three messages: context takeover makes each own compressor's output depend on the messages before.
      const messages = [message, message.replace('item 1', 'ITEM 1'), message];
      for (const m of messages) assert.equal(server.publish('t', m).sent, 35);
      const all = await within(Promise.all([...sharing, ...own].map((client) => client.messages)), 10_000, 'delivery');
      for (const got of all) assert.deepEqual(got, messages);
      assert.equal(limiter.completed - before, 3 * (1 + 5), 'one compression per message for the 30, one each for the 5');
    } finally {
      for (const { ws } of [...sharing, ...own]) ws.terminate();
      await server.close();
    }
  });

  it('a message under the threshold is one uncompressed frame for everyone, and zlib does not run', async () => {
    const { server, limiter } = await topicServer();
    const clients = await wsClients(server, 20, 1);
    try {
      await until(() => server.subscribers('t') === 20, 10_000, '20 subscribers');
      const before = limiter.completed;
      assert.equal(server.publish('t', 'short').sent, 20);
      const all = await within(Promise.all(clients.map((client) => client.messages)), 10_000, 'delivery');
      for (const got of all) assert.deepEqual(got, ['short']);
      assert.equal(limiter.completed - before, 0);
    } finally {
      for (const { ws } of clients) ws.terminate();
      await server.close();
    }
  });
});
