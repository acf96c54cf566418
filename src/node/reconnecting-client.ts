import type { ReconnectOptions } from '../client/backoff.js';
import { ReconnectingClientBase, type ReconnectingClientSettings } from '../client/reconnect.js';
import { openConnection, type ConnectOptions } from './client.js';
import type { Connection } from './connection.js';
import type { Message } from './types.js';

/** What a {@link ReconnectingClient} can queue: whole messages (not iterables of fragments). */
export type QueueableData = string | Uint8Array | ArrayBuffer | ArrayBufferView;

/** Options of {@link ReconnectingClient}: those of `connect()`, callbacks, backoff and the send queue. */
export interface ReconnectingClientOptions
  extends Omit<ConnectOptions, 'reconnect'>,
    ReconnectingClientSettings<Connection, Message> {
  /** Backoff and retry policy (defaults: RECONNECT_DEFAULTS). */
  reconnect?: ReconnectOptions;
}

/**
 * A WebSocket client that stays connected, for callback users (like
 * websocket-client's WebSocketApp or partysocket):
 *
 * ```ts
 * const client = new ReconnectingClient('ws://127.0.0.1:8765', {
 *   onMessage: (message) => console.log(message),
 *   onReconnect: (attempt, delay) => console.log(`reconnecting #${attempt} in ${delay} ms`),
 * });
 * client.send('hello');   // queued until connected, then flushed in order
 * await client.close();   // stops reconnecting
 * ```
 *
 * Keepalive pings (`pingInterval`, `pingTimeout`) detect a dead peer and
 * trigger a reconnection.
 */
export class ReconnectingClient extends ReconnectingClientBase<Connection, Message, QueueableData> {
  /** The URL connected to. */
  readonly url: string;

  constructor(url: string | URL, options: ReconnectingClientOptions = {}) {
    const { reconnect: _reconnect, queue: _queue, onOpen: _o, onMessage: _m, onClose: _c, onError: _e, onReconnect: _r, ...connectOptions } = options;
    super(() => openConnection(url, connectOptions), options);
    this.url = String(url);
  }
}
