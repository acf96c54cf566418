/**
 * What the Redis backplane and the Redis history share: loading the optional `ioredis` package, the connection
 * settings (reconnect with capped backoff), outage reports once per outage, and a bounded close.
 */

/** The part of an ioredis client used by wskit (structural, so ioredis stays optional). */
export interface RedisClientLike {
  status: string;
  connect(): Promise<void>;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  publish(channel: string, message: Buffer): Promise<unknown>;
  on(event: string, listener: (...args: never[]) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** An ioredis client's constructor. */
type RedisConstructor = new (url: string, options: Record<string, unknown>) => RedisClientLike;

/** Options of the Redis connections, shared by `redisBackplane()` and `redisHistory()`. */
export interface RedisConnectionOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379/0`. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** Time allowed to connect, at start and on each reconnection, in ms. Default 5,000. */
  connectTimeout?: number;
  /** Longest wait between reconnection attempts, in ms. Default 2,000. */
  maxRetryDelay?: number;
  /** Extra ioredis options. */
  redisOptions?: Record<string, unknown>;
  /** Where connection errors are reported (once per outage). Default `console`; null silences them. */
  logger?: Pick<Console, 'error'> | null;
}

/** Loads ioredis, or throws an error saying that `factory` needs it. */
async function loadRedis(factory: string): Promise<RedisConstructor> {
  const name = 'ioredis';
  let module: { Redis?: RedisConstructor; default?: RedisConstructor };
  try {
    module = (await import(name)) as typeof module;
  } catch (error) {
    throw new Error(`wskit: ${factory} needs the ioredis package (npm install ioredis)`, { cause: error });
  }
  const Redis = module.Redis ?? module.default;
  if (typeof Redis !== 'function') throw new Error('wskit: the ioredis package does not export Redis');
  return Redis;
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** The ioredis settings: connect lazily, retry with backoff 50 ms doubling up to `maxRetryDelay`, then `redisOptions`. */
function redisSettings(options: RedisConnectionOptions): Record<string, unknown> {
  const maxRetryDelay = options.maxRetryDelay ?? 2000;
  return {
    lazyConnect: true,
    connectTimeout: options.connectTimeout ?? 5000,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxRetryDelay),
    maxRetriesPerRequest: 2,
    ...options.redisOptions,
  };
}

/** Quits each client, disconnecting any that does not answer within a second. */
async function closeRedisClients(clients: Array<RedisClientLike | null>): Promise<void> {
  await Promise.all(
    clients.map(async (client) => {
      if (client === null) return;
      if (client.status !== 'ready') return client.disconnect();
      await Promise.race([client.quit().catch(() => client.disconnect()), new Promise((r) => setTimeout(r, 1000).unref())]);
      client.disconnect();
    }),
  );
}

/**
 * Reports connection errors once per outage: errors during a start are kept for the start's own rejection, later
 * ones print one line until every connection is back.
 */
class OutageReporter {
  starting = false;
  closing = false;
  startError: Error | null = null;
  private outage = false;

  constructor(
    private readonly url: string,
    private readonly what: string,
    private readonly logger: Pick<Console, 'error'> | null,
  ) {}

  report(error: Error): void {
    if (this.starting) {
      this.startError ??= error;
      return;
    }
    if (this.outage || this.closing) return;
    this.outage = true;
    this.logger?.error(`wskit: ${this.what} lost ${redact(this.url)}: ${error.message}; reconnecting`);
  }

  up(): void {
    this.outage = false;
  }
}

/**
 * Two Redis connections: `pub` for commands and `sub` subscribed to the channels of the followed set. The set is
 * kept even before the start and while Redis is down, and subscribed again in full after every reconnection
 * (ioredis resubscribes by itself, but not to channels whose SUBSCRIBE failed while Redis was down).
 */
export class RedisPubSub {
  /** The command connection (null until started). */
  pub: RedisClientLike | null = null;
  /** The subscriber connection (null until started). */
  sub: RedisClientLike | null = null;
  /** Channels subscribed to. */
  readonly followed = new Set<string>();
  /** The URL connected to. */
  readonly url: string;
  private readonly reporter: OutageReporter;

  /** `what` names the user in outage messages ("Redis backplane"), `factory` in the one asking for ioredis ("redisBackplane()"). */
  constructor(
    private readonly options: RedisConnectionOptions,
    what: string,
    private readonly factory: string,
  ) {
    this.url = options.url ?? 'redis://127.0.0.1:6379';
    this.reporter = new OutageReporter(this.url, what, options.logger === undefined ? console : options.logger);
  }

  /** Whether both connections are up. */
  get ready(): boolean {
    return this.pub?.status === 'ready' && this.sub?.status === 'ready';
  }

  /** Reports an error (once per outage). */
  report(error: Error): void {
    this.reporter.report(error);
  }

  /**
   * Connects both, subscribes to the followed channels and hands messages to `onMessage`; `onResubscribed` runs
   * after each reconnection of the subscriber, once its channels are subscribed again. Rejects with an error naming
   * the URL and the socket's own error (ECONNREFUSED...), which says more than ioredis's "Connection is closed.".
   */
  async start(onMessage: (channel: Buffer, bytes: Buffer) => void, onResubscribed?: () => void): Promise<void> {
    if (this.pub !== null) return;
    const Redis = await loadRedis(this.factory);
    const settings = redisSettings(this.options);
    const pub = (this.pub = new Redis(this.url, settings));
    const sub = (this.sub = new Redis(this.url, settings));
    const reporter = this.reporter;
    for (const client of [pub, sub]) {
      client.on('error', ((error: Error) => reporter.report(error)) as (...args: never[]) => void);
      client.on('ready', () => {
        if (this.ready) reporter.up();
      });
    }
    sub.on('ready', () => {
      if (reporter.starting || sub.status !== 'ready') return;
      this.subscribeFollowed(sub).then(() => onResubscribed?.(), noop);
    });
    reporter.starting = true;
    try {
      await Promise.all([pub.connect(), sub.connect()]);
      await this.subscribeFollowed(sub);
    } catch (error) {
      reporter.closing = true;
      pub.disconnect();
      sub.disconnect();
      this.pub = this.sub = null;
      const cause = reporter.startError ?? (error as Error);
      throw new Error(`wskit: cannot connect to Redis at ${redact(this.url)}: ${cause.message}`, { cause });
    } finally {
      reporter.starting = false;
    }
    sub.on('messageBuffer', onMessage as (...args: never[]) => void);
  }

  /** Subscribes to `channel`; resolves once subscribed (at once while Redis is down: the reconnection subscribes). */
  async follow(channel: string): Promise<void> {
    if (this.followed.has(channel)) return;
    this.followed.add(channel);
    if (this.sub?.status === 'ready') await this.sub.subscribe(channel).catch(noop);
  }

  /** Unsubscribes from `channel`. */
  unfollow(channel: string): void {
    if (!this.followed.delete(channel)) return;
    if (this.sub?.status === 'ready') this.sub.unsubscribe(channel).catch(noop);
  }

  /** Quits both connections. */
  async close(): Promise<void> {
    this.reporter.closing = true;
    const clients = [this.pub, this.sub];
    this.pub = this.sub = null;
    await closeRedisClients(clients);
  }

  private subscribeFollowed(client: RedisClientLike): Promise<unknown> {
    return this.followed.size > 0 ? client.subscribe(...this.followed) : Promise.resolve();
  }
}

function noop(): void {}
