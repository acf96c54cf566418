/**
 * The callback handler: `serve({ open, message, close, drain })`, the shape Bun's `Bun.serve({ websocket })`,
 * uWebSockets.js and crossws adapters use. Messages are handed to `message()` as they are parsed, with no promise,
 * queue slot or iterator result per message: the fastest way through wskit. The connection passed is the same
 * {@link Connection} the async API uses; `ws.sendNow()` is its send without a promise.
 */
import type { Connection } from './connection.js';
import type { Message } from './types.js';

/**
 * Callbacks run for each connection of a server (Bun/uWS style). Each is optional. A callback that throws, or
 * returns a promise that rejects, is reported through the server's `logger` and the connection is closed with 1011
 * (internal error); it never ends the process. What a callback returns is ignored but for a promise (`message` and
 * `open`), whose rejection counts as a throw: `message: (ws, data) => ws.sendNow(data)` is fine.
 */
export interface WebSocketHandlers {
  /** The opening handshake succeeded: called once, before any `message`. */
  open?(ws: Connection): unknown;
  /**
   * A message arrived: text as a string, binary as a Buffer (valid only during the call unless copied: it may be a
   * view of the received bytes). Returning a promise is allowed: up to `maxQueue` messages may have a promise
   * pending (or be decompressing); beyond that the socket is not read until some settle (TCP backpressure).
   */
  message?(ws: Connection, data: Message, isBinary: boolean): unknown;
  /** The connection is closed (TCP closed): `code` is the peer's close code (1005 none, 1006 no close frame). */
  close?(ws: Connection, code: number, reason: string): unknown;
  /** `ws.sendNow()` returned `SendStatus.BACKPRESSURE` and the socket's buffer has drained: send more now. */
  drain?(ws: Connection): unknown;
}

/**
 * What `ws.sendNow()` returns, as Bun's `ServerWebSocket.send()` does: a positive number of bytes means the
 * message was handed to the socket and what waits to be written is within `writeLimit`; `BACKPRESSURE` (-1) that
 * it was queued but more than `writeLimit` bytes now wait (stop sending until `drain`); `DROPPED` (0) that it was
 * not sent (the connection is closing or closed, or more than `backpressureLimit` bytes were already waiting).
 */
export const SendStatus = Object.freeze({
  /** Not sent: the connection is not open, or over `backpressureLimit` bytes already wait. */
  DROPPED: 0,
  /** Sent (queued) but more than `writeLimit` bytes now wait: `drain` is called once they are written. */
  BACKPRESSURE: -1,
} as const);

/** Whether `handler` is a {@link WebSocketHandlers} object rather than a connection handler function. */
export function isCallbackHandlers(handler: unknown): handler is WebSocketHandlers {
  return typeof handler === 'object' && handler !== null;
}

/** Throws a TypeError naming the first member of `handlers` that is set but is not a function. */
export function checkCallbackHandlers(handlers: WebSocketHandlers): void {
  for (const name of ['open', 'message', 'close', 'drain'] as const) {
    const value = handlers[name];
    if (value !== undefined && typeof value !== 'function') throw new TypeError(`the ${name} handler must be a function, not ${typeof value}`);
  }
}
