/**
 * Topic history: every publication on a topic gets the next offset of that topic (1, 2, 3, ...), and the topic an
 * epoch, a string that changes whenever the topic's history is lost (a process restarted, Redis restarted without
 * persistence, the topic's state expired or was evicted). A position `{ offset, epoch }` therefore names one
 * publication for good: a client that saw it can ask for everything after it, and either gets exactly the
 * publications it missed, in order, or is told they are gone (`recovered: false`).
 *
 * Two stores: {@link memoryHistory} (one process) and `redisHistory()` (Redis Streams, shared by every node).
 */
import { checkNumber } from '../node/options.js';

/** A place in a topic's stream: the offset of the last publication seen, and the topic's epoch then. */
export interface StreamPosition {
  /** Offset of the last publication seen (0: none yet). */
  offset: number;
  /** The topic's epoch when that publication was made. */
  epoch: string;
}

/** One publication of a topic, with its place in the topic's stream. */
export interface Publication extends StreamPosition {
  /** The topic published to. */
  topic: string;
  /** The payload: a string is text, a Buffer bytes. */
  data: string | Buffer;
}

/** The result of {@link TopicHistory.append}. */
export interface Appended extends StreamPosition {
  /** True when the publish key was seen before within the dedup window: nothing was appended, the offset is the first one's. */
  duplicate: boolean;
}

/** The result of {@link TopicHistory.read}. */
export interface HistoryRead {
  /** The topic's epoch now. */
  epoch: string;
  /** The topic's last offset now (0: nothing published in this epoch). */
  offset: number;
  /**
   * Whether every publication after the position asked for can be given: false when the epoch differs, when the
   * position is ahead of the topic, or when publications after it were trimmed (count, bytes or age limit).
   */
  recovered: boolean;
  /** The publications after the position asked for, oldest first, at most `limit` of them (none unless recovered). */
  publications: Publication[];
}

/**
 * A store of topic streams: assigns offsets, keeps a bounded history per topic, and hands every node the
 * publications of the topics it follows, in offset order.
 */
export interface TopicHistory {
  /** Connects and starts handing publications of followed topics (every node's, this one's included) to `deliver`. */
  start(deliver: (publication: Publication) => void, resync?: (topic: string) => void): Promise<void>;
  /**
   * Appends a publication and returns its position. With `key`, a second append with the same key within the
   * dedup window appends nothing and returns the first one's position with `duplicate: true`.
   */
  append(topic: string, data: string | Buffer, key?: string): Promise<Appended>;
  /**
   * The topic's position now and, when `since` is given, up to `limit` publications after it. A topic never seen
   * before gets its epoch here, so the position returned for `since: null` stays valid for its first publications.
   */
  read(topic: string, since: StreamPosition | null, limit: number): Promise<HistoryRead>;
  /** Starts delivering the topic's publications to this node; resolves once they will be delivered. */
  follow(topic: string): Promise<void>;
  /** Stops delivering the topic's publications to this node. */
  unfollow(topic: string): void;
  /** Disconnects. */
  close(): Promise<void>;
}

/** Limits of a topic's history, shared by every store. */
export interface HistoryLimits {
  /** Publications kept per topic; older ones are trimmed. Default 1,000. */
  size?: number;
  /** How long a publication is kept, in ms. Default 300,000 (5 minutes). */
  ttl?: number;
  /** How long a publish key is remembered for deduplication, in ms. Default 120,000. */
  dedupWindow?: number;
}

/** Defaults of {@link HistoryLimits}. */
export const HISTORY_DEFAULTS: Readonly<Required<HistoryLimits>> = Object.freeze({ size: 1000, ttl: 300_000, dedupWindow: 120_000 });

/** Longest topic name a history accepts, in UTF-8 bytes. */
export const MAX_TOPIC_BYTES = 1024;

/** Checks the limits (TypeError or RangeError naming the option) and fills in the defaults. */
export function historyLimits(options: HistoryLimits, prefix: string): Required<HistoryLimits> {
  return {
    size: checkNumber(`${prefix}.size`, options.size ?? HISTORY_DEFAULTS.size, { integer: true, min: 1 }),
    ttl: checkNumber(`${prefix}.ttl`, options.ttl ?? HISTORY_DEFAULTS.ttl, { integer: true, min: 1 }),
    dedupWindow: checkNumber(`${prefix}.dedupWindow`, options.dedupWindow ?? HISTORY_DEFAULTS.dedupWindow, { integer: true, min: 1 }),
  };
}

/** Throws a RangeError for a topic a history cannot hold (empty, or longer than {@link MAX_TOPIC_BYTES}). */
export function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || topic.length === 0) throw new TypeError('a topic must be a non-empty string');
  if (Buffer.byteLength(topic) > MAX_TOPIC_BYTES) throw new RangeError(`a topic must be at most ${MAX_TOPIC_BYTES} bytes`);
}

/** A new epoch: 8 random bytes as 16 hex characters. */
export function newEpoch(): string {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
