/**
 * permessage-deflate (RFC 7692) over Node's zlib, built to survive hostile
 * peers and many connections:
 *
 * - the inflated size is counted while zlib produces it, so a compression bomb
 *   stops at `maxMessageSize` (close 1009) having used about that much memory;
 * - zlib work goes through a {@link ZlibLimiter}, so thousands of connections
 *   don't queue thousands of jobs on libuv's 4-thread pool at once (ws#1202:
 *   unbounded concurrent zlib work fragments memory badly on Linux);
 * - zlib contexts are created on first use, closed as soon as a message ends
 *   when context takeover is off, and closed with the connection otherwise.
 */
import zlib from 'node:zlib';
import { PayloadTooBig, ProtocolError } from '../errors.js';
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
import type { ClientExtension, MessageCodec, ServerExtension } from './message-codec.js';

/**
 * `compression` settings of `serve()`, `attach()` and `connect()`.
 *
 * Memory per connection, at the server defaults (12-bit windows, memLevel 5):
 * about 32 KiB for the deflater and 11 KiB for the inflater, each allocated on
 * first use and kept while context takeover is on (Python websockets'
 * topics/memory.rst gives ~64 KiB per connection with compression at the same
 * settings, 14 KiB without). With zlib's own defaults (15 bits, memLevel 8) the
 * deflater alone is 256 KiB. `serverNoContextTakeover`/`clientNoContextTakeover`
 * free the contexts after every message, trading compression ratio for memory.
 */
export interface CompressionOptions {
  /**
   * Messages smaller than this many bytes are sent uncompressed (RSV1 clear),
   * even on a compressed connection. Default 128: below that, deflate saves at
   * most a few dozen bytes on a message that fits one TCP segment anyway, and
   * costs a trip through libuv's threadpool; above it, repetitive payloads
   * such as JSON shrink by half or more with context takeover.
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
  /** The server resets its compressor after each message. Default false. */
  serverNoContextTakeover?: boolean;
  /** The client resets its compressor after each message. Default false. */
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

  /** Runs `task` when a slot is free; the slot is released when its promise settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
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
const EMPTY = Buffer.alloc(0);

interface ZlibSettings {
  threshold: number;
  level: number;
  memLevel: number;
  limiter: ZlibLimiter;
}

type ZStream = zlib.DeflateRaw | zlib.InflateRaw;

/** A running zlib call that close() must be able to cut short. */
interface Operation {
  stream: ZStream;
  fail(error: Error): void;
}

/** The permessage-deflate codec of one connection. */
export class DeflateCodec implements MessageCodec {
  private readonly params: DeflateCodecParams;
  private readonly settings: ZlibSettings;
  private deflater: zlib.DeflateRaw | null = null;
  private inflater: zlib.InflateRaw | null = null;
  // Tails of the two chains settle to undefined, so the last message's buffer is not kept alive between messages.
  private deflating: Promise<void> = Promise.resolve();
  private inflating: Promise<void> = Promise.resolve();
  private readonly running = new Set<Operation>();
  private closed = false;

  constructor(params: DeflateCodecParams, settings: ZlibSettings) {
    this.params = params;
    this.settings = settings;
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
    const result = this.deflating.then(() => this.settings.limiter.run(() => this.deflate(data)));
    this.deflating = result.then(noop, noop);
    return result;
  }

  /** Decompresses a message, failing with PayloadTooBig (1009) as soon as the output passes `maxSize`. */
  decode(data: Buffer, maxSize: number): Promise<Buffer> {
    const result = this.inflating.then(() => this.settings.limiter.run(() => this.inflate(data, maxSize)));
    this.inflating = result.then(noop, noop);
    return result;
  }

  /** Frees both zlib contexts and fails any call in progress. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const operation of this.running) operation.fail(new ProtocolError('connection closed during compression', 1011));
    this.running.clear();
    this.deflater?.close();
    this.inflater?.close();
    this.deflater = null;
    this.inflater = null;
  }

  private deflate(data: Buffer): Promise<Buffer | null> {
    if (this.closed) return Promise.reject(new ProtocolError('connection closed', 1011));
    const stream = (this.deflater ??= zlib.createDeflateRaw({
      level: this.settings.level,
      memLevel: this.settings.memLevel,
      windowBits: this.params.deflateWindowBits,
      // Every write ends with Z_SYNC_FLUSH, so a message is one threadpool job instead of a write plus a flush.
      // Z_SYNC_FLUSH ends on a byte boundary with an empty stored block and keeps the dictionary (Z_FULL_FLUSH would not).
      flush: zlib.constants.Z_SYNC_FLUSH,
    }));
    return this.run(stream, Infinity, data).then((output) => {
      // §7.2.1: drop the 4-octet tail of the empty block.
      const encoded =
        output.length >= 4 && output.subarray(output.length - 4).equals(TAIL) ? output.subarray(0, output.length - 4) : output;
      // Not worth it: send the message as is, and restart the compressor so that later messages don't refer
      // back to bytes the peer never saw (the peer's inflater needs no reset to follow a fresh stream).
      if (encoded.length >= data.length) {
        this.dropDeflater();
        return null;
      }
      if (this.params.deflateNoContextTakeover) this.dropDeflater();
      return encoded;
    });
  }

  private inflate(data: Buffer, maxSize: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new ProtocolError('connection closed', 1011));
    const stream = (this.inflater ??= zlib.createInflateRaw({
      windowBits: this.params.inflateWindowBits,
      flush: zlib.constants.Z_SYNC_FLUSH,
    }));
    // §7.2.2: put back the tail the sender removed; the copy is of compressed bytes, so small.
    return this.run(stream, maxSize, Buffer.concat([data, TAIL])).then((output) => {
      if (this.params.inflateNoContextTakeover) this.dropInflater();
      return output;
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

  /**
   * Feeds a stream and gathers its output up to the flush callback. Output is
   * counted as zlib emits it (one `chunkSize` piece at a time), so past
   * `maxSize` the stream is destroyed and zlib stops working on the rest of
   * the input: a bomb costs at most `maxSize` plus one chunk.
   */
  private run(stream: ZStream, maxSize: number, input: Buffer): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let total = 0;
      let settled = false;
      const finish = (error: Error | null): void => {
        if (settled) return;
        settled = true;
        this.running.delete(operation);
        stream.off('data', onData);
        stream.off('error', onError);
        if (error !== null) {
          // A stream that failed or was cut short mid-message has unusable state.
          if (stream === this.deflater) this.deflater = null;
          if (stream === this.inflater) this.inflater = null;
          stream.close();
          reject(error);
        } else {
          resolve(chunks.length === 1 ? chunks[0]! : chunks.length === 0 ? EMPTY : Buffer.concat(chunks, total));
        }
      };
      const onData = (chunk: Buffer): void => {
        total += chunk.length;
        if (total > maxSize) {
          finish(new PayloadTooBig(`decompressed message exceeds the limit of ${maxSize} bytes`));
          return;
        }
        chunks.push(chunk);
      };
      const onError = (error: Error): void => {
        // 1007: the payload isn't valid deflate data (as ws; Python websockets uses 1002).
        finish(new ProtocolError(`invalid compressed data: ${error.message}`, 1007));
      };
      const operation: Operation = { stream, fail: finish };
      this.running.add(operation);
      stream.on('data', onData);
      stream.on('error', onError);
      // Output is pushed (and 'data' emitted) before the write callback runs, as ws also relies on.
      stream.write(input, (error) => (error ? onError(error) : finish(null)));
    });
  }
}

function noop(): void {}

function resolveSettings(options: CompressionOptions, limiter: ZlibLimiter): ZlibSettings {
  const threshold = options.threshold ?? DEFAULT_COMPRESSION_THRESHOLD;
  const level = options.level ?? 6;
  const memLevel = options.memLevel ?? 5;
  if (!(threshold >= 0)) throw new RangeError(`threshold must be a non-negative number, got ${threshold}`);
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`level must be an integer from 0 to 9, got ${level}`);
  if (!Number.isInteger(memLevel) || memLevel < 1 || memLevel > 9) throw new RangeError(`memLevel must be an integer from 1 to 9, got ${memLevel}`);
  return { threshold, level, memLevel, limiter };
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
    // Python websockets' server defaults: 12-bit windows both ways (4 KiB), memLevel 5.
    this.config = configOf(options, { serverMaxWindowBits: 12, clientMaxWindowBits: 12 });
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
