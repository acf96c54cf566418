import type { HttpHeaders } from '../protocol/http11.js';

/** A received message: text as a string, binary as a Buffer. */
export type Message = string | Buffer;

/** Anything `send()` accepts: text, bytes, or an (async) iterable of chunks sent as one fragmented message. */
export type SendData =
  | string
  | Uint8Array
  | ArrayBuffer
  | ArrayBufferView
  | Iterable<string | Uint8Array>
  | AsyncIterable<string | Uint8Array>;

/** The HTTP request that opened a server-side connection. */
export interface RequestInfo {
  /** The path without query, e.g. `/sensor/connect`. */
  path: string;
  /** The query parameters. */
  query: URLSearchParams;
  /** The request target as sent, e.g. `/sensor/connect?type=x`. */
  target: string;
  /** The request headers. */
  headers: HttpHeaders;
  /** The remote IP address (on the server, read from the socket once the handshake head is parsed). */
  remoteAddress: string | undefined;
  /** The HTTP version that carried the handshake: `'1.1'` (Upgrade) or `'2'` (extended CONNECT, RFC 8441). Set by the server. */
  httpVersion?: '1.1' | '2';
  /** The HTTP/2 stream that carries the WebSocket (its id within the session); undefined over HTTP/1.1. Set by the server. */
  streamId?: number;
}

/** Settings shared by server-side and client-side connections. */
export interface ConnectionOptions {
  /** Largest message accepted, in bytes; larger ones close the connection with 1009. Default 1 MiB. */
  maxMessageSize?: number;
  /**
   * Fragment budget: a message may be split into this many frames plus one per 16 bytes of its payload, so a large
   * message may come in many reasonable fragments while a flood of empty or tiny ones is refused (1008). Default 16,384.
   */
  maxFragments?: number;
  /** Received messages kept unread before reading from the socket pauses. Default 16. */
  maxQueue?: number;
  /** `send()` waits for the socket to drain while more than this many bytes are buffered. Default 64 KiB. */
  writeLimit?: number;
  /**
   * `sendNow()` drops a message (returns `SendStatus.DROPPED`) while more than this many bytes already wait to be
   * written: what a sender that ignores `BACKPRESSURE` can pile up per connection (Bun's `backpressureLimit`).
   * `send()` is paced by its promise instead. Default 16 MiB.
   */
  backpressureLimit?: number;
  /** Interval between keepalive pings in ms, or null for none. Default 20,000. */
  pingInterval?: number | null;
  /** How long to wait for a pong before failing the connection with 1011, in ms, or null. Default 20,000. */
  pingTimeout?: number | null;
  /** How long to wait for the closing handshake before dropping the TCP connection, in ms. Default 10,000. */
  closeTimeout?: number;
}
