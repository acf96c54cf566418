import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { ConnectionClosedError, ConnectionClosedOK, InvalidState, TimeoutError, type CloseInfo } from '../errors.js';
import type { ClosePayload } from '../protocol/close.js';
import { Opcode } from '../protocol/opcodes.js';
import { Protocol, State, type ProtocolHandler, type Side } from '../protocol/protocol.js';
import type { Hub } from '../pubsub/hub.js';
import type { BroadcastData, BroadcastResult } from '../pubsub/broadcast.js';
import { Keepalive, type KeepaliveHost } from './keepalive.js';
import type { MessageCodec } from './message-codec.js';
import { MessageQueue } from './message-queue.js';
import type { ConnectionOptions, Message, RequestInfo, SendData } from './types.js';

const kConnection = Symbol('wskit.connection');
type OwnedSocket = Duplex & { [kConnection]?: Connection; remoteAddress?: string };

const RESOLVED: Promise<void> = Promise.resolve();
/** Frames of one turn totalling up to this many bytes are copied into one buffer; above it, corked. */
const COALESCE_LIMIT = 16 * 1024;
/** Reasons reading from the socket is paused: unread messages, or unsent output. */
const PAUSED_QUEUE = 1;
const PAUSED_BACKLOG = 2;
const OK_CODES = new Set([1000, 1001, 1005]);

/** Settings of one connection, as the server or client built it. */
export interface ConnectionInit extends ConnectionOptions {
  /** The subprotocol agreed in the handshake. */
  subprotocol?: string | null;
  /** The request that opened a server-side connection. */
  request?: RequestInfo;
  /** The per-message extension negotiated, if any. */
  codec?: MessageCodec | null;
  /** The extensions header agreed, for display. */
  extensions?: string;
  /** Bytes received after the handshake, to be parsed first. */
  head?: Buffer;
  /** Told when the connection closes (the server, to forget it) without a promise per connection. */
  owner?: ConnectionOwner;
}

/** What is told synchronously when a connection closes. */
export interface ConnectionOwner {
  /** `ws` is closed; `ws.closeCode` and `ws.closeReason` are set. */
  connectionClosed(ws: Connection): void;
}

const DONE: IteratorResult<Message> = Object.freeze({ value: undefined, done: true });

/**
 * One WebSocket connection over a Node socket: `await send()`, `await recv()`,
 * `for await (const msg of ws)`, `await ping()`, `await close()`.
 *
 * Received bytes go to the Sans-I/O {@link Protocol}; its events come back
 * here. Writes made in one turn of the event loop go out together, so a
 * burst of sends costs one system call.
 */
export class Connection implements ProtocolHandler, KeepaliveHost, AsyncIterable<Message> {
  /** Which end of the connection this is. */
  readonly side: Side;
  /** The subprotocol agreed during the handshake, or null. */
  readonly subprotocol: string | null;
  /** The negotiated `Sec-WebSocket-Extensions` value ('' if none). */
  readonly extensions: string;
  /** The HTTP request that opened the connection (server side). */
  readonly request: RequestInfo | undefined;
  // Made on first use when no router filled them in: most connections never read them (memory per idle connection).
  private paramsValue: Record<string, string> | null = null;
  /** A slot for application data attached to this connection. */
  data: unknown = undefined;
  /** @internal The pub/sub hub of the server that accepted this connection (set by the server). */
  hub: Hub | null = null;
  /** Round-trip time of the last answered ping, in ms (0 until one is answered). */
  latency = 0;

  private readonly socket: OwnedSocket;
  private readonly protocol: Protocol;
  private readonly queue: MessageQueue;
  private readonly codec: MessageCodec | null;
  private readonly writeLimit: number;
  private readonly closeTimeout: number;
  private readonly keepalive: Keepalive;
  /** Frames written this turn of the event loop, flushed together on the next tick. */
  private pendingFirst: Buffer | null = null;
  private pendingMore: Buffer[] | null = null;
  private pendingBytes = 0;
  /** This turn's frames were handed to the socket, corked until the next tick (see spillWrites). */
  private spilled = false;
  private pausedBy = 0;
  private drainWaiter: Promise<void> | null = null;
  private drainResolve: (() => void) | null = null;
  private closeInfo: CloseInfo | null = null;
  // The closed promise is made on first use: most connections are never awaited (memory per idle connection).
  private closedPromise: Promise<CloseInfo> | null = null;
  private resolveClosed: ((info: CloseInfo) => void) | null = null;
  private readonly owner: ConnectionOwner | null;
  private transportError: Error | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  private inbound: Promise<void> | null = null;
  private outbound: Promise<void> | null = null;
  private fragmenting: Promise<void> | null = null;

  constructor(socket: Duplex, side: Side, init: ConnectionInit = {}) {
    this.side = side;
    this.socket = socket as OwnedSocket;
    this.subprotocol = init.subprotocol ?? null;
    this.extensions = init.extensions ?? '';
    this.request = init.request;
    this.codec = init.codec ?? null;
    this.writeLimit = init.writeLimit ?? 64 * 1024;
    this.closeTimeout = init.closeTimeout ?? 10_000;
    this.keepalive = new Keepalive(
      this,
      init.pingInterval === undefined ? 20_000 : init.pingInterval,
      init.pingTimeout === undefined ? 20_000 : init.pingTimeout,
    );
    this.protocol = new Protocol(side, this, {
      maxMessageSize: init.maxMessageSize,
      maxFragments: init.maxFragments,
      rsv1Allowed: this.codec !== null,
    });
    this.queue = new MessageQueue(init.maxQueue ?? 16, this);
    this.owner = init.owner ?? null;

    this.socket[kConnection] = this;
    this.socket.on('data', onSocketData);
    this.socket.on('end', onSocketEnd);
    this.socket.on('close', onSocketClose);
    this.socket.on('error', onSocketError);
    this.socket.on('drain', onSocketDrain);
    (this.socket as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
    if (init.head !== undefined && init.head.length > 0) this.protocol.receiveData(init.head);
    this.keepalive.start();
  }

  /** Path parameters filled in by a router, e.g. `{ status: 'on' }` for `/light/{status}`. */
  get params(): Record<string, string> {
    return (this.paramsValue ??= {});
  }

  set params(value: Record<string, string>) {
    this.paramsValue = value;
  }

  /** Resolves when the TCP connection is closed, with the close code and reason received. */
  get closed(): Promise<CloseInfo> {
    if (this.closedPromise === null) {
      this.closedPromise = this.closeInfo !== null
        ? Promise.resolve(this.closeInfo)
        : new Promise<CloseInfo>((resolve) => (this.resolveClosed = resolve));
    }
    return this.closedPromise;
  }

  /** The browser-style state: 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  get readyState(): State {
    return this.closeInfo !== null ? State.CLOSED : this.protocol.state === State.CLOSED ? State.CLOSING : this.protocol.state;
  }

  /** The query parameters of the opening request (empty on the client side). */
  get query(): URLSearchParams {
    return this.request?.query ?? new URLSearchParams();
  }

  /** Subscribes to a pub/sub topic of the server; false if already subscribed. Left automatically on close. */
  subscribe(topic: string): boolean {
    return this.requireHub().subscribe(this, topic);
  }

  /** Unsubscribes from a topic; false if not subscribed. */
  unsubscribe(topic: string): boolean {
    return this.requireHub().unsubscribe(this, topic);
  }

  /** Whether this connection is subscribed to `topic`. */
  isSubscribed(topic: string): boolean {
    return this.hub?.isSubscribed(this, topic) ?? false;
  }

  /** The topics this connection is subscribed to. */
  get topics(): string[] {
    return this.hub ? [...this.hub.topicsOf(this)] : [];
  }

  /** Publishes to every subscriber of `topic` but this connection, on every node (Bun's `ws.publish`). */
  publish(topic: string, message: BroadcastData): BroadcastResult {
    return this.requireHub().publish(topic, message, this);
  }

  private requireHub(): Hub {
    if (this.hub === null) throw new InvalidState('pub/sub topics need a server-side connection');
    return this.hub;
  }

  /** The peer's IP address. */
  get remoteAddress(): string | undefined {
    return this.request?.remoteAddress ?? this.socket.remoteAddress;
  }

  /** Bytes written but not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.socket.writableLength + this.pendingBytes;
  }

  /** The close code received (1006 if none), once closed; else undefined. */
  get closeCode(): number | undefined {
    return this.closeInfo?.code;
  }

  /** The close reason received, once closed; else undefined. */
  get closeReason(): string | undefined {
    return this.closeInfo?.reason;
  }

  // ---- sending -------------------------------------------------------------

  /**
   * Sends a message: a string as text, bytes as binary, an iterable or async
   * iterable of chunks as one fragmented message. Resolves once the data is
   * handed to the socket and the socket's buffer is below `writeLimit`, so a
   * fast producer is paced by a slow peer.
   */
  send(data: SendData): Promise<void> {
    if (this.protocol.state !== State.OPEN) return Promise.reject(this.closedError());
    if (this.fragmenting !== null) return this.fragmenting.then(() => this.send(data));
    let payload: string | Uint8Array;
    if (typeof data === 'string' || data instanceof Uint8Array) payload = data;
    else if (data instanceof ArrayBuffer) payload = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) payload = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else if (isIterable(data)) return this.sendFragmented(data);
    // Plain JavaScript callers get told what was wrong, not "chunks is not async iterable".
    else return Promise.reject(new TypeError(`send() takes a string, bytes or an (async) iterable of them, not ${describe(data)}`));
    const binary = typeof payload !== 'string';
    if (this.codec !== null || this.outbound !== null) return this.sendThroughCodec(payload, binary);
    if (binary) this.protocol.sendBinary(payload as Uint8Array);
    else this.protocol.sendText(payload);
    return this.drained();
  }

  private sendThroughCodec(payload: string | Uint8Array, binary: boolean): Promise<void> {
    const codec = this.codec;
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : toBuffer(payload);
    const opcode = binary ? Opcode.BINARY : Opcode.TEXT;
    if (codec === null || !codec.shouldEncode(bytes.length)) {
      if (this.outbound === null) {
        this.protocol.sendFrame(opcode, bytes, true, false);
        return this.drained();
      }
      const owned = typeof payload === 'string' ? bytes : Buffer.from(bytes);
      return this.chainOutbound(async () => this.protocol.sendFrame(opcode, owned, true, false));
    }
    // Compression is asynchronous; later sends queue behind it so messages keep their order.
    // Copy the caller's bytes: they may reuse the buffer as soon as send() returns (broadcast does), as without a codec.
    const owned = typeof payload === 'string' ? bytes : Buffer.from(bytes);
    return this.chainOutbound(async () => {
      const encoded = await codec.encode(owned);
      if (this.protocol.state === State.OPEN) this.protocol.sendFrame(opcode, encoded ?? owned, true, encoded !== null);
    });
  }

  private chainOutbound(step: () => Promise<void>): Promise<void> {
    const previous = this.outbound ?? RESOLVED;
    const current = previous.then(step).then(() => this.drained());
    const tail = current.catch(() => undefined);
    this.outbound = tail;
    void tail.then(() => {
      if (this.outbound === tail) this.outbound = null;
    });
    return current;
  }

  private sendFragmented(chunks: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>): Promise<void> {
    // Frames of one message must not interleave with other messages' frames: later sends wait.
    const sending = this.sendChunks(chunks);
    const done = sending.then(noop, noop);
    this.fragmenting = done;
    void done.then(() => {
      if (this.fragmenting === done) this.fragmenting = null;
    });
    return sending.then(() => this.drained());
  }

  private async sendChunks(chunks: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>): Promise<void> {
    if (this.outbound !== null) await this.outbound;
    let messageOpcode = -1;
    let pending: string | Uint8Array | null = null;
    let first = true;
    for await (const chunk of chunks as AsyncIterable<string | Uint8Array>) {
      if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
        throw new TypeError(`a fragmented message's chunks are strings or Uint8Arrays, not ${describe(chunk)}`);
      }
      const chunkOpcode = typeof chunk === 'string' ? Opcode.TEXT : Opcode.BINARY;
      if (messageOpcode === -1) messageOpcode = chunkOpcode;
      else if (messageOpcode !== chunkOpcode) throw new TypeError('all chunks of a fragmented message must be of one type');
      if (pending !== null) {
        this.protocol.sendFrame(first ? messageOpcode : Opcode.CONTINUATION, pending, false);
        first = false;
        await this.drained();
      }
      pending = chunk;
    }
    if (pending === null) return;
    this.protocol.sendFrame(first ? messageOpcode : Opcode.CONTINUATION, pending, true);
  }

  /** Whether a message of `size` bytes would be compressed (permessage-deflate negotiated and above its threshold). */
  compresses(size: number): boolean {
    return this.codec !== null && this.codec.shouldEncode(size);
  }

  /** Writes a pre-encoded frame (from `encodeFrame`); used by broadcast. Returns false if not open. */
  sendEncoded(frame: Buffer): boolean {
    if (this.protocol.state !== State.OPEN || this.fragmenting !== null || this.outbound !== null) return false;
    this.protocol.sendEncoded(frame);
    return true;
  }

  private drained(): Promise<void> {
    if (this.socket.writableLength + this.pendingBytes <= this.writeLimit) return RESOLVED;
    // Over the limit: hand this turn's frames to the (corked) socket, whose 'drain' tells when they are gone.
    this.spillWrites();
    if (this.drainWaiter === null) {
      this.drainWaiter = new Promise((resolve) => (this.drainResolve = resolve));
    }
    return this.drainWaiter;
  }

  private pauseFor(reason: number): void {
    if (this.pausedBy === 0) this.socket.pause();
    this.pausedBy |= reason;
  }

  private resumeFor(reason: number): void {
    if ((this.pausedBy & reason) === 0) return;
    this.pausedBy &= ~reason;
    if (this.pausedBy === 0) this.socket.resume();
  }

  /** @internal Too many unread messages: stop reading from the socket. */
  pauseQueue(): void {
    this.pauseFor(PAUSED_QUEUE);
  }

  /** @internal The reader caught up. */
  resumeQueue(): void {
    this.resumeFor(PAUSED_QUEUE);
  }

  /** @internal Socket 'drain'. */
  handleDrain(): void {
    this.resumeFor(PAUSED_BACKLOG);
    const resolve = this.drainResolve;
    this.drainWaiter = null;
    this.drainResolve = null;
    resolve?.();
  }

  /**
   * Sends a ping and resolves with the round-trip time in ms when the pong
   * arrives. A pong also answers every earlier ping (RFC 6455 §5.5.3).
   */
  ping(data?: string | Uint8Array): Promise<number> {
    if (this.protocol.state !== State.OPEN) return Promise.reject(this.closedError());
    let payload: Buffer | TypeError;
    if (data === undefined) {
      payload = Buffer.allocUnsafe(4);
      globalThis.crypto.getRandomValues(payload);
    } else {
      payload = controlPayload('ping', data);
    }
    if (payload instanceof TypeError) return Promise.reject(payload);
    return this.keepalive.ping(payload);
  }

  /** Sends an unsolicited pong (a one-way heartbeat). */
  pong(data: string | Uint8Array = Buffer.alloc(0)): Promise<void> {
    if (this.protocol.state !== State.OPEN) return Promise.reject(this.closedError());
    const payload = controlPayload('pong', data);
    if (payload instanceof TypeError) return Promise.reject(payload);
    this.protocol.sendPong(payload);
    return this.drained();
  }

  // ---- receiving -----------------------------------------------------------

  /** Waits for the next message. Rejects with ConnectionClosedOK/Error once the connection is closed. */
  recv(): Promise<Message> {
    const message = this.queue.shift();
    if (message !== undefined) return Promise.resolve(message);
    if (this.closeInfo !== null) return Promise.reject(this.closedError());
    if (this.queue.waiting) return Promise.reject(new InvalidState('recv() is already waiting for a message'));
    return this.queue.wait();
  }

  /**
   * Iterates over messages until the connection closes; a normal close ends the loop, an error throws.
   * A plain iterator object rather than an async generator: no generator, request queue and
   * promise chain held per waiting connection, and one microtask less per message.
   */
  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return new MessageIterator(this);
  }

  /** @internal The next message as an iterator result (see {@link MessageIterator}). */
  nextResult(): Promise<IteratorResult<Message>> {
    const message = this.queue.shift();
    if (message !== undefined) return Promise.resolve({ value: message, done: false });
    if (this.closeInfo !== null) {
      const error = this.closedError();
      return error instanceof ConnectionClosedOK ? Promise.resolve(DONE) : Promise.reject(error);
    }
    if (this.queue.waiting) return Promise.reject(new InvalidState('recv() is already waiting for a message'));
    return this.queue.waitResult();
  }

  // ---- closing -------------------------------------------------------------

  /**
   * Performs the closing handshake (RFC 6455 §7) and waits until the TCP
   * connection is closed, dropping it after `closeTimeout`.
   */
  async close(code = 1000, reason = ''): Promise<CloseInfo> {
    if (this.protocol.state === State.OPEN && this.outbound !== null) {
      // Messages send() accepted but still compressing go out before the close frame; the timer
      // bounds the wait if the peer stops reading.
      this.armCloseTimer();
      await this.outbound;
    }
    if (this.protocol.state === State.OPEN) {
      this.protocol.sendClose(code, reason);
      this.armCloseTimer();
    }
    return this.closed;
  }

  /** Closes the TCP connection at once, without a closing handshake. */
  terminate(): void {
    this.socket.destroy();
  }

  /** Fails the connection with `code` (e.g. 1011 for an internal error) and drops it. */
  fail(code: number, reason: string): void {
    if (this.closeInfo !== null) return;
    this.protocol.fail(code, reason);
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== null) return;
    this.closeTimer = setTimeout(onCloseTimeout, this.closeTimeout, this);
    this.closeTimer.unref();
  }

  private closedError(): Error {
    const info = this.closeInfo ?? {
      code: this.protocol.closeReceived?.code ?? 1006,
      reason: this.protocol.closeReceived?.reason ?? '',
      wasClean: false,
    };
    if (this.closeInfo === null && this.protocol.state === State.OPEN) {
      return new InvalidState('connection is not open');
    }
    const sent = this.protocol.closeSent;
    const received = this.protocol.closeReceived;
    if (sent !== null && received !== null && OK_CODES.has(sent.code) && OK_CODES.has(received.code)) {
      return new ConnectionClosedOK(info);
    }
    return new ConnectionClosedError(info, { cause: this.protocol.failure ?? this.transportError ?? undefined });
  }

  // ---- KeepaliveHost -------------------------------------------------------

  /** @internal */
  keepaliveOpen(): boolean {
    return this.protocol.state === State.OPEN;
  }

  /** @internal */
  sendPingFrame(payload: Buffer): void {
    this.protocol.sendPing(payload);
  }

  /** @internal No pong within pingTimeout: fail with 1011. */
  keepaliveTimedOut(): void {
    if (this.protocol.state === State.OPEN || this.protocol.state === State.CLOSING) {
      this.transportError = new TimeoutError('keepalive ping timeout');
      this.fail(1011, 'keepalive ping timeout');
      // The peer is unresponsive: waiting closeTimeout for its TCP close would only delay detection.
      this.terminate();
    }
  }

  // ---- ProtocolHandler -----------------------------------------------------

  /**
   * Moves this turn's frames into the socket, corked until the next tick, so
   * the socket counts them (`writableLength`) and emits 'drain' once they are
   * gone: what backpressure waits for. Later writes of the turn follow them.
   */
  private spillWrites(): void {
    const first = this.pendingFirst;
    if (first === null || this.spilled) return;
    const more = this.pendingMore;
    this.pendingFirst = null;
    this.pendingMore = null;
    this.pendingBytes = 0;
    this.spilled = true; // the flush scheduled by onWrite uncorks
    this.socket.cork();
    this.socket.write(first);
    if (more !== null) for (const part of more) this.socket.write(part);
  }

  /** @internal Frames of one turn go out together on the next tick: see {@link flushWrites}. */
  onWrite(data: Buffer): void {
    if (this.spilled) {
      this.socket.write(data);
      return;
    }
    if (this.pendingFirst === null) {
      this.pendingFirst = data;
      this.pendingBytes = data.length;
      process.nextTick(flushWrites, this);
      return;
    }
    (this.pendingMore ??= []).push(data);
    this.pendingBytes += data.length;
  }

  /**
   * @internal Writes the frames of this turn: one as is, several small ones
   * copied into one buffer (one stream write and one system call instead of a
   * stream write per frame), larger batches corked into one writev.
   */
  flushWrites(): void {
    if (this.spilled) {
      this.spilled = false;
      this.socket.uncork();
      return;
    }
    const first = this.pendingFirst;
    if (first === null) return;
    const more = this.pendingMore;
    const bytes = this.pendingBytes;
    this.pendingFirst = null;
    this.pendingMore = null;
    this.pendingBytes = 0;
    const socket = this.socket;
    if (more === null) {
      socket.write(first);
    } else if (bytes <= COALESCE_LIMIT) {
      const out = Buffer.allocUnsafe(bytes);
      first.copy(out, 0);
      let at = first.length;
      for (const part of more) at += part.copy(out, at);
      socket.write(out);
    } else {
      socket.cork();
      socket.write(first);
      for (const part of more) socket.write(part);
      socket.uncork();
    }
  }

  /** @internal */
  onMessage(data: Buffer, binary: boolean, compressed: boolean): void {
    if (!compressed && this.inbound === null) {
      this.queue.push(binary ? data : data.toString('utf8'));
      return;
    }
    // Decoding is asynchronous; later messages wait for it so order is kept.
    const codec = this.codec;
    const step = async (): Promise<void> => {
      let bytes = data;
      if (compressed) {
        if (codec === null) return;
        try {
          bytes = await codec.decode(data, this.protocol.messageSizeLimit);
        } catch (error) {
          const e = error as { closeCode?: number; message: string };
          this.protocol.fail(e.closeCode ?? 1007, e.message);
          return;
        }
        if (!binary && !isUtf8(bytes)) {
          this.protocol.fail(1007, 'invalid UTF-8 in text message');
          return;
        }
      }
      if (this.protocol.failure === null) this.queue.push(binary ? bytes : bytes.toString('utf8'));
    };
    const previous = this.inbound ?? RESOLVED;
    const tail = previous.then(step);
    this.inbound = tail;
    void tail.then(() => {
      if (this.inbound === tail) this.inbound = null;
    });
  }

  /** @internal */
  onPing(_payload: Buffer): void {}

  /** @internal */
  onPong(payload: Buffer): void {
    const rtt = this.keepalive.pong(payload);
    if (rtt >= 0) this.latency = rtt;
  }

  /** @internal */
  onCloseFrame(_close: ClosePayload): void {
    // Client side: wait for the server to close TCP, but not forever (§7.1.1).
    this.armCloseTimer();
  }

  /** @internal */
  onEnd(): void {
    this.flushWrites();
    this.socket.end();
    this.armCloseTimer();
  }

  // ---- socket events -------------------------------------------------------

  /** @internal */
  handleData(chunk: Buffer): void {
    this.protocol.receiveData(chunk);
    // A peer that sends (pings, say) but doesn't read what we answer is not read from
    // until the socket drains: automatic replies never pile up without bound.
    if (this.socket.writableLength + this.pendingBytes > this.writeLimit * 4) {
      // Only bytes the socket holds are followed by 'drain' (which resumes reading).
      this.spillWrites();
      this.pauseFor(PAUSED_BACKLOG);
    }
  }

  /** @internal */
  handleEnd(): void {
    this.protocol.receiveEof();
  }

  /** @internal */
  handleError(error: Error): void {
    this.transportError ??= error;
  }

  /** @internal */
  handleClose(): void {
    if (this.closeInfo !== null) return;
    const received = this.protocol.closeReceived;
    this.protocol.receiveEof();
    // Messages received before the close but still decompressing are delivered before the connection reports closed.
    if (this.inbound !== null) {
      const again = (): void => this.handleClose();
      void this.inbound.then(again, again);
      return;
    }
    const info: CloseInfo = {
      code: received?.code ?? 1006,
      reason: received?.reason ?? '',
      wasClean: received !== null && this.protocol.closeSent !== null,
    };
    this.closeInfo = info;
    this.pendingFirst = null;
    this.pendingMore = null;
    this.pendingBytes = 0;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.codec?.close();
    const error = this.closedError();
    this.keepalive.stop(error);
    this.handleDrain();
    this.queue.abort(error, error instanceof ConnectionClosedOK);
    this.socket[kConnection] = undefined;
    this.owner?.connectionClosed(this);
    this.resolveClosed?.(info);
    this.resolveClosed = null;
  }
}

function noop(): void {}

/**
 * `for await (const message of ws)`: each `next()` is one wait on the queue. One `next()`
 * at a time, as `for await` calls it (a second while one is waiting rejects, like `recv()`).
 */
class MessageIterator implements AsyncIterator<Message> {
  private readonly ws: Connection;
  private finished = false;

  constructor(ws: Connection) {
    this.ws = ws;
  }

  next(): Promise<IteratorResult<Message>> {
    return this.finished ? Promise.resolve(DONE) : this.ws.nextResult();
  }

  return(value?: unknown): Promise<IteratorResult<Message>> {
    this.finished = true;
    return Promise.resolve({ value: value as Message, done: true });
  }
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** A ping's or pong's payload as bytes; a TypeError naming the call for anything but a string or bytes. */
function controlPayload(call: string, data: unknown): Buffer | TypeError {
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof Uint8Array) return toBuffer(data);
  return new TypeError(`${call}() takes a string or a Uint8Array, not ${describe(data)}`);
}

function isIterable(value: unknown): value is Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array> {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown };
  return typeof candidate[Symbol.iterator] === 'function' || typeof candidate[Symbol.asyncIterator] === 'function';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'no prototype'})`;
  return `a ${typeof value}`;
}

// Listeners are shared functions, not per-connection closures (memory per idle connection).
function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[kConnection]?.handleData(chunk);
}
function onSocketEnd(this: OwnedSocket): void {
  this[kConnection]?.handleEnd();
}
function onSocketClose(this: OwnedSocket): void {
  this[kConnection]?.handleClose();
}
function onSocketError(this: OwnedSocket, error: Error): void {
  this[kConnection]?.handleError(error);
}
function onSocketDrain(this: OwnedSocket): void {
  this[kConnection]?.handleDrain();
}
function flushWrites(connection: Connection): void {
  connection.flushWrites();
}
function onCloseTimeout(connection: Connection): void {
  connection.terminate();
}
