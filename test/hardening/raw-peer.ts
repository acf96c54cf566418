/** Raw WebSocket peers for abuse tests: a real handshake over TCP, then any bytes at all. */
import { once } from 'node:events';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { encodeFrame } from '../../src/protocol/frame.js';
import { computeAccept } from '../../src/protocol/handshake.js';
import { Protocol, type ProtocolHandler } from '../../src/protocol/protocol.js';
import type { ClosePayload } from '../../src/protocol/close.js';

/** A client socket that completed the opening handshake. */
export interface RawClient {
  socket: net.Socket;
  /** Resolves with the close code the server sent (null if it closed TCP without one) once TCP closes. */
  closed: Promise<{ code: number | null; reason: string; messages: Array<string | Buffer>; ms: number }>;
}

/** Opens a TCP connection to 127.0.0.1:port and performs a valid client handshake. */
export function rawClient(port: number, path = '/', extraHeaders = ''): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const key = randomBytes(16).toString('base64');
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const text = head.subarray(0, end).toString('latin1');
      if (!text.startsWith('HTTP/1.1 101') || !text.includes(computeAccept(key))) {
        socket.destroy();
        reject(new Error(`handshake failed: ${text.split('\r\n')[0]}`));
        return;
      }
      resolve({ socket, closed: watchClose(socket, head.subarray(end + 4)) });
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`,
    );
  });
}

function watchClose(socket: net.Socket, rest: Buffer): RawClient['closed'] {
  const started = performance.now();
  // Our own core decodes what the server sends: a client-side Protocol (server frames are unmasked).
  const peer = recordingDecoder('client');
  if (rest.length > 0) peer.decoder.receiveData(rest);
  socket.on('data', (chunk) => peer.decoder.receiveData(chunk));
  return new Promise((resolve) => {
    socket.on('close', () => {
      const close = peer.closes[0];
      resolve({ code: close?.code ?? null, reason: close?.reason ?? '', messages: peer.messages, ms: performance.now() - started });
    });
  });
}

/** What a raw peer decoded of the other side's frames (it never answers). */
export interface Decoded {
  /** A Protocol of `side` fed with what the other side sends. */
  decoder: Protocol;
  /** Close frames received, in order. */
  closes: ClosePayload[];
  /** Messages received, in order: text as strings. */
  messages: Array<string | Buffer>;
}

/** A decoder of the frames sent to `side` that records them and answers nothing. */
function recordingDecoder(side: 'client' | 'server'): Decoded {
  const closes: ClosePayload[] = [];
  const messages: Array<string | Buffer> = [];
  const handler: ProtocolHandler = {
    onWrite: () => undefined,
    onMessage: (data, binary) => messages.push(binary ? Buffer.from(data) : data.toString()),
    onText: (text) => messages.push(text),
    onPing: () => undefined,
    onPong: () => undefined,
    onCloseFrame: (payload) => closes.push(payload),
    onEnd: () => undefined,
  };
  return { decoder: new Protocol(side, handler, { maxMessageSize: 1 << 30 }), closes, messages };
}

/** A socket a {@link rawServer} accepted, after the handshake. */
export interface RawAccepted extends Decoded {
  socket: net.Socket;
  /** Bytes received after the handshake. */
  bytes: () => number;
}

/** A server that completes the handshake and then does whatever the test wants with the socket (nothing, by default). */
export interface RawServer {
  port: number;
  /** The next accepted socket after its handshake, with a decoder of what the client sends (no answers, ever). */
  next(): Promise<RawAccepted>;
  close(): Promise<void>;
}

/** Starts a {@link RawServer} on 127.0.0.1 and a free port. */
export async function rawServer(): Promise<RawServer> {
  const sockets: net.Socket[] = [];
  const accepted: RawAccepted[] = [];
  const waiting: Array<(value: RawAccepted) => void> = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const key = /\r\nSec-WebSocket-Key: *(\S+)/i.exec(head)![1]!;
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`);
      let received = 0;
      const peer = recordingDecoder('server');
      socket.on('data', (data: Buffer) => {
        received += data.length;
        peer.decoder.receiveData(data);
      });
      const value = { socket, ...peer, bytes: () => received };
      const waiter = waiting.shift();
      if (waiter) waiter(value);
      else accepted.push(value);
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    next: () => (accepted.length > 0 ? Promise.resolve(accepted.shift()!) : new Promise((resolve) => waiting.push(resolve))),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A masked client frame. */
export function clientFrame(opcode: number, payload: Uint8Array | string, fin = true, rsv1 = false): Buffer {
  return encodeFrame(opcode, payload, fin, rsv1, randomBytes(4));
}

/** An unmasked frame (what a server sends; invalid from a client). */
export function unmaskedFrame(opcode: number, payload: Uint8Array | string, fin = true): Buffer {
  return encodeFrame(opcode, payload, fin, false, null);
}
