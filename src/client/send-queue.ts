/**
 * The bounded queue of messages a reconnecting client holds while it is
 * disconnected. Shared by the Node and browser clients; no I/O.
 */
import { WebSocketError } from '../errors.js';

/** What to do when a message does not fit: drop the oldest queued, drop the new one, or throw. */
export type OverflowPolicy = 'drop-oldest' | 'drop-newest' | 'throw';

/** Bounds of a {@link SendQueue}. */
export interface SendQueueOptions {
  /** Most messages kept. Default 1,000. */
  maxMessages?: number;
  /** Most bytes kept (UTF-8 length for text). Default 1 MiB. */
  maxBytes?: number;
  /** What to do when full. Default 'throw', so nothing is lost silently. */
  overflow?: OverflowPolicy;
}

/** Raised (or reported to onError) when queued messages are refused or discarded; `dropped` holds them. */
export class SendQueueError extends WebSocketError {
  /** The messages that will not be sent. */
  readonly dropped: unknown[];
  constructor(message: string, code: 'WS_QUEUE_FULL' | 'WS_QUEUE_DISCARDED', dropped: unknown[]) {
    super(message, code);
    this.dropped = dropped;
  }
}

/** The size of a message in bytes: UTF-8 length for strings, byteLength or size otherwise. */
export function messageSize(data: unknown): number {
  if (typeof data === 'string') return utf8Length(data);
  const sized = data as { byteLength?: unknown; size?: unknown };
  if (typeof sized.byteLength === 'number') return sized.byteLength;
  if (typeof sized.size === 'number') return sized.size; // Blob
  return 0;
}

function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      n += 1;
      continue;
    }
    // 3 bytes for one UTF-16 unit; a surrogate pair (2 units) is 4 bytes, so skip its second half.
    n += 2;
    if (c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
  }
  return n;
}

/** A FIFO of messages bounded by count and bytes, with an overflow policy. */
export class SendQueue<T> {
  private items: Array<{ data: T; size: number }> = [];
  private head = 0;
  private total = 0;
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  private readonly overflow: OverflowPolicy;

  constructor(options: SendQueueOptions = {}) {
    this.maxMessages = options.maxMessages ?? 1_000;
    this.maxBytes = options.maxBytes ?? 1024 * 1024;
    this.overflow = options.overflow ?? 'throw';
  }

  /** Messages queued. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Bytes queued. */
  get bytes(): number {
    return this.total;
  }

  /**
   * Queues `data`. Returns the messages dropped to make room (drop-oldest), or
   * `[data]` itself (drop-newest); throws {@link SendQueueError} with 'throw'.
   */
  push(data: T): T[] {
    const size = messageSize(data);
    const fits = () => this.length < this.maxMessages && this.total + size <= this.maxBytes;
    if (fits()) return this.add(data, size);
    if (this.overflow === 'throw') {
      const why = `send queue full (${this.length} messages, ${this.total} bytes; limits ${this.maxMessages}, ${this.maxBytes})`;
      throw new SendQueueError(why, 'WS_QUEUE_FULL', [data]);
    }
    if (this.overflow === 'drop-newest' || size > this.maxBytes || this.maxMessages < 1) return [data];
    const dropped: T[] = [];
    while (!fits()) dropped.push(this.shift()!);
    this.add(data, size);
    return dropped;
  }

  /** Removes and returns the oldest message. */
  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head++]!;
    this.total -= item.size;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item.data;
  }

  /** Removes and returns every message, oldest first. */
  clear(): T[] {
    const all = this.items.slice(this.head).map((item) => item.data);
    this.items = [];
    this.head = 0;
    this.total = 0;
    return all;
  }

  private add(data: T, size: number): T[] {
    this.items.push({ data, size });
    this.total += size;
    return [];
  }
}
