/**
 * The metrics of one server: a {@link RouteMeter} per route, handshake refusals by reason, and what is read
 * only when someone asks (gauges of the server's state, the slowest clients). `collect()` turns them into a
 * {@link MetricsSnapshot}, the one shape the Prometheus text, `server.metrics()` and OpenTelemetry all read.
 */
import { METRICS, type HistogramSample, type MetricDefinition, type MetricSample, type MetricsSnapshot } from './families.js';
import { Histogram } from './histogram.js';
import { RouteMeter } from './route-meter.js';

/** Why an opening handshake did not end in a connection (the `reason` label of refused handshakes). */
export type RefusalReason =
  | 'bad_request'
  | 'process_request'
  | 'origin'
  | 'no_route'
  | 'timeout'
  | 'aborted'
  | 'shutting_down'
  | 'pending_limit'
  | 'pending_ip_limit'
  | 'connection_limit'
  | 'ip_limit'
  | 'rate_limit';

/** Every refusal reason, in export order. */
export const REFUSAL_REASONS: readonly RefusalReason[] = [
  'bad_request', 'process_request', 'origin', 'no_route', 'timeout', 'aborted', 'shutting_down',
  'pending_limit', 'pending_ip_limit', 'connection_limit', 'ip_limit', 'rate_limit',
];

/** Told of a histogram observation: which metric, its labels, the value. */
export type HistogramListener = (definition: MetricDefinition, labels: Readonly<Record<string, string>>, value: number) => void;

/** How many of the clients with the largest send backlog are reported (`wskit_slowest_client_buffered_bytes`). */
export const SLOWEST_CLIENTS = 5;

/** What a connection offers to a scrape. */
export interface MeteredConnection {
  /** Bytes written but not yet sent. */
  readonly bufferedAmount: number;
}

/** The server's state, read at each scrape. */
export interface MetricsSource {
  /** Open connections (walked to find the slowest clients). */
  readonly connections: Iterable<MeteredConnection>;
  /** Handshakes in progress. */
  readonly pendingHandshakes: number;
  /** Refusals counted by the admission limits. */
  readonly admissionRefused: Readonly<{ pending: number; pendingPerIp: number; total: number; perIp: number; rate: number }>;
  /** The zlib limiter of the server's permessage-deflate, if compression is on. */
  readonly compression: { readonly running: number; readonly pending: number } | null;
  /** Topics with subscribers. */
  readonly topics: number;
  /** The backplane, if any, and what the hub counted through it. */
  readonly backplane: {
    readonly up: boolean;
    readonly published: number;
    readonly received: number;
    readonly dropped: number | undefined;
  } | null;
}

/** Metrics of one server. */
export class ServerMetrics {
  /** Whether samples carry a `route` label (the server has a router). */
  readonly byRoute: boolean;
  private readonly meters = new Map<string, RouteMeter>();
  private readonly refusals = new Map<RefusalReason, number>();
  /** Time from publish to its acceptance by the backplane (fed by the backplane). */
  readonly backplaneLag = new Histogram();
  private readonly histogramListeners = new Set<HistogramListener>();
  private readonly histogramStops = new Map<HistogramListener, Array<() => void>>();

  constructor(byRoute: boolean) {
    this.byRoute = byRoute;
  }

  /** The meter of `route` (a route pattern; undefined without a router), made on first use. */
  meter(route: string | undefined): RouteMeter {
    const key = this.byRoute ? (route ?? '') : '';
    let meter = this.meters.get(key);
    if (meter === undefined) {
      this.meters.set(key, (meter = new RouteMeter(key)));
      for (const listener of this.histogramListeners) this.listenRoute(meter, listener);
    }
    return meter;
  }

  /**
   * Tells `listener` of every later observation of every histogram, with its definition and labels (the
   * OpenTelemetry adapter records them on its own histograms, which have no observable form). Returns a stop function.
   */
  listenHistograms(listener: HistogramListener): () => void {
    this.histogramListeners.add(listener);
    const stops = [...this.meters.values()].map((meter) => this.listenRoute(meter, listener));
    stops.push(this.backplaneLag.listen((value) => listener(METRICS.backplaneLag, {}, value)));
    this.histogramStops.set(listener, stops);
    return () => {
      this.histogramListeners.delete(listener);
      for (const stop of this.histogramStops.get(listener) ?? []) stop();
      this.histogramStops.delete(listener);
    };
  }

  private listenRoute(meter: RouteMeter, listener: HistogramListener): () => void {
    const labels: Record<string, string> = this.byRoute ? { route: meter.route } : {};
    const stop = meter.rtt.listen((value) => listener(METRICS.rtt, labels, value));
    this.histogramStops.get(listener)?.push(stop);
    return stop;
  }

  /** The meters made so far. */
  routes(): IterableIterator<RouteMeter> {
    return this.meters.values();
  }

  /** Counts a handshake that did not end in a connection. */
  refuse(reason: RefusalReason, count = 1): void {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + count);
  }

  /** Every metric's current value. */
  collect(source: MetricsSource): MetricsSnapshot {
    const snapshot: MetricsSnapshot = {};
    const scalar = (definition: MetricDefinition, samples: MetricSample[]): void => {
      snapshot[definition.name] = { ...definition, type: definition.type as 'counter' | 'gauge', samples };
    };
    const histogram = (definition: MetricDefinition, samples: HistogramSample[]): void => {
      snapshot[definition.name] = { ...definition, type: 'histogram', samples };
    };
    // Without a router there is one meter, shown from the start; with one, a route appears with its first connection.
    if (!this.byRoute) this.meter(undefined);
    const meters = [...this.meters.values()];
    const labels = (meter: RouteMeter, extra: Record<string, string> = {}): Record<string, string> =>
      this.byRoute ? { route: meter.route, ...extra } : extra;
    const perRoute = (definition: MetricDefinition, values: (meter: RouteMeter) => Array<[Record<string, string>, number]>): void =>
      scalar(definition, meters.flatMap((meter) => values(meter).map(([extra, value]) => ({ labels: labels(meter, extra), value }))));

    perRoute(METRICS.connections, (m) => [[{}, m.open]]);
    perRoute(METRICS.opened, (m) => [[{}, m.opened]]);
    perRoute(METRICS.closed, (m) => [...m.closed].sort(byKey).map(([code, n]) => [{ code }, n]));
    const admission = source.admissionRefused;
    const admitted: Record<RefusalReason, number> = {
      pending_limit: admission.pending, pending_ip_limit: admission.pendingPerIp, connection_limit: admission.total, ip_limit: admission.perIp, rate_limit: admission.rate,
    } as Record<RefusalReason, number>;
    scalar(METRICS.handshakes, [
      ...meters.map((m) => ({ labels: labels(m, { result: 'accepted' }), value: m.opened })),
      ...REFUSAL_REASONS.map((reason) => ({
        labels: { result: 'refused', reason },
        value: (this.refusals.get(reason) ?? 0) + (admitted[reason] ?? 0),
      })),
    ]);
    scalar(METRICS.pending, [{ labels: {}, value: source.pendingHandshakes }]);
    perRoute(METRICS.messagesReceived, (m) => [[{ opcode: 'text' }, m.textReceived], [{ opcode: 'binary' }, m.binaryReceived]]);
    perRoute(METRICS.messagesSent, (m) => [[{ opcode: 'text' }, m.textSent], [{ opcode: 'binary' }, m.binarySent]]);
    perRoute(METRICS.bytesReceived, (m) => [[{ opcode: 'text' }, m.textBytesReceived], [{ opcode: 'binary' }, m.binaryBytesReceived]]);
    perRoute(METRICS.bytesSent, (m) => [[{ opcode: 'text' }, m.textBytesSent], [{ opcode: 'binary' }, m.binaryBytesSent]]);
    perRoute(METRICS.slowClients, (m) => [[{ action: 'skipped' }, m.slowSkipped], [{ action: 'closed' }, m.slowClosed]]);
    scalar(METRICS.slowest, slowest(source.connections).map((value, i) => ({ labels: { rank: String(i + 1) }, value })));
    histogram(METRICS.rtt, meters.map((m) => ({ labels: labels(m), histogram: m.rtt.snapshot() })));
    perRoute(METRICS.deflateIn, (m) => [[{ direction: 'sent' }, m.deflateIn], [{ direction: 'received' }, m.inflateIn]]);
    perRoute(METRICS.deflateOut, (m) => [[{ direction: 'sent' }, m.deflateOut], [{ direction: 'received' }, m.inflateOut]]);
    if (source.compression !== null) {
      scalar(METRICS.zlibQueue, [{ labels: {}, value: source.compression.pending }]);
      scalar(METRICS.zlibActive, [{ labels: {}, value: source.compression.running }]);
    }
    scalar(METRICS.topics, [{ labels: {}, value: source.topics }]);
    const backplane = source.backplane;
    if (backplane !== null) {
      scalar(METRICS.backplaneUp, [{ labels: {}, value: backplane.up ? 1 : 0 }]);
      scalar(METRICS.backplanePublished, [{ labels: {}, value: backplane.published }]);
      scalar(METRICS.backplaneReceived, [{ labels: {}, value: backplane.received }]);
      if (backplane.dropped !== undefined) scalar(METRICS.backplaneDropped, [{ labels: {}, value: backplane.dropped }]);
      histogram(METRICS.backplaneLag, [{ labels: {}, histogram: this.backplaneLag.snapshot() }]);
    }
    perRoute(METRICS.resumes, (m) => [[{ result: 'recovered' }, m.resumesRecovered], [{ result: 'missed' }, m.resumesMissed]]);
    return snapshot;
  }
}

/** The largest `bufferedAmount`s, largest first, padded with zeros to {@link SLOWEST_CLIENTS} (one pass, no sort). */
function slowest(connections: Iterable<MeteredConnection>): number[] {
  const top = new Array<number>(SLOWEST_CLIENTS).fill(0);
  for (const ws of connections) {
    const buffered = ws.bufferedAmount;
    if (buffered <= top[SLOWEST_CLIENTS - 1]!) continue;
    let i = SLOWEST_CLIENTS - 1;
    while (i > 0 && top[i - 1]! < buffered) {
      top[i] = top[i - 1]!;
      i--;
    }
    top[i] = buffered;
  }
  return top;
}

function byKey(a: [string, number], b: [string, number]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
