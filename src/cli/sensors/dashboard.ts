/**
 * The dashboard server of `wskit sensors`: serves web/sensors/ and uPlot's
 * dist files over node:http, and pushes samples and status to the pages over
 * a WebSocket at `/live` on the same port (attach()).
 */
import http from 'node:http';
import path from 'node:path';
import { attach, type Server } from '../../node/server.js';
import type { Connection } from '../../node/connection.js';
import { listen, securityHeaders, sendText, serveStatic, uplotDir, WEB_ROOT } from '../static.js';
import type { Collector, Sample } from './collector.js';

/** Options of {@link Dashboard}. */
export interface DashboardOptions {
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. */
  port?: number;
  /** How often samples are pushed to the pages, in ms. Default 50. */
  flushInterval?: number;
  /** A page whose socket holds more than this many bytes unsent misses batches (counted as dropped). Default 2 MiB. */
  highWaterMark?: number;
}

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
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly collector: Collector;
  private readonly options: DashboardOptions;

  constructor(collector: Collector, options: DashboardOptions = {}) {
    this.collector = collector;
    this.options = options;
    const mounts: Array<[string, string]> = [['/', path.join(WEB_ROOT, 'sensors')]];
    const uplot = uplotDir();
    if (uplot !== null) mounts.unshift(['/vendor/uplot/', uplot]);
    const headers = securityHeaders("'self'");
    this.http = http.createServer((req, res) => {
      serveStatic(req, res, mounts, headers)
        .then((served) => served || sendText(res, 404, 'not found\n'))
        .catch(() => sendText(res, 500, 'internal error\n'));
    });
    this.live = attach(this.http, (ws) => this.page(ws), {
      logger: null,
      processRequest: (request) => {
        if (request.path !== '/live') return { status: 404, body: 'not found\n' };
        // Only pages served from this host may read the phone's data (cross-site WebSocket hijacking).
        const origin = request.headers.get('origin');
        const host = request.headers.get('host');
        if (origin !== null && origin !== undefined && (host === null || host === undefined || new URL(origin).host !== host)) {
          return { status: 403, body: 'origin not allowed\n' };
        }
        return undefined;
      },
    });
    collector.on('sample', (sample: Sample) => this.pending.push(compact(sample)));
    collector.on('status', () => this.broadcastStatus());
    collector.on('stream', () => this.broadcastStatus());
  }

  /** Starts listening and pushing. */
  async listen(): Promise<string> {
    this.url = (await listen(this.http, this.options.port ?? 0, this.options.host ?? '127.0.0.1')) + '/';
    this.timers.push(setInterval(() => this.flush(), this.options.flushInterval ?? 50));
    this.timers.push(setInterval(() => this.broadcastStatus(), 500));
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

  private statusOf(page: Page): Record<string, unknown> {
    return { kind: 'status', sources: this.collector.sources, streams: this.collector.stats(), pageDropped: page.dropped, now: Date.now() };
  }

  private broadcastStatus(): void {
    for (const page of this.pages) page.ws.send(JSON.stringify(this.statusOf(page))).catch(() => undefined);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const text = JSON.stringify({ kind: 'samples', samples: batch });
    const limit = this.options.highWaterMark ?? 2 << 20;
    for (const page of this.pages) {
      if (page.ws.bufferedAmount > limit) {
        page.dropped += batch.length;
        continue;
      }
      this.pushed += batch.length;
      page.ws.send(text).catch(() => undefined);
    }
  }
}

/** The compact form of a sample sent to pages: source, type, plot time, values, accuracy, action, timestamp, received. */
function compact(sample: Sample): unknown[] {
  return [sample.source, sample.type, sample.x, sample.values, sample.accuracy, sample.action ?? null, sample.timestamp, sample.received];
}
