/**
 * One message through one zlib stream, and the pool of streams that connections keeping no compression context
 * share (RFC 7692 §7.1.1.1 server_no_context_takeover, §7.1.1.2 client_no_context_takeover: "the [peer] will reset
 * its compression context after each message", so nothing of one message is needed for the next, and any stream
 * of the same window size can serve any connection).
 *
 * Why sharing matters on Node: its bundled zlib (Chromium's fork) gives every deflate stream a 64 KiB hash table
 * whatever `memLevel` asks for, so a deflater costs about 100 KiB of native memory (95 KiB at memLevel 1,
 * 106 KiB at 8, measured). A pool keeps at most one stream per zlib operation in flight, which the server's
 * {@link ZlibLimiter} bounds, instead of one per connection.
 */
import * as zlib from 'node:zlib';
import { PayloadTooBig, ProtocolError } from '../errors.js';

/** A raw deflate or inflate stream. */
export type ZStream = zlib.DeflateRaw | zlib.InflateRaw;

/** A running zlib call that its owner can cut short (a connection closing mid-message). */
export interface ZlibOperation {
  stream: ZStream;
  fail(error: Error): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * Feeds `input` to `stream` and gathers its output up to the flush callback. Output is counted as zlib emits it
 * (one `chunkSize` piece at a time), so past `maxSize` zlib stops working on the rest of the input: a compression
 * bomb costs at most `maxSize` plus one chunk. On any failure the stream is closed (its state is unusable) and
 * the promise rejects: PayloadTooBig (1009) past `maxSize`, ProtocolError 1007 for invalid data. `running`, if
 * given, holds the call while it runs, so its owner can fail it.
 */
export function feed(stream: ZStream, maxSize: number, input: Buffer, running?: Set<ZlibOperation>): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const finish = (error: Error | null): void => {
      if (settled) return;
      settled = true;
      running?.delete(operation);
      stream.off('data', onData);
      stream.off('error', onError);
      if (error !== null) {
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
    const operation: ZlibOperation = { stream, fail: finish };
    running?.add(operation);
    stream.on('data', onData);
    stream.on('error', onError);
    // Output is pushed (and 'data' emitted) before the write callback runs, as ws also relies on.
    stream.write(input, (error) => (error ? onError(error) : finish(null)));
  });
}

/**
 * zlib streams of one kind and window size, shared by every connection that keeps no context in that direction.
 * A message takes an idle stream (or makes one), and the stream is reset (`deflateReset`/`inflateReset`, which keep
 * its memory) and put back when the message is done; a stream that failed is closed instead. Streams are made only
 * while more messages are in flight than streams exist, so the pool never holds more than the most zlib operations
 * that ran at once (the limiter's concurrency). Idle streams stay for the next messages; they are freed with the pool
 * (Node frees a zlib handle that is garbage-collected).
 */
export class ZlibPool {
  private readonly idle: ZStream[] = [];
  private made = 0;

  constructor(private readonly create: () => ZStream) {}

  /** Streams this pool has made and not closed (idle or in use). */
  get size(): number {
    return this.made;
  }

  /** Runs one whole message through a pooled stream (see {@link feed} for `maxSize` and failures). */
  async process(input: Buffer, maxSize: number): Promise<Buffer> {
    let stream = this.idle.pop();
    if (stream === undefined) {
      stream = this.create();
      this.made++;
    }
    let output: Buffer;
    try {
      output = await feed(stream, maxSize, input);
    } catch (error) {
      this.made--;
      throw error;
    }
    stream.reset();
    this.idle.push(stream);
    return output;
  }
}
