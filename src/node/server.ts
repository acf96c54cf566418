import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import {
  splitTarget,
  validateExtendedConnect,
  validateUpgradeRequest,
  type Http2RequestHead,
  type RequestTarget,
  type UpgradeRequest,
} from '../protocol/handshake.js';
import { refusalHeaders, ServerHandshake, VERSION_REQUIRED_HEADERS, type Agreement } from '../protocol/server-handshake.js';
import {
  DEFAULT_HTTP_LIMITS,
  HttpHeadError,
  HttpHeadReader,
  HttpHeaders,
  parseRequestHead,
  readRequestHead,
  serializeResponse,
  type HttpLimits,
  type HttpRequestHead,
} from '../protocol/http11.js';
import { ConnectionClosed, InvalidState } from '../errors.js';
import { Admission, addressKey, type AdmissionLimits } from './admission.js';
import { checkCallbackHandlers, isCallbackHandlers, type WebSocketHandlers } from './callbacks.js';
import { Connection, type ConnectionOwner } from './connection.js';
import { PerMessageDeflateServer, serverExtensionsWithCompression, type CompressionOption, type CompressionOptions } from './deflate.js';
import type { Backplane } from './backplane.js';
import type { BroadcastData, BroadcastOptions, BroadcastResult } from './broadcast.js';
import { Hub } from './hub.js';
import type { MessageCodec, ServerExtension } from './message-codec.js';
import { PendingHandshakes } from './pending-handshakes.js';
import type { MetricsSnapshot } from '../metrics/families.js';
import type { MetricsOption, MetricsRequestHandler } from '../metrics/http.js';
import type { MetricsSource, RefusalReason, ServerMetrics } from '../metrics/server-metrics.js';
import { observabilityFor, type Observability, type ServerLogger } from './observability.js';
import { takePeerAddress } from './peer-address.js';
import { IncomingRequest } from './request-info.js';
import {
  Http2StreamCount,
  http2Limits,
  http2RequestHead,
  refuseStream,
  isHttp2Stream,
  respondOnStream,
  SessionGuard,
  sessionSettings,
  startsWithPreface,
  type Http2Limits,
  type Http2Option,
} from './http2-server.js';
import type { ConnectionOptions, RequestInfo } from './types.js';
import { checkServerOptions } from './options.js';
import { http2StreamTransport } from './transport.js';

/** A connection handler: runs for the connection's lifetime; when it returns, the connection is closed (1000). */
export type Handler = (ws: Connection) => void | Promise<void>;

/** What runs a server's connections: a {@link Handler} function (async API) or {@link WebSocketHandlers} (callbacks). */
export type ServerHandler = Handler | WebSocketHandlers;

/** An HTTP response a hook returns to answer a request instead of upgrading it. */
export interface HttpResponse {
  /** The status code, e.g. 401 or 200. */
  status: number;
  /** Response headers. */
  headers?: Record<string, string> | Array<[string, string]>;
  /** Response body. */
  body?: string | Uint8Array;
}

/** What a route lookup returns: the handler to run and the path parameters. */
export interface RouteMatch {
  /** The handler for this path: a function, or callbacks. */
  handler: ServerHandler;
  /** Named path parameters. */
  params: Record<string, string>;
  /** The route pattern that matched (`/rooms/{room}`): the `route` label of the metrics. */
  pattern?: string;
}

/** Options of {@link serve} and {@link attach}. */
export interface ServerOptions extends ConnectionOptions, AdmissionLimits {
  /** Interface to listen on. Default: all interfaces (like ws and Python websockets). */
  host?: string;
  /** Port to listen on; 0 picks a free one (see `server.address()`). Default 0. */
  port?: number;
  /** TLS certificate and key (and any `tls.createServer` option) to serve wss://; `minVersion` defaults to TLSv1.2. */
  tls?: tls.TlsOptions;
  /** Subprotocols supported, in order of preference, or a function choosing among those offered. */
  subprotocols?: string[] | ((offered: string[], request: RequestInfo) => string | null);
  /** Allowed Origin values (exact strings or regexps; `null` admits requests without Origin); others get 403. */
  origins?: Array<string | RegExp | null>;
  /** Inspects a request before the handshake; returning a response sends it instead of upgrading (auth, health checks). */
  processRequest?: (request: RequestInfo) => HttpResponse | undefined | void | Promise<HttpResponse | undefined | void>;
  /** Maps a request to a handler and path parameters; null rejects it with 404 (see `router()`). */
  route?: (request: RequestInfo) => RouteMatch | null;
  /** Extensions this server can negotiate (permessage-deflate). */
  extensions?: ServerExtension[];
  /** permessage-deflate (RFC 7692): on by default, `false` to turn off, or settings (see {@link CompressionOptions}). */
  compression?: CompressionOption;
  /** Time allowed from TCP accept to the end of the handshake, in ms (checked about every second, or every quarter of it if shorter). Default 10,000. */
  handshakeTimeout?: number;
  /** Limits on the HTTP request head. */
  httpLimits?: HttpLimits;
  /** Where handler errors are reported, and optional connection open/close hooks. Default `console`; null silences them. */
  logger?: ServerLogger | null;
  /** Metrics: `true` serves `GET /metrics` (Prometheus text format) on this server's port; see {@link MetricsOptions}. Default off. */
  metrics?: MetricsOption;
  /** Carries `publish()` to other server nodes, e.g. `redisBackplane({ url })`. Default: this server only. */
  backplane?: Backplane;
  /** Slow-client policy of `publish()` (see `broadcast()`). */
  broadcast?: BroadcastOptions;
  /**
   * WebSockets over HTTP/2 too (RFC 8441): with `tls`, ALPN offers `h2` beside `http/1.1` on the same port; without,
   * a client speaking HTTP/2 with prior knowledge (h2c) is served beside HTTP/1.1. `true` for the default limits, or
   * {@link Http2Limits}. Default off.
   */
  http2?: Http2Option;
}

/**
 * A WebSocket server: created by {@link serve} (listening on its own port) or
 * {@link attach} (sharing an existing http/https server).
 */
export class Server implements ConnectionOwner {
  /** Open connections. */
  readonly connections = new Set<Connection>();
  private readonly handler: ServerHandler;
  private readonly options: ServerOptions;
  private readonly pending: PendingHandshakes;
  private readonly httpLimits: Required<HttpLimits>;
  private listener: net.Server | null = null;
  private closing = false;
  /** Sockets that got an HTTP answer instead of an upgrade and have not closed yet (see `answerAndClose`). */
  private readonly answered = new Set<Duplex>();
  private readonly admission: Admission;
  /** The subprotocol, Origin and extension policy, applied to every handshake. */
  private readonly handshake: ServerHandshake<MessageCodec, RequestInfo>;
  /** Pub/sub topics of this server's connections (`ws.subscribe`, `server.publish`). */
  readonly hub: Hub;
  // Null unless metrics or connection log hooks are asked for: then the events below are told to it.
  private readonly observability: Observability | null;
  /** HTTP/2 limits, or null when the server speaks HTTP/1.1 only. */
  private readonly http2Limits: Required<Http2Limits> | null;
  /** Runs the HTTP/2 sessions of sockets this server accepted (made on the first one). */
  private http2Sessions: http2.Http2Server | null = null;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** WebSocket streams over HTTP/2, per session and in total (also for an attached http2 server). */
  private readonly http2Streams: Http2StreamCount;

  constructor(handler: ServerHandler, options: ServerOptions = {}) {
    if (isCallbackHandlers(handler)) checkCallbackHandlers(handler);
    else if (typeof handler !== 'function') throw new TypeError(`a server's handler is a function or an object of callbacks, not ${typeof handler}`);
    this.handler = handler;
    this.options = { ...options, extensions: serverExtensionsWithCompression(options.compression, options.extensions) };
    this.admission = new Admission(options);
    this.handshake = new ServerHandshake(this.options);
    this.http2Limits = http2Limits(options.http2);
    this.http2Streams = new Http2StreamCount(this.http2Limits ?? http2Limits(true)!);
    this.httpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.httpLimits };
    this.hub = new Hub({ backplane: options.backplane, broadcast: options.broadcast, logger: options.logger });
    this.observability = observabilityFor(options.metrics, options.logger, options.route !== undefined, () => this.metricsSnapshotSource());
    const observability = this.observability;
    this.pending = new PendingHandshakes(options.handshakeTimeout ?? 10_000, observability && (() => observability.refused('timeout')));
    if (observability?.enabled) options.backplane?.measure?.(observability.meters.backplaneLag);
  }

  /** The server's metrics now (`metrics` option): the figures `GET /metrics` shows, as an object. */
  metrics(): MetricsSnapshot {
    if (this.observability === null) return this.metricsOff();
    return this.observability.snapshot();
  }

  /**
   * A node:http request handler (or Express/Connect middleware) answering the metrics path: for `attach()`, whose
   * HTTP server answers plain requests itself. `http.createServer(server.metricsHandler)` or `app.use(server.metricsHandler)`.
   */
  get metricsHandler(): MetricsRequestHandler {
    if (this.observability === null || !this.observability.enabled) return this.metricsOff();
    return this.observability.handler;
  }

  /** The port of the separate metrics listener (`metrics: { port }`), or null. */
  get metricsPort(): number | null {
    return this.observability?.listenerPort ?? null;
  }

  /** @internal The metrics' recorder (the OpenTelemetry adapter follows its histograms). */
  metricsRecorder(): ServerMetrics {
    if (this.observability === null || !this.observability.enabled) return this.metricsOff();
    return this.observability.meters;
  }

  private metricsOff(): never {
    throw new InvalidState('metrics are off: pass { metrics: true } to serve() or attach()');
  }

  /** @internal attach(): starts the separate metrics listener, if configured (serve() does it in listen()). */
  startMetricsListener(): Promise<void> {
    return this.observability?.start(this.options.host) ?? Promise.resolve();
  }

  /** @internal What the metrics read at each scrape. */
  metricsSnapshotSource(): MetricsSource {
    return {
      connections: this.connections,
      pendingHandshakes: this.pending.size,
      admissionRefused: this.admission.refused,
      compression: compressionLimiter(this.options.extensions),
      topics: this.hub.size,
      backplane: this.hub.backplaneStatus(),
    };
  }

  /** Sends `message` to every subscriber of `topic`, on every node; returns what the local fan-out did. */
  publish(topic: string, message: BroadcastData): BroadcastResult {
    return this.hub.publish(topic, message);
  }

  /** How many of this server's connections are subscribed to `topic`. */
  subscribers(topic: string): number {
    return this.hub.subscribers(topic);
  }

  /** Connections refused by the admission limits so far, by reason. */
  get refused(): Readonly<Admission['refused']> {
    return this.admission.refused;
  }

  /**
   * Returns the client's {@link addressKey} (its handshake then counts against its address's share), or null after
   * refusing the socket if admission limits say no. `peer` is the TCP socket, for its address.
   */
  private admit(socket: Duplex, peer: { remoteAddress?: string }): string | null {
    // getpeername is cached by the socket: the request reads the same address once the head is parsed.
    const address = peer.remoteAddress ?? '';
    const from = addressKey(address);
    const refusal = this.admission.admit(address, this.pending.size, this.pending.from(from));
    if (refusal === 'drop') {
      socket.destroy();
      return null;
    }
    if (refusal !== null) {
      socket.on('error', noop);
      if (isHttp2Stream(socket)) {
        respondOnStream(socket, refusal.status, [['retry-after', '1']], `${refusal.message}\n`);
        return null;
      }
      this.answerAndClose(socket, serializeResponse(refusal.status, [['Connection', 'close'], ['Retry-After', '1']], `${refusal.message}\n`));
      return null;
    }
    if (this.admission.counting) socket.once('close', () => this.admission.release(address));
    return from;
  }

  /** Starts listening on `options.host`/`options.port`. */
  async listen(): Promise<this> {
    await this.hub.start();
    await this.observability?.start(this.options.host).catch(async (error: unknown) => {
      await this.hub.close();
      throw error;
    });
    const onSocket = (socket: net.Socket) => this.acceptSocket(socket);
    // RFC 7301 ALPN: h2 first, as browsers prefer it; a client offering only http/1.1 (or nothing) gets HTTP/1.1.
    const alpn = this.http2Limits !== null ? { ALPNProtocols: ['h2', 'http/1.1'] } : {};
    // TCP_NODELAY set as Node accepts each socket (the 101 goes out without Nagle's delay), so the connection's own
    // setNoDelay(true) finds it set and makes no second system call.
    const listener = this.options.tls
      ? tls.createServer({ minVersion: 'TLSv1.2', noDelay: true, ...alpn, ...this.options.tls }, onSocket)
      : net.createServer({ noDelay: true }, onSocket);
    if (this.options.tls) listener.on('tlsClientError', (_error, socket) => socket.destroy());
    this.listener = listener;
    try {
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(this.options.port ?? 0, this.options.host, () => {
          listener.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      // Don't leave a backplane's connections (Redis) or the metrics listener keeping the process alive.
      await this.observability?.stop();
      await this.hub.close();
      throw error;
    }
    return this;
  }

  /** Open HTTP/2 sessions of sockets this server accepted (each may carry many WebSockets); 0 when attached. */
  get http2SessionCount(): number {
    return this.sessions.size;
  }

  /** Hands an accepted socket (TLS with ALPN h2, or cleartext that sent the preface) to an HTTP/2 session. */
  private acceptHttp2(socket: net.Socket): void {
    this.forgetPending(socket);
    socket.off('error', noop);
    if (this.http2Sessions === null) {
      const sessions = http2.createServer(sessionSettings(this.http2Limits!, this.httpLimits));
      sessions.on('session', (session) => this.sessionOpened(session, true));
      sessions.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
        if (!this.handleHttp2Stream(stream, headers, rawHeaders)) this.answerPlainHttp2(stream, headers);
      });
      this.http2Sessions = sessions;
    }
    this.http2Sessions.emit('connection', socket);
  }

  /** @internal Follows a session: its guard against stream floods, and closing it with the server. */
  sessionOpened(session: http2.ServerHttp2Session, owned: boolean): void {
    const limits = this.http2Limits ?? http2Limits(true)!;
    if (!owned) {
      // An attached server's sessions are the application's: guarded, never closed by wskit.
      new SessionGuard(session, limits, null);
      return;
    }
    if (this.closing) {
      session.destroy();
      return;
    }
    new SessionGuard(session, limits, this.options.handshakeTimeout ?? 10_000);
    this.sessions.add(session);
    session.once('close', () => this.sessions.delete(session));
  }

  /** A request on an HTTP/2 session that is not a WebSocket: the metrics page, or 404. */
  private answerPlainHttp2(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const path = splitTarget(String(headers[':path'] ?? '/')).path;
    if (this.observability !== null && this.observability.ownPortPath === path) {
      const answer = this.observability.answer(String(headers[':method']));
      respondOnStream(stream, answer.status, answer.headers, answer.body);
      return;
    }
    respondOnStream(stream, 404, [['content-type', 'text/plain; charset=utf-8']], 'Not a WebSocket request (RFC 8441 extended CONNECT).\n');
  }

  /**
   * Takes an HTTP/2 stream that is a CONNECT (RFC 8441 §4); returns false for any other request, left to the
   * caller. Use it in an `http2` server's `'stream'` listener (what {@link attach} does).
   */
  handleHttp2Stream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, rawHeaders?: string[]): boolean {
    if (headers[':method'] !== 'CONNECT') return false;
    const guard = SessionGuard.of(stream.session);
    if (guard !== undefined) {
      stream.once('close', () => {
        const established = (stream as StreamState)[kEstablished] === true;
        if (established) guard.open--;
        // A WebSocket ends with END_STREAM both ways (rstCode NO_ERROR); a reset or a refused handshake is abnormal.
        if (!established || stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) guard.abnormalEnd();
      });
    }
    if (this.closing) {
      this.observability?.refused('shutting_down');
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return true;
    }
    const overLimit = this.http2Streams.admit(stream, guard);
    if (overLimit !== null) {
      this.observability?.refused('connection_limit');
      refuseStream(stream, overLimit);
      return true;
    }
    const peer = stream.session?.socket ?? {};
    const from = this.admit(stream, peer);
    if (from === null) return true;
    this.trackPending(stream, from);
    const head = http2RequestHead(headers, rawHeaders);
    const requestHead = { method: 'CONNECT', target: head.path ?? '', version: 'HTTP/2', headers: head.headers };
    this.upgrade(stream, requestHead, EMPTY, peer, head);
    return true;
  }

  /** The address listened on, or null when attached to another server. */
  address(): AddressInfo | null {
    const address = this.listener?.address();
    return address && typeof address === 'object' ? address : null;
  }

  /** The ws:// or wss:// URL of this server (loopback-friendly), when listening. */
  get url(): string {
    const address = this.address();
    if (address === null) throw new Error('server is not listening');
    let host = address.address;
    if (host === '::' || host === '0.0.0.0') host = 'localhost';
    else if (host.includes(':')) host = `[${host}]`;
    return `${this.options.tls ? 'wss' : 'ws'}://${host}:${address.port}`;
  }

  /**
   * Takes over an HTTP upgrade from Node's http server: use it in a
   * `server.on('upgrade', ...)` listener to share a port with Express, Fastify or Hono.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const headers = new HttpHeaders();
    const raw = request.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
    const requestHead: HttpRequestHead = {
      method: request.method ?? 'GET',
      target: request.url ?? '/',
      version: `HTTP/${request.httpVersion}`,
      headers,
    };
    const from = this.admit(socket, request.socket);
    if (from === null) return;
    this.trackPending(socket, from);
    this.upgrade(socket, requestHead, head, request.socket);
  }

  /**
   * Counts a socket as a handshake in progress until it closes or is upgraded.
   * The close listener is a shared function, not a closure: a closure here would
   * share its scope with the handshake's and keep the head reader and
   * request bytes alive for the connection's whole life (memory per idle connection).
   */
  private trackPending(socket: Duplex, from: string): void {
    this.pending.add(socket, from);
    (socket as PendingSocket)[kPendingServer] = this;
    socket.on('error', noop);
    socket.on('close', onPendingClose);
  }

  /** @internal The handshake of `socket` is over (upgraded, refused, or the socket closed); false if it was not pending. */
  forgetPending(socket: Duplex): boolean {
    const was = this.pending.delete(socket);
    const pending = socket as PendingSocket;
    if (pending[kPendingServer] === this) {
      pending[kPendingServer] = undefined;
      socket.off('close', onPendingClose);
    }
    return was;
  }

  /** @internal A socket closed during its handshake (the peer left, or it was dropped). */
  pendingClosed(socket: Duplex): void {
    if (this.forgetPending(socket)) this.observability?.refused('aborted');
  }

  private acceptSocket(socket: net.Socket): void {
    if (this.closing) {
      this.observability?.refused('shutting_down');
      socket.destroy();
      return;
    }
    const from = this.admit(socket, socket);
    if (from === null) return;
    this.trackPending(socket, from);
    if (this.http2Limits !== null && (socket as tls.TLSSocket).alpnProtocol === 'h2') {
      this.acceptHttp2(socket);
      return;
    }
    socket.on('data', onHeadData);
  }

  /** @internal Bytes of the request head of `socket`, pending with this server (see {@link onHeadData}). */
  headData(socket: HeadSocket, chunk: Buffer): void {
    // RFC 9113 §3.3: a cleartext client with prior knowledge opens with the connection preface.
    let reader = socket[kHeadReader];
    if (reader === undefined && this.http2Limits !== null && startsWithPreface(chunk)) {
      socket.off('data', onHeadData);
      socket.pause();
      socket.unshift(chunk);
      this.acceptHttp2(socket as net.Socket);
      return;
    }
    let head: HttpRequestHead;
    let rest: Buffer;
    try {
      // A whole head (the usual case: one chunk) is read and parsed in one pass; a reader is made only for a head
      // that arrives in pieces.
      const whole = reader === undefined ? readRequestHead(chunk, this.httpLimits) : null;
      if (whole !== null) {
        head = whole.head;
        rest = whole.rest;
      } else {
        reader ??= socket[kHeadReader] = new HttpHeadReader(true, this.httpLimits);
        const complete = reader.push(chunk);
        if (complete === null) return;
        head = parseRequestHead(complete.head);
        rest = complete.rest;
      }
    } catch (error) {
      socket.off('data', onHeadData);
      this.reject(socket, error as Error);
      return;
    }
    socket.off('data', onHeadData);
    if (reader !== undefined) socket[kHeadReader] = undefined;
    // Bytes arriving while a processRequest hook runs must wait for the connection; without
    // one the connection takes over the socket in this same call, and nothing can arrive between.
    // (The connection resumes the socket.)
    if (this.options.processRequest !== undefined) socket.pause();
    this.upgrade(socket, head, rest, socket as net.Socket);
  }

  private reject(socket: Duplex, error: Error): void {
    let status = error instanceof HttpHeadError ? error.status : 400;
    const headers: Array<[string, string]> = [['Content-Type', 'text/plain; charset=utf-8'], ['Connection', 'close']];
    if (status === 426 && isHttp2Stream(socket)) {
      // HTTP/2 has no Upgrade (RFC 9113 §8.6): a wrong version is a bad request naming the one supported (RFC 8441 §5).
      status = 400;
      headers.push(...VERSION_REQUIRED_HEADERS);
    }
    headers.push(...refusalHeaders(status));
    this.respond(socket, { status, headers, body: `Failed to open a WebSocket connection: ${error.message}.\n` }, 'bad_request');
  }

  /** Answers instead of upgrading; `refusal` says why, for the metrics (null: not a refused handshake). */
  private respond(socket: Duplex, response: HttpResponse, refusal: RefusalReason | null): void {
    if (this.forgetPending(socket) && refusal !== null) this.observability?.refused(refusal);
    const headers = Array.isArray(response.headers) ? response.headers : Object.entries(response.headers ?? {});
    if (isHttp2Stream(socket)) {
      respondOnStream(socket, response.status, headers, response.body ?? '');
      return;
    }
    if (!headers.some(([name]) => name.toLowerCase() === 'connection')) headers.push(['Connection', 'close']);
    let bytes: Buffer;
    try {
      bytes = serializeResponse(response.status, headers, response.body ?? '');
    } catch {
      socket.destroy();
      return;
    }
    this.answerAndClose(socket, bytes);
  }

  /**
   * Sends a refusal and closes: `end()` sends our FIN after the response, and the socket is read (bytes discarded) so
   * that the client's FIN is seen and the socket closes as soon as the client has left. A socket left paused would
   * stay open until the timer below, and `close()` (whose listener waits for every socket) with it. A client that
   * does not leave is dropped after 1 s, or at once by `close()`.
   */
  private answerAndClose(socket: Duplex, response: Buffer): void {
    socket.end(response);
    socket.resume();
    this.answered.add(socket);
    socket.once('close', () => this.answered.delete(socket));
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  /**
   * Takes a request head: answers it (refusal, hook's response, metrics page) or upgrades the socket. Synchronous
   * unless a `processRequest` hook is awaited: no promise per handshake otherwise.
   */
  private upgrade(socket: Duplex, head: HttpRequestHead, rest: Buffer, peer: { remoteAddress?: string }, h2: Http2RequestHead | null = null): void {
    let request: IncomingRequest;
    let target: RequestTarget;
    try {
      target = splitTarget(head.target);
      // An HTTP/2 stream's peer is its session's socket, shared by its streams: only a socket of its own forgets it.
      const address = h2 === null ? takePeerAddress(peer) : peer.remoteAddress;
      request = new IncomingRequest(target.path, head.target, head.headers, address, h2 === null ? '1.1' : '2', h2 === null ? undefined : (socket as http2.ServerHttp2Stream).id);
    } catch (error) {
      this.upgradeFailed(socket, error);
      return;
    }
    if (this.options.processRequest !== undefined) void this.hookThenUpgrade(socket, head, rest, h2, request, target);
    else this.upgradeRequest(socket, head, rest, h2, request, target);
  }

  /** Runs the `processRequest` hook, then the upgrade unless the hook answered. */
  private async hookThenUpgrade(socket: Duplex, head: HttpRequestHead, rest: Buffer, h2: Http2RequestHead | null, request: IncomingRequest, target: RequestTarget): Promise<void> {
    try {
      const response = await this.options.processRequest!(request);
      if (response) {
        this.respond(socket, response, 'process_request');
        return;
      }
    } catch (error) {
      this.upgradeFailed(socket, error);
      return;
    }
    this.upgradeRequest(socket, head, rest, h2, request, target);
  }

  /** A request failed before the upgrade: logged unless it is the request's own fault, then refused. */
  private upgradeFailed(socket: Duplex, error: unknown): void {
    const logger = this.options.logger;
    if (!(error instanceof HttpHeadError) && logger !== null) (logger ?? console).error(error);
    this.reject(socket, error as Error);
  }

  private upgradeRequest(socket: Duplex, head: HttpRequestHead, rest: Buffer, h2: Http2RequestHead | null, request: IncomingRequest, target: RequestTarget): void {
    const options = this.options;
    let upgrade: UpgradeRequest;
    // undefined without a router; null when the router has no route for the path.
    let route: RouteMatch | null | undefined;
    try {
      // GET /metrics on the WebSocket port (after processRequest, which may guard it); a scrape is not a handshake.
      // An upgrade request to that path is left to the WebSocket side.
      if (h2 === null && this.observability !== null && this.observability.ownPortPath === target.path && !head.headers.has('upgrade')) {
        this.forgetPending(socket);
        this.respond(socket, this.observability.answer(head.method), null);
        return;
      }
      upgrade = h2 === null ? validateUpgradeRequest(head, target) : validateExtendedConnect(h2);
      if (!this.handshake.originAllowed(head.headers)) {
        this.respond(socket, { status: 403, body: 'Failed to open a WebSocket connection: origin not allowed.\n' }, 'origin');
        return;
      }
      route = options.route?.(request);
      if (route === null) {
        this.respond(socket, { status: 404, body: 'Failed to open a WebSocket connection: no route for this path.\n' }, 'no_route');
        return;
      }
    } catch (error) {
      this.upgradeFailed(socket, error);
      return;
    }
    if (socket.destroyed || this.closing) {
      if (this.forgetPending(socket)) this.observability?.refused(this.closing ? 'shutting_down' : 'aborted');
      socket.destroy();
      return;
    }
    let agreement: Agreement<MessageCodec>;
    try {
      agreement = this.handshake.agree(upgrade, request);
    } catch (error) {
      this.reject(socket, error as Error);
      return;
    }
    this.forgetPending(socket);
    socket.off('error', noop);
    const meter = this.observability === null ? null : this.observability.meterOf(route?.pattern);
    if (h2 === null) {
      socket.write(this.handshake.http11Response(upgrade.key, agreement), 'latin1');
    } else {
      (socket as http2.ServerHttp2Stream).respond(this.handshake.http2Response(agreement));
      (socket as StreamState)[kEstablished] = true;
      http2StreamTransport(socket as http2.ServerHttp2Stream);
      const guard = SessionGuard.of((socket as http2.ServerHttp2Stream).session);
      if (guard !== undefined) guard.open++;
    }
    // No processRequest hook, router or subprotocol chooser was given the request: nothing can hold its headers.
    if (options.processRequest === undefined && options.route === undefined && typeof options.subprotocols !== 'function') {
      request.keepHeadersAsText();
    }
    const handler = route?.handler ?? this.handler;
    const callbacks = isCallbackHandlers(handler) ? handler : null;
    // The connection's settings, not a spread of every server option (a large object per handshake).
    const ws = new Connection(socket, 'server', {
      maxMessageSize: options.maxMessageSize,
      maxFragments: options.maxFragments,
      maxQueue: options.maxQueue,
      writeLimit: options.writeLimit,
      backpressureLimit: options.backpressureLimit,
      callbacks,
      pingInterval: options.pingInterval,
      pingTimeout: options.pingTimeout,
      closeTimeout: options.closeTimeout,
      owner: this,
      hub: this.hub,
      subprotocol: agreement.protocol,
      request,
      codec: agreement.codec,
      extensions: agreement.extensions,
      head: rest,
      meter,
    });
    if (route) ws.params = route.params;
    if (meter !== null) this.observability!.opened(ws, meter);
    this.connections.add(ws);
    if (callbacks !== null) ws.startCallbacks();
    else this.run(ws, handler as Handler);
  }

  /** @internal A connection closed: forget it (told directly, no promise chain per connection). */
  connectionClosed(ws: Connection): void {
    this.connections.delete(ws);
    if (ws.meter !== null) this.observability!.closed(ws, ws.meter);
  }

  /**
   * Runs the handler and closes the connection when it returns or fails. It starts at once, as the last step of the
   * upgrade (as `open` does for callbacks), not from a promise job: no closure, reaction and microtask per
   * connection. Its end is watched by one promise reaction, not an async function: a suspended async frame per
   * connection kept about 0.4 KiB more for as long as the connection lives (memory per idle connection, and GC work
   * per handshake).
   */
  private run(ws: Connection, handler: Handler): void {
    let result: void | Promise<void>;
    try {
      result = handler(ws);
    } catch (error) {
      this.handlerFailed(ws, error);
      return;
    }
    // A native promise is used as is; anything else (undefined, another library's thenable) is adopted. Its reactions
    // are shared functions bound to the connection, not two closures and their scope (memory per idle connection).
    Promise.resolve(result).then(onHandlerReturned.bind(ws), onHandlerFailed.bind(ws));
  }

  /** @internal A callback of `ws` threw or rejected: the same as a failed handler (logged, closed with 1011). */
  callbackFailed(ws: Connection, error: unknown): void {
    this.handlerFailed(ws, error);
  }

  private handlerFailed(ws: Connection, error: unknown): void {
    // The peer closing (even with an error code) is not the handler's failure.
    if (error instanceof ConnectionClosed) return;
    const logger = this.options.logger === undefined ? console : this.options.logger;
    logger?.error('wskit: connection handler failed:', error);
    ws.close(1011, 'internal error').catch(noop);
  }

  /**
   * Stops accepting connections, closes every open one with `code` (1001,
   * going away) and waits until all are closed (each within `closeTimeout`).
   */
  async close(code = 1001, reason = ''): Promise<void> {
    this.closing = true;
    const listening = this.listener;
    const stopped = listening ? new Promise<void>((resolve) => listening.close(() => resolve())) : Promise.resolve();
    if (this.pending.size > 0) this.observability?.refused('shutting_down', this.pending.size);
    this.pending.destroyAll();
    for (const socket of this.answered) socket.destroy();
    // GOAWAY: no new streams; each session ends once its WebSockets have closed.
    for (const session of this.sessions) session.close();
    await Promise.all([...this.connections].map((ws) => ws.close(code, reason).catch(noop)));
    await stopped;
    await this.observability?.stop();
    await this.hub.close();
  }
}

const EMPTY = Buffer.alloc(0);
const kEstablished = Symbol('wskit.established');
type StreamState = http2.ServerHttp2Stream & { [kEstablished]?: boolean };

/** The handler of the connection `this` returned: it is closed normally (1000). */
function onHandlerReturned(this: Connection): void {
  this.close(1000).catch(noop);
}

/** The handler of the connection `this` failed: reported to its server (logged, closed with 1011). */
function onHandlerFailed(this: Connection, error: unknown): void {
  this.handlerFailed(error);
}

function noop(): void {}

const kPendingServer = Symbol('wskit.pendingServer');
type PendingSocket = Duplex & { [kPendingServer]?: Server | undefined };
const kHeadReader = Symbol('wskit.headReader');
/** A socket reading its request head: the reader exists only while a head arriving in pieces is collected. */
type HeadSocket = PendingSocket & { [kHeadReader]?: HttpHeadReader | undefined };

/**
 * The `'data'` listener of a socket until its request head has been read: one shared function (`this` is the
 * socket), not a closure per socket. A socket no longer pending (dropped by the handshake timeout) is ignored.
 */
function onHeadData(this: HeadSocket, chunk: Buffer): void {
  this[kPendingServer]?.headData(this, chunk);
}

function onPendingClose(this: PendingSocket): void {
  this[kPendingServer]?.pendingClosed(this);
}

/** The zlib limiter of the server's permessage-deflate, if it has one. */
function compressionLimiter(extensions: ServerExtension[] | undefined): { running: number; pending: number } | null {
  const deflate = extensions?.find((extension) => extension instanceof PerMessageDeflateServer);
  return deflate instanceof PerMessageDeflateServer ? deflate.limiter : null;
}

/**
 * Starts a WebSocket server that runs `handler(ws)` for each connection, or, given an object of callbacks
 * ({@link WebSocketHandlers}, Bun/uWS style), calls them as connections open, receive, drain and close.
 *
 * ```ts
 * const server = await serve(async (ws) => { for await (const msg of ws) await ws.send(msg); }, { port: 8765 });
 * const fast = await serve({ message: (ws, data) => ws.sendNow(data) }, { port: 8766 });
 * ```
 */
export async function serve(handler: ServerHandler, options: ServerOptions = {}): Promise<Server> {
  checkServerOptions(options);
  return new Server(handler, options).listen();
}

/**
 * Serves WebSocket upgrades on an existing `http.Server` or `https.Server`
 * (Express, Fastify, Hono...), sharing its port. Other requests are untouched.
 * Given an `http2` server (`http2.createSecureServer`, with `allowHTTP1` or not), it also accepts WebSockets over
 * HTTP/2 (RFC 8441): SETTINGS_ENABLE_CONNECT_PROTOCOL is turned on and extended CONNECT streams are taken over.
 */
export function attach(
  httpServer: HttpServer | HttpsServer | http2.Http2Server | http2.Http2SecureServer,
  handler: ServerHandler,
  options: ServerOptions = {},
): Server {
  checkServerOptions(options);
  const server = new Server(handler, options);
  const report = (error: unknown): void => void (options.logger !== null && (options.logger ?? console).error(error));
  server.hub.start().catch(report);
  server.startMetricsListener().catch(report);
  httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => server.handleUpgrade(request, socket, head));
  if (isHttp2Server(httpServer)) attachHttp2(httpServer, server);
  return server;
}

function isHttp2Server(server: object): server is http2.Http2Server | http2.Http2SecureServer {
  return typeof (server as { updateSettings?: unknown }).updateSettings === 'function';
}

/**
 * An http2 server delivers a stream to its `'stream'` listeners, and, once a `'request'` listener exists (the
 * compatibility API), a CONNECT to `'connect'` listeners instead of a request (Node answers 405 when there are
 * none). Both are watched; whichever the server uses at that moment hands the stream over.
 */
function attachHttp2(httpServer: http2.Http2Server | http2.Http2SecureServer, server: Server): void {
  httpServer.updateSettings({ enableConnectProtocol: true });
  httpServer.on('session', (session: http2.ServerHttp2Session) => server.sessionOpened(session, false));
  httpServer.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
    if (httpServer.listenerCount('request') === 0) server.handleHttp2Stream(stream, headers, rawHeaders);
  });
  httpServer.on('connect', (request: http2.Http2ServerRequest | IncomingMessage, response: http2.Http2ServerResponse | Duplex) => {
    if (!('stream' in request) || request.stream === undefined) {
      // An HTTP/1.1 CONNECT (allowHTTP1): ours is the listener that stopped Node from closing it.
      if (httpServer.listenerCount('connect') === 1) (response as Duplex).destroy();
      return;
    }
    if (!server.handleHttp2Stream(request.stream, request.headers, request.rawHeaders)) {
      const answer = response as http2.Http2ServerResponse;
      answer.statusCode = 405;
      answer.end();
    }
  });
}
