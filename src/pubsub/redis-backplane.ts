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
import { RedisPubSub, type RedisConnectionOptions } from './redis-connection.js';
import { decodeEnvelope, encodeEnvelope, type Backplane, type BackplaneMessage, type PublishTimes } from './backplane.js';

/** Options of {@link redisBackplane}. */
export interface RedisBackplaneOptions extends RedisConnectionOptions {
  /** Prefix of the Redis channels: topic `t` travels on `<channel>:t`. Nodes share topics when they share it. Default `'wskit'`. */
  channel?: string;
  /** This node's identity. Default a random UUID. */
  nodeId?: string;
}

/** A Redis backplane, with its connection state. */
export interface RedisBackplane extends Backplane {
  /** Whether both Redis connections are up. */
  readonly ready: boolean;
  /** Publishes not sent to Redis because it was unreachable. */
  readonly dropped: number;
}

/**
 * A backplane over Redis pub/sub, for servers in several processes or hosts:
 * `serve(handler, { backplane: redisBackplane({ url: 'redis://127.0.0.1:6379' }) })`.
 */
export function redisBackplane(options: RedisBackplaneOptions = {}): RedisBackplane {
  const channel = options.channel ?? 'wskit';
  const nodeId = options.nodeId ?? randomUUID();
  const redis = new RedisPubSub(options, 'Redis backplane', 'redisBackplane()');
  let dropped = 0;
  // Set by a server with metrics on: each PUBLISH's round trip to Redis is recorded.
  let publishTimes: PublishTimes | null = null;
  const prefix = `${channel}:`;
  const channelOf = (topic: string): string => prefix + topic;

  return {
    nodeId,
    get ready() {
      return redis.ready;
    },
    get dropped() {
      return dropped;
    },
    start(deliver: (message: BackplaneMessage) => void): Promise<void> {
      return redis.start((from, bytes) => {
        if (!from.toString().startsWith(prefix)) return;
        const envelope = decodeEnvelope(bytes);
        if (envelope === null || envelope.nodeId === nodeId) return;
        deliver(envelope.message);
      });
    },
    publish(message: BackplaneMessage): void {
      const pub = redis.pub;
      if (pub === null || pub.status !== 'ready') {
        dropped++;
        return;
      }
      const published = pub.publish(channelOf(message.topic), encodeEnvelope(nodeId, message));
      if (publishTimes !== null) {
        const histogram = publishTimes;
        const started = performance.now();
        void published.then(() => histogram.observe((performance.now() - started) / 1000), noop);
      }
      published.catch((error: Error) => {
        dropped++;
        redis.report(error);
      });
    },
    measure(histogram: PublishTimes): void {
      publishTimes = histogram;
    },
    follow(topic: string): void {
      // Local delivery does not wait for Redis: a publish from another node may miss a subscriber of a few ms.
      void redis.follow(channelOf(topic));
    },
    unfollow(topic: string): void {
      redis.unfollow(channelOf(topic));
    },
    close(): Promise<void> {
      return redis.close();
    },
  };
}

function noop(): void {}
