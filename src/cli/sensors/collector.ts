/**
 * The client side of `wskit sensors`: one connection per SensorServer stream
 * (reconnecting with backoff when the phone's app restarts), every message
 * normalized into a {@link Sample}, per-sensor rate and gap statistics, and
 * CSV / JSON Lines recording.
 */
import { EventEmitter } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { connect } from '../../node/client.js';
// One copy of the CSV quoting rule, shared with the dashboard page (a browser module shipped in web/).
import { CSV_HEADER as SHARED_CSV_HEADER, csvLine } from '../../../web/sensors/csv.js';
import type { Connection } from '../../node/connection.js';
import { SampleRate } from './rate.js';
import {
  CONTINUOUS_TYPES,
  describeClose,
  GET_LAST_KNOWN_LOCATION,
  GPS_TYPE,
  PERMANENT_CLOSE_CODES,
  sensorInfo,
  streamKind,
  TOUCH_TYPE,
} from './protocol.js';

/** One normalized message from any stream. */
export interface Sample {
  /** The source (stream) number, from 1. */
  source: number;
  /** The Android type, or `gps` / `touch`. */
  type: string;
  /** Nanoseconds since the phone booted (sensors; GPS's elapsedRealtimeNanos), or null (touch). */
  timestamp: number | null;
  /** Sensor accuracy status, or GPS accuracy in metres; null for touch. */
  accuracy: number | null;
  /** Sensor values; GPS [latitude, longitude, altitude, speed, bearing]; touch [x, y]. */
  values: number[];
  /** Touch action (`ACTION_DOWN`…), else undefined. */
  action?: string;
  /** Wall-clock ms when wskit received it. */
  received: number;
  /** Plot time: Unix seconds, mapping the phone's boot clock onto wall time. */
  x: number;
}

/** The state of one stream, for status lines and the dashboard. */
export interface SourceStatus {
  /** Source number. */
  id: number;
  /** The stream URL. */
  url: string;
  /** `sensor`, `sensors`, `gps`, `touch` or `other`. */
  kind: string;
  /** connecting, open, retrying, failed (no retry after a permanent close code) or stopped. */
  state: 'connecting' | 'open' | 'retrying' | 'failed' | 'stopped';
  /** The last close or connection error in words. */
  lastClose: string | null;
  /** The last close code, if any. */
  lastCode: number | null;
  /** Reconnections so far. */
  reconnects: number;
  /** When the next attempt happens (ms since epoch) while retrying. */
  retryAt: number | null;
  /** Messages that were not valid JSON or not understood. */
  invalid: number;
  /** Samples of sensor types beyond the first `maxStreams` (not shown, not recorded). */
  ignored: number;
}

/** Per (source, type) statistics. */
export interface StreamStats {
  /** `source:type`. */
  key: string;
  /** Source number. */
  source: number;
  /** Android type, `gps` or `touch`. */
  type: string;
  /** Title, unit and axis labels. */
  title: string;
  /** Unit of the values. */
  unit: string;
  /** Axis labels. */
  axes: string[];
  /** Samples received. */
  count: number;
  /** Samples per second, from the samples' own timestamps over the last few seconds. */
  rate: number;
  /** Samples missing, estimated from pauses in the timestamps of steady-rate sensors. */
  gaps: number;
  /** Timestamps that went backwards. */
  nonMonotonic: number;
}

/** Options of {@link Collector}. */
export interface CollectorOptions {
  /** Upper bound of the first (jittered) retry delay in ms; doubles up to `maxDelay`. Default 1,000. */
  initialDelay?: number;
  /** Longest delay between retries in ms. Default 10,000. */
  maxDelay?: number;
  /** Time allowed to open a connection in ms. Default 5,000. */
  openTimeout?: number;
  /** Most (source, sensor type) streams tracked; samples of further types are counted in `ignored` and dropped. Default 32. */
  maxStreams?: number;
}

/** A sensor type name longer than this is not a sensor type (the message is counted as invalid). */
const MAX_TYPE_LENGTH = 128;
/** Values kept per sample (Android sensors have at most 16; CSV records the first 6). */
const MAX_VALUES = 16;

const GPS_AXES = ['latitude (°)', 'longitude (°)', 'altitude (m)', 'speed (m/s)', 'bearing (°)'];

interface Track {
  stats: StreamStats;
  lastTimestamp: number | null;
  intervals: number[];
  /** Recent sample times, for the rate. */
  rate: SampleRate;
}

/**
 * Connects to SensorServer streams and emits `sample` (a {@link Sample}),
 * `status` (a {@link SourceStatus}), `stream` (a new {@link StreamStats}) and
 * `warning` (a source and a sentence, once per kind of trouble). What it keeps
 * is bounded whatever the phone sends: `maxStreams` tracks of fixed size.
 */
export class Collector extends EventEmitter {
  /** The sources, in command-line order. */
  readonly sources: SourceStatus[];
  private readonly tracks = new Map<string, Track>();
  private readonly offsets = new Map<number, number>();
  private readonly sockets = new Map<number, Connection>();
  private readonly options: CollectorOptions;
  private readonly abort = new AbortController();
  private runs: Promise<void>[] = [];
  private held: Promise<void> | null = null;

  constructor(urls: string[], options: CollectorOptions = {}) {
    super();
    this.options = options;
    this.sources = urls.map((url, i) => ({
      id: i + 1,
      url,
      kind: streamKind(url).kind,
      state: 'connecting',
      lastClose: null,
      lastCode: null,
      reconnects: 0,
      retryAt: null,
      invalid: 0,
      ignored: 0,
    }));
  }

  /** Starts every connection loop. */
  start(): this {
    this.runs = this.sources.map((source) => this.loop(source));
    return this;
  }

  /** Resolves when every source has failed permanently or the collector stopped. */
  async done(): Promise<void> {
    await Promise.all(this.runs);
  }

  /** Closes every connection (1000) and stops retrying. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all([...this.sockets.values()].map((ws) => ws.close(1000, 'bye').catch(() => undefined)));
    await this.done();
  }

  /** Stops reading every stream until `ready` settles (e.g. a file that must drain first). */
  holdUntil(ready: Promise<unknown>): void {
    const held: Promise<void> = Promise.all([this.held, ready]).then(
      () => {
        if (this.held === held) this.held = null;
      },
      () => {
        if (this.held === held) this.held = null;
      },
    );
    this.held = held;
  }

  /** Statistics of every (source, type) seen, refreshing the rates. */
  stats(): StreamStats[] {
    const now = Date.now();
    for (const track of this.tracks.values()) track.stats.rate = track.rate.rate(now);
    return [...this.tracks.values()].map((t) => t.stats);
  }

  private setState(source: SourceStatus, state: SourceStatus['state']): void {
    source.state = state;
    this.emit('status', source);
  }

  /** One source's life: wskit's reconnecting connect() yields a fresh connection after each drop. */
  private async loop(source: SourceStatus): Promise<void> {
    const connector = connect(source.url, {
      openTimeout: this.options.openTimeout ?? 5000,
      // Messages are handled as they arrive; they queue only while a record file drains: 32 × 1 MiB at most.
      maxQueue: 32,
      // Stopping must not wait 10 s for a phone that floods and does not read.
      closeTimeout: 2000,
      signal: this.abort.signal,
      reconnect: {
        initialDelay: this.options.initialDelay ?? 1000,
        factor: 2,
        maxDelay: this.options.maxDelay ?? 10_000,
        onRetry: (_attempt, delay, reason) => {
          const e = reason as Error & { code?: string; closeCode?: number };
          if (e.closeCode === undefined) {
            source.lastClose = `cannot connect: ${e.code && !String(e.message).includes(e.code) ? `${e.code} ` : ''}${e.message}`;
            source.lastCode = null;
          }
          source.reconnects++;
          source.retryAt = Date.now() + delay;
          this.setState(source, 'retrying');
        },
      },
    });
    this.setState(source, 'connecting');
    try {
      for await (const ws of connector) {
        source.retryAt = null;
        this.sockets.set(source.id, ws);
        this.setState(source, 'open');
        if (source.kind === 'gps') ws.send(GET_LAST_KNOWN_LOCATION).catch(() => undefined);
        try {
          for await (const message of ws) {
            if (typeof message === 'string') this.handle(source, message);
            // A recorder behind on its file: stop reading (the phone's socket fills and TCP pushes back).
            while (this.held !== null) await this.held;
          }
        } catch {
          // closed with an error code: reported below from ws.closed
        }
        const info = await ws.closed;
        this.sockets.delete(source.id);
        source.lastCode = info.code;
        source.lastClose = describeClose(info.code, info.reason);
        if (this.abort.signal.aborted) break;
        if (PERMANENT_CLOSE_CODES.has(info.code)) {
          this.setState(source, 'failed');
          return;
        }
      }
    } catch (error) {
      // Retrying gave up: the URL or the HTTP answer cannot be fixed by waiting.
      const e = error as Error;
      source.lastClose = `cannot connect: ${e.message}`;
      this.setState(source, 'failed');
      return;
    }
    this.setState(source, 'stopped');
  }

  /** Parses one message into a sample (public for tests). */
  handle(source: SourceStatus, text: string): Sample | null {
    const received = Date.now();
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text) as Record<string, unknown>;
    } catch {
      source.invalid++;
      return null;
    }
    let sample: Omit<Sample, 'x'>;
    if (Array.isArray(message.values)) {
      const type = typeof message.type === 'string' ? message.type : (streamKind(source.url).type ?? 'unknown');
      if (type.length > MAX_TYPE_LENGTH) {
        source.invalid++;
        return null;
      }
      sample = {
        source: source.id,
        type,
        timestamp: typeof message.timestamp === 'number' ? message.timestamp : null,
        accuracy: typeof message.accuracy === 'number' ? message.accuracy : null,
        values: message.values.slice(0, MAX_VALUES).map(Number),
        received,
      };
    } else if (typeof message.latitude === 'number' && typeof message.longitude === 'number') {
      const num = (v: unknown) => (typeof v === 'number' ? v : NaN);
      sample = {
        source: source.id,
        type: GPS_TYPE,
        timestamp: typeof message.elapsedRealtimeNanos === 'number' ? message.elapsedRealtimeNanos : null,
        accuracy: typeof message.accuracy === 'number' ? message.accuracy : null,
        values: [message.latitude, message.longitude, num(message.altitude), num(message.speed), num(message.bearing)],
        received,
      };
      if (sample.timestamp === null && typeof message.time === 'number') return this.record(source, { ...sample, x: message.time / 1000 }, text);
    } else if (typeof message.action === 'string' && message.action.length <= MAX_TYPE_LENGTH && typeof message.x === 'number' && typeof message.y === 'number') {
      sample = { source: source.id, type: TOUCH_TYPE, timestamp: null, accuracy: null, values: [message.x, message.y], action: message.action, received };
    } else {
      source.invalid++;
      return null;
    }
    let x = received / 1000;
    if (sample.timestamp !== null) {
      // Map the phone's boot clock onto wall time: the smallest (received − timestamp) seen is the least delayed.
      const offset = received - sample.timestamp / 1e6;
      const known = this.offsets.get(source.id);
      const best = known === undefined ? offset : Math.min(known, offset);
      this.offsets.set(source.id, best);
      x = (sample.timestamp / 1e6 + best) / 1000;
    }
    return this.record(source, { ...sample, x }, text);
  }

  private record(source: SourceStatus, sample: Sample, text: string): Sample | null {
    const key = `${sample.source}:${sample.type}`;
    let track = this.tracks.get(key);
    if (track === undefined && this.tracks.size >= (this.options.maxStreams ?? 32)) {
      // A phone announcing a new type in every message must not grow what is kept, shown and sent to pages.
      if (source.ignored++ === 0) this.emit('warning', source, `sensor types beyond the first ${this.options.maxStreams ?? 32} ignored`);
      return null;
    }
    if (track === undefined) {
      const info = sample.type === GPS_TYPE
        ? { title: 'GPS', unit: '', axes: GPS_AXES }
        : sample.type === TOUCH_TYPE
          ? { title: 'Touch screen', unit: 'px', axes: ['x', 'y'] }
          : sensorInfo(sample.type, sample.values.length);
      track = {
        stats: { key, source: source.id, type: sample.type, title: info.title, unit: info.unit, axes: info.axes, count: 0, rate: 0, gaps: 0, nonMonotonic: 0 },
        lastTimestamp: null,
        intervals: [],
        rate: new SampleRate(),
      };
      this.tracks.set(key, track);
      this.emit('stream', track.stats);
    }
    track.stats.count++;
    // The phone's clock: the sensor timestamp (ns since boot), else the plot time (GPS fix time), else arrival (touch).
    track.rate.add(sample.timestamp !== null ? sample.timestamp / 1e9 : sample.x, sample.received);
    if (sample.timestamp !== null) {
      if (track.lastTimestamp !== null) {
        const dt = sample.timestamp - track.lastTimestamp;
        if (dt < 0) track.stats.nonMonotonic++;
        else if (CONTINUOUS_TYPES.has(sample.type) && dt > 0) {
          if (track.intervals.length >= 8) {
            const sorted = [...track.intervals].sort((a, b) => a - b);
            const median = sorted[sorted.length >> 1]!;
            if (dt > 1.8 * median) track.stats.gaps += Math.round(dt / median) - 1;
          }
          track.intervals.push(dt);
          if (track.intervals.length > 64) track.intervals.shift();
        }
      }
      track.lastTimestamp = sample.timestamp;
    }
    this.emit('sample', sample, text);
    return sample;
  }
}

/** The CSV header of `--csv` files (and of the dashboard's download). */
export const CSV_HEADER: string = SHARED_CSV_HEADER;

/**
 * One CSV row for a sample: numbers as received (JSON number syntax), the
 * type and touch action, which come from the phone, neutralised and quoted by
 * the rule the dashboard's download uses too (web/sensors/csv.js).
 */
export function csvRow(sample: Sample): string {
  return csvLine(sample.received, sample.source, sample.type, sample.timestamp, sample.accuracy, sample.action, sample.values);
}

/** Appends samples to a CSV or JSON Lines file. */
export class FileRecorder {
  /** Rows written. */
  count = 0;
  private readonly out: WriteStream;
  private readonly format: 'csv' | 'json';

  constructor(path: string, format: 'csv' | 'json') {
    this.format = format;
    this.out = createWriteStream(path);
    if (format === 'csv') this.out.write(CSV_HEADER + '\n');
  }

  /**
   * Records one sample; `text` is the message as received (kept verbatim in
   * JSON Lines, but for line breaks between its tokens, which would split the
   * line: raw CR and LF can only be whitespace in valid JSON). Returns a
   * promise when the file's buffer is full: read no more until it settles.
   */
  write(sample: Sample, text: string): Promise<void> | null {
    this.count++;
    const line = this.format === 'csv'
      ? csvRow(sample) + '\n'
      : `{"received":${sample.received},"source":${sample.source},"message":${text.trim().replace(/[\r\n]+/g, ' ')}}\n`;
    if (this.out.write(line)) return null;
    return new Promise((resolve) => {
      const done = () => {
        this.out.off('drain', done);
        this.out.off('close', done);
        resolve();
      };
      this.out.once('drain', done);
      this.out.once('close', done);
    });
  }

  /** Flushes and closes the file. */
  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.out.once('error', reject);
      this.out.end(() => resolve());
    });
  }
}
