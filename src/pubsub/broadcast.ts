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
  /**
   * `'skip'` drops this message for a slow client (default); `'close'` closes it with `closeCode`. Over the bound
   * because of messages still waiting for compression (the server's own zlib lag, not the client's reading), the
   * message is skipped whatever the policy.
   */
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

function noop(): void {}

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
    const buffered = ws.bufferedAmount;
    if (buffered + frame.length > maxBuffered) {
      // Over the bound. Bytes waiting for zlib are this server's lag, not the client's: a client that reads as fast
      // as it can is never closed for them, the message is skipped. Bytes the socket holds are the client's to read.
      if (close && buffered - ws.compressionBacklog + frame.length > maxBuffered) {
        result.closed++;
        if (ws.meter !== null) ws.meter.slowClosed++;
        void ws.close(closeCode, REASON).catch(noop);
      } else {
        result.skipped++;
        if (ws.meter !== null) ws.meter.slowSkipped++;
      }
      continue;
    }
    // A message the codec would compress is encoded per connection (context
    // takeover makes each stream's bytes differ); smaller ones share the frame.
    // sendEncoded also declines while a fragmented or compressed send is in
    // progress: send() queues behind it, keeping order.
    if (ws.compresses(size) || !ws.sendEncoded(frame)) void ws.send(payload); // a failure is the connection's end: ws.closed
    result.sent++;
  }
  return result;
}
