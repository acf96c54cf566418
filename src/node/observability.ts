/**
 * What a server tells about itself: its metrics (`metrics` option) and connection open/close events to the
 * logger's hooks. Made only when one of them is asked for; the server then calls it where the events happen
 * (a handshake refused, a connection opened or closed) and it answers the metrics path.
 */
import type { Server as HttpServer } from 'node:http';
import { InvalidState } from '../errors.js';
import { closeCodeLabel } from '../metrics/close-codes.js';
import type { MetricsSnapshot } from '../metrics/families.js';
import {
  DEFAULT_METRICS_PATH,
  boundPort,
  listenForMetrics,
  metricsAnswer,
  metricsRequestHandler,
  type MetricsAnswer,
  type MetricsOption,
  type MetricsRequestHandler,
} from '../metrics/http.js';
import { renderPrometheus } from '../metrics/prometheus.js';
import type { RouteMeter } from '../metrics/route-meter.js';
import { ServerMetrics, type MetricsSource, type RefusalReason } from '../metrics/server-metrics.js';
import type { Connection } from './connection.js';

/** A connection opening or closing, as told to the logger's hooks. */
export interface ConnectionLogEvent {
  /** `open` or `close`. */
  event: 'open' | 'close';
  /** The connection. */
  connection: Connection;
  /** The route pattern that matched (`/rooms/{room}`), or undefined without a router. */
  route: string | undefined;
  /** The request path. */
  path: string;
  /** The client's IP address. */
  remoteAddress: string | undefined;
  /** The subprotocol agreed, or null. */
  subprotocol: string | null;
  /** Whether permessage-deflate was agreed. */
  compressed: boolean;
  /** On close: the close code received (1006 if none). */
  code?: number;
  /** On close: the code as the metrics label it (`1000`, `4xxx`, `other`...). */
  codeLabel?: string;
  /** On close: the close reason received. */
  reason?: string;
}

/** The `logger` option of a server: `error` for failures, and optional hooks for connection events. */
export interface ServerLogger {
  /** Handler failures and backplane errors. */
  error(...data: unknown[]): void;
  /** A connection was opened (after the handshake, before the handler runs). */
  connectionOpened?(event: ConnectionLogEvent): void;
  /** A connection closed. */
  connectionClosed?(event: ConnectionLogEvent): void;
}

/** Makes the server's observability, or null when neither metrics nor connection hooks are asked for. */
export function observabilityFor(
  metrics: MetricsOption | undefined,
  logger: ServerLogger | null | undefined,
  byRoute: boolean,
  source: () => MetricsSource,
): Observability | null {
  const hooks = logger?.connectionOpened !== undefined || logger?.connectionClosed !== undefined;
  if ((metrics === undefined || metrics === false) && !hooks) return null;
  return new Observability(metrics ?? false, hooks ? logger! : null, byRoute, source);
}

/** A server's metrics and connection hooks. */
export class Observability {
  /** The counters. */
  readonly meters: ServerMetrics;
  /** Whether metrics were asked for (not only log hooks). */
  readonly enabled: boolean;
  /** The path answered with the metrics on the server's own port, or null (off, or on a separate port). */
  readonly ownPortPath: string | null;
  private readonly path: string;
  private readonly port: number | null;
  private readonly host: string | undefined;
  private readonly logger: ServerLogger | null;
  private readonly source: () => MetricsSource;
  private listener: HttpServer | null = null;
  private handlerValue: MetricsRequestHandler | null = null;

  constructor(metrics: MetricsOption, logger: ServerLogger | null, byRoute: boolean, source: () => MetricsSource) {
    this.meters = new ServerMetrics(byRoute);
    this.enabled = metrics !== false;
    const settings = typeof metrics === 'object' ? metrics : {};
    this.path = settings.path ?? DEFAULT_METRICS_PATH;
    if (!this.path.startsWith('/')) throw new RangeError(`metrics path must start with '/': ${this.path}`);
    this.port = settings.port ?? null;
    this.host = settings.host;
    this.ownPortPath = this.enabled && this.port === null ? this.path : null;
    this.logger = logger;
    this.source = source;
  }

  /** Every metric now. */
  snapshot(): MetricsSnapshot {
    if (!this.enabled) throw new InvalidState('metrics are off: pass { metrics: true } to serve() or attach()');
    return this.meters.collect(this.source());
  }

  /** The metrics in the Prometheus text format. */
  render(): string {
    return renderPrometheus(this.snapshot());
  }

  /** A node:http handler/middleware answering the metrics path. */
  get handler(): MetricsRequestHandler {
    return (this.handlerValue ??= metricsRequestHandler(this.path, () => this.render()));
  }

  /** The answer to a request for the metrics path on the server's own port. */
  answer(method: string): MetricsAnswer {
    return metricsAnswer(method, () => this.render());
  }

  /** Starts the separate metrics listener, if one is configured. */
  async start(serverHost: string | undefined): Promise<void> {
    if (!this.enabled || this.port === null || this.listener !== null) return;
    this.listener = await listenForMetrics(this.handler, this.port, this.host ?? serverHost);
  }

  /** The port of the separate metrics listener, or null. */
  get listenerPort(): number | null {
    return this.listener === null ? null : boundPort(this.listener);
  }

  /** Stops the separate listener. */
  async stop(): Promise<void> {
    const listener = this.listener;
    this.listener = null;
    if (listener === null) return;
    listener.closeAllConnections();
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  }

  /** A handshake ended without a connection. */
  refused(reason: RefusalReason, count = 1): void {
    this.meters.refuse(reason, count);
  }

  /** The meter of a new connection's route. */
  meterOf(route: string | undefined): RouteMeter {
    return this.meters.meter(route);
  }

  /** A connection opened (its meter already counts it). */
  opened(ws: Connection, meter: RouteMeter): void {
    meter.opened++;
    const logger = this.logger;
    if (logger?.connectionOpened !== undefined) this.tell(logger, logger.connectionOpened, this.event('open', ws, meter));
  }

  /** A connection closed. */
  closed(ws: Connection, meter: RouteMeter): void {
    const code = ws.closeCode ?? 1006;
    meter.close(code);
    const logger = this.logger;
    if (logger?.connectionClosed === undefined) return;
    const event = this.event('close', ws, meter);
    event.code = code;
    event.codeLabel = closeCodeLabel(code);
    event.reason = ws.closeReason ?? '';
    this.tell(logger, logger.connectionClosed, event);
  }

  /** Calls a hook; one that throws is reported, never let into the connection's own bookkeeping. */
  private tell(logger: ServerLogger, hook: (event: ConnectionLogEvent) => void, event: ConnectionLogEvent): void {
    try {
      hook.call(logger, event);
    } catch (error) {
      logger.error(`wskit: logger.connection${event.event === 'open' ? 'Opened' : 'Closed'} failed:`, error);
    }
  }

  private event(kind: 'open' | 'close', ws: Connection, meter: RouteMeter): ConnectionLogEvent {
    return {
      event: kind,
      connection: ws,
      route: this.meters.byRoute ? meter.route : undefined,
      path: ws.request?.path ?? '/',
      remoteAddress: ws.remoteAddress,
      subprotocol: ws.subprotocol,
      compressed: ws.extensions !== '',
    };
  }
}
