/**
 * The dashboard server of `wskit sensors`: serves web/sensors/ and uPlot's
 * files (web/vendor/uplot/, copied there by `npm run build`) over node:http,
 * and pushes samples and status to the pages over a WebSocket at `/live` on
 * the same port (attach()).
 */
import http from 'node:http';
import path from 'node:path';
import { attach, type Server } from '../../node/server.js';
import type { Connection } from '../../node/connection.js';
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
  /** How often samples are pushed to the pages, in ms. Default 50. */
  flushInterval?: number;
  /** A page whose socket holds more than this many bytes unsent misses batches (counted as dropped) and status updates. Default 2 MiB. */
  highWaterMark?: number;
}

/** Samples waiting for the next push, at most; beyond, they are counted as dropped for every page. */
const MAX_PENDING = 50_000;
/** Status goes to the pages at most this often (ms), however many changes happen in between. */
const STATUS_INTERVAL = 250;

interface Page {
  ws: Connection;
  dropped: number;
}

/** Serves the live dashboard for a {@link Collector}. */
export class Dashboard {
  /** The HTTP server. */
  readonly http: http.Server;
  /** The WebSocket server attached to it. */
  readonly live: Server;
  /** The page URL once listening. */
  url = '';
  /** Samples pushed to pages so far (per page). */
  pushed = 0;
  private readonly pages = new Set<Page>();
  private pending: unknown[] = [];
  private pendingDropped = 0;
  private statusChanged = false;
  private statusSentAt = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly collector: Collector;
  private readonly options: DashboardOptions;

  constructor(collector: Collector, options: DashboardOptions = {}) {
    this.collector = collector;
    this.options = options;
    const mounts: Array<[string, string]> = [
      ['/vendor/uplot/', path.join(WEB_ROOT, 'vendor', 'uplot')],
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
    this.live = attach(this.http, (ws) => this.page(ws), {
      logger: null,
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
      else this.pendingDropped++;
    });
    // Changes are coalesced: a phone that announces a new type in every message costs one status per interval.
    collector.on('status', () => (this.statusChanged = true));
    collector.on('stream', () => (this.statusChanged = true));
  }

  /** Starts listening and pushing. */
  async listen(): Promise<string> {
    this.url = (await listen(this.http, this.options.port ?? 0, this.options.host ?? '127.0.0.1')) + '/';
    this.timers.push(setInterval(() => this.flush(), this.options.flushInterval ?? 50));
    this.timers.push(setInterval(() => {
      // Rates and retry countdowns move even when nothing else changed: at least every 500 ms.
      if (this.statusChanged || Date.now() - this.statusSentAt >= 500) this.broadcastStatus();
    }, STATUS_INTERVAL));
    return this.url;
  }

  /** Closes the pages (1001) and the HTTP server. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.live.close(1001, 'wskit sensors stopped');
    this.http.closeAllConnections();
    await new Promise((resolve) => this.http.close(resolve));
  }

  private async page(ws: Connection): Promise<void> {
    const page: Page = { ws, dropped: 0 };
    this.pages.add(page);
    ws.send(JSON.stringify({ ...this.statusOf(page), kind: 'hello' })).catch(() => undefined);
    try {
      for await (const _ of ws) {
        // the page sends nothing we need
      }
    } finally {
      this.pages.delete(page);
    }
  }

  private statusOf(page: Page, streams = this.collector.stats()): Record<string, unknown> {
    return { kind: 'status', sources: this.collector.sources, streams, pageDropped: page.dropped, now: Date.now() };
  }

  /** Whether a page has too much unsent to be sent more (it misses this update; status is a snapshot, the next one replaces it). */
  private behind(page: Page): boolean {
    return page.ws.bufferedAmount > (this.options.highWaterMark ?? 2 << 20);
  }

  private broadcastStatus(): void {
    this.statusChanged = false;
    this.statusSentAt = Date.now();
    if (this.pages.size === 0) return;
    const streams = this.collector.stats();
    for (const page of this.pages) {
      if (!this.behind(page)) page.ws.send(JSON.stringify(this.statusOf(page, streams))).catch(() => undefined);
    }
  }

  private flush(): void {
    const lost = this.pendingDropped;
    this.pendingDropped = 0;
    if (lost > 0) for (const page of this.pages) page.dropped += lost;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    if (this.pages.size === 0) return;
    const text = JSON.stringify({ kind: 'samples', samples: batch });
    for (const page of this.pages) {
      if (this.behind(page)) {
        page.dropped += batch.length;
        continue;
      }
      this.pushed += batch.length;
      page.ws.send(text).catch(() => undefined);
    }
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

/** The compact form of a sample sent to pages: source, type, plot time, values, accuracy, action, timestamp, received. */
function compact(sample: Sample): unknown[] {
  return [sample.source, sample.type, sample.x, sample.values, sample.accuracy, sample.action ?? null, sample.timestamp, sample.received];
}
