/**
 * Serving the metrics over HTTP: the answer to `GET /metrics`, as a node:http request handler (a separate
 * listener, or middleware next to an app sharing the port) or as the status, headers and body the server
 * writes itself on its WebSocket port.
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { splitTarget } from '../protocol/handshake.js';
import { PROMETHEUS_CONTENT_TYPE } from './prometheus.js';

/** Where the metrics are served. */
export interface MetricsOptions {
  /** A separate port for the metrics (0 picks a free one); default: the WebSocket server's own port. */
  port?: number;
  /** Interface of the separate listener. Default: the server's `host`. */
  host?: string;
  /** Path answered. Default `/metrics`. */
  path?: string;
}

/** The `metrics` option: `true` for `/metrics` on the server's port, or {@link MetricsOptions}. */
export type MetricsOption = boolean | MetricsOptions;

/** The default path of the metrics. */
export const DEFAULT_METRICS_PATH = '/metrics';

/** An HTTP answer: status, headers, body. */
export interface MetricsAnswer {
  /** Status code. */
  status: number;
  /** Headers. */
  headers: Array<[string, string]>;
  /** Body (empty for HEAD). */
  body: string;
}

/** The answer to a request for the metrics path: the text format for GET and HEAD, 405 for other methods. */
export function metricsAnswer(method: string, render: () => string): MetricsAnswer {
  if (method !== 'GET' && method !== 'HEAD') {
    return { status: 405, headers: [['Allow', 'GET, HEAD'], ['Content-Type', 'text/plain; charset=utf-8']], body: 'Method Not Allowed\n' };
  }
  const text = render();
  const headers: Array<[string, string]> = [['Content-Type', PROMETHEUS_CONTENT_TYPE], ['Cache-Control', 'no-store']];
  if (method === 'HEAD') return { status: 200, headers: [...headers, ['Content-Length', String(Buffer.byteLength(text))]], body: '' };
  return { status: 200, headers, body: text };
}

/**
 * The path part of a request target (`/metrics?x` → `/metrics`), read as the server reads it on its WebSocket port
 * (the handshake's {@link splitTarget}: absolute-form targets too); '' for a target that is malformed.
 */
export function targetPath(target: string): string {
  try {
    return splitTarget(target).path;
  } catch {
    return '';
  }
}

/**
 * A node:http request handler answering `path` with the metrics: use it as the handler of an http server, or
 * as Express/Connect middleware (other paths go to `next`, or get 404 without one).
 */
export type MetricsRequestHandler = (request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void) => void;

/** Makes a {@link MetricsRequestHandler} for `path` rendering with `render`. */
export function metricsRequestHandler(path: string, render: () => string): MetricsRequestHandler {
  return (request, response, next) => {
    if (targetPath(request.url ?? '/') !== path) {
      if (next !== undefined) return next();
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('Not Found\n');
      return;
    }
    let answer: MetricsAnswer;
    try {
      answer = metricsAnswer(request.method ?? 'GET', render);
    } catch (error) {
      if (next !== undefined) return next(error);
      response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('Internal Server Error\n');
      return;
    }
    // An object, not [name, value] pairs: node:http reads pairs as a flat list once a header is already set (Express sets X-Powered-By).
    response.writeHead(answer.status, Object.fromEntries(answer.headers));
    response.end(answer.body);
  };
}

/** Starts a separate HTTP listener serving `handler`; rejects with a clear error if the port is taken. */
export function listenForMetrics(handler: MetricsRequestHandler, port: number, host: string | undefined): Promise<HttpServer> {
  const listener = createServer((request, response) => handler(request, response));
  // A slow or stuck scraper must not hold sockets forever.
  listener.requestTimeout = 10_000;
  listener.headersTimeout = 10_000;
  return new Promise((resolve, reject) => {
    listener.once('error', (error: NodeJS.ErrnoException) => {
      reject(new Error(error.code === 'EADDRINUSE' ? `metrics port ${port} is already in use` : `cannot listen for metrics: ${error.message}`));
    });
    listener.listen(port, host, () => {
      listener.removeAllListeners('error');
      listener.on('error', () => undefined);
      resolve(listener);
    });
  });
}

/** The port a listener is bound to. */
export function boundPort(listener: HttpServer): number {
  return (listener.address() as AddressInfo).port;
}
