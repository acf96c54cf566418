/**
 * One message to many connections: the frame is encoded once (server frames
 * are unmasked, so the bytes are the same for everyone) and written to each
 * open connection without waiting for any of them. A client whose buffer is
 * over `maxBuffered` is skipped for this message or closed, so one slow peer
 * neither holds up the others nor grows the server's memory without bound.
 */
import type { Connection } from '../node/connection.js';
import { Opcode } from '../protocol/opcodes.js';
import { encodeFrame } from '../protocol/frame.js';
import { State } from '../protocol/protocol.js';

/** What a broadcast does with a client whose outgoing buffer is over the bound. */
export type SlowClientPolicy = 'skip' | 'close';

/** Options of {@link broadcast} (also the `broadcast` option of a server, for `publish`). */
export interface BroadcastOptions {
  /** Most bytes a connection may have buffered, this message included, to be sent to. Default 1 MiB. */
  maxBuffered?: number;
  /** `'skip'` drops this message for a slow client (default); `'close'` closes it with `closeCode`. */
  onSlow?: SlowClientPolicy;
  /** Close code for `onSlow: 'close'`: 1013 (try again later, default) or 1008 (policy violation). */
  closeCode?: 1008 | 1013;
  /** A connection not to send to (the publisher, for `ws.publish`). */
  exclude?: Connection | null;
}

/** What a broadcast did. */
export interface BroadcastResult {
  /** Connections the message was written to. */
  sent: number;
  /** Slow connections this message was not sent to. */
  skipped: number;
  /** Slow connections closed by the `'close'` policy. */
  closed: number;
}

/** A broadcast payload: a string is sent as text, bytes as binary. */
export type BroadcastData = string | Uint8Array | ArrayBuffer;

/** Default {@link BroadcastOptions.maxBuffered}: 1 MiB. */
export const DEFAULT_MAX_BUFFERED = 1024 * 1024;

const REASON = 'slow client: too much data buffered';

/**
 * Bytes handed to `ws.send()` by broadcasts and not yet written: a compressed
 * send waits in the connection's codec queue, where `bufferedAmount` can't see it.
 */
const queued = new WeakMap<Connection, number>();

function noop(): void {}

function sendQueued(ws: Connection, payload: string | Buffer, size: number): void {
  queued.set(ws, (queued.get(ws) ?? 0) + size);
  const done = (): void => {
    const left = (queued.get(ws) ?? size) - size;
    if (left <= 0) queued.delete(ws);
    else queued.set(ws, left);
  };
  ws.send(payload).then(done, done);
}

/**
 * Sends `message` to every open connection in `connections`, encoding the
 * frame once. Never waits for a connection to drain; see
 * {@link BroadcastOptions} for what happens to slow ones.
 *
 * Connections with permessage-deflate get their own encoding through
 * `ws.send()` when the message is large enough to be compressed; connections
 * that are closing are passed over and not counted.
 */
export function broadcast(
  connections: Iterable<Connection>,
  message: BroadcastData,
  options: BroadcastOptions = {},
): BroadcastResult {
  const maxBuffered = options.maxBuffered ?? DEFAULT_MAX_BUFFERED;
  const close = options.onSlow === 'close';
  const closeCode = options.closeCode ?? 1013;
  const exclude = options.exclude ?? null;
  const payload: string | Buffer =
    typeof message === 'string'
      ? message
      : message instanceof ArrayBuffer
        ? Buffer.from(message)
        : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const result: BroadcastResult = { sent: 0, skipped: 0, closed: 0 };
  let frame: Buffer | null = null;
  let size = 0;
  for (const ws of connections) {
    if (ws === exclude || ws.readyState !== State.OPEN) continue;
    if (frame === null) {
      frame = encodeFrame(typeof payload === 'string' ? Opcode.TEXT : Opcode.BINARY, payload);
      size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    }
    if (ws.bufferedAmount + (queued.get(ws) ?? 0) + frame.length > maxBuffered) {
      if (close) {
        result.closed++;
        void ws.close(closeCode, REASON).catch(noop);
      } else {
        result.skipped++;
      }
      continue;
    }
    // A message the codec would compress is encoded per connection (context
    // takeover makes each stream's bytes differ); smaller ones share the frame.
    // sendEncoded also declines while a fragmented or compressed send is in
    // progress: send() queues behind it, keeping order.
    if (ws.compresses(size) || !ws.sendEncoded(frame)) sendQueued(ws, payload, frame.length);
    result.sent++;
  }
  return result;
}
