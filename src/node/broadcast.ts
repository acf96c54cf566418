/**
 * One message to many connections, through Connection's public API: the message is prepared once
 * (`PreparedMessage`: one frame, and one compression per shared compressor) and handed to each open connection with
 * `sendPrepared()` without waiting for any of them. A client whose buffer is over `maxBuffered` is skipped for this
 * message or closed, so one slow peer neither holds up the others nor grows the server's memory without bound.
 */
import type { Connection } from './connection.js';
import { PreparedMessage } from './prepared-message.js';
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
 * Sends `message` to every open connection in `connections`, encoding the frame once (a {@link PreparedMessage}).
 * Never waits for a connection to drain; see {@link BroadcastOptions} for what happens to slow ones.
 *
 * With permessage-deflate, connections sharing a compressor that keeps no context (server_no_context_takeover, the
 * server default) get one compression of the message between them; connections with context takeover compress it
 * each. Connections that are closing are passed over and not counted.
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
  const result: BroadcastResult = { sent: 0, skipped: 0, closed: 0 };
  let prepared: PreparedMessage | null = null;
  let size = 0;
  for (const ws of connections) {
    if (ws === exclude || ws.readyState !== State.OPEN) continue;
    if (prepared === null) {
      prepared = new PreparedMessage(message);
      size = prepared.frame.length;
    }
    const buffered = ws.bufferedAmount;
    if (buffered + size > maxBuffered) {
      // Over the bound. Bytes waiting for zlib are this server's lag, not the client's: a client that reads as fast
      // as it can is never closed for them, the message is skipped. Bytes the socket holds are the client's to read.
      // A connection closed here is CLOSING from now on, so later broadcasts pass over it: it is counted once.
      if (close && buffered - ws.compressionBacklog + size > maxBuffered) {
        result.closed++;
        if (ws.meter !== null) ws.meter.slowClosed++;
        void ws.close(closeCode, REASON).catch(noop);
      } else {
        result.skipped++;
        if (ws.meter !== null) ws.meter.slowSkipped++;
      }
      continue;
    }
    void ws.sendPrepared(prepared); // a failure is the connection's end: ws.closed
    result.sent++;
  }
  return result;
}
