/**
 * Staying connected, written once for the Node and browser clients: the
 * awaitable and async-iterable result of `connect()` (Python websockets'
 * `async for ws in connect(...)`), and a persistent callback client that
 * queues sends while offline (websocket-client's WebSocketApp, partysocket).
 * No Node or DOM APIs here: only timers, promises and the shared pure pieces.
 */
import { ConnectionClosedError, ConnectionClosedOK, InvalidState, type CloseInfo } from '../errors.js';
import { ReconnectSchedule, type ReconnectOptions } from './backoff.js';
import { isNormalCloseCode } from '../protocol/opcodes.js';
import { SendQueue, SendQueueError, type SendQueueOptions } from './send-queue.js';
import { TopicChannel, TopicError, type PublicationHandler, type PublishAck, type SubscribeOptions, type TopicClientOptions, type TopicData, type TopicSubscription } from './topics-client.js';
import { TOPICS_PROTOCOL } from './topics-wire.js';

/** What reconnecting needs of a connection; Node's `Connection` and the browser's both fit. */
export interface ClientConnection<M, D> extends AsyncIterable<M> {
  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  readonly readyState: number;
  /** Resolves once the connection is closed. */
  readonly closed: Promise<CloseInfo>;
  /** Sends a message. */
  send(data: D): Promise<void>;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): Promise<CloseInfo>;
  /** The subprotocol the server selected, or null. */
  readonly subprotocol?: string | null;
}

const OPEN = 1;
const noop = (): void => undefined;

/** The error a closed connection stands for: ConnectionClosedOK for a clean normal close, else ConnectionClosedError. */
export function closeError(info: CloseInfo): ConnectionClosedOK | ConnectionClosedError {
  return info.wasClean && isNormalCloseCode(info.code) ? new ConnectionClosedOK(info) : new ConnectionClosedError(info);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * What `connect()` returns: await it for one connection, or iterate it to get
 * a fresh connection after each drop.
 *
 * ```ts
 * const ws = await connect(url);                       // one connection
 * for await (const ws of connect(url, { reconnect: true })) {
 *   try {
 *     for await (const message of ws) console.log(message);
 *   } catch (error) {
 *     console.log('dropped', error);                    // then it reconnects
 *   }
 * }
 * ```
 *
 * The first attempt starts at once. Awaiting makes one attempt, or retries
 * with backoff until success when `reconnect` is set. Iterating reconnects
 * unless `reconnect` is false; the loop body owns each connection: when the
 * body returns (or breaks), a still open connection is closed with 1000.
 * Iteration ends when `signal` aborts and throws when retrying gives up.
 */
export class Connector<C extends ClientConnection<unknown, never>> implements Promise<C>, AsyncIterable<C> {
  /** Promise-compatible tag, so a Connector passes wherever a Promise is typed. */
  readonly [Symbol.toStringTag] = 'Connector';
  private readonly first: Promise<C>;
  private readonly schedule: ReconnectSchedule;

  /** @internal Use `connect()`. */
  constructor(
    private readonly open: () => Promise<C>,
    private readonly reconnect: boolean | ReconnectOptions | undefined,
    private readonly signal?: AbortSignal,
  ) {
    this.schedule = new ReconnectSchedule(typeof reconnect === 'object' ? reconnect : {});
    this.first = reconnect ? this.openWithRetry(0) : open();
    this.first.catch(noop); // awaited by the caller, who sees the error; never an unhandled rejection
  }

  /** Resolves with the connection (PromiseLike, so `await connect(url)` works). */
  then<T = C, E = never>(
    onfulfilled?: ((ws: C) => T | PromiseLike<T>) | null,
    onrejected?: ((reason: unknown) => E | PromiseLike<E>) | null,
  ): Promise<T | E> {
    return this.first.then(onfulfilled, onrejected);
  }

  /** Like Promise.prototype.catch. */
  catch<E = never>(onrejected?: ((reason: unknown) => E | PromiseLike<E>) | null): Promise<C | E> {
    return this.first.catch(onrejected);
  }

  /** Like Promise.prototype.finally. */
  finally(onfinally?: (() => void) | null): Promise<C> {
    return this.first.finally(onfinally);
  }

  /** Yields a connection, and a new one each time the previous one closes. */
  async *[Symbol.asyncIterator](): AsyncGenerator<C, void, undefined> {
    let pending = this.first;
    let retrying = Boolean(this.reconnect);
    for (;;) {
      let ws: C;
      try {
        ws = await pending;
      } catch (error) {
        if (this.signal?.aborted) return;
        if (retrying || this.reconnect === false) throw error;
        const delay = this.schedule.failed(error);
        if (delay === null) throw error;
        ws = await this.openWithRetry(delay);
      }
      try {
        yield ws;
      } finally {
        if (ws.readyState <= OPEN) await ws.close(1000).catch(noop);
      }
      const info = await ws.closed;
      if (this.reconnect === false || this.signal?.aborted) return;
      pending = this.openWithRetry(this.schedule.closed(info, closeError(info)));
      retrying = true;
    }
  }

  private async openWithRetry(delay: number): Promise<C> {
    for (;;) {
      if (delay > 0) await sleep(delay, this.signal);
      try {
        const ws = await this.open();
        this.schedule.opened();
        return ws;
      } catch (error) {
        const next = this.signal?.aborted ? null : this.schedule.failed(error);
        if (next === null) throw error;
        delay = next;
      }
    }
  }
}

/** Callbacks of a {@link ReconnectingClientBase}; each may also be assigned as a property later. */
export interface ClientCallbacks<C, M> {
  /** A connection opened (the first or a new one); sends made here go before the queued messages. */
  onOpen?: ((ws: C) => void) | null;
  /** A message arrived. */
  onMessage?: ((message: M, ws: C) => void) | null;
  /** A connection closed, with what was received. */
  onClose?: ((info: CloseInfo) => void) | null;
  /** An attempt to connect failed, queued messages were dropped, a callback threw, or retrying gave up. */
  onError?: ((error: unknown) => void) | null;
  /** A reconnection attempt (1, 2, ...) is due in `delay` ms. */
  onReconnect?: ((attempt: number, delay: number) => void) | null;
}

/** Options of a reconnecting client besides those of a single connection. */
export interface ReconnectingClientSettings<C, M> extends ClientCallbacks<C, M> {
  /** Backoff and retry policy. */
  reconnect?: ReconnectOptions;
  /** Bounds of the queue of messages sent while disconnected. */
  queue?: SendQueueOptions;
  /**
   * Speak the `wskit.topics.v1` subprotocol (docs/topics-protocol.md): `subscribe()` with resume on every
   * reconnection, `publish()` with acknowledgements. The subprotocol is offered first; messages go to the topic
   * handlers instead of `onMessage`. Default off.
   */
  topics?: boolean | TopicClientOptions;
}

/**
 * A client that stays connected: it reconnects with backoff after every drop
 * until `close()`, reports through callbacks, and queues `send()` while
 * disconnected, flushing the queue in order on the next connection.
 *
 * Delivery is at most once: a message handed to a connection that then drops
 * may be lost with it (acknowledge at the application level if that matters),
 * but a queued message is sent exactly once, and one that cannot be (queue
 * full, `close()`) is reported to `onError` as a {@link SendQueueError}.
 */
export class ReconnectingClientBase<C extends ClientConnection<M, D>, M, D, S extends ReconnectingClientSettings<C, M> = ReconnectingClientSettings<C, M>> {
  /** See {@link ClientCallbacks.onOpen}. */
  onOpen: ((ws: C) => void) | null;
  /** See {@link ClientCallbacks.onMessage}. */
  onMessage: ((message: M, ws: C) => void) | null;
  /** See {@link ClientCallbacks.onClose}. */
  onClose: ((info: CloseInfo) => void) | null;
  /** See {@link ClientCallbacks.onError}. */
  onError: ((error: unknown) => void) | null;
  /** See {@link ClientCallbacks.onReconnect}. */
  onReconnect: ((attempt: number, delay: number) => void) | null;
  /** Resolves once the client has stopped: after `close()`, or when retrying gave up (see `error`). */
  readonly closed: Promise<void>;
  /** The URL connected to. */
  readonly url: string;

  private ws: C | null = null;
  private stopped = false;
  private closeCode = 1000;
  private closeReason = '';
  private inOpen = false;
  private fatal: unknown = undefined;
  private wake: (() => void) | null = null;
  private readonly queue: SendQueue<D>;
  private readonly schedule: ReconnectSchedule;
  private readonly topics: TopicChannel | null = null;

  /** @internal Subclasses pass how to open one connection to `url` with `settings`. */
  constructor(url: string | URL, settings: S, open: (url: string | URL, settings: S) => Promise<C>) {
    this.url = String(url);
    this.onOpen = settings.onOpen ?? null;
    this.onMessage = settings.onMessage ?? null;
    this.onClose = settings.onClose ?? null;
    this.onError = settings.onError ?? null;
    this.onReconnect = settings.onReconnect ?? null;
    this.queue = new SendQueue(settings.queue);
    const userRetry = settings.reconnect?.onRetry;
    this.schedule = new ReconnectSchedule({
      ...settings.reconnect,
      onRetry: (attempt, delay, reason) => {
        userRetry?.(attempt, delay, reason);
        this.call(this.onReconnect, attempt, delay);
      },
    });
    let opened = settings;
    if (settings.topics) {
      this.topics = new TopicChannel(
        {
          sendFrame: (frame) => {
            const ws = this.ws;
            if (ws === null || ws.readyState !== OPEN) return false;
            this.write(ws, frame as D);
            return true;
          },
          report: (error) => this.report(error),
          call: (callback, ...args) => this.call(callback, ...args),
        },
        typeof settings.topics === 'object' ? settings.topics : {},
      );
      const offered = (settings as { subprotocols?: string[] }).subprotocols ?? [];
      opened = { ...settings, subprotocols: [TOPICS_PROTOCOL, ...offered.filter((p) => p !== TOPICS_PROTOCOL)] };
    }
    this.closed = this.run(() => open(url, opened));
  }

  /**
   * Subscribes to a topic (needs the `topics` option): `handler` gets each publication once, in order, across
   * reconnections; after each reconnection the server replays what was missed, or `onSubscribed` is told
   * `recovered: false`.
   */
  subscribe(topic: string, handler: PublicationHandler, options?: SubscribeOptions): TopicSubscription {
    return this.topicChannel().subscribe(topic, handler, options);
  }

  /**
   * Publishes to a topic (needs the `topics` option and the server's permission): resolves with the position once
   * the server has it. Sent again after a reconnection until acknowledged; the server keeps it once.
   */
  publish(topic: string, data: TopicData): Promise<PublishAck> {
    return this.topicChannel().publish(topic, data);
  }

  /** Publishes waiting for their acknowledgement. */
  get pendingPublishes(): number {
    return this.topics?.pendingPublishes ?? 0;
  }

  private topicChannel(): TopicChannel {
    if (this.topics === null) throw new InvalidState('subscribe() and publish() need the topics option: new ReconnectingClient(url, { topics: true })');
    return this.topics;
  }

  /** The current connection, or null while disconnected. */
  get connection(): C | null {
    return this.ws;
  }

  /** Whether a connection is open now. */
  get connected(): boolean {
    return this.ws !== null && this.ws.readyState === OPEN;
  }

  /** Messages waiting for a connection. */
  get queued(): number {
    return this.queue.length;
  }

  /** Bytes waiting for a connection. */
  get queuedBytes(): number {
    return this.queue.bytes;
  }

  /** Why the client stopped on its own (the error retrying could not fix), if it did. */
  get error(): unknown {
    return this.fatal;
  }

  /**
   * Sends now if connected, else queues until the next connection. With the
   * 'throw' overflow policy a full queue throws {@link SendQueueError}; with
   * the drop policies the dropped messages are reported to `onError`.
   */
  send(data: D): void {
    if (this.stopped) throw new InvalidState('the client is closed');
    const ws = this.ws;
    if (ws !== null && ws.readyState === OPEN && (this.queue.length === 0 || this.inOpen)) {
      this.write(ws, data);
      return;
    }
    const dropped = this.queue.push(data);
    if (dropped.length > 0) {
      this.report(new SendQueueError(`send queue full: dropped ${dropped.length} message(s)`, 'WS_QUEUE_FULL', dropped));
    }
  }

  /** Stops reconnecting and closes the connection; queued messages are reported to `onError` as discarded. */
  async close(code = 1000, reason = ''): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.closeCode = code;
      this.closeReason = reason;
      this.wake?.();
      if (this.ws !== null) await this.ws.close(code, reason).catch(noop);
    }
    await this.closed;
  }

  private async run(open: () => Promise<C>): Promise<void> {
    let delay = 0;
    try {
      while (!this.stopped) {
        if (delay > 0) await this.pause(delay);
        if (this.stopped) break;
        let ws: C;
        try {
          ws = await open();
        } catch (error) {
          if (this.stopped) break;
          this.report(error);
          const next = this.schedule.failed(error);
          if (next === null) {
            this.fatal = error;
            break;
          }
          delay = next;
          continue;
        }
        if (this.stopped) {
          await ws.close(this.closeCode, this.closeReason).catch(noop);
          break;
        }
        this.schedule.opened();
        const info = await this.serve(ws);
        this.ws = null;
        this.call(this.onClose, info);
        if (this.stopped) break;
        delay = this.schedule.closed(info, closeError(info));
      }
    } finally {
      this.stopped = true;
      this.topics?.stop(new InvalidState('the client is closed'));
      const discarded = this.queue.clear();
      if (discarded.length > 0) {
        this.report(new SendQueueError(`${discarded.length} queued message(s) discarded: the client stopped`, 'WS_QUEUE_DISCARDED', discarded));
      }
    }
  }

  private async serve(ws: C): Promise<CloseInfo> {
    this.ws = ws;
    this.inOpen = true;
    try {
      this.call(this.onOpen, ws);
    } finally {
      this.inOpen = false;
    }
    const topics = this.topics;
    if (topics !== null) {
      if (ws.subprotocol !== TOPICS_PROTOCOL) {
        this.report(new TopicError(`the server did not select the ${TOPICS_PROTOCOL} subprotocol`, 'WS_NO_TOPICS', ''));
        await ws.close(1002, `${TOPICS_PROTOCOL} expected`).catch(noop);
      } else topics.opened();
    }
    // Flush synchronously: no send() can slip in between, so the order is kept.
    while (this.queue.length > 0 && ws.readyState === OPEN) this.write(ws, this.queue.shift()!);
    try {
      if (topics !== null) {
        // A handler's promise holds the next read: the connection's queue fills and reading the socket pauses.
        for await (const message of ws) await topics.receive(message as string | Uint8Array);
      }
      else for await (const message of ws) this.call(this.onMessage, message, ws);
    } catch {
      // An abnormal closure; onClose reports it.
    }
    return ws.closed;
  }

  private write(ws: C, data: D): void {
    ws.send(data).catch((error: unknown) => this.report(error));
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private call<A extends unknown[]>(callback: ((...args: A) => unknown) | null, ...args: A): Promise<void> | undefined {
    if (callback === null) return undefined;
    try {
      const result = callback.apply(this, args);
      if (typeof (result as Promise<unknown> | undefined)?.then !== 'function') return undefined;
      return (result as Promise<unknown>).then(noop, (error: unknown) => this.report(error));
    } catch (error) {
      if (this.onError === null || (callback as unknown) === this.onError) queueMicrotask(() => { throw error; });
      else this.report(error);
    }
  }

  private report(error: unknown): void {
    if (this.onError !== null) this.call(this.onError, error);
  }
}
