/** A raw WebSocket peer for abuse tests: a real handshake over TCP, then any bytes at all. */
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
  return new Promise((resolve) => {
    let close: ClosePayload | null = null;
    const messages: Array<string | Buffer> = [];
    const handler: ProtocolHandler = {
      onWrite: () => undefined,
      onMessage: (data, binary) => messages.push(binary ? Buffer.from(data) : data.toString()),
      onPing: () => undefined,
      onPong: () => undefined,
      onCloseFrame: (payload) => (close = payload),
      onEnd: () => undefined,
    };
    // Our own core decodes what the server sends: a client-side Protocol (server frames are unmasked).
    const decoder = new Protocol('client', handler, { maxMessageSize: 64 * 1024 * 1024 });
    if (rest.length > 0) decoder.receiveData(rest);
    socket.on('data', (chunk) => decoder.receiveData(chunk));
    socket.on('close', () =>
      resolve({ code: close?.code ?? null, reason: close?.reason ?? '', messages, ms: performance.now() - started }),
    );
  });
}

/** A masked client frame. */
export function clientFrame(opcode: number, payload: Uint8Array | string, fin = true, rsv1 = false): Buffer {
  return encodeFrame(opcode, payload, fin, rsv1, randomBytes(4));
}

/** An unmasked frame (what a server sends; invalid from a client). */
export function unmaskedFrame(opcode: number, payload: Uint8Array | string, fin = true): Buffer {
  return encodeFrame(opcode, payload, fin, false, null);
}
