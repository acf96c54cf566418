/**
 * The dashboard server of `wskit sensors`: serves web/sensors/ and the files
 * `npm run build` copies into web/vendor/ (uPlot, wskit/browser) over
 * node:http, and publishes samples and status to the pages over the
 * `wskit.topics.v1` subprotocol at `/live` on the same port (attach()): topic
 * `samples` (one publication per flush: `{ seq, samples }`) and topic `status`.
 * Every publication is kept in a bounded topic history, so a page whose socket
 * dropped (a laptop lid closed) resumes from its position and gets the samples
 * of the gap, or is told `recovered: false` when they are gone.
 */
import http from 'node:http';
import path from 'node:path';
import { attach, type Server } from '../../node/server.js';
import { TOPICS_PROTOCOL } from '../../client/topics-wire.js';
import type { StreamPosition, TopicHistory } from '../../pubsub/history.js';
import { memoryHistory } from '../../pubsub/memory-history.js';
import { TopicServer } from '../../pubsub/topic-server.js';
import { allowedHostNames, HOST_REFUSED, hostAllowed, listen, securityHeaders, sendText, serveStatic, WEB_ROOT } from '../static.js';
import type { Collector, Sample } from './collector.js';

/** Options of {@link Dashboard}. */
export interface DashboardOptions {
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. */
  port?: number;
  /** Host names the page and its feed answer to beyond IP addresses, localhost and `host` (DNS rebinding). */
  allowedHosts?: string[];
  /** How often samples are published to the pages, in ms. Default 50. */
  flushInterval?: number;
  /** A page whose socket holds more than this many bytes unsent is closed (1013); it reconnects and resumes. Default 2 MiB. */
  highWaterMark?: number;
  /** Where the published samples and status are kept for pages that resume. Default {@link sensorsHistory}() in memory. */
  history?: TopicHistory;
  /** Where history failures (Redis down) are reported. Default `console`; null silences them. */
  logger?: Pick<Console, 'error'> | null;
}

/** The topic of the samples. */
export const SAMPLES_TOPIC = 'samples';
/** The topic of the status snapshots. */
export const STATUS_TOPIC = 'status';
/** How long the dashboard keeps samples for resuming pages by default, in seconds. */
export const DEFAULT_HISTORY_SECONDS = 300;
/** Bytes of samples the in-memory history keeps (about 5 minutes of seven sensors at 250 Hz). */
const MEMORY_HISTORY_BYTES = 64 * 1024 * 1024;

/** The dashboard's in-memory history: `seconds` of publications, at most 64 MiB per topic. */
export function sensorsHistory(seconds = DEFAULT_HISTORY_SECONDS): TopicHistory {
  // Count is bounded by time and bytes here: one publication per flush, however many samples it holds.
  return memoryHistory({ ttl: Math.round(seconds * 1000), size: 1_000_000, maxBytes: MEMORY_HISTORY_BYTES });
}

/** Samples waiting for the next publication, at most; beyond, they are counted as dropped. */
const MAX_PENDING = 50_000;
/** Status goes to the pages at most this often (ms), however many changes happen in between. */
const STATUS_INTERVAL = 250;

/** Serves the live dashboard for a {@link Collector}. */
export class Dashboard {
  /** The HTTP server. */
  readonly http: http.Server;
  /** The WebSocket server attached to it. */
  readonly live: Server;
  /** The topics the pages subscribe to. */
  readonly topics: TopicServer;
  /** The page URL once listening. */
  url = '';
  /** Samples published so far (this process); a publication's `seq` is the number published before it. */
  published = 0;
  /** Samples dropped before publication (more than 50,000 waiting, or the history refused them). */
  dropped = 0;
  /** The position of the last publication of samples, once there is one. */
  position: StreamPosition | null = null;
  private pending: unknown[] = [];
  private publishing = false;
  private statusChanged = false;
  private statusSentAt = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly collector: Collector;
  private readonly options: DashboardOptions;

  constructor(collector: Collector, options: DashboardOptions = {}) {
    this.collector = collector;
    this.options = options;
    const mounts: Array<[string, string]> = [
      ['/vendor/', path.join(WEB_ROOT, 'vendor')],
      ['/', path.join(WEB_ROOT, 'sensors')],
    ];
    const headers = securityHeaders("'self'");
    const allowed = allowedHostNames(options.host, options.allowedHosts);
    this.http = http.createServer((req, res) => {
      if (!hostAllowed(req.headers.host, allowed)) return sendText(res, 403, HOST_REFUSED);
      serveStatic(req, res, mounts, headers)
        .then((served) => served || sendText(res, 404, 'not found\n'))
        .catch(() => sendText(res, 500, 'internal error\n'));
    });
    this.topics = new TopicServer({
      history: options.history ?? sensorsHistory(),
      subscribe: (topic) => topic === SAMPLES_TOPIC || topic === STATUS_TOPIC,
      maxTopics: 2,
      maxBuffered: options.highWaterMark ?? 2 << 20,
      logger: options.logger,
    });
    this.live = attach(this.http, this.topics.handler, {
      logger: null,
      subprotocols: [TOPICS_PROTOCOL],
      // Closing must not wait 10 s for a page that stopped reading.
      closeTimeout: 1000,
      processRequest: (request) => {
        if (request.path !== '/live') return { status: 404, body: 'not found\n' };
        // A rebound name (evil.example → 127.0.0.1) passes the Origin check below: Host is what tells it apart.
        const host = request.headers.get('host') ?? undefined;
        if (!hostAllowed(host, allowed)) return { status: 403, body: HOST_REFUSED };
        // Only pages served from this host may read the phone's data (cross-site WebSocket hijacking).
        const origin = request.headers.get('origin');
        if (origin !== null && origin !== undefined && !sameHost(origin, host!)) return { status: 403, body: 'origin not allowed\n' };
        return undefined;
      },
    });
    collector.on('sample', (sample: Sample) => {
      if (this.pending.length < MAX_PENDING) this.pending.push(compact(sample));
      else this.dropped++;
    });
    // Changes are coalesced: a phone that announces a new type in every message costs one status per interval.
    collector.on('status', () => (this.statusChanged = true));
    collector.on('stream', () => (this.statusChanged = true));
  }

  /** Connects the history (rejects if it cannot: Redis unreachable), starts listening and publishing. */
  async listen(): Promise<string> {
    await this.topics.start();
    this.url = (await listen(this.http, this.options.port ?? 0, this.options.host ?? '127.0.0.1')) + '/';
    this.timers.push(setInterval(() => this.flush(), this.options.flushInterval ?? 50));
    this.timers.push(setInterval(() => {
      // Rates and retry countdowns move even when nothing else changed: at least every 500 ms.
      if (this.statusChanged || Date.now() - this.statusSentAt >= 500) this.publishStatus();
    }, STATUS_INTERVAL));
    return this.url;
  }

  /** Closes the pages (1001), the HTTP server and the history. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.live.close(1001, 'wskit sensors stopped');
    this.http.closeAllConnections();
    await new Promise((resolve) => this.http.close(resolve));
    await this.topics.close();
  }

  private publishStatus(): void {
    this.statusChanged = false;
    this.statusSentAt = Date.now();
    const status = { sources: this.collector.sources, streams: this.collector.stats(), dropped: this.dropped, now: Date.now() };
    // A status is a snapshot: one lost to a history outage is replaced by the next.
    this.topics.publish(STATUS_TOPIC, status).catch(() => undefined);
  }

  /**
   * Publishes the samples gathered since the last flush as one publication. One publication at a time, so offsets
   * follow the samples' order; while one is in flight (a slow Redis) samples wait, up to 50,000.
   */
  private flush(): void {
    if (this.publishing || this.pending.length === 0) return;
    const samples = this.pending;
    this.pending = [];
    const seq = this.published;
    this.published += samples.length;
    this.publishing = true;
    this.topics
      .publish(SAMPLES_TOPIC, { seq, samples })
      .then(({ offset, epoch }) => (this.position = { offset, epoch }))
      .catch(() => (this.dropped += samples.length))
      .finally(() => (this.publishing = false));
  }
}

/** Whether an Origin names `host` (a malformed Origin does not). */
function sameHost(origin: string, host: string): boolean {
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** The compact form of a sample published to pages: source, type, plot time, values, accuracy, action, timestamp, received. */
function compact(sample: Sample): unknown[] {
  return [sample.source, sample.type, sample.x, sample.values, sample.accuracy, sample.action ?? null, sample.timestamp, sample.received];
}
