/**
 * permessage-deflate (RFC 7692) over Node's zlib, built to survive hostile
 * peers and many connections:
 *
 * - the inflated size is counted while zlib produces it, so a compression bomb
 *   stops at `maxMessageSize` (close 1009) having used about that much memory;
 * - zlib work goes through a {@link ZlibLimiter}, so thousands of connections
 *   don't queue thousands of jobs on libuv's 4-thread pool at once (ws#1202:
 *   unbounded concurrent zlib work fragments memory badly on Linux);
 * - a connection's own zlib contexts are created on first use and closed with
 *   the connection; a direction with no context takeover uses streams shared
 *   by all connections (zlib-stream.ts), reset after each message.
 */
import * as zlib from 'node:zlib';
import { ProtocolError } from '../errors.js';
import {
  acceptAnswer,
  clientOffer,
  codecParams,
  negotiateServer,
  PERMESSAGE_DEFLATE,
  validateDeflateConfig,
  type DeflateCodecParams,
  type DeflateConfig,
} from '../protocol/deflate-params.js';
import type { ExtensionOffer } from '../protocol/extension-header.js';
import type { ClientExtension, MessageCodec, MessageEncoder, ServerExtension } from './message-codec.js';
import { feed, ZlibPool, type ZlibOperation } from './zlib-stream.js';

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * `compression` settings of `serve()`, `attach()` and `connect()`.
 *
 * Memory per connection: a direction that keeps its context between messages holds its own zlib stream from its
 * first compressed message until the connection closes. Node's bundled zlib makes every deflate stream about
 * 100 KiB (a 64 KiB hash table whatever `memLevel` asks for) and an inflater at 12-bit windows about 18 KiB. So a
 * server by default shares its compressor (`serverNoContextTakeover: true`, uWS's SHARED_COMPRESSOR): it keeps
 * no deflater per connection, only the inflater for what the client sends (browsers keep their context). A
 * connection that has negotiated compression and sent nothing holds no zlib state at all.
 */
export interface CompressionOptions {
  /**
   * Messages smaller than this many bytes are sent uncompressed (RSV1 clear),
   * even on a compressed connection. Default 128: below that, deflate saves at
   * most a few dozen bytes on a message that fits one TCP segment anyway, and
   * costs a trip through libuv's threadpool; above it, repetitive payloads
   * such as JSON shrink by half or more with context takeover. Above the
   * threshold, a message deflate would not shrink (random or already
   * compressed data) is sent uncompressed too.
   *
   * 0 compresses every message, whatever its size, even when deflate makes it
   * a few bytes larger: a workaround for peers that mishandle uncompressed
   * messages on a compressed connection (the libwebsockets 4.1 client stalls
   * on them, its issue #2794).
   */
  threshold?: number;
  /** zlib compression level, 0..9. Default 6 (zlib's default, as Python websockets and ws use). */
  level?: number;
  /** zlib memLevel, 1..9. Default 5 (Python websockets' default: 8 KiB of hash chains instead of 128 KiB). */
  memLevel?: number;
  /** Largest LZ77 window of the server's compressor, in bits (8..15). Server default 12 (as Python websockets); client default: no limit. */
  serverMaxWindowBits?: number;
  /** Largest LZ77 window of the client's compressor, in bits (8..15). Server default 12 (as Python websockets); client default: the server decides. */
  clientMaxWindowBits?: number;
  /**
   * The server resets its compressor after each message (RFC 7692 §7.1.1.1), so the server's connections share
   * a few compressors (at most one per zlib operation in flight) instead of one each, and a broadcast compresses
   * a message once for all of them. Server default true; false keeps a compressor per connection (context
   * takeover: better ratio on small repetitive messages, about 100 KiB more per connection that has sent one).
   * Client default false.
   */
  serverNoContextTakeover?: boolean;
  /**
   * The client resets its compressor after each message (§7.1.1.2): the server then keeps no decompressor per
   * connection either (they are shared too). Default false.
   */
  clientNoContextTakeover?: boolean;
  /** Most zlib operations in flight at once, across all connections sharing this setting. Default 10 (as ws). */
  concurrency?: number;
  /** A limiter to share between servers or `connect()` calls, instead of one made from `concurrency`. */
  limiter?: ZlibLimiter;
}

/** The `compression` option: `true` for the defaults, `false` to neither offer nor accept permessage-deflate. */
export type CompressionOption = boolean | CompressionOptions;

/** Default threshold in bytes below which messages are not compressed (see {@link CompressionOptions.threshold}). */
export const DEFAULT_COMPRESSION_THRESHOLD = 128;
/** Default number of zlib operations in flight per limiter. */
export const DEFAULT_ZLIB_CONCURRENCY = 10;

/**
 * A FIFO semaphore for zlib operations. Each waiting operation is a closure
 * in an array, so the cost of a queue of N connections is N small objects.
 */
export class ZlibLimiter {
  /** Operations allowed in flight at once. */
  readonly concurrency: number;
  private active = 0;
  private finished = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(concurrency = DEFAULT_ZLIB_CONCURRENCY) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    this.concurrency = concurrency;
  }

  /** Operations running now. */
  get running(): number {
    return this.active;
  }

  /** Operations waiting for a slot. */
  get pending(): number {
    return this.waiting.length;
  }

  /** Operations run to their end (succeeded or failed) since the limiter was made: zlib calls, e.g. one per compressed broadcast. */
  get completed(): number {
    return this.finished;
  }

  /** Runs `task` when a slot is free; the slot is released when its promise settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      this.finished++;
      // Hand the slot straight to the next waiter, so `active` never dips and lets a newcomer jump the queue.
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.active--;
    }
  }
}

// A process-wide limiter for connect() calls that don't bring their own. Each connect() is independent and has no
// owner object to hang a limiter on, yet the resource being protected, libuv's threadpool and the allocator behind
// it, is process-wide: a load test opening 10,000 compressed client connections must share one bound. Created on
// first use; servers never use it (each Server owns its limiter).
let clientLimiter: ZlibLimiter | undefined;
function sharedClientLimiter(): ZlibLimiter {
  return (clientLimiter ??= new ZlibLimiter());
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** RFC 7692 §7.2.3.6: an empty message, compressed. */
const EMPTY_BLOCK = Buffer.of(0x00);

interface ZlibSettings {
  threshold: number;
  level: number;
  memLevel: number;
  limiter: ZlibLimiter;
  /** The streams shared by this setting's connections that keep no context; made per codec when absent. */
  pools?: ZlibPools;
}

/**
 * The §7.2.1 payload from a Z_SYNC_FLUSH'd deflate output: without its 0x00 0x00 0xff 0xff tail, or null when it
 * is not smaller than the `inputLength` bytes it encodes (the message is then sent uncompressed, so it never grows
 * on the wire past a peer's size limit) unless `always` (threshold 0: every message compressed). An empty message on
 * a stream already flushed makes zlib write nothing: §7.2.3.6's single 0x00 octet (an empty stored block once the
 * receiver appends the tail) is sent.
 */
function messagePayload(output: Buffer, inputLength: number, always: boolean): Buffer | null {
  const encoded =
    output.length >= 4 && output.subarray(output.length - 4).equals(TAIL)
      ? output.subarray(0, output.length - 4)
      : output.length === 0
        ? EMPTY_BLOCK
        : output;
  return encoded.length >= inputLength && !always ? null : encoded;
}

function createDeflater(level: number, memLevel: number, windowBits: number): zlib.DeflateRaw {
  return zlib.createDeflateRaw({
    level,
    memLevel,
    windowBits,
    // Every write ends with Z_SYNC_FLUSH, so a message is one threadpool job instead of a write plus a flush.
    // Z_SYNC_FLUSH ends on a byte boundary with an empty stored block and keeps the dictionary (Z_FULL_FLUSH would not).
    flush: zlib.constants.Z_SYNC_FLUSH,
  });
}

function createInflater(windowBits: number): zlib.InflateRaw {
  return zlib.createInflateRaw({ windowBits, flush: zlib.constants.Z_SYNC_FLUSH });
}

/** The compressor shared by the connections of one setting and window size that keep no compression context. */
class SharedDeflater implements MessageEncoder {
  private readonly pool: ZlibPool;

  private readonly limiter: ZlibLimiter;
  private readonly always: boolean;

  constructor(settings: Omit<ZlibSettings, 'pools'>, windowBits: number) {
    this.limiter = settings.limiter;
    this.always = settings.threshold === 0;
    this.pool = new ZlibPool(() => createDeflater(settings.level, settings.memLevel, windowBits));
  }

  encode(data: Buffer): Promise<Buffer | null> {
    return this.limiter.run(() => this.pool.process(data, Infinity)).then((output) => messagePayload(output, data.length, this.always));
  }

  /** zlib streams this compressor holds. */
  get streams(): number {
    return this.pool.size;
  }
}

/** The shared streams of one compression setting, by direction and window size (made on first use). */
export class ZlibPools {
  private readonly deflaters = new Map<number, SharedDeflater>();
  private readonly inflaters = new Map<number, ZlibPool>();

  constructor(private readonly settings: Omit<ZlibSettings, 'pools'>) {}

  /** The compressor of connections that reset theirs after each message, for `windowBits`. */
  deflater(windowBits: number): MessageEncoder {
    let shared = this.deflaters.get(windowBits);
    if (shared === undefined) {
      shared = new SharedDeflater(this.settings, windowBits);
      this.deflaters.set(windowBits, shared);
    }
    return shared;
  }

  /** zlib streams held by all the pools (idle or in use): at most the limiter's concurrency per direction and size. */
  get streams(): number {
    let total = 0;
    for (const deflater of this.deflaters.values()) total += deflater.streams;
    for (const pool of this.inflaters.values()) total += pool.size;
    return total;
  }

  /** The decompressors of connections whose peer resets its compressor after each message, for `windowBits`. */
  inflater(windowBits: number): ZlibPool {
    let pool = this.inflaters.get(windowBits);
    if (pool === undefined) {
      pool = new ZlibPool(() => createInflater(windowBits));
      this.inflaters.set(windowBits, pool);
    }
    return pool;
  }
}

/**
 * The permessage-deflate codec of one connection. A direction with context takeover has its own zlib stream,
 * made on the first message and kept until the connection closes; a direction without (no_context_takeover
 * agreed) keeps nothing: its messages go through streams shared with the setting's other connections.
 */
export class DeflateCodec implements MessageCodec {
  /** The shared compressor when this connection's compression keeps no context, else null. */
  readonly shared: MessageEncoder | null;
  private readonly params: DeflateCodecParams;
  private readonly settings: ZlibSettings;
  private readonly sharedInflater: ZlibPool | null;
  private deflater: zlib.DeflateRaw | null = null;
  private inflater: zlib.InflateRaw | null = null;
  // Tails of the two chains settle to undefined, so the last message's buffer is not kept alive between messages.
  private deflating: Promise<void> = RESOLVED;
  private inflating: Promise<void> = RESOLVED;
  private running: Set<ZlibOperation> | null = null;
  private closed = false;

  constructor(params: DeflateCodecParams, settings: ZlibSettings) {
    this.params = params;
    this.settings = settings;
    const pools = params.deflateNoContextTakeover || params.inflateNoContextTakeover ? (settings.pools ?? new ZlibPools(settings)) : null;
    this.shared = params.deflateNoContextTakeover ? pools!.deflater(params.deflateWindowBits) : null;
    this.sharedInflater = params.inflateNoContextTakeover ? pools!.inflater(params.inflateWindowBits) : null;
  }

  /** Whether a message of `size` bytes is worth compressing. */
  shouldEncode(size: number): boolean {
    return size >= this.settings.threshold;
  }

  /**
   * Compresses a message: zlib output flushed with Z_SYNC_FLUSH, minus its 0x00 0x00 0xff 0xff tail (§7.2.1).
   * Null when the output would not be smaller (random or already compressed data): the message is then sent
   * uncompressed, so it never grows on the wire past a peer's size limit.
   */
  encode(data: Buffer): Promise<Buffer | null> {
    // Calls are chained so two messages never share the stream at once, whatever the caller does.
    const shared = this.shared;
    const result = this.deflating.then(() =>
      shared !== null ? this.unlessClosed(shared.encode(data)) : this.settings.limiter.run(() => this.deflate(data)),
    );
    this.deflating = result.then(noop, noop);
    return result;
  }

  /** Decompresses a message, failing with PayloadTooBig (1009) as soon as the output passes `maxSize`. */
  decode(data: Buffer, maxSize: number): Promise<Buffer> {
    const result = this.inflating.then(() => this.settings.limiter.run(() => this.inflate(data, maxSize)));
    this.inflating = result.then(noop, noop);
    return result;
  }

  /** Frees the connection's own zlib contexts and fails any call in progress. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.running !== null) {
      for (const operation of this.running) operation.fail(new ProtocolError('connection closed during compression', 1011));
      this.running.clear();
    }
    this.dropDeflater();
    this.dropInflater();
  }

  /** A shared stream's result, or a rejection if this connection closed meanwhile (the stream itself goes on). */
  private unlessClosed<T>(result: Promise<T>): Promise<T> {
    return result.then((value) => (this.closed ? Promise.reject(new ProtocolError('connection closed during compression', 1011)) : value));
  }

  private deflate(data: Buffer): Promise<Buffer | null> {
    if (this.closed) return Promise.reject(new ProtocolError('connection closed', 1011));
    const stream = (this.deflater ??= createDeflater(this.settings.level, this.settings.memLevel, this.params.deflateWindowBits));
    return this.feed(stream, Infinity, data).then((output) => {
      const payload = messagePayload(output, data.length, this.settings.threshold === 0);
      // Not worth it: the message goes as is, and the compressor restarts so that later messages don't refer
      // back to bytes the peer never saw (the peer's inflater needs no reset to follow a fresh stream).
      if (payload === null) this.dropDeflater();
      return payload;
    });
  }

  private inflate(data: Buffer, maxSize: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new ProtocolError('connection closed', 1011));
    // §7.2.2: put back the tail the sender removed; the copy is of compressed bytes, so small.
    const input = Buffer.concat([data, TAIL]);
    if (this.sharedInflater !== null) return this.unlessClosed(this.sharedInflater.process(input, maxSize));
    const stream = (this.inflater ??= createInflater(this.params.inflateWindowBits));
    return this.feed(stream, maxSize, input);
  }

  /** One message through this connection's own stream; a stream that failed is closed by feed() and forgotten. */
  private feed(stream: zlib.DeflateRaw | zlib.InflateRaw, maxSize: number, input: Buffer): Promise<Buffer> {
    return feed(stream, maxSize, input, (this.running ??= new Set())).catch((error: unknown) => {
      if (stream === this.deflater) this.deflater = null;
      if (stream === this.inflater) this.inflater = null;
      throw error;
    });
  }

  private dropDeflater(): void {
    this.deflater?.close();
    this.deflater = null;
  }

  private dropInflater(): void {
    this.inflater?.close();
    this.inflater = null;
  }
}

function noop(): void {}

/** The settings of one extension object, with the pools its connections share. */
function resolveSettings(options: CompressionOptions, limiter: ZlibLimiter): ZlibSettings {
  const threshold = options.threshold ?? DEFAULT_COMPRESSION_THRESHOLD;
  const level = options.level ?? 6;
  const memLevel = options.memLevel ?? 5;
  if (!(threshold >= 0)) throw new RangeError(`threshold must be a non-negative number, got ${threshold}`);
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`level must be an integer from 0 to 9, got ${level}`);
  if (!Number.isInteger(memLevel) || memLevel < 1 || memLevel > 9) throw new RangeError(`memLevel must be an integer from 1 to 9, got ${memLevel}`);
  return { threshold, level, memLevel, limiter, pools: new ZlibPools({ threshold, level, memLevel, limiter }) };
}

function configOf(options: CompressionOptions, defaults: DeflateConfig): DeflateConfig {
  const config: DeflateConfig = {
    serverNoContextTakeover: options.serverNoContextTakeover ?? defaults.serverNoContextTakeover,
    clientNoContextTakeover: options.clientNoContextTakeover ?? defaults.clientNoContextTakeover,
    serverMaxWindowBits: options.serverMaxWindowBits ?? defaults.serverMaxWindowBits,
    clientMaxWindowBits: options.clientMaxWindowBits ?? defaults.clientMaxWindowBits,
  };
  validateDeflateConfig(config);
  return config;
}

/** Server side of permessage-deflate; one instance per server, sharing one {@link ZlibLimiter} among its connections. */
export class PerMessageDeflateServer implements ServerExtension {
  /** The extension token. */
  readonly name = PERMESSAGE_DEFLATE;
  /** The negotiation preferences in effect. */
  readonly config: DeflateConfig;
  private readonly settings: ZlibSettings;

  constructor(options: CompressionOptions = {}) {
    // Python websockets' server defaults, 12-bit windows both ways (4 KiB) and memLevel 5, and the server's
    // compressor shared (server_no_context_takeover): a deflater of Node's zlib is ~100 KiB whatever memLevel says.
    this.config = configOf(options, { serverMaxWindowBits: 12, clientMaxWindowBits: 12, serverNoContextTakeover: true });
    this.settings = resolveSettings(options, options.limiter ?? new ZlibLimiter(options.concurrency));
  }

  /** The limiter bounding this server's zlib work. */
  get limiter(): ZlibLimiter {
    return this.settings.limiter;
  }

  /** Accepts the first acceptable offer; declines (null) if none is, as RFC 7692 §5 requires. */
  accept(offers: ExtensionOffer[]): { answer: ExtensionOffer; codec: MessageCodec } | null {
    const negotiated = negotiateServer(offers, this.config);
    if (negotiated === null) return null;
    return { answer: negotiated.answer, codec: new DeflateCodec(codecParams(negotiated.agreement, 'server'), this.settings) };
  }
}

/** Client side of permessage-deflate. */
export class PerMessageDeflateClient implements ClientExtension {
  /** The extension token. */
  readonly name = PERMESSAGE_DEFLATE;
  /** The negotiation preferences in effect. */
  readonly config: DeflateConfig;
  private readonly settings: ZlibSettings;

  constructor(options: CompressionOptions = {}) {
    this.config = configOf(options, {});
    const limiter = options.limiter ?? (options.concurrency !== undefined ? new ZlibLimiter(options.concurrency) : sharedClientLimiter());
    this.settings = resolveSettings(options, limiter);
  }

  /** One offer, with a value-less client_max_window_bits unless limited (as browsers, ws and Python websockets offer). */
  offers(): ExtensionOffer[] {
    return [clientOffer(this.config)];
  }

  /** Checks the server's answer; throws NegotiationError if it is not what we offered. */
  accept(answer: ExtensionOffer): MessageCodec {
    return new DeflateCodec(codecParams(acceptAnswer(answer, this.config), 'client'), this.settings);
  }
}

function normalise(option: CompressionOption | undefined): CompressionOptions | null {
  // On by default, as in Python websockets and every browser.
  if (option === undefined || option === true) return {};
  if (option === false) return null;
  return option;
}

/** The server's extensions with permessage-deflate appended per `compression`, unless `extensions` already has it. */
export function serverExtensionsWithCompression(
  compression: CompressionOption | undefined,
  extensions: ServerExtension[] | undefined,
): ServerExtension[] {
  const list = extensions ?? [];
  const options = normalise(compression);
  if (options === null || list.some((e) => e.name === PERMESSAGE_DEFLATE)) return list;
  return [...list, new PerMessageDeflateServer(options)];
}

/** The client's extensions with permessage-deflate appended per `compression`, unless `extensions` already has it. */
export function clientExtensionsWithCompression(
  compression: CompressionOption | undefined,
  extensions: ClientExtension[] | undefined,
): ClientExtension[] {
  const list = extensions ?? [];
  const options = normalise(compression);
  if (options === null || list.some((e) => e.name === PERMESSAGE_DEFLATE)) return list;
  return [...list, new PerMessageDeflateClient(options)];
}
