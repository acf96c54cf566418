/**
 * wskit in the browser: the same `connect()`, `send()`, `recv()`, async
 * iteration, reconnecting iteration and {@link ReconnectingClient} as on
 * Node, over the browser's native `WebSocket`. No Node imports; built by
 * tsconfig.browser.json into dist/browser/index.js (an ES module).
 *
 * Differences from Node, all the browser's: no custom headers, no protocol
 * pings (so no dead-peer detection; the browser or OS eventually notices),
 * and a failed handshake does not say why, so a 401 or 404 looks like a
 * network error and is retried with backoff (use `shouldRetry` or
 * `maxAttempts` to bound it). Binary messages arrive as `Uint8Array`.
 */
import type { ReconnectOptions } from '../client/backoff.js';
import { closeError, Connector, ReconnectingClientBase, type ReconnectingClientSettings } from '../client/reconnect.js';
import { InvalidHandshake, InvalidState, TimeoutError, type CloseInfo } from '../errors.js';

export * from '../errors.js';
export { backoffBound, backoffDelay, isRetryable, RECONNECT_DEFAULTS, ReconnectSchedule, type ReconnectOptions } from '../client/backoff.js';
export { SendQueue, SendQueueError, type OverflowPolicy, type SendQueueOptions } from '../client/send-queue.js';
export { Connector, type ClientCallbacks } from '../client/reconnect.js';
export * from '../client/topics-api.js';

/** A received message: text as a string, binary as a Uint8Array. */
export type BrowserMessage = string | Uint8Array;

/** What `send()` accepts in the browser. */
export type BrowserSendData = string | ArrayBuffer | ArrayBufferView | Blob;

/** Options of the browser {@link connect}. */
export interface BrowserConnectOptions {
  /** Subprotocols to offer, in order of preference. */
  subprotocols?: string[];
  /** Time allowed for the opening handshake, in ms. Default 10,000. */
  openTimeout?: number;
  /** `send()` waits while more than this many bytes are buffered. Default 64 KiB. */
  writeLimit?: number;
  /** Aborts opening (and reconnecting). */
  signal?: AbortSignal;
  /** Retry with backoff, as on Node: awaiting retries the first open, iterating reconnects unless false. */
  reconnect?: boolean | ReconnectOptions;
}

const OPEN = 1;

/** One connection over a native `WebSocket`, with wskit's promise API. */
export class BrowserConnection implements AsyncIterable<BrowserMessage> {
  /** The underlying browser WebSocket. */
  readonly socket: WebSocket;
  /** Resolves when the connection is closed, with the close code and reason. */
  readonly closed: Promise<CloseInfo>;
  private readonly messages: BrowserMessage[] = [];
  private waiter: { resolve: (m: BrowserMessage) => void; reject: (e: unknown) => void } | null = null;
  private info: CloseInfo | null = null;
  private readonly writeLimit: number;

  /** Wraps `socket`; listeners are attached at once, so no early message is missed. */
  constructor(socket: WebSocket, writeLimit = 64 * 1024) {
    this.socket = socket;
    this.writeLimit = writeLimit;
    socket.binaryType = 'arraybuffer';
    socket.addEventListener('message', (event: MessageEvent) => {
      const message: BrowserMessage = typeof event.data === 'string' ? event.data : new Uint8Array(event.data as ArrayBuffer);
      const waiter = this.waiter;
      this.waiter = null;
      if (waiter !== null) waiter.resolve(message);
      else this.messages.push(message);
    });
    this.closed = new Promise((resolve) => {
      socket.addEventListener('close', (event: CloseEvent) => {
        this.info = { code: event.code, reason: event.reason, wasClean: event.wasClean };
        this.waiter?.reject(closeError(this.info));
        this.waiter = null;
        resolve(this.info);
      });
    });
  }

  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  get readyState(): number {
    return this.socket.readyState;
  }

  /** The subprotocol the server chose, or null. */
  get subprotocol(): string | null {
    return this.socket.protocol === '' ? null : this.socket.protocol;
  }

  /** The negotiated extensions ('' if none). */
  get extensions(): string {
    return this.socket.extensions;
  }

  /** Bytes queued by `send()` and not yet sent. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  /** The close code received, once closed; else undefined. */
  get closeCode(): number | undefined {
    return this.info?.code;
  }

  /** The close reason received, once closed; else undefined. */
  get closeReason(): string | undefined {
    return this.info?.reason;
  }

  /** Sends a message; resolves once the browser's buffer is below `writeLimit`. */
  async send(data: BrowserSendData): Promise<void> {
    if (this.socket.readyState !== OPEN) throw this.notOpen();
    this.socket.send(data);
    // The browser gives no drain event: poll, as the WHATWG spec suggests for bufferedAmount.
    while (this.socket.bufferedAmount > this.writeLimit && this.socket.readyState === OPEN) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Waits for the next message; rejects with ConnectionClosedOK/Error once closed. */
  recv(): Promise<BrowserMessage> {
    if (this.messages.length > 0) return Promise.resolve(this.messages.shift()!);
    if (this.info !== null) return Promise.reject(closeError(this.info));
    if (this.waiter !== null) return Promise.reject(new InvalidState('recv() is already waiting for a message'));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Iterates over messages until the connection closes; a normal close ends the loop, an error throws. */
  async *[Symbol.asyncIterator](): AsyncIterator<BrowserMessage> {
    for (;;) {
      let message: BrowserMessage;
      try {
        message = await this.recv();
      } catch (error) {
        if ((error as { code?: string }).code === 'WS_CLOSED_OK') return;
        throw error;
      }
      yield message;
    }
  }

  /** Starts the closing handshake and resolves once closed (browsers allow 1000 and 3000–4999). */
  close(code = 1000, reason = ''): Promise<CloseInfo> {
    if (this.socket.readyState <= OPEN) this.socket.close(code, reason);
    return this.closed;
  }

  private notOpen(): Error {
    return this.info !== null ? closeError(this.info) : new InvalidState('connection is not open');
  }
}

/** Opens one connection (no retry); what awaiting {@link connect} does. */
export function openConnection(url: string | URL, options: BrowserConnectOptions = {}): Promise<BrowserConnection> {
  return new Promise((resolve, reject) => {
    let socket: WebSocket;
    try {
      socket = new WebSocket(url, options.subprotocols ?? []);
    } catch (error) {
      return reject(new InvalidHandshake(`invalid WebSocket URL: ${String(url)}`, 'WS_INVALID_URL', { cause: error }));
    }
    const connection = new BrowserConnection(socket, options.writeLimit);
    const timeout = options.openTimeout ?? 10_000;
    const fail = (error: unknown) => {
      cleanup();
      if (socket.readyState <= OPEN) socket.close();
      reject(error);
    };
    const onAbort = () => fail(options.signal!.reason);
    const onOpen = () => {
      cleanup();
      resolve(connection);
    };
    const timer = setTimeout(() => fail(new TimeoutError(`timed out opening ${String(url)} after ${timeout} ms`)), timeout);
    const cleanup = () => {
      clearTimeout(timer);
      socket.removeEventListener('open', onOpen);
      options.signal?.removeEventListener('abort', onAbort);
    };
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.addEventListener('open', onOpen);
    // The browser hides why a handshake failed (status, DNS, refused): one error for all.
    void connection.closed.then((info) => fail(new InvalidHandshake(`could not connect to ${String(url)} (close code ${info.code})`, 'WS_HANDSHAKE_FAILED')));
  });
}

/**
 * Opens a connection: await it for one, or iterate it for a new one after
 * each drop (`for await (const ws of connect(url, { reconnect: true }))`).
 */
export function connect(url: string | URL, options: BrowserConnectOptions = {}): Connector<BrowserConnection> {
  return new Connector(() => openConnection(url, options), options.reconnect, options.signal);
}

/** Options of the browser {@link ReconnectingClient}: those of `connect()`, callbacks, backoff and the send queue. */
export interface BrowserReconnectingClientOptions
  extends Omit<BrowserConnectOptions, 'reconnect'>,
    ReconnectingClientSettings<BrowserConnection, BrowserMessage> {}

/** A client that stays connected: callbacks, reconnection with backoff, and sends queued while offline. */
export class ReconnectingClient extends ReconnectingClientBase<BrowserConnection, BrowserMessage, BrowserSendData, BrowserReconnectingClientOptions> {
  constructor(url: string | URL, options: BrowserReconnectingClientOptions = {}) {
    super(url, options, openConnection);
  }
}
