/**
 * The standard `WebSocket` (WHATWG HTML §9.3, the browser's API) over wskit's client, for code written against the
 * browser's object: libraries that take a WebSocket implementation (graphql-ws's `webSocketImpl`, y-websocket's
 * `WebSocketPolyfill`, partysocket, isomorphic-ws users). Events, states, errors and close-code rules follow the
 * specification and Chromium; the third constructor argument takes the Node extras of {@link connect}.
 */
import { ProtocolError } from '../errors.js';
import { openConnection, type ConnectOptions } from './client.js';
import type { Connection } from './connection.js';
import type { Message } from './types.js';

/** How binary messages are delivered: a Node `Buffer`, an `ArrayBuffer`, or a `Blob` (the browser's default). */
export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'blob';

/** The Node extras of {@link WebSocket}: every {@link connect} option but those the constructor's arguments set. */
export type WebSocketOptions = Omit<ConnectOptions, 'subprotocols' | 'reconnect' | 'signal'>;

/** What `send()` takes: text, bytes or a Blob (anything else is sent as its string, as browsers do). */
export type WebSocketData = string | ArrayBufferLike | ArrayBufferView | Blob;

/** The settings every event takes (the DOM's EventInit, which Node's types do not name). */
interface BaseEventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

/** The settings of a {@link CloseEvent}. */
export interface CloseEventInit extends BaseEventInit {
  /** The close code. */
  code?: number;
  /** The close reason. */
  reason?: string;
  /** Whether the closing handshake completed. */
  wasClean?: boolean;
}

/** The `close` event of a {@link WebSocket}: the code and reason the connection closed with. */
export class CloseEvent extends Event {
  /** The close code: the peer's, 1005 if its close frame had none, 1006 if the connection dropped or never opened. */
  readonly code: number;
  /** The close reason ('' if none). */
  readonly reason: string;
  /** Whether the closing handshake completed. */
  readonly wasClean: boolean;
  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
    this.wasClean = init.wasClean ?? false;
  }
}

/** The `error` event of a {@link WebSocket}. Browsers tell nothing; in Node, `error` says what went wrong. */
export class ErrorEvent extends Event {
  /** What went wrong (a connection error, an HTTP status, a protocol violation). */
  readonly error: unknown;
  /** The error's message. */
  readonly message: string;
  constructor(type: string, init: BaseEventInit & { error?: unknown; message?: string } = {}) {
    super(type, init);
    this.error = init.error;
    this.message = init.message ?? '';
  }
}

/** An `on<event>` handler. */
export type WebSocketEventHandler<E extends Event> = ((this: WebSocket, event: E) => unknown) | null;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const BINARY_TYPES: ReadonlySet<string> = new Set(['nodebuffer', 'arraybuffer', 'blob']);
// RFC 7230 §3.2.6 token: a subprotocol name.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * A WebSocket with the browser's API, in Node:
 *
 * ```ts
 * const ws = new WebSocket('ws://127.0.0.1:8765', 'chat', { headers: { Authorization: 'Bearer x' } });
 * ws.binaryType = 'arraybuffer';
 * ws.onopen = () => ws.send('hello');
 * ws.onmessage = (event) => console.log(event.data);
 * ws.onclose = (event) => console.log(event.code, event.reason, event.wasClean);
 * ```
 */
export class WebSocket extends EventTarget {
  /** The connection is being opened. */
  static readonly CONNECTING = 0;
  /** The connection is open. */
  static readonly OPEN = 1;
  /** The closing handshake has started. */
  static readonly CLOSING = 2;
  /** The connection is closed or could not be opened. */
  static readonly CLOSED = 3;
  /** The connection is being opened. */
  declare readonly CONNECTING: 0;
  /** The connection is open. */
  declare readonly OPEN: 1;
  /** The closing handshake has started. */
  declare readonly CLOSING: 2;
  /** The connection is closed or could not be opened. */
  declare readonly CLOSED: 3;

  /** The URL, resolved (http: and https: become ws: and wss:). */
  readonly url: string;
  private state: number = CONNECTING;
  private connection: Connection | null = null;
  private subprotocol = '';
  private extensionList = '';
  private binary: BinaryType = 'blob';
  private readonly origin: string;
  private readonly abort = new AbortController();
  private readonly handlers = new Map<string, { handler: (this: WebSocket, event: Event) => unknown; listener: (event: Event) => void }>();
  // Bytes send() accepted: waiting behind a Blob being read, handed to the connection and not yet written below its
  // limit, and sent after the close started (which browsers count and never send).
  private waiting = 0;
  private writing = 0;
  private discarded = 0;
  private blobChain: Promise<void> | null = null;

  /**
   * Opens a connection to `url` (ws:, wss:, http: or https:) offering `protocols`. Throws a `SyntaxError`
   * DOMException for an invalid URL or subprotocol list, as browsers do; a failure to connect is reported by an
   * `error` then a `close` event (1006).
   */
  constructor(url: string | URL, protocols?: string | string[], options?: WebSocketOptions);
  /** `new WebSocket(url, options)`, as `ws` takes it. */
  constructor(url: string | URL, options?: WebSocketOptions);
  constructor(url: string | URL, protocols?: string | string[] | WebSocketOptions, options: WebSocketOptions = {}) {
    super();
    if (protocols !== undefined && typeof protocols === 'object' && !Array.isArray(protocols)) {
      options = protocols;
      protocols = undefined;
    }
    const parsed = parseUrl(url);
    this.url = parsed.href;
    this.origin = parsed.origin;
    const offered = protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : [...protocols].map(String);
    for (const [i, protocol] of offered.entries()) {
      if (!TOKEN.test(protocol)) throw new DOMException(`The subprotocol '${protocol}' is invalid.`, 'SyntaxError');
      if (offered.indexOf(protocol) !== i) throw new DOMException(`The subprotocol '${protocol}' is duplicated.`, 'SyntaxError');
    }
    void this.run(parsed, offered, options);
  }

  /** {@link WebSocket.CONNECTING}, {@link WebSocket.OPEN}, {@link WebSocket.CLOSING} or {@link WebSocket.CLOSED}. */
  get readyState(): number {
    return this.state;
  }

  /** The subprotocol the server chose ('' if none or not yet open). */
  get protocol(): string {
    return this.subprotocol;
  }

  /** The extensions the server accepted, as its `Sec-WebSocket-Extensions` header said ('' if none). */
  get extensions(): string {
    return this.extensionList;
  }

  /** How binary messages arrive: 'blob' (the default, as in browsers), 'arraybuffer' or 'nodebuffer'. */
  get binaryType(): BinaryType {
    return this.binary;
  }

  set binaryType(value: BinaryType) {
    // An enumeration attribute ignores values outside it (WebIDL).
    if (BINARY_TYPES.has(value)) this.binary = value;
  }

  /**
   * Bytes of data passed to `send()` and not yet written to the socket (up to its write limit), plus those passed
   * after the close started, which are never sent (as in browsers).
   */
  get bufferedAmount(): number {
    return this.waiting + this.writing + this.discarded;
  }

  /** Called on `open`. */
  get onopen(): WebSocketEventHandler<Event> {
    return this.getHandler('open');
  }
  set onopen(handler: WebSocketEventHandler<Event>) {
    this.setHandler('open', handler);
  }
  /** Called on each `message`; `event.data` is a string or, per {@link binaryType}, bytes. */
  get onmessage(): WebSocketEventHandler<MessageEvent> {
    return this.getHandler('message');
  }
  set onmessage(handler: WebSocketEventHandler<MessageEvent>) {
    this.setHandler('message', handler);
  }
  /** Called on `error`, just before `close`, when the connection could not be opened or the peer broke the protocol. */
  get onerror(): WebSocketEventHandler<Event> {
    return this.getHandler('error');
  }
  set onerror(handler: WebSocketEventHandler<Event>) {
    this.setHandler('error', handler);
  }
  /** Called on `close`. */
  get onclose(): WebSocketEventHandler<CloseEvent> {
    return this.getHandler('close');
  }
  set onclose(handler: WebSocketEventHandler<CloseEvent>) {
    this.setHandler('close', handler);
  }

  /**
   * Sends `data`: a string as text, bytes or a Blob as binary, in order. Throws an `InvalidStateError`
   * DOMException while connecting; after the close started, the data is dropped (and counted in bufferedAmount).
   */
  send(data: WebSocketData): void {
    if (this.state === CONNECTING) throw new DOMException("Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.", 'InvalidStateError');
    const payload: string | Uint8Array | Blob =
      typeof data === 'string' || data instanceof Blob
        ? data
        : ArrayBuffer.isView(data)
          ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
          : isArrayBuffer(data)
            ? new Uint8Array(data)
            : String(data);
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload instanceof Blob ? payload.size : payload.byteLength;
    if (this.state !== OPEN) {
      this.discarded += size;
      return;
    }
    if (!(payload instanceof Blob) && this.blobChain === null) {
      this.transmit(payload, size);
      return;
    }
    // A Blob is read asynchronously; what is sent after it waits, to keep the order.
    this.waiting += size;
    const previous = this.blobChain ?? Promise.resolve();
    const current = previous.then(async () => {
      const bytes = payload instanceof Blob ? new Uint8Array(await payload.arrayBuffer()) : payload;
      this.waiting -= size;
      if (this.state === OPEN) this.transmit(bytes, size);
    });
    this.blobChain = current;
    void current.then(
      () => {
        if (this.blobChain === current) this.blobChain = null;
      },
      () => undefined,
    );
  }

  /**
   * Starts the closing handshake with `code` (1000 or 3000–4999; none sends a close frame without a code) and
   * `reason` (at most 123 bytes of UTF-8); while connecting, abandons the connection. Throws an `InvalidAccessError`
   * or `SyntaxError` DOMException for a code or reason a browser refuses.
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined) {
      code = clampToUnsignedShort(code);
      if (code !== 1000 && (code < 3000 || code > 4999)) {
        throw new DOMException(
          `Failed to execute 'close' on 'WebSocket': The close code must be either 1000, or between 3000 and 4999. ${code} is neither.`,
          'InvalidAccessError',
        );
      }
    }
    if (reason !== undefined) {
      reason = String(reason);
      if (Buffer.byteLength(reason) > 123) {
        throw new DOMException("Failed to execute 'close' on 'WebSocket': The close reason must not be greater than 123 UTF-8 bytes.", 'SyntaxError');
      }
    }
    if (this.state === CLOSING || this.state === CLOSED) return;
    const connecting = this.state === CONNECTING;
    this.state = CLOSING;
    if (connecting) {
      this.abort.abort(new DOMException('WebSocket was closed before the connection was established', 'AbortError'));
      return;
    }
    // A reason without a code is sent with 1000; no code at all, as an empty close frame (1005).
    void this.connection!.close(code ?? (reason ? 1000 : 1005), reason ?? '').catch(() => undefined);
  }

  private async run(url: URL, protocols: string[], options: WebSocketOptions): Promise<void> {
    let connection: Connection;
    try {
      connection = await openConnection(url, { ...options, subprotocols: protocols, signal: this.abort.signal });
    } catch (error) {
      this.finish(1006, '', false, error, true);
      return;
    }
    if (this.state !== CONNECTING) {
      // close() came after the handshake succeeded but before this continuation ran.
      connection.terminate();
      this.finish(1006, '', false, this.abort.signal.reason, true);
      return;
    }
    this.connection = connection;
    this.subprotocol = connection.subprotocol ?? '';
    this.extensionList = connection.extensions;
    this.state = OPEN;
    this.dispatchEvent(new Event('open'));
    let failure: unknown;
    try {
      for await (const message of connection) this.deliver(message);
    } catch (error) {
      failure = error;
    }
    const info = await connection.closed;
    // As in Chromium: 'error' when this end failed the connection (the peer broke the protocol), not when the
    // peer just dropped it.
    const cause = failure instanceof Error ? failure.cause : undefined;
    this.finish(info.code, info.reason, info.wasClean, cause, cause instanceof ProtocolError);
  }

  private deliver(message: Message): void {
    // Messages that arrive once the close has started are not delivered.
    if (this.state !== OPEN) return;
    let data: string | Buffer | ArrayBuffer | Blob = message;
    if (typeof message !== 'string') {
      if (this.binary === 'arraybuffer') data = message.buffer.slice(message.byteOffset, message.byteOffset + message.byteLength) as ArrayBuffer;
      else if (this.binary === 'blob') data = new Blob([message as Uint8Array<ArrayBuffer>]);
    }
    this.dispatchEvent(new MessageEvent('message', { data, origin: this.origin }));
  }

  private transmit(payload: string | Uint8Array, size: number): void {
    this.writing += size;
    const done = (): void => {
      this.writing -= size;
    };
    this.connection!.send(payload).then(done, done);
  }

  /** Fires `error` (when the connection failed: it never opened, or the peer broke the protocol), then `close`. */
  private finish(code: number, reason: string, wasClean: boolean, error: unknown, failed: boolean): void {
    this.state = CLOSED;
    this.discarded += this.waiting + this.writing;
    this.waiting = this.writing = 0;
    if (failed) {
      const message = error instanceof Error ? error.message : String(error);
      this.dispatchEvent(new ErrorEvent('error', { error, message }));
    }
    this.dispatchEvent(new CloseEvent('close', { code, reason, wasClean }));
  }

  private getHandler<E extends Event>(type: string): WebSocketEventHandler<E> {
    return (this.handlers.get(type)?.handler ?? null) as WebSocketEventHandler<E>;
  }

  /** An event handler attribute: one listener, added when first set, removed when set to null (HTML §8.1.8.1). */
  private setHandler<E extends Event>(type: string, handler: WebSocketEventHandler<E>): void {
    const entry = this.handlers.get(type);
    if (typeof handler !== 'function') {
      if (entry !== undefined) this.removeEventListener(type, entry.listener);
      this.handlers.delete(type);
      return;
    }
    if (entry !== undefined) {
      entry.handler = handler as (this: WebSocket, event: Event) => unknown;
      return;
    }
    const added = {
      handler: handler as (this: WebSocket, event: Event) => unknown,
      listener: (event: Event) => void added.handler.call(this, event),
    };
    this.handlers.set(type, added);
    this.addEventListener(type, added.listener);
  }
}

for (const [name, value] of Object.entries({ CONNECTING, OPEN, CLOSING, CLOSED })) {
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
}

/** The URL as the WebSocket constructor takes it (WHATWG): absolute, ws/wss (or http/https), no fragment. */
function parseUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw new DOMException(`The URL '${String(input)}' is invalid.`, 'SyntaxError');
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new DOMException(`The URL's scheme must be either 'http', 'https', 'ws', or 'wss'. '${url.protocol.slice(0, -1)}' is not allowed.`, 'SyntaxError');
  }
  if (url.hash !== '' || String(input).includes('#')) {
    throw new DOMException(`The URL contains a fragment identifier ('${url.hash}'). Fragment identifiers are not allowed in WebSocket URLs.`, 'SyntaxError');
  }
  return url;
}

/** WebIDL `[Clamp] unsigned short`: NaN is 0, the rest rounded half to even and clamped to 0–65535. */
function clampToUnsignedShort(value: number): number {
  const n = Number(value);
  if (Number.isNaN(n)) return 0;
  const clamped = Math.min(Math.max(n, 0), 65535);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5 || (fraction === 0.5 && floor % 2 === 1)) return floor + 1;
  return floor;
}

function isArrayBuffer(value: unknown): value is ArrayBufferLike {
  return value instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer);
}
