/**
 * Topics: connections subscribe to named topics and a publish reaches every
 * subscriber (Bun/uWS style). A topic exists while it has subscribers; a
 * closed connection leaves all of its topics. With a backplane, publishes
 * also reach subscribers on the other server nodes.
 */
import type { Connection } from './connection.js';
import type { Backplane, BackplaneMessage } from './backplane.js';
import { broadcast, type BroadcastData, type BroadcastOptions, type BroadcastResult } from './broadcast.js';

/** Options of a {@link Hub}. */
export interface HubOptions {
  /** Carries publishes to other nodes; default none (this process only). */
  backplane?: Backplane | null;
  /** Slow-client policy of every publish (see `broadcast()`). */
  broadcast?: BroadcastOptions;
  /** Where backplane errors are reported. Default `console`; null silences them. */
  logger?: Pick<Console, 'error'> | null;
}

const EMPTY: ReadonlySet<string> = new Set();

/** Topic → subscribers, for one server. */
export class Hub {
  /** The backplane, if any. */
  readonly backplane: Backplane | null;
  private readonly topicMap = new Map<string, Set<Connection>>();
  private readonly byConnection = new Map<Connection, Set<string>>();
  private readonly options: BroadcastOptions;
  private readonly logger: Pick<Console, 'error'> | null;
  private starting: Promise<void> | null = null;
  /** Publishes handed to the backplane. */
  private backplanePublished = 0;
  /** Publishes received from other nodes. */
  private backplaneReceived = 0;

  constructor(options: HubOptions = {}) {
    this.backplane = options.backplane ?? null;
    this.options = options.broadcast ?? {};
    this.logger = options.logger === undefined ? console : options.logger;
  }

  /** Starts the backplane (once); rejects if it cannot connect. */
  start(): Promise<void> {
    this.starting ??= this.backplane ? this.backplane.start((message) => this.deliver(message)) : Promise.resolve();
    return this.starting;
  }

  /** Stops the backplane. */
  async close(): Promise<void> {
    if (this.backplane && this.starting) {
      await this.starting.catch(() => undefined);
      await this.backplane.close();
    }
  }

  /** Subscribes `ws` to `topic`; false if it already was. */
  subscribe(ws: Connection, topic: string): boolean {
    let topics = this.byConnection.get(ws);
    if (topics?.has(topic)) return false;
    if (topics === undefined) {
      this.byConnection.set(ws, (topics = new Set()));
      void ws.closed.then(() => this.unsubscribeAll(ws));
    }
    topics.add(topic);
    let subscribers = this.topicMap.get(topic);
    if (subscribers === undefined) {
      this.topicMap.set(topic, (subscribers = new Set()));
      this.backplane?.follow?.(topic);
    }
    subscribers.add(ws);
    return true;
  }

  /** Unsubscribes `ws` from `topic`; false if it was not subscribed. A topic left empty is dropped. */
  unsubscribe(ws: Connection, topic: string): boolean {
    const topics = this.byConnection.get(ws);
    if (topics === undefined || !topics.delete(topic)) return false;
    if (topics.size === 0) this.byConnection.delete(ws);
    this.leave(topic, ws);
    return true;
  }

  /** Unsubscribes `ws` from every topic (done automatically when it closes). */
  unsubscribeAll(ws: Connection): void {
    const topics = this.byConnection.get(ws);
    if (topics === undefined) return;
    this.byConnection.delete(ws);
    for (const topic of topics) this.leave(topic, ws);
  }

  /** Removes `ws` from the subscribers of `topic`, dropping the topic when it was the last. */
  private leave(topic: string, ws: Connection): void {
    const subscribers = this.topicMap.get(topic);
    if (subscribers === undefined || !subscribers.delete(ws) || subscribers.size > 0) return;
    this.topicMap.delete(topic);
    this.backplane?.unfollow?.(topic);
  }

  /** Whether `ws` is subscribed to `topic`. */
  isSubscribed(ws: Connection, topic: string): boolean {
    return this.byConnection.get(ws)?.has(topic) ?? false;
  }

  /** The topics `ws` is subscribed to. */
  topicsOf(ws: Connection): ReadonlySet<string> {
    return this.byConnection.get(ws) ?? EMPTY;
  }

  /** How many local connections are subscribed to `topic`. */
  subscribers(topic: string): number {
    return this.topicMap.get(topic)?.size ?? 0;
  }

  /** The topics with at least one local subscriber. */
  topics(): IterableIterator<string> {
    return this.topicMap.keys();
  }

  /** Number of topics with at least one local subscriber. */
  get size(): number {
    return this.topicMap.size;
  }

  /**
   * Publishes to every subscriber of `topic`: those of this node now (all but
   * `exclude`), those of other nodes through the backplane. Returns what the
   * local fan-out did.
   */
  publish(topic: string, message: BroadcastData, exclude: Connection | null = null): BroadcastResult {
    if (this.backplane !== null) {
      const data = typeof message === 'string' ? message : message instanceof ArrayBuffer ? Buffer.from(message) : Buffer.from(message);
      try {
        this.backplane.publish({ topic, data });
        this.backplanePublished++;
      } catch (error) {
        this.logger?.error('wskit: backplane publish failed:', error);
      }
    }
    return this.deliverLocal(topic, message, exclude);
  }

  /** Delivers to this node's subscribers only. */
  deliverLocal(topic: string, message: BroadcastData, exclude: Connection | null = null): BroadcastResult {
    const subscribers = this.topicMap.get(topic);
    if (subscribers === undefined) return { sent: 0, skipped: 0, closed: 0 };
    return broadcast(subscribers, message, exclude === null ? this.options : { ...this.options, exclude });
  }

  private deliver(message: BackplaneMessage): void {
    this.backplaneReceived++;
    this.deliverLocal(message.topic, message.data);
  }

  /** The backplane's state and what went through it, for the metrics; null without a backplane. */
  backplaneStatus(): { up: boolean; published: number; received: number; dropped: number | undefined } | null {
    const backplane = this.backplane;
    if (backplane === null) return null;
    return { up: backplane.ready ?? this.starting !== null, published: this.backplanePublished, received: this.backplaneReceived, dropped: backplane.dropped };
  }
}
