import { ReconnectingClientBase, type ReconnectingClientSettings } from '../client/reconnect.js';
import { openConnection, type ConnectOptions } from './client.js';
import type { Connection } from './connection.js';
import type { Message } from './types.js';

/** What a {@link ReconnectingClient} can queue: whole messages (not iterables of fragments). */
export type QueueableData = string | Uint8Array | ArrayBuffer | ArrayBufferView;

/** Options of {@link ReconnectingClient}: those of `connect()`, callbacks, backoff (`reconnect`) and the send queue. */
export interface ReconnectingClientOptions extends Omit<ConnectOptions, 'reconnect'>, ReconnectingClientSettings<Connection, Message> {}

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
export class ReconnectingClient extends ReconnectingClientBase<Connection, Message, QueueableData, ReconnectingClientOptions> {
  constructor(url: string | URL, options: ReconnectingClientOptions = {}) {
    super(url, options, openConnection);
  }
}
