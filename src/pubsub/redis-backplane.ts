/**
 * A Redis pub/sub backplane: a topic's publishes travel on the Redis channel
 * `<channel>:<topic>`, and each node subscribes (on a second, dedicated
 * connection) to the channels of the topics it has local subscribers to, so
 * Redis sends a node only what it can deliver.
 *
 * - `ioredis` is loaded lazily (dynamic import) when the backplane starts, so
 *   wskit itself does not depend on it; install it to use this backplane.
 * - Each envelope carries the sender's node id; a node drops its own (it has
 *   already delivered them locally), so there is no echo and no loop.
 * - Envelopes are binary (see `encodeEnvelope`): binary messages cross as is.
 * - After Redis restarts, ioredis reconnects and the node subscribes again to
 *   its topics' channels; local subscriptions live in the Hub and are untouched. Publishes made while
 *   Redis is unreachable reach this node's subscribers only (Redis pub/sub is
 *   at-most-once) and are counted in `dropped`.
 * - If Redis cannot be reached when the server starts, `serve()` rejects with
 *   an error naming the URL.
 */
import { randomUUID } from 'node:crypto';
import { decodeEnvelope, encodeEnvelope, type Backplane, type BackplaneMessage } from './backplane.js';

/** Options of {@link redisBackplane}. */
export interface RedisBackplaneOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379/0`. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** Prefix of the Redis channels: topic `t` travels on `<channel>:t`. Nodes share topics when they share it. Default `'wskit'`. */
  channel?: string;
  /** This node's identity. Default a random UUID. */
  nodeId?: string;
  /** Time allowed to connect, at start and on each reconnection, in ms. Default 5,000. */
  connectTimeout?: number;
  /** Longest wait between reconnection attempts, in ms. Default 2,000. */
  maxRetryDelay?: number;
  /** Extra ioredis options. */
  redisOptions?: Record<string, unknown>;
  /** Where connection errors are reported (once per outage). Default `console`; null silences them. */
  logger?: Pick<Console, 'error'> | null;
}

/** A Redis backplane, with its connection state. */
export interface RedisBackplane extends Backplane {
  /** Whether both Redis connections are up. */
  readonly ready: boolean;
  /** Publishes not sent to Redis because it was unreachable. */
  readonly dropped: number;
}

/** The part of an ioredis client used here (structural, so ioredis stays optional). */
interface RedisClientLike {
  status: string;
  connect(): Promise<void>;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  publish(channel: string, message: Buffer): Promise<unknown>;
  on(event: string, listener: (...args: never[]) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

type RedisConstructor = new (url: string, options: Record<string, unknown>) => RedisClientLike;

async function loadRedis(): Promise<RedisConstructor> {
  const name = 'ioredis';
  let module: { Redis?: RedisConstructor; default?: RedisConstructor };
  try {
    module = (await import(name)) as typeof module;
  } catch (error) {
    throw new Error('wskit: redisBackplane() needs the ioredis package (npm install ioredis)', { cause: error });
  }
  const Redis = module.Redis ?? module.default;
  if (typeof Redis !== 'function') throw new Error('wskit: the ioredis package does not export Redis');
  return Redis;
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/**
 * A backplane over Redis pub/sub, for servers in several processes or hosts:
 * `serve(handler, { backplane: redisBackplane({ url: 'redis://127.0.0.1:6379' }) })`.
 */
export function redisBackplane(options: RedisBackplaneOptions = {}): RedisBackplane {
  const url = options.url ?? 'redis://127.0.0.1:6379';
  const channel = options.channel ?? 'wskit';
  const nodeId = options.nodeId ?? randomUUID();
  const logger = options.logger === undefined ? console : options.logger;
  const maxRetryDelay = options.maxRetryDelay ?? 2000;
  let pub: RedisClientLike | null = null;
  let sub: RedisClientLike | null = null;
  let dropped = 0;
  let outage = false;
  let closing = false;
  const prefix = `${channel}:`;
  const channelOf = (topic: string): string => prefix + topic;
  // Topics with local subscribers, kept by the Hub through follow/unfollow, even before start or while Redis is down.
  const followed = new Set<string>();
  const subscribeFollowed = (client: RedisClientLike): Promise<unknown> =>
    followed.size > 0 ? client.subscribe(...[...followed].map(channelOf)) : Promise.resolve();

  // While start() runs, errors are kept for its own rejection rather than reported as an outage.
  let starting = false;
  let startError: Error | null = null;
  const report = (error: Error): void => {
    if (starting) {
      startError ??= error;
      return;
    }
    if (outage || closing) return;
    outage = true;
    logger?.error(`wskit: Redis backplane lost ${redact(url)}: ${error.message}; reconnecting`);
  };

  return {
    nodeId,
    get ready() {
      return pub?.status === 'ready' && sub?.status === 'ready';
    },
    get dropped() {
      return dropped;
    },
    async start(deliver: (message: BackplaneMessage) => void): Promise<void> {
      if (pub !== null) return;
      const Redis = await loadRedis();
      const settings: Record<string, unknown> = {
        lazyConnect: true,
        connectTimeout: options.connectTimeout ?? 5000,
        retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxRetryDelay),
        maxRetriesPerRequest: 2,
        ...options.redisOptions,
      };
      pub = new Redis(url, settings);
      sub = new Redis(url, settings);
      for (const client of [pub, sub]) {
        client.on('error', report as (...args: never[]) => void);
        client.on('ready', () => {
          if (outage && pub?.status === 'ready' && sub?.status === 'ready') outage = false;
        });
      }
      // ioredis resubscribes by itself after a reconnection, but not to channels whose SUBSCRIBE failed while Redis
      // was down: subscribing again to the whole set (idempotent in Redis) covers those.
      sub.on('ready', () => {
        if (!starting && sub?.status === 'ready') subscribeFollowed(sub).catch(noop);
      });
      starting = true;
      try {
        await Promise.all([pub.connect(), sub.connect()]);
        await subscribeFollowed(sub);
      } catch (error) {
        closing = true;
        pub.disconnect();
        sub.disconnect();
        pub = sub = null;
        // The socket's own error (ECONNREFUSED...) says more than ioredis's "Connection is closed."
        const cause = startError ?? (error as Error);
        throw new Error(`wskit: cannot connect to Redis at ${redact(url)}: ${cause.message}`, { cause });
      } finally {
        starting = false;
      }
      sub.on('messageBuffer', ((from: Buffer, bytes: Buffer) => {
        if (!from.toString().startsWith(prefix)) return;
        const envelope = decodeEnvelope(bytes);
        if (envelope === null || envelope.nodeId === nodeId) return;
        deliver(envelope.message);
      }) as (...args: never[]) => void);
    },
    publish(message: BackplaneMessage): void {
      if (pub === null || pub.status !== 'ready') {
        dropped++;
        return;
      }
      pub.publish(channelOf(message.topic), encodeEnvelope(nodeId, message)).catch((error: Error) => {
        dropped++;
        report(error);
      });
    },
    follow(topic: string): void {
      if (followed.has(topic)) return;
      followed.add(topic);
      // While Redis is down the 'ready' handler subscribes to the whole set.
      if (sub?.status === 'ready') sub.subscribe(channelOf(topic)).catch(noop);
    },
    unfollow(topic: string): void {
      if (!followed.delete(topic)) return;
      if (sub?.status === 'ready') sub.unsubscribe(channelOf(topic)).catch(noop);
    },
    async close(): Promise<void> {
      closing = true;
      const clients = [pub, sub].filter((c): c is RedisClientLike => c !== null);
      pub = sub = null;
      await Promise.all(
        clients.map(async (client) => {
          if (client.status !== 'ready') return client.disconnect();
          await Promise.race([client.quit().catch(() => client.disconnect()), new Promise((r) => setTimeout(r, 1000).unref())]);
          client.disconnect();
        }),
      );
    },
  };
}

function noop(): void {}
