import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { formatExtensions, type ExtensionOffer } from '../protocol/extension-header.js';
import {
  acceptResponseText,
  splitTarget,
  UPGRADE_REQUIRED_HEADERS,
  validateUpgradeRequest,
  type RequestTarget,
  type UpgradeRequest,
} from '../protocol/handshake.js';
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
import { ConnectionClosed } from '../errors.js';
import { Admission, type AdmissionLimits } from './admission.js';
import { Connection, type ConnectionOwner } from './connection.js';
import { serverExtensionsWithCompression, type CompressionOption, type CompressionOptions } from './deflate.js';
import type { Backplane } from '../pubsub/backplane.js';
import type { BroadcastData, BroadcastOptions, BroadcastResult } from '../pubsub/broadcast.js';
import { Hub } from '../pubsub/hub.js';
import type { MessageCodec, ServerExtension } from './message-codec.js';
import { PendingHandshakes } from './pending-handshakes.js';
import { IncomingRequest } from './request-info.js';
import type { ConnectionOptions, RequestInfo } from './types.js';

/** A connection handler: runs for the connection's lifetime; when it returns, the connection is closed (1000). */
export type Handler = (ws: Connection) => void | Promise<void>;

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
  /** The handler for this path. */
  handler: Handler;
  /** Named path parameters. */
  params: Record<string, string>;
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
  /** Where handler errors are reported. Default `console`; null silences them. */
  logger?: Pick<Console, 'error'> | null;
  /** Carries `publish()` to other server nodes, e.g. `redisBackplane({ url })`. Default: this server only. */
  backplane?: Backplane;
  /** Slow-client policy of `publish()` (see `broadcast()`). */
  broadcast?: BroadcastOptions;
}

/**
 * A WebSocket server: created by {@link serve} (listening on its own port) or
 * {@link attach} (sharing an existing http/https server).
 */
export class Server implements ConnectionOwner {
  /** Open connections. */
  readonly connections = new Set<Connection>();
  private readonly handler: Handler;
  private readonly options: ServerOptions;
  private readonly pending: PendingHandshakes;
  private readonly httpLimits: Required<HttpLimits>;
  private listener: net.Server | null = null;
  private closing = false;
  private readonly admission: Admission;
  /** Pub/sub topics of this server's connections (`ws.subscribe`, `server.publish`). */
  readonly hub: Hub;

  constructor(handler: Handler, options: ServerOptions = {}) {
    this.handler = handler;
    this.options = { ...options, extensions: serverExtensionsWithCompression(options.compression, options.extensions) };
    this.admission = new Admission(options);
    this.pending = new PendingHandshakes(options.handshakeTimeout ?? 10_000);
    this.httpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.httpLimits };
    this.hub = new Hub({ backplane: options.backplane, broadcast: options.broadcast, logger: options.logger });
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

  /** Returns false (after refusing the socket) if admission limits say no. `peer` is the TCP socket, for its address. */
  private admit(socket: Duplex, peer: { remoteAddress?: string }): boolean {
    // getpeername only when a per-IP limit needs it now; the request reads it anyway once the head is parsed.
    const address = this.admission.counting ? (peer.remoteAddress ?? '') : '';
    const refusal = this.admission.admit(address, this.pending.size);
    if (refusal === 'drop') {
      socket.destroy();
      return false;
    }
    if (refusal !== null) {
      socket.on('error', noop);
      socket.end(serializeResponse(refusal.status, [['Connection', 'close'], ['Retry-After', '1']], `${refusal.message}\n`));
      setTimeout(() => socket.destroy(), 1000).unref();
      return false;
    }
    if (this.admission.counting) socket.once('close', () => this.admission.release(address));
    return true;
  }

  /** Starts listening on `options.host`/`options.port`. */
  async listen(): Promise<this> {
    await this.hub.start();
    const onSocket = (socket: net.Socket) => this.acceptSocket(socket);
    const listener = this.options.tls
      ? tls.createServer({ minVersion: 'TLSv1.2', ...this.options.tls }, onSocket)
      : net.createServer(onSocket);
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
      // Don't leave a backplane's connections (Redis) keeping the process alive.
      await this.hub.close();
      throw error;
    }
    return this;
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
    if (!this.admit(socket, request.socket)) return;
    this.trackPending(socket);
    void this.upgrade(socket, requestHead, head, request.socket, true);
  }

  /**
   * Counts a socket as a handshake in progress until it closes or is upgraded.
   * The close listener is a shared function, not a closure: a closure here would
   * share its scope with the handshake's and keep the head reader and
   * request bytes alive for the connection's whole life (memory per idle connection).
   */
  private trackPending(socket: Duplex): void {
    this.pending.add(socket);
    (socket as PendingSocket)[kPendingServer] = this;
    socket.on('error', noop);
    socket.on('close', onPendingClose);
  }

  /** @internal The handshake of `socket` is over (upgraded, refused, or the socket closed). */
  forgetPending(socket: Duplex): void {
    this.pending.delete(socket);
    const pending = socket as PendingSocket;
    if (pending[kPendingServer] === this) {
      pending[kPendingServer] = undefined;
      socket.off('close', onPendingClose);
    }
  }

  private acceptSocket(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (!this.admit(socket, socket)) return;
    this.trackPending(socket);
    // Made only for a head that arrives in pieces: a whole head is read and parsed in one pass.
    let reader: HttpHeadReader | null = null;
    const onData = (chunk: Buffer): void => {
      let head: HttpRequestHead;
      let rest: Buffer;
      try {
        const whole = reader === null ? readRequestHead(chunk, this.httpLimits) : null;
        if (whole !== null) {
          head = whole.head;
          rest = whole.rest;
        } else {
          reader ??= new HttpHeadReader(true, this.httpLimits);
          const complete = reader.push(chunk);
          if (complete === null) return;
          head = parseRequestHead(complete.head);
          rest = complete.rest;
        }
      } catch (error) {
        socket.off('data', onData);
        this.reject(socket, error as Error);
        return;
      }
      socket.off('data', onData);
      // Bytes arriving while a processRequest hook runs must wait for the connection; without
      // one the connection takes over the socket in this same call, and nothing can arrive between.
      const paused = this.options.processRequest !== undefined;
      if (paused) socket.pause();
      void this.upgrade(socket, head, rest, socket, paused);
    };
    socket.on('data', onData);
  }

  private reject(socket: Duplex, error: Error): void {
    const status = error instanceof HttpHeadError ? error.status : 400;
    const headers: Array<[string, string]> = [['Content-Type', 'text/plain; charset=utf-8'], ['Connection', 'close']];
    if (status === 426) headers.push(...UPGRADE_REQUIRED_HEADERS);
    this.respond(socket, { status, headers, body: `Failed to open a WebSocket connection: ${error.message}.\n` });
  }

  private respond(socket: Duplex, response: HttpResponse): void {
    this.forgetPending(socket);
    const headers = Array.isArray(response.headers) ? response.headers : Object.entries(response.headers ?? {});
    if (!headers.some(([name]) => name.toLowerCase() === 'connection')) headers.push(['Connection', 'close']);
    try {
      socket.end(serializeResponse(response.status, headers, response.body ?? ''));
    } catch {
      socket.destroy();
      return;
    }
    // Don't wait forever for the peer to read the response.
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  private async upgrade(
    socket: Duplex,
    head: HttpRequestHead,
    rest: Buffer,
    peer: { remoteAddress?: string },
    paused: boolean,
  ): Promise<void> {
    const options = this.options;
    let request: RequestInfo;
    let target: RequestTarget;
    let upgrade: UpgradeRequest;
    // undefined without a router; null when the router has no route for the path.
    let route: RouteMatch | null | undefined;
    try {
      target = splitTarget(head.target);
      request = new IncomingRequest(target.path, head.target, head.headers, peer.remoteAddress);
      if (options.processRequest) {
        const response = await options.processRequest(request);
        if (response) {
          this.respond(socket, response);
          return;
        }
      }
      upgrade = validateUpgradeRequest(head, target);
      if (options.origins && !originAllowed(head.headers.getAll('origin'), options.origins)) {
        this.respond(socket, { status: 403, body: 'Failed to open a WebSocket connection: origin not allowed.\n' });
        return;
      }
      route = options.route?.(request);
      if (route === null) {
        this.respond(socket, { status: 404, body: 'Failed to open a WebSocket connection: no route for this path.\n' });
        return;
      }
    } catch (error) {
      if (!(error instanceof HttpHeadError)) options.logger !== null && (options.logger ?? console).error(error);
      this.reject(socket, error as Error);
      return;
    }
    if (socket.destroyed || this.closing) {
      socket.destroy();
      return;
    }
    let protocol: string | null = null;
    const offered = upgrade.protocols;
    if (typeof options.subprotocols === 'function') protocol = options.subprotocols(offered, request);
    else if (options.subprotocols) protocol = options.subprotocols.find((p) => offered.includes(p)) ?? null;
    if (protocol !== null && !offered.includes(protocol)) protocol = null;

    let codec: MessageCodec | null = null;
    const answers: ExtensionOffer[] = [];
    try {
      for (const extension of options.extensions ?? []) {
        const offers = upgrade.extensions.filter((offer) => offer.name === extension.name);
        if (offers.length === 0 || codec !== null) continue;
        const accepted = extension.accept(offers);
        if (accepted) {
          answers.push(accepted.answer);
          codec = accepted.codec;
        }
      }
    } catch (error) {
      this.reject(socket, new HttpHeadError(400, (error as Error).message));
      return;
    }
    this.forgetPending(socket);
    socket.off('error', noop);
    const extensions = answers.length > 0 ? formatExtensions(answers) : '';
    socket.write(acceptResponseText(upgrade.key, protocol, extensions), 'latin1');
    // The connection's settings, not a spread of every server option (a large object per handshake).
    const ws = new Connection(socket, 'server', {
      maxMessageSize: options.maxMessageSize,
      maxFragments: options.maxFragments,
      maxQueue: options.maxQueue,
      writeLimit: options.writeLimit,
      pingInterval: options.pingInterval,
      pingTimeout: options.pingTimeout,
      closeTimeout: options.closeTimeout,
      owner: this,
      subprotocol: protocol,
      request,
      codec,
      extensions,
      head: rest,
    });
    if (route) ws.params = route.params;
    ws.hub = this.hub;
    if (paused) socket.resume();
    this.run(ws, route?.handler ?? this.handler);
  }

  /** @internal A connection closed: forget it (told directly, no promise chain per connection). */
  connectionClosed(ws: Connection): void {
    this.connections.delete(ws);
  }

  private run(ws: Connection, handler: Handler): void {
    this.connections.add(ws);
    // The handler starts in a later microtask, after the upgrade's own work (a promise job: queueMicrotask
    // would make an AsyncResource per connection).
    void RESOLVED.then(() => this.startHandler(ws, handler));
  }

  /**
   * Runs the handler and closes the connection when it returns or fails. Its end is watched by one
   * promise reaction, not an async function: a suspended async frame per connection kept about 0.4 KiB
   * more for as long as the connection lives (memory per idle connection, and GC work per handshake).
   */
  private startHandler(ws: Connection, handler: Handler): void {
    let result: void | Promise<void>;
    try {
      result = handler(ws);
    } catch (error) {
      this.handlerFailed(ws, error);
      return;
    }
    // A native promise is used as is; anything else (undefined, another library's thenable) is adopted.
    Promise.resolve(result).then(
      () => closeNormally(ws),
      (error: unknown) => this.handlerFailed(ws, error),
    );
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
    this.pending.destroyAll();
    await Promise.all([...this.connections].map((ws) => ws.close(code, reason).catch(noop)));
    await stopped;
    await this.hub.close();
  }
}

const RESOLVED = Promise.resolve();

function closeNormally(ws: Connection): void {
  ws.close(1000).catch(noop);
}

function originAllowed(origins: string[], allowed: Array<string | RegExp | null>): boolean {
  if (origins.length > 1) return false;
  const origin = origins[0];
  if (origin === undefined) return allowed.includes(null);
  return allowed.some((rule) =>
    rule === null ? false : typeof rule === 'string' ? rule === origin : fullMatch(rule, origin),
  );
}

function fullMatch(pattern: RegExp, value: string): boolean {
  const match = new RegExp(pattern.source, pattern.flags.replace('g', '')).exec(value);
  return match !== null && match.index === 0 && match[0].length === value.length;
}

function noop(): void {}

const kPendingServer = Symbol('wskit.pendingServer');
type PendingSocket = Duplex & { [kPendingServer]?: Server | undefined };

function onPendingClose(this: PendingSocket): void {
  this[kPendingServer]?.forgetPending(this);
}

/**
 * Starts a WebSocket server that runs `handler(ws)` for each connection.
 *
 * ```ts
 * const server = await serve(async (ws) => { for await (const msg of ws) await ws.send(msg); }, { port: 8765 });
 * ```
 */
export async function serve(handler: Handler, options: ServerOptions = {}): Promise<Server> {
  return new Server(handler, options).listen();
}

/**
 * Serves WebSocket upgrades on an existing `http.Server` or `https.Server`
 * (Express, Fastify, Hono...), sharing its port. Other requests are untouched.
 */
export function attach(httpServer: HttpServer | HttpsServer, handler: Handler, options: ServerOptions = {}): Server {
  const server = new Server(handler, options);
  server.hub.start().catch((error: unknown) => options.logger !== null && (options.logger ?? console).error(error));
  httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => server.handleUpgrade(request, socket, head));
  return server;
}
