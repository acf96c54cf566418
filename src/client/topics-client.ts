/**
 * The client side of the `wskit.topics.v1` subprotocol (docs/topics-protocol.md), written once for the Node and
 * browser reconnecting clients (no Node or DOM APIs): subscriptions with their positions, sent again with `since`
 * on every connection so the server replays the gap; publications already seen dropped by offset; publishes kept
 * until acknowledged and resent with the same key after a reconnection (the server appends each key once).
 */
import { InvalidState, TimeoutError, WebSocketError } from '../errors.js';
import { SendQueueError } from './send-queue.js';
import { decodeTopicFrame, encodeTopicFrame, type TopicErrorCode } from './topics-wire.js';

/** A place in a topic's stream: the offset of the last publication seen, and the topic's epoch. */
export interface TopicPosition {
  /** Offset of the last publication seen (0: none yet). */
  offset: number;
  /** The topic's epoch. */
  epoch: string;
}

/** Where a publication sits in its topic's stream. */
export interface PublicationInfo extends TopicPosition {
  /** The topic. */
  topic: string;
}

/** A publication's payload: a JSON value, or bytes as a Uint8Array. */
export type TopicData = unknown;

/**
 * Receives a topic's publications, once each, in order. A promise returned holds back the reading of the connection
 * until it settles (the server closes a subscriber too far behind with 1013; it resumes from its position).
 */
export type PublicationHandler = (data: TopicData, info: PublicationInfo) => unknown;

/** What the server answered to a (re)subscription. */
export interface SubscribedInfo extends TopicPosition {
  /** The topic. */
  topic: string;
  /**
   * False when publications after the position could not be replayed (trimmed from the server's history, or the
   * topic's epoch changed): the application should reload its state. True otherwise.
   */
  recovered: boolean;
  /** Whether a position was given (a resume), as opposed to a subscription starting at the present. */
  resumed: boolean;
}

/** Options of `client.subscribe()`. */
export interface SubscribeOptions {
  /** Start after this position (a resume, e.g. one saved by a previous page); default: at the present. */
  since?: TopicPosition;
  /** Called on every answer to the subscription: at first, after each reconnection, and when the server lost the position. */
  onSubscribed?: (info: SubscribedInfo) => void;
}

/** A subscription of a client; it lasts across reconnections until `unsubscribe()`. */
export interface TopicSubscription {
  /** The topic. */
  readonly topic: string;
  /** The position of the last publication handed to the handler (or given as `since`); null before any. */
  readonly position: TopicPosition | null;
  /** Stops the subscription. */
  unsubscribe(): void;
}

/** The server's acknowledgement of a publish: where it is in the topic's stream. */
export interface PublishAck extends TopicPosition {
  /** The topic. */
  topic: string;
  /** True when the server had already appended this publish (it was resent after a reconnection). */
  duplicate: boolean;
}

/** Settings of the topics layer of a reconnecting client. */
export interface TopicClientOptions {
  /** Publishes waiting for their acknowledgement; beyond, `publish()` rejects with a SendQueueError. Default 1,000. */
  maxPendingPublishes?: number;
  /** How long a publish may wait for its acknowledgement, across reconnections, in ms. Default 30,000. */
  publishTimeout?: number;
}

/** Defaults of {@link TopicClientOptions}. */
export const TOPIC_CLIENT_DEFAULTS = Object.freeze({ maxPendingPublishes: 1000, publishTimeout: 30_000 });

/** The server refused a request: `code` is the protocol's error code (`forbidden`, `too-many-topics`...). */
export class TopicError extends WebSocketError {
  /** The topic of the request. */
  readonly topic: string;
  constructor(message: string, code: TopicErrorCode | string, topic: string) {
    super(message, code);
    this.topic = topic;
  }
}

interface Subscription {
  topic: string;
  handler: PublicationHandler;
  onSubscribed: ((info: SubscribedInfo) => void) | undefined;
  position: TopicPosition | null;
  active: boolean;
}

interface PendingPublish {
  key: string;
  topic: string;
  data: TopicData;
  resolve: (ack: PublishAck) => void;
  reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** @internal What the topics layer needs of its client. */
export interface TopicTransport {
  /** Sends a frame now if connected; returns false when not connected. */
  sendFrame(frame: string | Uint8Array): boolean;
  /** Reports an error (the client's `onError`). */
  report(error: unknown): void;
  /** Calls an application callback, reporting what it throws (or rejects with); returns its promise, if any. */
  call<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Promise<void> | undefined;
}

let clients = 0;

/** @internal The topics layer of a reconnecting client. */
export class TopicChannel {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly pending = new Map<string, PendingPublish>();
  private readonly clientId: string;
  private readonly maxPending: number;
  private readonly publishTimeout: number;
  private sequence = 0;
  private requests = 0;
  private stopped = false;

  constructor(
    private readonly transport: TopicTransport,
    options: TopicClientOptions = {},
  ) {
    this.maxPending = options.maxPendingPublishes ?? TOPIC_CLIENT_DEFAULTS.maxPendingPublishes;
    this.publishTimeout = options.publishTimeout ?? TOPIC_CLIENT_DEFAULTS.publishTimeout;
    for (const [name, value] of [['topics.maxPendingPublishes', this.maxPending], ['topics.publishTimeout', this.publishTimeout]] as const) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be an integer ≥ 1, got ${String(value)}`);
    }
    const random = new Uint8Array(8);
    globalThis.crypto.getRandomValues(random);
    this.clientId = `${Array.from(random, (b) => b.toString(16).padStart(2, '0')).join('')}.${++clients}`;
  }

  /** Publishes waiting for their acknowledgement. */
  get pendingPublishes(): number {
    return this.pending.size;
  }

  subscribe(topic: string, handler: PublicationHandler, options: SubscribeOptions = {}): TopicSubscription {
    if (this.stopped) throw new InvalidState('the client is closed');
    if (typeof topic !== 'string' || topic.length === 0) throw new TypeError('a topic must be a non-empty string');
    if (this.subscriptions.has(topic)) throw new InvalidState(`already subscribed to ${topic}`);
    const subscription: Subscription = { topic, handler, onSubscribed: options.onSubscribed, position: options.since ? { ...options.since } : null, active: true };
    this.subscriptions.set(topic, subscription);
    this.sendSubscribe(subscription);
    return {
      topic,
      get position() {
        return subscription.position === null ? null : { ...subscription.position };
      },
      unsubscribe: () => {
        if (!subscription.active) return;
        subscription.active = false;
        this.subscriptions.delete(topic);
        this.transport.sendFrame(encodeTopicFrame({ type: 'unsubscribe', id: ++this.requests, topic }));
      },
    };
  }

  publish(topic: string, data: TopicData): Promise<PublishAck> {
    if (this.stopped) return Promise.reject(new InvalidState('the client is closed'));
    if (this.pending.size >= this.maxPending) {
      return Promise.reject(new SendQueueError(`${this.pending.size} publishes already wait for their acknowledgement`, 'WS_QUEUE_FULL', [data]));
    }
    if (!(data instanceof Uint8Array) && JSON.stringify(data) === undefined) return Promise.reject(new TypeError('a publication is a JSON value or a Uint8Array'));
    const key = `${this.clientId}.${++this.sequence}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new TimeoutError(`no acknowledgement of a publish to ${topic} within ${this.publishTimeout} ms`));
      }, this.publishTimeout);
      const publish: PendingPublish = { key, topic, data, resolve, reject, timer };
      this.pending.set(key, publish);
      this.sendPublish(publish);
    });
  }

  /** A connection opened: subscribe again from each position, resend what is not acknowledged. */
  opened(): void {
    for (const subscription of this.subscriptions.values()) this.sendSubscribe(subscription);
    for (const publish of this.pending.values()) this.sendPublish(publish);
  }

  /** Handles a frame from the server; a promise when the publication handler returned one (reading waits for it). */
  receive(message: string | Uint8Array): Promise<void> | undefined {
    let header: Record<string, unknown>;
    let bytes: Uint8Array | null;
    try {
      ({ header, bytes } = decodeTopicFrame(message));
    } catch (error) {
      this.transport.report(new TopicError(`unreadable frame from the server: ${(error as Error).message}`, 'bad-frame', ''));
      return;
    }
    const topic = typeof header.topic === 'string' ? header.topic : '';
    switch (header.type) {
      case 'pub':
        return this.publication(topic, header, bytes);
      case 'subscribed':
        this.subscribed(topic, header);
        return undefined;
      case 'ack':
        this.ack(header);
        return undefined;
      case 'error':
        this.error(topic, header);
        return undefined;
      default:
        return undefined; // unsubscribed, and types of later versions
    }
  }

  /** The client stopped: pending publishes are rejected. */
  stop(error: unknown): void {
    this.stopped = true;
    for (const publish of this.pending.values()) {
      clearTimeout(publish.timer);
      publish.reject(error);
    }
    this.pending.clear();
  }

  private sendSubscribe(subscription: Subscription): void {
    const header: Record<string, unknown> = { type: 'subscribe', id: ++this.requests, topic: subscription.topic };
    if (subscription.position !== null) header.since = subscription.position;
    this.transport.sendFrame(encodeTopicFrame(header));
  }

  private sendPublish(publish: PendingPublish): void {
    const header = { type: 'publish', id: publish.key, topic: publish.topic, key: publish.key };
    const payload = publish.data instanceof Uint8Array ? { bytes: publish.data } : { json: JSON.stringify(publish.data) };
    this.transport.sendFrame(encodeTopicFrame(header, payload));
  }

  private publication(topic: string, header: Record<string, unknown>, bytes: Uint8Array | null): Promise<void> | undefined {
    const subscription = this.subscriptions.get(topic);
    const offset = header.offset;
    const epoch = header.epoch;
    if (subscription === undefined || typeof offset !== 'number' || typeof epoch !== 'string') return;
    const position = subscription.position;
    if (position !== null && position.epoch === epoch && offset <= position.offset) return; // seen already
    subscription.position = { offset, epoch };
    return this.transport.call(subscription.handler, bytes ?? header.data, { topic, offset, epoch });
  }

  private subscribed(topic: string, header: Record<string, unknown>): void {
    const subscription = this.subscriptions.get(topic);
    if (subscription === undefined || typeof header.offset !== 'number' || typeof header.epoch !== 'string') return;
    const recovered = header.recovered !== false;
    const resumed = subscription.position !== null;
    if (!recovered || !resumed) subscription.position = { offset: header.offset, epoch: header.epoch };
    if (subscription.onSubscribed !== undefined) {
      this.transport.call(subscription.onSubscribed, { topic, offset: header.offset, epoch: header.epoch, recovered, resumed });
    }
  }

  private ack(header: Record<string, unknown>): void {
    const publish = typeof header.id === 'string' ? this.pending.get(header.id) : undefined;
    if (publish === undefined) return;
    this.pending.delete(publish.key);
    clearTimeout(publish.timer);
    publish.resolve({ topic: publish.topic, offset: Number(header.offset), epoch: String(header.epoch), duplicate: header.duplicate === true });
  }

  private error(topic: string, header: Record<string, unknown>): void {
    const publish = typeof header.id === 'string' ? this.pending.get(header.id) : undefined;
    const error = new TopicError(String(header.message), String(header.code), publish?.topic ?? topic);
    if (publish !== undefined) {
      this.pending.delete(publish.key);
      clearTimeout(publish.timer);
      publish.reject(error);
      return;
    }
    // A refused subscription ends; other errors are only reported.
    if (header.code === 'forbidden' || header.code === 'too-many-topics') {
      const subscription = this.subscriptions.get(topic);
      if (subscription !== undefined) {
        subscription.active = false;
        this.subscriptions.delete(topic);
      }
    }
    this.transport.report(error);
  }
}
