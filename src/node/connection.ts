import { ConnectionClosedError, ConnectionClosedOK, InvalidState, TimeoutError, type CloseInfo } from '../errors.js';
import { checkClose, type ClosePayload } from '../protocol/close.js';
import { framePayloadLength } from '../protocol/frame.js';
import { isNormalCloseCode, Opcode } from '../protocol/opcodes.js';
import { Protocol, State, type ProtocolHandler, type Side } from '../protocol/protocol.js';
import type { Hub } from './hub.js';
import type { BroadcastData, BroadcastResult } from './broadcast.js';
import type { RouteMeter } from '../metrics/route-meter.js';
import { SendStatus, type WebSocketHandlers } from './callbacks.js';
import { onTransportEnd } from './end-listener.js';
import { receivePong, sendPing, startKeepalive, stopKeepalive, type KeepaliveEntry, type PendingPing } from './keepalive.js';
import type { MessageCodec } from './message-codec.js';
import type { Transport } from './transport.js';
import { MessageQueue } from './message-queue.js';
import type { PreparedMessage } from './prepared-message.js';
import type { ConnectionOptions, Message, RequestInfo, SendData } from './types.js';
import { withBit } from '../protocol/bits.js';

const kConnection = Symbol('wskit.connection');
type OwnedSocket = Transport & { [kConnection]?: Connection };

const RESOLVED: Promise<void> = Promise.resolve();
const EMPTY = Buffer.alloc(0);
/**
 * Frames of one turn totalling up to this many bytes are copied into one buffer; above it, corked into one writev in
 * which runs of smaller frames are still copied into buffers of up to this size (see writeRuns).
 */
const COALESCE_LIMIT = 16 * 1024;
// Bits of Connection.flags.
const F_RECEIVING = 1;
const F_SPILLED = 2;
const F_FLUSH_SCHEDULED = 4;
const F_CLOSE_SENT = 8;
const F_TRANSPORT_CLOSED = 16;
const F_CLOSE_CALLED = 32;
/** Two bits of Connection.flags: why reading from the socket is paused (PAUSED_QUEUE, PAUSED_BACKLOG). */
const PAUSED_SHIFT = 8;
/** Two bits of Connection.flags: the keepalive's state (see KeepaliveEntry.keepaliveState). */
const KEEPALIVE_SHIFT = 6;
const KEEPALIVE_BITS = 3 << KEEPALIVE_SHIFT;
/** Reasons reading from the socket is paused: unread messages, or unsent output. */
const PAUSED_QUEUE = 1;
const PAUSED_BACKLOG = 2;

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
  /** @internal The pub/sub hub of the server (`ws.subscribe`, `ws.publish`). */
  hub?: Hub | null;
  /** The metrics of the connection's route (server with metrics on), counted into as messages pass. */
  meter?: RouteMeter | null;
  /**
   * Callback mode (server side): messages go to `callbacks.message` as they are parsed instead of the queue that
   * `recv()` and `for await` read. Nothing is read until the server calls `startCallbacks()`.
   */
  callbacks?: WebSocketHandlers | null;
}

/** What is told synchronously when a connection closes. */
export interface ConnectionOwner {
  /** `ws` is closed; `ws.closeCode` and `ws.closeReason` are set. */
  connectionClosed(ws: Connection): void;
  /** A callback of `ws` (callback mode) threw or rejected with `error`: report it and close the connection (1011). */
  callbackFailed(ws: Connection, error: unknown): void;
}

const DONE: IteratorResult<Message> = Object.freeze({ value: undefined, done: true });

/**
 * One WebSocket connection over a {@link Transport} (a TCP or TLS socket, an HTTP/2 stream): `await send()`, `await recv()`,
 * `for await (const msg of ws)`, `await ping()`, `await close()`.
 *
 * Received bytes go to the Sans-I/O {@link Protocol}; its events come back
 * here. Writes made in one turn of the event loop go out together, so a
 * burst of sends costs one system call.
 */
export class Connection implements ProtocolHandler, KeepaliveEntry, AsyncIterable<Message> {
  /** The HTTP request that opened the connection (server side). */
  readonly request: RequestInfo | undefined;
  // Made on first use when no router filled them in: most connections never read them (memory per idle connection).
  private paramsValue: Record<string, string> | null = null;
  /** A slot for application data attached to this connection. */
  data: unknown = undefined;
  // The last round-trip time in whole microseconds, rounded up: a small integer, where a fractional number of ms would
  // make V8 box the field in a heap number for every connection (memory per idle connection).
  private latencyMicros = 0;

  private readonly socket: OwnedSocket;
  private readonly protocol: Protocol;
  // Made on first use (recv(), for await, a callback's promise or a compressed message): a connection whose
  // callbacks return nothing never needs one (memory per idle connection).
  private queueValue: MessageQueue | null = null;
  private readonly codec: MessageCodec | null;
  /** Limits, callbacks and owner: one object shared by the connections made with the same (see settingsFor). */
  private readonly settings: ConnectionSettings;
  /**
   * The boolean state below as bits of one small integer, not a field each (memory per idle connection: every field
   * is copied by each young-generation GC while connections are set up).
   */
  private flags = 0;
  // Keepalive in the connection's own fields (see KeepaliveEntry), not an object of its own (memory per idle
  // connection); its state is two bits of `flags`, its limits in `settings`, its application pings in `extras`.
  /** @internal */
  keepaliveTag = -1;
  /** @internal */
  keepaliveDue = 0;
  /** @internal */
  keepalivePrev: KeepaliveEntry | null = null;
  /** @internal */
  keepaliveNext: KeepaliveEntry | null = null;
  /** Frames written this turn of the event loop, flushed together on the next tick. */
  private pendingFirst: Buffer | null = null;
  private pendingMore: Buffer[] | null = null;
  private pendingBytes = 0;
  private closeInfo: CloseInfo | null = null;
  /** What few connections need (see {@link ConnectionExtras}), made on first use. */
  private extras: ConnectionExtras | null = null;
  private inbound: Promise<void> | null = null;
  private outbound: Promise<void> | null = null;
  /** Bytes of the messages in `outbound`: accepted by send(), not yet handed to the protocol. */
  private outboundBytes = 0;

  constructor(socket: Transport, side: Side, init: ConnectionInit = {}) {
    this.socket = socket as OwnedSocket;
    this.request = init.request;
    this.codec = init.codec ?? null;
    this.settings = settingsFor(side, init);
    this.protocol = new Protocol(side, this, {
      maxMessageSize: init.maxMessageSize,
      maxFragments: init.maxFragments,
      rsv1Allowed: this.codec !== null,
      // Messages complete before a protocol error reach the application before the connection fails.
      deferFailure: true,
    });

    this.socket[kConnection] = this;
    this.socket.on('data', onSocketData);
    onTransportEnd(this.socket, onSocketEnd);
    this.socket.on('close', onSocketClose);
    this.socket.on('error', onSocketError);
    this.socket.on('drain', onSocketDrain);
    this.socket.setNoDelay?.(true);
    startKeepalive(this);
    if (this.callbacks !== null) {
      // No message may reach `message` before `open` has run: reading starts in startCallbacks().
      if (init.head !== undefined && init.head.length > 0) this.more.heldHead = init.head;
      return;
    }
    this.startReading(init.head);
  }

  private startReading(head: Buffer | null | undefined): void {
    if (head !== undefined && head !== null && head.length > 0) {
      if (this.callbacks !== null) this.handleData(head);
      else this.protocol.receiveData(head);
    }
    // The connection owns the socket's flow from here: a socket handed over paused (during the handshake) reads
    // again, unless what came with the handshake already filled the queue.
    if (this.pausedBy === 0 && this.closeInfo === null) this.socket.resume();
  }

  /** @internal Callback mode: runs `open`, then starts reading (what came with the handshake first). */
  startCallbacks(): void {
    const callbacks = this.callbacks!;
    if (callbacks.open !== undefined) {
      let result: unknown;
      try {
        result = callbacks.open(this);
      } catch (error) {
        this.callbackFailed(error);
      }
      if (isThenable(result)) result.then(undefined, (error: unknown) => this.callbackFailed(error));
    }
    const extras = this.extras;
    const head = extras === null ? null : extras.heldHead;
    if (extras !== null) extras.heldHead = null;
    this.startReading(head);
  }

  /** Round-trip time of the last answered ping, in ms (0 until one is answered), to the microsecond. */
  get latency(): number {
    return this.latencyMicros / 1000;
  }

  set latency(ms: number) {
    this.latencyMicros = Math.ceil(ms * 1000);
  }

  /** Inside handleData in callback mode: writes are flushed when it returns, not on the next tick. */
  private get receiving(): boolean {
    return (this.flags & F_RECEIVING) !== 0;
  }

  private set receiving(value: boolean) {
    this.flags = withBit(this.flags, F_RECEIVING, value);
  }

  /** This turn's frames were handed to the socket, corked until the next tick (see spillWrites). */
  private get spilled(): boolean {
    return (this.flags & F_SPILLED) !== 0;
  }

  private set spilled(value: boolean) {
    this.flags = withBit(this.flags, F_SPILLED, value);
  }

  /** A flush of this turn's frames is scheduled (see onWrite). */
  private get flushScheduled(): boolean {
    return (this.flags & F_FLUSH_SCHEDULED) !== 0;
  }

  private set flushScheduled(value: boolean) {
    this.flags = withBit(this.flags, F_FLUSH_SCHEDULED, value);
  }

  /** We sent a Close frame (close()): the socket is read to the peer's Close whatever the queue holds. */
  private get closeSent(): boolean {
    return (this.flags & F_CLOSE_SENT) !== 0;
  }

  private set closeSent(value: boolean) {
    this.flags = withBit(this.flags, F_CLOSE_SENT, value);
  }

  /** The socket emitted 'close'; the connection is closed once input held for the reader is parsed. */
  private get transportClosed(): boolean {
    return (this.flags & F_TRANSPORT_CLOSED) !== 0;
  }

  private set transportClosed(value: boolean) {
    this.flags = withBit(this.flags, F_TRANSPORT_CLOSED, value);
  }

  /** close() was called: readyState is CLOSING from then on. */
  private get closeCalled(): boolean {
    return (this.flags & F_CLOSE_CALLED) !== 0;
  }

  private set closeCalled(value: boolean) {
    this.flags = withBit(this.flags, F_CLOSE_CALLED, value);
  }

  /** Which end of the connection this is. */
  get side(): Side {
    return this.settings.side;
  }

  /** The subprotocol agreed during the handshake, or null. */
  get subprotocol(): string | null {
    return this.settings.subprotocol;
  }

  /** The negotiated `Sec-WebSocket-Extensions` value ('' if none). */
  get extensions(): string {
    return this.settings.extensions;
  }

  /** @internal Its route's metrics, or null with metrics off: then counting costs this one null check. */
  get meter(): RouteMeter | null {
    return this.settings.meter;
  }

  /** @internal The pub/sub hub of the server that accepted this connection, or null. */
  get hub(): Hub | null {
    return this.settings.hub;
  }

  /** Reasons reading from the socket is paused: PAUSED_QUEUE and PAUSED_BACKLOG bits, 0 when reading. */
  private get pausedBy(): number {
    return (this.flags >> PAUSED_SHIFT) & (PAUSED_QUEUE | PAUSED_BACKLOG);
  }

  private set pausedBy(reasons: number) {
    this.flags = (this.flags & ~((PAUSED_QUEUE | PAUSED_BACKLOG) << PAUSED_SHIFT)) | (reasons << PAUSED_SHIFT);
  }

  /** @internal The keepalive's state (see KeepaliveEntry). */
  get keepaliveState(): number {
    return (this.flags & KEEPALIVE_BITS) >> KEEPALIVE_SHIFT;
  }

  set keepaliveState(state: number) {
    this.flags = (this.flags & ~KEEPALIVE_BITS) | (state << KEEPALIVE_SHIFT);
  }

  /** @internal Application pings waiting for their pongs (see KeepaliveEntry), kept in {@link extras}. */
  get keepalivePings(): PendingPing[] | null {
    return this.extras === null ? null : this.extras.pings;
  }

  set keepalivePings(pings: PendingPing[] | null) {
    if (pings !== null || this.extras !== null) this.more.pings = pings;
  }

  /** @internal */
  get keepaliveInterval(): number | null {
    return this.settings.pingInterval;
  }

  /** @internal */
  get keepaliveTimeout(): number | null {
    return this.settings.pingTimeout;
  }

  /** Callback mode's handlers, or null: messages go to the queue. */
  private get callbacks(): WebSocketHandlers | null {
    return this.settings.callbacks;
  }

  private get owner(): ConnectionOwner | null {
    return this.settings.owner;
  }

  private get writeLimit(): number {
    return this.settings.writeLimit;
  }

  private get backpressureLimit(): number {
    return this.settings.backpressureLimit;
  }

  private get closeTimeout(): number {
    return this.settings.closeTimeout;
  }

  /** {@link extras}, made now if it was not. */
  private get more(): ConnectionExtras {
    return (this.extras ??= new ConnectionExtras());
  }

  /** A fragmented message being sent (later sends wait for it), or null. */
  private get fragmenting(): Promise<void> | null {
    return this.extras === null ? null : this.extras.fragmenting;
  }

  /** The queue of received messages, made on first use. */
  private get queue(): MessageQueue {
    return (this.queueValue ??= new MessageQueue(this.settings.maxQueue, this));
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
    const extras = this.more;
    if (extras.closedPromise === null) {
      extras.closedPromise = this.closeInfo !== null
        ? Promise.resolve(this.closeInfo)
        : new Promise<CloseInfo>((resolve) => (extras.resolveClosed = resolve));
    }
    return extras.closedPromise;
  }

  /** The browser-style state: 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  get readyState(): State {
    if (this.closeInfo !== null) return State.CLOSED;
    // CLOSING from the call to close() on, as in browsers, even while messages still compressing go out first.
    return this.closeCalled || this.protocol.state === State.CLOSED ? State.CLOSING : this.protocol.state;
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
    return this.socket.writableLength + this.pendingBytes + this.protocol.batchedBytes + this.outboundBytes;
  }

  /**
   * Of {@link bufferedAmount}, the bytes of messages accepted by `send()` or `sendPrepared()` that wait for
   * permessage-deflate (compressing, or queued behind a message that is): this side's own lag, not the peer's reading
   * (`broadcast()` tells the two apart for a slow client).
   */
  get compressionBacklog(): number {
    return this.outboundBytes;
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
   * fast producer is paced by a slow peer. Rejects once the connection is
   * closing or closed; a send nobody awaits never ends the process with an
   * unhandled rejection (the same holds for every promise of this class).
   */
  send(data: SendData): Promise<void> {
    if (this.protocol.state !== State.OPEN) return quietly(Promise.reject(this.closedError()));
    const fragmenting = this.fragmenting;
    if (fragmenting !== null) return quietly(fragmenting.then(() => this.send(data)));
    let payload: string | Uint8Array;
    if (typeof data === 'string' || data instanceof Uint8Array) payload = data;
    else if (data instanceof ArrayBuffer) payload = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) payload = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else if (isIterable(data)) return this.sendFragmented(data);
    // Plain JavaScript callers get told what was wrong, not "chunks is not async iterable".
    else return quietly(Promise.reject(new TypeError(`send() takes a string, bytes or an (async) iterable of them, not ${describe(data)}`)));
    const binary = typeof payload !== 'string';
    if (this.throughCodec(payload)) return this.sendThroughCodec(payload, binary);
    this.batchTurn();
    const meter = this.meter;
    if (binary) {
      this.protocol.sendBinary(payload as Uint8Array);
      if (meter !== null) meter.sent(true, (payload as Uint8Array).length);
    } else if (meter === null) {
      this.protocol.sendText(payload);
    } else {
      // The text's UTF-8 size read off the frame just queued (Buffer.byteLength would cost as much as the rest).
      const before = this.bufferedAmount;
      this.protocol.sendText(payload);
      meter.sent(false, framePayloadLength(this.bufferedAmount - before, false));
    }
    return this.drained();
  }

  /**
   * Sends a message now, without a promise (the callback API's send, as Bun's `ws.send()`): a string as text, bytes
   * as binary. Returns the number of bytes queued for it (its frame, header included; for a message handed to
   * permessage-deflate, its uncompressed size, at least 1) while what waits to be written stays within `writeLimit`;
   * `SendStatus.BACKPRESSURE` (-1) when the message was queued but more than `writeLimit` bytes now wait (the
   * `drain` callback follows once they are written); `SendStatus.DROPPED` (0) when it was not sent: the
   * connection is not open, or more than `backpressureLimit` bytes already waited. Throws a TypeError for other data.
   */
  sendNow(data: string | Uint8Array | ArrayBuffer | ArrayBufferView): number {
    if (this.protocol.state !== State.OPEN) return SendStatus.DROPPED;
    const socket = this.socket;
    const protocol = this.protocol;
    const before = socket.writableLength + this.pendingBytes + protocol.batchedBytes;
    if (before + this.outboundBytes > this.backpressureLimit) return SendStatus.DROPPED;
    let payload: string | Uint8Array;
    if (typeof data === 'string' || data instanceof Uint8Array) payload = data;
    else if (data instanceof ArrayBuffer) payload = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) payload = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else throw new TypeError(`sendNow() takes a string or bytes, not ${describe(data)}`);
    let queued: number;
    if (this.fragmenting !== null || this.throughCodec(payload)) {
      // Compression (or a message before this one) is asynchronous: the message is chained behind, as send() does.
      void this.send(payload);
      queued = Math.max(1, typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length);
    } else {
      this.batchTurn();
      if (typeof payload === 'string') protocol.sendText(payload);
      else protocol.sendBinary(payload);
      queued = socket.writableLength + this.pendingBytes + protocol.batchedBytes - before;
      if (this.meter !== null) this.meter.sent(typeof payload !== 'string', framePayloadLength(queued, false));
    }
    if (before + queued + this.outboundBytes <= this.writeLimit) return queued;
    // Over the limit: hand this turn's frames to the (corked) socket, whose 'drain' tells when they are gone.
    protocol.flushOutputBatch();
    this.spillWrites();
    this.more.drainWanted = true;
    this.watchDrain();
    return SendStatus.BACKPRESSURE;
  }

  /**
   * Whether a message goes through permessage-deflate's chain: it may be large enough to compress, or messages before
   * it are still compressing (order is kept). A UTF-16 unit takes at most 3 bytes of UTF-8, so text under the
   * threshold by that measure goes out as without compression, unmeasured.
   */
  private throughCodec(payload: string | Uint8Array): boolean {
    if (this.outbound !== null) return true;
    const codec = this.codec;
    return codec !== null && codec.shouldEncode(typeof payload === 'string' ? payload.length * 3 : payload.length);
  }

  private sendThroughCodec(payload: string | Uint8Array, binary: boolean): Promise<void> {
    const codec = this.codec;
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : toBuffer(payload);
    if (this.meter !== null) this.meter.sent(binary, bytes.length);
    const opcode = binary ? Opcode.BINARY : Opcode.TEXT;
    // Past writeLimit bytes waiting for zlib, a message goes out uncompressed (RFC 7692 §6: RSV1 is set per message),
    // still in order: when zlib lags (libuv's pool shared by every connection), the work queued per connection stays
    // bounded instead of growing with the send rate.
    if (codec === null || !codec.shouldEncode(bytes.length) || this.outboundBytes > this.writeLimit) {
      if (this.outbound === null) {
        this.protocol.sendFrame(opcode, bytes, true, false);
        return this.drained();
      }
      const owned = typeof payload === 'string' ? bytes : Buffer.from(bytes);
      return this.chainOutbound(owned.length, async () => this.protocol.sendFrame(opcode, owned, true, false));
    }
    // Compression is asynchronous; later sends queue behind it so messages keep their order.
    // Copy the caller's bytes: they may reuse the buffer as soon as send() returns (broadcast does), as without a codec.
    const owned = typeof payload === 'string' ? bytes : Buffer.from(bytes);
    return this.chainOutbound(owned.length, async () => {
      const encoded = await codec.encode(owned);
      if (this.meter !== null) {
        this.meter.deflateIn += owned.length;
        this.meter.deflateOut += encoded?.length ?? owned.length;
      }
      if (this.protocol.state === State.OPEN) this.protocol.sendFrame(opcode, encoded ?? owned, true, encoded !== null);
    });
  }

  /** Runs `step` (which writes `size` bytes of message) after the sends before it, counted in bufferedAmount meanwhile. */
  private chainOutbound(size: number, step: () => Promise<void>): Promise<void> {
    this.outboundBytes += size;
    const counted = async (): Promise<void> => {
      try {
        await step();
      } finally {
        this.outboundBytes -= size;
      }
    };
    const previous = this.outbound ?? RESOLVED;
    // The next message waits for this one to be written, not for the socket to drain: what waits in the chain is
    // zlib's backlog alone (compressionBacklog), and the caller's promise is the one paced by the peer.
    const written = previous.then(counted);
    const tail = written.catch(noop);
    this.outbound = tail;
    void tail.then(() => {
      if (this.outbound === tail) this.outbound = null;
    });
    return quietly(written.then(() => this.drained()));
  }

  private sendFragmented(chunks: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>): Promise<void> {
    // Frames of one message must not interleave with other messages' frames: later sends wait.
    const sending = this.sendChunks(chunks);
    const done = sending.then(noop, noop);
    const extras = this.more;
    extras.fragmenting = done;
    void done.then(() => {
      if (extras.fragmenting === done) extras.fragmenting = null;
    });
    return quietly(sending.then(() => this.drained()));
  }

  private async sendChunks(chunks: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>): Promise<void> {
    if (this.outbound !== null) await this.outbound;
    let pending: string | Uint8Array | null = null;
    let size = 0;
    try {
      for await (const chunk of chunks as AsyncIterable<string | Uint8Array>) {
        if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
          throw new TypeError(`a fragmented message's chunks are strings or Uint8Arrays, not ${describe(chunk)}`);
        }
        if (this.meter !== null) size += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
        if (pending !== null) {
          // The core numbers the frames (first TEXT or BINARY, then CONTINUATION) and refuses a part of the other type.
          this.protocol.sendFragment(typeof pending !== 'string', pending, false);
          await this.drained();
        }
        pending = chunk;
      }
      if (pending === null) return;
      this.protocol.sendFragment(typeof pending !== 'string', pending, true);
    } catch (error) {
      // Half a message is out and cannot be finished: any later frame would break it (as Python websockets does).
      if (this.protocol.sendingFragments && this.protocol.state === State.OPEN) this.fail(1011, 'error in a fragmented message');
      throw error;
    }
    this.meter?.sent(typeof pending !== 'string', size);
  }

  /**
   * Sends a {@link PreparedMessage}: what `send()` does with its data, with the frame the message holds rather than
   * one built for this connection. A server connection whose compressor keeps no context between messages (RFC 7692
   * §7.1.1.1 server_no_context_takeover, the server default) sends the compressed frame the message makes once for
   * every connection sharing that compressor; one with context takeover compresses it itself. Until written, the
   * message counts in {@link bufferedAmount} (in {@link compressionBacklog} while it waits for zlib). Resolves and
   * rejects as `send()`. A client connection masks each frame (RFC 6455 §5.3), so it sends the message as `send()` would.
   */
  sendPrepared(message: PreparedMessage): Promise<void> {
    if (this.protocol.state !== State.OPEN) return quietly(Promise.reject(this.closedError()));
    const fragmenting = this.fragmenting;
    if (fragmenting !== null) return quietly(fragmenting.then(() => this.sendPrepared(message)));
    if (this.side === 'client') return this.sendThroughCodec(message.payload, message.binary);
    const size = message.size;
    const meter = this.meter;
    if (meter !== null) meter.sent(message.binary, size);
    const codec = this.codec;
    // The same rule as send(): past writeLimit bytes waiting for zlib, a message goes out uncompressed, in order.
    if (codec !== null && codec.shouldEncode(size) && this.outboundBytes <= this.writeLimit) {
      const shared = codec.shared ?? null;
      if (shared !== null) {
        const compressed = message.compressedFrame(shared); // zlib runs once for every connection asking
        return this.chainOutbound(size, async () => {
          const frame = await compressed;
          if (meter !== null) {
            meter.deflateIn += size;
            meter.deflateOut += frame === message.frame ? size : framePayloadLength(frame.length, false);
          }
          if (this.protocol.state === State.OPEN) this.protocol.sendEncoded(frame);
        });
      }
      return this.chainOutbound(size, async () => {
        const encoded = await codec.encode(message.payload);
        if (meter !== null) {
          meter.deflateIn += size;
          meter.deflateOut += encoded?.length ?? size;
        }
        const opcode = message.binary ? Opcode.BINARY : Opcode.TEXT;
        if (this.protocol.state === State.OPEN) this.protocol.sendFrame(opcode, encoded ?? message.payload, true, encoded !== null);
      });
    }
    if (this.outbound === null) {
      this.protocol.sendEncoded(message.frame);
      return this.drained();
    }
    return this.chainOutbound(size, async () => {
      if (this.protocol.state === State.OPEN) this.protocol.sendEncoded(message.frame);
    });
  }

  private drained(): Promise<void> {
    if (this.socket.writableLength + this.pendingBytes + this.protocol.batchedBytes <= this.writeLimit) return RESOLVED;
    // Over the limit: hand this turn's frames to the (corked) socket, whose 'drain' tells when they are gone.
    this.protocol.flushOutputBatch();
    this.spillWrites();
    this.watchDrain();
    const extras = this.more;
    if (extras.drainWaiter === null) {
      extras.drainWaiter = new Promise((resolve) => (extras.drainResolve = resolve));
    }
    return extras.drainWaiter;
  }

  /**
   * The socket emits 'drain' only after a write found its buffer at its high-water mark (16 KiB for a socket): with a
   * smaller writeLimit, what waits may be over the limit and never reach it. Then an empty write's callback tells
   * when what was queued before it is gone (this path runs only while over the limit).
   */
  private watchDrain(): void {
    const socket = this.socket;
    const extras = this.more;
    if (extras.drainWatched || socket.writableNeedDrain || socket.destroyed) return;
    extras.drainWatched = true;
    socket.write(EMPTY, () => {
      extras.drainWatched = false;
      if (this.closeInfo !== null) return;
      if (socket.writableLength + this.pendingBytes <= this.writeLimit) this.handleDrain();
      else this.watchDrain();
    });
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

  /**
   * @internal maxQueue messages unread or decompressing: stop parsing (the rest of the chunk read is held by the
   * protocol) and stop reading from the socket; not once we closed (see closeHandshake).
   */
  pauseQueue(): void {
    if (this.closeSent) return;
    this.protocol.pauseInput();
    this.pauseFor(PAUSED_QUEUE);
  }

  /**
   * Our close frame is out: the peer's answer must be read even if the reader is behind, so input paused for the
   * queue resumes (messages past maxQueue are discarded from now on, see onMessage).
   */
  private readToClose(): void {
    if ((this.pausedBy & PAUSED_QUEUE) === 0) return;
    this.protocol.resumeInput();
    this.resumeFor(PAUSED_QUEUE);
  }

  /** @internal The reader caught up: parse what was held, then read from the socket again unless that filled the queue. */
  resumeQueue(): void {
    this.protocol.resumeInput();
    // The socket closed while input was held: the connection is closed once that input is parsed.
    if (this.transportClosed && this.closeInfo === null && !this.protocol.holdsInput) this.handleClose();
    if (this.queueValue === null || !this.queueValue.isPaused) this.resumeFor(PAUSED_QUEUE);
  }

  /** @internal Socket 'drain'. */
  handleDrain(): void {
    this.resumeFor(PAUSED_BACKLOG);
    const extras = this.extras;
    if (extras === null) return;
    const resolve = extras.drainResolve;
    extras.drainWaiter = null;
    extras.drainResolve = null;
    resolve?.();
    if (extras.drainWanted && this.protocol.state === State.OPEN) {
      extras.drainWanted = false;
      const callbacks = this.callbacks;
      if (callbacks?.drain !== undefined) {
        try {
          callbacks.drain(this);
        } catch (error) {
          this.callbackFailed(error);
        }
      }
    }
  }

  /** @internal The async handler running this connection failed: handled as a failed callback (see callbackFailed). */
  handlerFailed(error: unknown): void {
    this.callbackFailed(error);
  }

  /** A callback threw or rejected: the server logs it and closes with 1011 (a connection without one fails). */
  private callbackFailed(error: unknown): void {
    if (this.owner !== null) this.owner.callbackFailed(this, error);
    else this.fail(1011, 'internal error');
  }

  /**
   * Callback mode: hands a message to `message`. `counted`: it already counts toward maxQueue (it was
   * decompressed), until the callback is done with it. A promise returned counts it until it settles.
   */
  private deliver(message: Message, binary: boolean, counted: boolean): void {
    const callbacks = this.callbacks!;
    let result: unknown;
    if (callbacks.message !== undefined) {
      try {
        result = callbacks.message(this, message, binary);
      } catch (error) {
        this.callbackFailed(error);
      }
    }
    if (result === undefined || !isThenable(result)) {
      if (counted) this.queue.abandon();
      return;
    }
    // Up to maxQueue messages wait for their callback's promise (or zlib); past that, reading pauses.
    if (!counted) this.queue.expect();
    result.then(
      () => this.queue.abandon(),
      (error: unknown) => {
        this.queue.abandon();
        this.callbackFailed(error);
      },
    );
  }

  /**
   * Sends a ping and resolves with the round-trip time in ms when the pong
   * arrives. A pong also answers every earlier ping (RFC 6455 §5.5.3).
   */
  ping(data?: string | Uint8Array): Promise<number> {
    if (this.protocol.state !== State.OPEN) return quietly(Promise.reject(this.closedError()));
    let payload: Buffer | TypeError;
    if (data === undefined) {
      payload = Buffer.allocUnsafe(4);
      globalThis.crypto.getRandomValues(payload);
    } else {
      payload = controlPayload('ping', data);
    }
    if (payload instanceof TypeError) return quietly(Promise.reject(payload));
    return quietly(sendPing(this, payload));
  }

  /** Sends an unsolicited pong (a one-way heartbeat). */
  pong(data: string | Uint8Array = Buffer.alloc(0)): Promise<void> {
    if (this.protocol.state !== State.OPEN) return quietly(Promise.reject(this.closedError()));
    const payload = controlPayload('pong', data);
    if (payload instanceof TypeError) return quietly(Promise.reject(payload));
    this.protocol.sendPong(payload);
    return this.drained();
  }

  // ---- receiving -----------------------------------------------------------

  /** Waits for the next message. Rejects with ConnectionClosedOK/Error once the connection is closed. */
  recv(): Promise<Message> {
    const message = this.queueValue?.shift();
    if (message !== undefined) return Promise.resolve(message);
    if (this.protocol.pendingFailure !== null) this.failIfCaughtUp();
    if (this.closeInfo !== null) return Promise.reject(this.closedError());
    if (this.queueValue?.waiting === true) return Promise.reject(new InvalidState('recv() is already waiting for a message'));
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
    const message = this.queueValue?.shift();
    if (message !== undefined) return Promise.resolve({ value: message, done: false });
    if (this.protocol.pendingFailure !== null) this.failIfCaughtUp();
    if (this.closeInfo !== null) {
      const error = this.closedError();
      return error instanceof ConnectionClosedOK ? Promise.resolve(DONE) : Promise.reject(error);
    }
    if (this.queueValue?.waiting === true) return Promise.reject(new InvalidState('recv() is already waiting for a message'));
    return this.queue.waitResult();
  }

  // ---- closing -------------------------------------------------------------

  /**
   * Performs the closing handshake (RFC 6455 §7) and waits until the TCP
   * connection is closed, dropping it after `closeTimeout`.
   */
  close(code = 1000, reason = ''): Promise<CloseInfo> {
    try {
      checkClose(code, reason);
    } catch (error) {
      return quietly(Promise.reject(error as Error));
    }
    this.closeCalled = true;
    return quietly(this.closeHandshake(code, reason));
  }

  private async closeHandshake(code: number, reason: string): Promise<CloseInfo> {
    if (this.transportClosed) {
      // The peer is gone and input it sent is still held for a reader that is behind: closing drops it.
      this.terminate();
      return this.closed;
    }
    if (this.protocol.state === State.OPEN && this.outbound !== null) {
      // Messages send() accepted but still compressing go out before the close frame; the timer
      // bounds the wait if the peer stops reading.
      this.armCloseTimer();
      await this.outbound;
    }
    if (this.protocol.pendingFailure !== null) {
      // The application is done: the peer learns of its protocol error rather than of a normal close.
      this.failNow();
    } else if (this.protocol.state === State.OPEN) {
      this.protocol.sendClose(code, reason);
      this.armCloseTimer();
      // The peer's Close comes after whatever it sent before seeing ours (RFC 6455 §7.1.2, §5.5.1): read on even if
      // unread messages filled the queue, or the handshake would only end at closeTimeout. What arrives beyond the
      // queue's size from now on is dropped (onMessage), so reading stays bounded.
      this.closeSent = true;
      this.readToClose();
    }
    return this.closed;
  }

  /** Closes the TCP connection at once, without a closing handshake; input not parsed yet is dropped. */
  terminate(): void {
    this.protocol.discardInput();
    this.socket.destroy();
    // A socket already closed emits no second 'close'.
    if (this.transportClosed) this.handleClose();
  }

  /** Fails the connection with `code` (e.g. 1011 for an internal error) and drops it. */
  fail(code: number, reason: string): void {
    if (this.closeInfo !== null) return;
    this.protocol.fail(code, reason);
  }

  private armCloseTimer(): void {
    const extras = this.more;
    if (extras.closeTimer !== null) return;
    extras.closeTimer = setTimeout(onCloseTimeout, this.closeTimeout, this);
    extras.closeTimer.unref();
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
    if (sent !== null && received !== null && isNormalCloseCode(sent.code) && isNormalCloseCode(received.code)) {
      return new ConnectionClosedOK(info);
    }
    return new ConnectionClosedError(info, { cause: this.protocol.failure ?? this.extras?.transportError ?? undefined });
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

  /**
   * @internal Keepalive's ping, written now rather than on the next tick (a tick and a flush per ping for thousands
   * of connections due together): a frame batched this turn goes first, in order. A server writes the shared frame
   * as is; a client's frames are masked (RFC 6455 §5.3), so it encodes its own.
   */
  sendKeepalivePing(frame: Buffer, payload: Buffer): void {
    if (this.receiving || this.flushScheduled) {
      // Frames are already waiting for a flush: the ping joins them.
      this.writePing(frame, payload);
      return;
    }
    // `receiving` keeps onWrite from scheduling a flush: the one below writes the ping.
    this.receiving = true;
    try {
      this.writePing(frame, payload);
    } finally {
      this.receiving = false;
    }
    this.flushWrites();
  }

  private writePing(frame: Buffer, payload: Buffer): void {
    if (this.side === 'server') this.protocol.sendEncodedPing(frame);
    else this.protocol.sendPing(payload);
  }

  /** @internal No pong within pingTimeout: fail with 1011. */
  keepaliveTimedOut(): void {
    if (this.protocol.state === State.OPEN || this.protocol.state === State.CLOSING) {
      this.more.transportError = new TimeoutError('keepalive ping timeout');
      this.fail(1011, 'keepalive ping timeout');
      // The peer is unresponsive: waiting closeTimeout for its TCP close would only delay detection.
      this.terminate();
    }
  }

  // ---- ProtocolHandler -----------------------------------------------------

  /**
   * Moves this turn's frames into the socket, corked until the turn's flush, so the socket counts them
   * (`writableLength`) and emits 'drain' once they are gone: what backpressure waits for. Later frames of the turn
   * are batched again, and written behind them by the flush (see {@link flushWrites}).
   */
  private spillWrites(): void {
    const first = this.pendingFirst;
    if (first === null) return;
    const more = this.pendingMore;
    const bytes = this.pendingBytes;
    this.pendingFirst = null;
    this.pendingMore = null;
    this.pendingBytes = 0;
    if (!this.spilled) {
      this.spilled = true; // the flush uncorks
      this.socket.cork();
    }
    writeFrames(this.socket, first, more, bytes);
  }

  /** @internal Frames of one turn go out together on the next tick: see {@link flushWrites}. */
  onWrite(data: Buffer): void {
    if (this.pendingFirst === null) {
      this.pendingFirst = data;
      this.pendingBytes = data.length;
      // In callback mode's handleData the frames of the chunk's messages go out when it returns.
      if (!this.receiving && !this.flushScheduled) {
        this.flushScheduled = true;
        scheduleFlush(this);
      }
      return;
    }
    (this.pendingMore ??= []).push(data);
    this.pendingBytes += data.length;
  }

  /**
   * Outside a received chunk's handling (which has its own), the first message sent in a turn opens the protocol's
   * output batch until the turn's flush, if no other connection holds it: a `for await` handler's replies are written
   * into one buffer as they are sent, instead of a buffer each joined by the flush.
   */
  private batchTurn(): void {
    if (this.receiving || !this.protocol.beginOutputBatch()) return;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      scheduleFlush(this);
    }
  }

  /** @internal The flush scheduled by {@link onWrite} or {@link batchTurn}. */
  flushTick(): void {
    // The turn's batch, if this connection holds it, joins the frames to write (onWrite schedules nothing meanwhile).
    this.protocol.endOutputBatch();
    this.flushScheduled = false;
    this.flushWrites();
  }

  /**
   * @internal Writes the frames of this turn: one as is, several small ones copied into one buffer (one stream write
   * and one system call instead of a stream write per frame), larger batches corked into one writev (see writeRuns).
   */
  flushWrites(): void {
    const first = this.pendingFirst;
    if (first !== null) {
      const bytes = this.pendingBytes;
      const more = this.pendingMore;
      this.pendingFirst = null;
      this.pendingMore = null;
      this.pendingBytes = 0;
      writeFrames(this.socket, first, more, bytes);
    }
    if (this.spilled) {
      this.spilled = false;
      this.socket.uncork();
    }
  }

  /** @internal */
  onText(text: string, size: number): void {
    this.onMessage(text, false, false, size);
  }

  /** @internal `data` is a string when the protocol decoded it ({@link onText}); `size` its length in bytes. */
  onMessage(data: Buffer | string, binary: boolean, compressed: boolean, size = data.length): void {
    // After our Close the application reads at most a full queue (messages decompressing included); the rest is read
    // only to reach the peer's Close, as browsers discard every message once close() is called (WHATWG HTML §9.3.4).
    if (this.closeSent && this.queueValue !== null && this.queueValue.isFull) return;
    if (this.callbacks !== null) {
      // Callback mode hands on no message once close() was called (a failed callback included), as Bun and browsers.
      if (this.closeCalled) return;
      if (!compressed && this.inbound === null) {
        if (this.meter !== null) this.meter.received(binary, size);
        this.deliver(data, binary, false);
        return;
      }
    } else if (!compressed && this.inbound === null) {
      if (this.meter !== null) this.meter.received(binary, size);
      this.queue.push(data);
      return;
    }
    // Decoding is asynchronous; later messages wait for it so order is kept. A message counts toward maxQueue from
    // now on: a peer streaming tiny compressed messages fills the queue's bound with messages waiting for zlib, and
    // reading stops, instead of a decompression job (and the bytes it holds) queuing per message without bound.
    this.queue.expect();
    const step = async (): Promise<void> => {
      const message = await this.decode(data, binary, compressed, size);
      if (message === null || (this.callbacks !== null && this.closeCalled)) this.queue.abandon();
      else if (this.callbacks !== null) this.deliver(message, binary, true);
      else this.queue.push(message, true);
    };
    const previous = this.inbound ?? RESOLVED;
    const tail = previous.then(step);
    this.inbound = tail;
    void tail.then(() => {
      if (this.inbound !== tail) return;
      this.inbound = null;
      if (this.protocol.pendingFailure !== null) this.failIfCaughtUp();
    });
  }

  /**
   * @internal Received data broke the protocol: nothing more is read, but the messages complete before the error
   * are handled first (a peer may expect their answers, Autobahn cases 3.2, 4.1.3, 5.15...). The connection fails
   * once the reader asks for a message after the last of them (at once if it was handed none), or after
   * closeTimeout if it does not.
   */
  onFailurePending(): void {
    this.failIfCaughtUp();
    if (this.protocol.pendingFailure === null) return;
    const extras = this.more;
    if (extras.failTimer !== null) return;
    extras.failTimer = setTimeout(onFailTimeout, this.closeTimeout, this);
    extras.failTimer.unref();
  }

  /** Fails with the pending protocol error if no message before it is left unhandled (a reader that never reads handles none). */
  private failIfCaughtUp(): void {
    const queue = this.queueValue;
    if ((queue === null || (queue.length === 0 && !queue.readerBusy)) && this.inbound === null) this.failNow();
  }

  /** @internal Fails with the pending protocol error now. */
  failNow(): void {
    const extras = this.extras;
    if (extras !== null && extras.failTimer !== null) {
      clearTimeout(extras.failTimer);
      extras.failTimer = null;
    }
    this.protocol.failPending();
  }

  /** A received message decompressed (if it was) and checked, or null if the connection failed instead. */
  private async decode(data: Buffer | string, binary: boolean, compressed: boolean, size: number): Promise<Message | null> {
    if (typeof data === 'string') {
      this.meter?.received(false, size);
      return data;
    }
    let bytes = data;
    if (compressed) {
      const codec = this.codec;
      if (codec === null) return null;
      try {
        bytes = await codec.decode(data, this.protocol.messageSizeLimit);
      } catch (error) {
        this.protocol.inflateFailed(error as Error & { closeCode?: number });
        return null;
      }
      if (!this.protocol.acceptInflated(bytes, binary)) return null;
      if (this.meter !== null) {
        this.meter.inflateIn += data.length;
        this.meter.inflateOut += bytes.length;
      }
    }
    if (this.protocol.failure !== null) return null;
    this.meter?.received(binary, bytes.length);
    return binary ? bytes : bytes.toString('utf8');
  }

  /** @internal */
  onPing(_payload: Buffer): void {}

  /** @internal */
  onPong(payload: Buffer): void {
    const rtt = receivePong(this, payload);
    if (rtt < 0) return;
    this.latency = rtt;
    this.meter?.rtt.observe(rtt / 1000);
  }

  /** @internal */
  onCloseFrame(_close: ClosePayload): void {
    // Client side: wait for the server to close TCP, but not forever (§7.1.1).
    this.armCloseTimer();
  }

  /** @internal */
  onEnd(): void {
    // Also told when the socket has already closed (handleClose reports EOF): nothing left to end.
    if (this.socket.destroyed) return;
    this.flushWrites();
    this.socket.end();
    this.armCloseTimer();
  }

  // ---- socket events -------------------------------------------------------

  /** @internal */
  handleData(chunk: Buffer): void {
    if (this.callbacks === null) {
      this.protocol.receiveData(chunk);
    } else {
      // The callbacks ran synchronously: what they sent goes out now, in one write (no tick scheduled).
      // Their small frames are written into one buffer as they are sent (the protocol's output batch).
      this.receiving = true;
      this.protocol.beginOutputBatch();
      try {
        this.protocol.receiveData(chunk);
      } finally {
        this.protocol.endOutputBatch();
        this.receiving = false;
      }
      if (this.pendingFirst !== null || this.spilled) this.flushWrites();
    }
    // A peer that sends (pings, say) but doesn't read what we answer is not read from
    // until the socket drains: automatic replies never pile up without bound.
    if (this.socket.writableLength + this.pendingBytes > this.writeLimit * 4) {
      // Only bytes the socket holds are followed by 'drain' (which resumes reading).
      this.spillWrites();
      this.pauseFor(PAUSED_BACKLOG);
      this.watchDrain();
    }
  }

  /** @internal */
  handleEnd(): void {
    this.protocol.receiveEof();
    // The peer left while the reader was behind: what it sent before is delivered as it reads, within closeTimeout.
    if (this.protocol.holdsInput) this.armCloseTimer();
  }

  /** @internal */
  handleError(error: Error): void {
    this.more.transportError ??= error;
  }

  /** @internal */
  handleClose(): void {
    if (this.closeInfo !== null) return;
    this.transportClosed = true;
    this.protocol.receiveEof();
    // Input held while the reader was behind (messages, the peer's close frame) is parsed as it reads (see
    // resumeQueue), so that nothing received before the close is lost; closeTimeout bounds the wait.
    if (this.protocol.holdsInput) {
      this.handleDrain(); // no send() waits for a socket that is gone
      this.armCloseTimer();
      return;
    }
    const received = this.protocol.closeReceived;
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
    const extras = this.extras;
    if (extras !== null) {
      if (extras.closeTimer !== null) clearTimeout(extras.closeTimer);
      if (extras.failTimer !== null) clearTimeout(extras.failTimer);
    }
    this.codec?.close();
    const error = this.closedError();
    stopKeepalive(this, error);
    this.handleDrain();
    this.queueValue?.abort(error, error instanceof ConnectionClosedOK);
    this.socket[kConnection] = undefined;
    this.owner?.connectionClosed(this);
    // Read again: `ws.closed` may have been asked for by what ran since (then already resolved, with closeInfo set).
    const waiting = this.extras;
    if (waiting !== null) {
      waiting.resolveClosed?.(info);
      waiting.resolveClosed = null;
    }
    const callbacks = this.callbacks;
    if (callbacks?.close !== undefined) {
      try {
        callbacks.close(this, info.code, info.reason);
      } catch (error) {
        this.callbackFailed(error);
      }
    }
  }
}

function noop(): void {}

/** A connection's limits, callbacks and owner: one object for the connections made with the same. */
interface ConnectionSettings {
  readonly side: Side;
  readonly subprotocol: string | null;
  readonly extensions: string;
  readonly hub: Hub | null;
  readonly meter: RouteMeter | null;
  readonly maxQueue: number;
  readonly writeLimit: number;
  readonly backpressureLimit: number;
  readonly closeTimeout: number;
  readonly pingInterval: number | null;
  readonly pingTimeout: number | null;
  readonly callbacks: WebSocketHandlers | null;
  readonly owner: ConnectionOwner | null;
}

// The settings made last, a few per owner: a server makes its connections with the same options (per route, with
// callbacks or metrics; per subprotocol and extension agreed), so a short search finds them without a lookup key built
// per connection, the last made first. Kept by owner in a WeakMap, so that a server closed and dropped is not kept
// alive by its settings. Room for as many as a router's routes times the few agreements, so that connections of
// interleaved routes do not each get their own.
const settingsByOwner = new WeakMap<ConnectionOwner, ConnectionSettings[]>();
const ownerlessSettings: ConnectionSettings[] = [];
const RECENT_SETTINGS = 32;

/** The settings of `init`, shared with the connections made before with the same (memory per idle connection). */
function settingsFor(side: Side, init: ConnectionInit): ConnectionSettings {
  // What the handshake agreed takes few values (most servers offer one subprotocol, or none), hence shared too.
  const subprotocol = init.subprotocol ?? null;
  const extensions = init.extensions ?? '';
  const hub = init.hub ?? null;
  const meter = init.meter ?? null;
  const maxQueue = init.maxQueue ?? 16;
  const writeLimit = init.writeLimit ?? 64 * 1024;
  const backpressureLimit = init.backpressureLimit ?? 16 * 1024 * 1024;
  const closeTimeout = init.closeTimeout ?? 10_000;
  const pingInterval = init.pingInterval === undefined ? 20_000 : init.pingInterval;
  const pingTimeout = init.pingTimeout === undefined ? 20_000 : init.pingTimeout;
  const callbacks = init.callbacks ?? null;
  const owner = init.owner ?? null;
  let recent = owner === null ? ownerlessSettings : settingsByOwner.get(owner);
  if (recent === undefined) {
    recent = [];
    settingsByOwner.set(owner!, recent);
  }
  for (const known of recent) {
    if (
      known.callbacks === callbacks &&
      known.side === side &&
      known.subprotocol === subprotocol &&
      known.extensions === extensions &&
      known.hub === hub &&
      known.meter === meter &&
      known.maxQueue === maxQueue &&
      known.writeLimit === writeLimit &&
      known.backpressureLimit === backpressureLimit &&
      known.closeTimeout === closeTimeout &&
      known.pingInterval === pingInterval &&
      known.pingTimeout === pingTimeout
    ) {
      return known;
    }
  }
  const settings = Object.freeze({ side, subprotocol, extensions, hub, meter, maxQueue, writeLimit, backpressureLimit, closeTimeout, pingInterval, pingTimeout, callbacks, owner });
  if (recent.unshift(settings) > RECENT_SETTINGS) recent.pop();
  return settings;
}

/**
 * The state of a connection that only some connections need (a close awaited or under way, a drain waited for, a
 * fragmented message being sent, an error), apart from the connection and made on its first use: every field an
 * idle connection carries is memory per connection, copied by the young-generation GC while connections are set up.
 */
class ConnectionExtras {
  /** Callback mode: bytes that came with the handshake, parsed once `open` has run. */
  heldHead: Buffer | null = null;
  /** The promise `send()` returns while over writeLimit, and its resolve function. */
  drainWaiter: Promise<void> | null = null;
  drainResolve: (() => void) | null = null;
  /** sendNow() returned BACKPRESSURE: `drain` is called when the socket drains. */
  drainWanted = false;
  /** An empty write's callback will tell when the socket drained (see watchDrain). */
  drainWatched = false;
  /** A fragmented message being sent: later sends wait for it. */
  fragmenting: Promise<void> | null = null;
  /** `ws.closed`, made on first use (most connections are never awaited), and its resolve function. */
  closedPromise: Promise<CloseInfo> | null = null;
  resolveClosed: ((info: CloseInfo) => void) | null = null;
  /** The transport's error, or the keepalive timeout: the cause of a ConnectionClosedError. */
  transportError: Error | null = null;
  /** Drops the transport if the closing handshake does not end within closeTimeout. */
  closeTimer: NodeJS.Timeout | null = null;
  /** Bounds how long a protocol error waits for the reader to handle the messages before it (see onFailurePending). */
  failTimer: NodeJS.Timeout | null = null;
  /** `ws.ping()`s waiting for their pongs, oldest first (see KeepaliveEntry.keepalivePings). */
  pings: PendingPing[] | null = null;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Returns `promise` with a rejection handler attached, so that a rejection nobody awaits (`setInterval(() =>
 * ws.send(tick))` after the peer left) is not an unhandled rejection, which ends a Node process. Whoever awaits it
 * still gets the error; the connection's end is also reported by `ws.closed`.
 */
function quietly<T>(promise: Promise<T>): Promise<T> {
  promise.catch(noop);
  return promise;
}

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
/**
 * Connections whose frames wait for the next tick's flush. One tick flushes them all: a broadcast to 2,000 connections
 * scheduled 2,000 ticks before. Frames keep their order (each connection's are appended as they are sent).
 */
let flushQueue: Connection[] = [];

function scheduleFlush(connection: Connection): void {
  if (flushQueue.push(connection) === 1) process.nextTick(flushQueued);
}

function flushQueued(): void {
  const queue = flushQueue;
  flushQueue = [];
  let at = 0;
  try {
    while (at < queue.length) queue[at++]!.flushTick();
  } finally {
    // A flush that threw must not strand the connections after it (each still has flushScheduled set).
    while (at < queue.length) scheduleFlush(queue[at++]!);
  }
}

/**
 * The frames and buffer of the last coalesced write: a broadcast hands the same prepared frames to every connection,
 * so the next connection with the very same frames (the same Buffer objects, which are never written to once sent)
 * writes the same buffer instead of copying them again.
 */
const lastRun: Buffer[] = [];
let lastRunOut: Buffer | null = null;

/** The buffer of lastRun when frames [from, to) of `first`, `more` are the same objects, else null. */
function sameRun(first: Buffer, more: Buffer[], from: number, to: number): Buffer | null {
  if (lastRunOut === null || lastRun.length !== to - from) return null;
  for (let i = from; i < to; i++) if (lastRun[i - from] !== (i < 0 ? first : more[i]!)) return null;
  return lastRunOut;
}

/** Writes a turn's frames, `bytes` in all: one as is, up to COALESCE_LIMIT bytes copied into one, more corked (writeRuns). */
function writeFrames(socket: Transport, first: Buffer, more: Buffer[] | null, bytes: number): void {
  if (more === null) {
    socket.write(first);
  } else if (bytes <= COALESCE_LIMIT) {
    writeRun(socket, first, more, -1, more.length, bytes);
  } else {
    socket.cork();
    writeRuns(socket, first, more);
    socket.uncork();
  }
}

/**
 * Writes `first` and `more` in order (the socket corked by the caller): each frame of COALESCE_LIMIT bytes or more as
 * is (no copy), the frames between them copied together into buffers of up to COALESCE_LIMIT bytes. A writev of
 * thousands of tiny frames (the echoes of a flood of 1-byte messages) holds a buffer object and a write request per
 * frame until the kernel takes them, some 50 times the bytes they carry: with a peer slow to read, 160,000 of them
 * were alive at once in `bench/flood-memory.ts`'s text flood (15 MiB of heap for 0.5 MiB of frames).
 */
function writeRuns(socket: Transport, first: Buffer, more: Buffer[]): void {
  // Frame -1 is `first`, frame i >= 0 is more[i]; a run is frames [from, i).
  let from = -1;
  let bytes = 0;
  for (let i = -1; i < more.length; i++) {
    const frame = i < 0 ? first : more[i]!;
    if (frame.length >= COALESCE_LIMIT) {
      writeRun(socket, first, more, from, i, bytes);
      socket.write(frame);
      from = i + 1;
      bytes = 0;
      continue;
    }
    if (bytes + frame.length > COALESCE_LIMIT) {
      writeRun(socket, first, more, from, i, bytes);
      from = i;
      bytes = 0;
    }
    bytes += frame.length;
  }
  writeRun(socket, first, more, from, more.length, bytes);
}

/** Writes frames [from, to) of `first`, `more` (numbered as in writeRuns), `bytes` in all: one as is, more copied into one buffer. */
function writeRun(socket: Transport, first: Buffer, more: Buffer[], from: number, to: number, bytes: number): void {
  if (to === from) return;
  if (to === from + 1) {
    socket.write(from < 0 ? first : more[from]!);
    return;
  }
  const same = sameRun(first, more, from, to);
  if (same !== null) {
    socket.write(same);
    return;
  }
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  lastRun.length = 0;
  for (let i = from; i < to; i++) {
    const frame = i < 0 ? first : more[i]!;
    lastRun.push(frame);
    at += frame.copy(out, at);
  }
  lastRunOut = out;
  socket.write(out);
}
function onCloseTimeout(connection: Connection): void {
  connection.terminate();
}
function onFailTimeout(connection: Connection): void {
  connection.failNow();
}
