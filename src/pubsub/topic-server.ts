/**
 * The server side of the `wskit.topics.v1` subprotocol (docs/topics-protocol.md): clients subscribe to topics
 * themselves, resume from their last position after a reconnection (replay from the history, then live, with no
 * gap or duplicate at the seam, or `recovered: false` when the gap cannot be filled), and publish when the
 * server's policy allows it.
 *
 * ```ts
 * const topics = topicServer({ history: redisHistory({ url }), publish: (topic) => topic.startsWith('chat/') });
 * await topics.start();
 * await serve(topics.handler, { port: 8765, subprotocols: [TOPICS_PROTOCOL] });
 * await topics.publish('chat/lobby', { text: 'hello' });
 * ```
 *
 * When the history cannot be reached (Redis down), a connection that needs it is closed with 1013 (try again
 * later): the client reconnects with backoff and resumes from its position, and resends its unacknowledged
 * publishes, which the history deduplicates by key.
 */
import type { Connection } from '../node/connection.js';
import type { Handler } from '../node/server.js';
import type { Message } from '../node/types.js';
import { checkNumber } from '../node/options.js';
import { State } from '../protocol/protocol.js';
import {
  decodeTopicFrame,
  encodeTopicFrame,
  MAX_KEY_LENGTH,
  positionOf,
  requestId,
  TOPICS_PROTOCOL,
  type RequestId,
  type TopicErrorCode,
} from '../client/topics-wire.js';
import { broadcast, DEFAULT_MAX_BUFFERED } from '../node/broadcast.js';
import { checkTopic, type Appended, type Publication, type TopicHistory } from './history.js';
import { memoryHistory } from './memory-history.js';
import { TopicSubscription, type SubscriptionHost } from './topic-subscription.js';

/** A policy for subscribing or publishing: allowed for every topic, none, or decided per topic and connection. */
export type TopicPolicy<A extends unknown[] = []> = boolean | ((topic: string, ws: Connection, ...args: A) => boolean | Promise<boolean>);

/** A publication's payload on the server: any JSON value, or bytes. */
export type TopicPayload = unknown;

/** Options of {@link topicServer}. */
export interface TopicServerOptions {
  /** Where offsets, epochs and history live. Default `memoryHistory()` (this process only). */
  history?: TopicHistory;
  /** Who may subscribe to what (the authorization hook). Default: every topic. */
  subscribe?: TopicPolicy;
  /** Who may publish to what; the function also sees the payload (a JSON value, or a Uint8Array). Default: nobody. */
  publish?: TopicPolicy<[data: TopicPayload]>;
  /** Topics one connection may be subscribed to at once. Default 100. */
  maxTopics?: number;
  /** Publications read from the history at a time when replaying. Default 500. */
  replayBatch?: number;
  /** Live publications held per subscription while it replays; beyond, it reads the history again. Default 1,000. */
  maxPending?: number;
  /** Bytes a subscriber may have buffered; a slower one is closed with 1013 and resumes once reconnected. Default 1 MiB. */
  maxBuffered?: number;
  /** Where history failures are reported. Default `console`; null silences them. */
  logger?: Pick<Console, 'error'> | null;
}

/** Defaults of {@link TopicServerOptions}. */
export const TOPIC_SERVER_DEFAULTS = Object.freeze({ maxTopics: 100, replayBatch: 500, maxPending: 1000, maxBuffered: DEFAULT_MAX_BUFFERED });

const UNAVAILABLE = 'topic history unavailable, try again later';
const SLOW = 'slow subscriber: too much data buffered';

/** The bytes of a frame before compression (the bound is checked against them). */
function frameSize(frame: string | Uint8Array): number {
  return typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
}

/** Serves the topics subprotocol; see {@link topicServer}. */
export class TopicServer implements SubscriptionHost {
  /** The topic store. */
  readonly history: TopicHistory;
  /** @internal */
  readonly replayBatch: number;
  /** @internal */
  readonly maxPending: number;
  /** The connection handler: `serve(topics.handler, { subprotocols: [TOPICS_PROTOCOL] })`, or a route of a router. */
  readonly handler: Handler;
  private readonly maxTopics: number;
  private readonly maxBuffered: number;
  private readonly subscribePolicy: TopicPolicy;
  private readonly publishPolicy: TopicPolicy<[data: TopicPayload]>;
  private readonly logger: Pick<Console, 'error'> | null;
  private readonly subscribers = new Map<string, Set<TopicSubscription>>();
  private starting: Promise<void> | null = null;
  private frameCache: { publication: Publication; frame: string | Uint8Array } | null = null;

  constructor(options: TopicServerOptions = {}) {
    this.history = options.history ?? memoryHistory();
    this.maxTopics = checkNumber('topicServer.maxTopics', options.maxTopics ?? TOPIC_SERVER_DEFAULTS.maxTopics, { integer: true, min: 1 });
    this.replayBatch = checkNumber('topicServer.replayBatch', options.replayBatch ?? TOPIC_SERVER_DEFAULTS.replayBatch, { integer: true, min: 1 });
    this.maxPending = checkNumber('topicServer.maxPending', options.maxPending ?? TOPIC_SERVER_DEFAULTS.maxPending, { integer: true, min: 1 });
    this.maxBuffered = checkNumber('topicServer.maxBuffered', options.maxBuffered ?? TOPIC_SERVER_DEFAULTS.maxBuffered, { integer: true, min: 1 });
    this.subscribePolicy = options.subscribe ?? true;
    this.publishPolicy = options.publish ?? false;
    this.logger = options.logger === undefined ? console : options.logger;
    this.handler = (ws) => this.serveConnection(ws);
  }

  /** Connects the history (once); rejects if it cannot. The handler and `publish()` call it too. */
  start(): Promise<void> {
    this.starting ??= this.history.start(
      (publication) => this.deliver(publication),
      (topic) => {
        for (const subscription of this.subscribers.get(topic) ?? []) subscription.resync();
      },
    );
    return this.starting;
  }

  /** Disconnects the history. */
  async close(): Promise<void> {
    await this.starting?.catch(() => undefined);
    await this.history.close();
  }

  /**
   * Publishes `data` (any JSON value, or bytes as a Uint8Array) to `topic` on every node; resolves with its
   * position once the history has it. With `key`, a publish repeated within the dedup window is appended once.
   */
  async publish(topic: string, data: TopicPayload, key?: string): Promise<Appended> {
    checkTopic(topic);
    const stored = storedPayload(data);
    await this.start();
    return this.history.append(topic, stored, key);
  }

  /** How many of this node's connections are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.subscribers.get(topic)?.size ?? 0;
  }

  /** @internal */
  frameOf(publication: Publication): string | Uint8Array {
    if (this.frameCache?.publication === publication) return this.frameCache.frame;
    const header = { type: 'pub', topic: publication.topic, offset: publication.offset, epoch: publication.epoch };
    const frame = encodeTopicFrame(header, typeof publication.data === 'string' ? { json: publication.data } : { bytes: publication.data });
    this.frameCache = { publication, frame };
    return frame;
  }

  /** @internal */
  reply(ws: Connection, header: Record<string, unknown>): Promise<void> {
    return ws.send(encodeTopicFrame(header));
  }

  /** @internal */
  failed(ws: Connection, error: unknown): void {
    this.logger?.error(`wskit: ${UNAVAILABLE}:`, error);
    void ws.close(1013, UNAVAILABLE).catch(() => undefined);
  }

  /** A publication of a followed topic, from any node: to each live subscriber next in order, encoded once. */
  private deliver(publication: Publication): void {
    const subscriptions = this.subscribers.get(publication.topic);
    if (subscriptions === undefined) return;
    const recipients: Connection[] = [];
    let size = -1;
    for (const subscription of subscriptions) {
      if (!subscription.offer(publication)) continue;
      const ws = subscription.ws;
      if (size < 0) size = frameSize(this.frameOf(publication));
      // A slow subscriber is closed (1013) before this publication: it resumes from its position once reconnected,
      // so it loses nothing. broadcast()'s own policy would not do: it skips, rather than closes, a connection whose
      // backlog is zlib's, and a publication skipped on a live subscription is a gap the client never learns of.
      if (ws.bufferedAmount + size > this.maxBuffered) {
        void ws.close(1013, SLOW).catch(() => undefined);
        continue;
      }
      recipients.push(ws);
    }
    if (recipients.length === 0) return;
    broadcast(recipients, this.frameOf(publication), { maxBuffered: Number.MAX_SAFE_INTEGER });
  }

  private async serveConnection(ws: Connection): Promise<void> {
    if (ws.subprotocol !== TOPICS_PROTOCOL) {
      await ws.close(1002, `this endpoint speaks the ${TOPICS_PROTOCOL} subprotocol only`);
      return;
    }
    try {
      await this.start();
    } catch (error) {
      this.failed(ws, error);
      return;
    }
    const session = new Session(this, ws);
    try {
      for await (const message of ws) session.receive(message);
    } finally {
      session.end();
    }
  }

  /** @internal Adds a subscription, following the topic when it is the first one on this node. */
  async add(subscription: TopicSubscription): Promise<void> {
    let set = this.subscribers.get(subscription.topic);
    if (set === undefined) this.subscribers.set(subscription.topic, (set = new Set()));
    set.add(subscription);
    await this.history.follow(subscription.topic);
  }

  /** @internal Removes a subscription, unfollowing the topic when it was the last one on this node. */
  remove(subscription: TopicSubscription): void {
    subscription.closed = true;
    const set = this.subscribers.get(subscription.topic);
    if (set === undefined || !set.delete(subscription) || set.size > 0) return;
    this.subscribers.delete(subscription.topic);
    this.history.unfollow(subscription.topic);
  }

  /** @internal */
  allowed<A extends unknown[]>(policy: 'subscribe' | 'publish', topic: string, ws: Connection, ...args: A): boolean | Promise<boolean> {
    const rule = (policy === 'subscribe' ? this.subscribePolicy : this.publishPolicy) as TopicPolicy<A>;
    return typeof rule === 'boolean' ? rule : rule(topic, ws, ...args);
  }

  /** @internal */
  get topicLimit(): number {
    return this.maxTopics;
  }
}

/** A request the connection got wrong: answered with an `error` message. */
class RequestError extends Error {
  constructor(
    readonly code: TopicErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One connection's requests. Subscribes and unsubscribes are handled in order; publishes are appended one at a
 * time in the order they came, each after the history confirmed the one before, and acknowledged as confirmed.
 */
class Session {
  private readonly subscriptions = new Map<string, TopicSubscription>();
  private requests: Promise<void> = Promise.resolve();
  private publishes: Promise<void> = Promise.resolve();
  private ended = false;
  /** An append failed: later publishes of this connection are not appended (the client resends them in order). */
  private publishFailed = false;

  constructor(
    private readonly server: TopicServer,
    private readonly ws: Connection,
  ) {}

  receive(message: Message): void {
    let id: RequestId | undefined;
    let topic: string | undefined;
    try {
      const { header, bytes } = decodeTopicFrame(message);
      id = requestId(header);
      if (typeof header.topic !== 'string') throw new TypeError('"topic" must be a string');
      checkTopic(header.topic);
      const name = (topic = header.topic);
      switch (header.type) {
        case 'subscribe': {
          const since = header.since === undefined ? null : positionOf(header.since);
          this.chain(id, name, () => this.subscribe(id, name, since));
          return;
        }
        case 'unsubscribe':
          this.chain(id, name, () => this.unsubscribe(id, name));
          return;
        case 'publish':
          this.publish(id, name, header, bytes);
          return;
        default:
          throw new TypeError('"type" must be subscribe, unsubscribe or publish');
      }
    } catch (error) {
      this.error(id, topic, error instanceof RequestError ? error.code : 'bad-request', (error as Error).message);
    }
  }

  end(): void {
    this.ended = true;
    for (const subscription of this.subscriptions.values()) this.server.remove(subscription);
    this.subscriptions.clear();
  }

  private chain(id: RequestId | undefined, topic: string, request: () => Promise<void>): void {
    this.requests = this.requests.then(request).catch((error: unknown) => {
      if (error instanceof RequestError) this.error(id, topic, error.code, error.message);
      else this.server.failed(this.ws, error);
    });
  }

  private async subscribe(id: RequestId | undefined, topic: string, since: { offset: number; epoch: string } | null): Promise<void> {
    if (this.subscriptions.has(topic)) throw new RequestError('already-subscribed', `already subscribed to ${topic}`);
    if (this.subscriptions.size >= this.server.topicLimit) throw new RequestError('too-many-topics', `at most ${this.server.topicLimit} topics per connection`);
    if (!(await this.server.allowed('subscribe', topic, this.ws))) throw new RequestError('forbidden', `not allowed to subscribe to ${topic}`);
    if (this.ended) return;
    const subscription = new TopicSubscription(this.ws, topic, this.server, id, since);
    this.subscriptions.set(topic, subscription);
    await this.server.add(subscription);
    subscription.start();
  }

  private async unsubscribe(id: RequestId | undefined, topic: string): Promise<void> {
    const subscription = this.subscriptions.get(topic);
    if (subscription === undefined) throw new RequestError('not-subscribed', `not subscribed to ${topic}`);
    this.subscriptions.delete(topic);
    this.server.remove(subscription);
    await this.server.reply(this.ws, { type: 'unsubscribed', id, topic });
  }

  private publish(id: RequestId | undefined, topic: string, header: Record<string, unknown>, bytes: Uint8Array | null): void {
    const key = header.key;
    if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH)) {
      throw new TypeError(`"key" must be a string of 1 to ${MAX_KEY_LENGTH} characters`);
    }
    if (bytes === null && !('data' in header)) throw new TypeError('a publish carries "data" (or bytes in a binary frame)');
    const data = bytes ?? header.data;
    const stored = storedPayload(data);
    const previous = this.publishes;
    let settled!: () => void;
    this.publishes = new Promise((resolve) => (settled = resolve));
    void (async () => {
      try {
        // One append at a time, each after the previous one is confirmed: if one fails, none after it may land
        // before it is resent, or the topic would hold the connection's publications out of order.
        await previous;
        if (this.publishFailed) return;
        const allowed = await this.server.allowed('publish', topic, this.ws, data);
        if (!allowed) return this.error(id, topic, 'forbidden', `not allowed to publish to ${topic}`);
        let appended: Appended;
        try {
          appended = await this.server.history.append(topic, stored, key as string | undefined);
        } catch (error) {
          // The client resends what was not acknowledged, in order, on its next connection.
          this.publishFailed = true;
          throw error;
        }
        const { offset, epoch, duplicate } = appended;
        settled();
        await this.server.reply(this.ws, { type: 'ack', id, topic, offset, epoch, duplicate });
      } catch (error) {
        if (this.ws.readyState === State.OPEN) this.server.failed(this.ws, error);
      } finally {
        settled();
      }
    })();
  }

  private error(id: RequestId | undefined, topic: string | undefined, code: TopicErrorCode, message: string): void {
    this.server.reply(this.ws, { type: 'error', id, topic, code, message }).catch(() => undefined);
  }
}

/** What the history stores for a payload: the JSON text of a value, or the bytes. */
function storedPayload(data: TopicPayload): string | Buffer {
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError('a publication is a JSON value or a Uint8Array');
  return json;
}

/** A server for the `wskit.topics.v1` subprotocol; see {@link TopicServer}. */
export function topicServer(options: TopicServerOptions = {}): TopicServer {
  return new TopicServer(options);
}
