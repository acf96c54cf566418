/**
 * Topic history in this process's memory: offsets, epochs and a bounded history per topic, for a single server
 * process. A restart loses it: the next epochs differ, so resuming clients are told `recovered: false`.
 */
import { checkNumber } from '../node/options.js';
import { checkTopic, historyLimits, newEpoch, type Appended, type HistoryLimits, type HistoryRead, type Publication, type StreamPosition, type TopicHistory } from './history.js';

/** Options of {@link memoryHistory}. */
export interface MemoryHistoryOptions extends HistoryLimits {
  /** Bytes of payload kept per topic; older publications are trimmed. Default 4 MiB. */
  maxBytes?: number;
  /** Topics whose state (epoch, offset, history) is kept; the least recently used one is dropped beyond it. Default 10,000. */
  maxTopics?: number;
  /** Publish keys remembered per topic for deduplication. Default 10,000. */
  maxKeys?: number;
  /** The clock, in ms (tests). Default `Date.now`. */
  now?: () => number;
}

/** Defaults of the limits of {@link memoryHistory} besides {@link HistoryLimits}. */
export const MEMORY_HISTORY_DEFAULTS = Object.freeze({ maxBytes: 4 * 1024 * 1024, maxTopics: 10_000, maxKeys: 10_000 });

interface Entry {
  offset: number;
  data: string | Buffer;
  time: number;
  bytes: number;
}

/** One topic's stream: its epoch, last offset, the kept publications (contiguous offsets) and recent publish keys. */
class TopicStream {
  readonly epoch = newEpoch();
  offset = 0;
  entries: Entry[] = [];
  head = 0;
  bytes = 0;
  readonly keys = new Map<string, { offset: number; time: number }>();

  get length(): number {
    return this.entries.length - this.head;
  }

  /** Drops the oldest publication. */
  shift(): void {
    this.bytes -= this.entries[this.head]!.bytes;
    this.entries[this.head++] = undefined as unknown as Entry;
    if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * A {@link TopicHistory} in memory, for one server process: `topicServer({ history: memoryHistory({ size: 500 }) })`.
 * Publications are delivered to the server synchronously, in offset order.
 */
export function memoryHistory(options: MemoryHistoryOptions = {}): TopicHistory {
  const limits = historyLimits(options, 'memoryHistory');
  const maxBytes = checkNumber('memoryHistory.maxBytes', options.maxBytes ?? MEMORY_HISTORY_DEFAULTS.maxBytes, { integer: true, min: 1 });
  const maxTopics = checkNumber('memoryHistory.maxTopics', options.maxTopics ?? MEMORY_HISTORY_DEFAULTS.maxTopics, { integer: true, min: 1 });
  const maxKeys = checkNumber('memoryHistory.maxKeys', options.maxKeys ?? MEMORY_HISTORY_DEFAULTS.maxKeys, { integer: true, min: 1 });
  const now = options.now ?? Date.now;
  // Least recently used first (a Map keeps insertion order; a use moves the topic to the end).
  const topics = new Map<string, TopicStream>();
  let deliver: ((publication: Publication) => void) | null = null;

  const streamOf = (topic: string): TopicStream => {
    checkTopic(topic);
    let stream = topics.get(topic);
    if (stream !== undefined) topics.delete(topic);
    else stream = new TopicStream();
    topics.set(topic, stream);
    if (topics.size > maxTopics) topics.delete(topics.keys().next().value!);
    trim(stream);
    return stream;
  };

  const trim = (stream: TopicStream): void => {
    const oldest = now() - limits.ttl;
    while (stream.length > 0) {
      const first = stream.entries[stream.head]!;
      if (stream.length > limits.size || stream.bytes > maxBytes || first.time < oldest) stream.shift();
      else break;
    }
    const forgotten = now() - limits.dedupWindow;
    for (const [key, seen] of stream.keys) {
      if (seen.time >= forgotten && stream.keys.size <= maxKeys) break;
      stream.keys.delete(key);
    }
  };

  return {
    async start(onPublication) {
      if (deliver !== null && deliver !== onPublication) throw new Error('wskit: a memoryHistory serves one topic server');
      deliver = onPublication;
    },
    async append(topic, data, key): Promise<Appended> {
      const stream = streamOf(topic);
      if (key !== undefined) {
        const seen = stream.keys.get(key);
        if (seen !== undefined) return { offset: seen.offset, epoch: stream.epoch, duplicate: true };
      }
      const offset = ++stream.offset;
      const time = now();
      const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
      stream.entries.push({ offset, data, time, bytes });
      stream.bytes += bytes;
      if (key !== undefined) stream.keys.set(key, { offset, time });
      trim(stream);
      deliver?.({ topic, offset, epoch: stream.epoch, data });
      return { offset, epoch: stream.epoch, duplicate: false };
    },
    async read(topic, since: StreamPosition | null, limit): Promise<HistoryRead> {
      const stream = streamOf(topic);
      const position = { epoch: stream.epoch, offset: stream.offset };
      if (since === null || since.offset === stream.offset && since.epoch === stream.epoch) return { ...position, recovered: true, publications: [] };
      const first = stream.length > 0 ? stream.entries[stream.head]!.offset : stream.offset + 1;
      if (since.epoch !== stream.epoch || since.offset > stream.offset || since.offset + 1 < first) {
        return { ...position, recovered: false, publications: [] };
      }
      const from = stream.head + (since.offset + 1 - first);
      const publications = stream.entries
        .slice(from, from + limit)
        .map((entry): Publication => ({ topic, offset: entry.offset, epoch: stream.epoch, data: entry.data }));
      return { ...position, recovered: true, publications };
    },
    async follow() {},
    unfollow() {},
    async close() {
      deliver = null;
    },
  };
}
