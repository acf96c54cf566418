import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { InvalidHandshake, InvalidHeader, NegotiationError, TimeoutError } from '../errors.js';
import { formatExtensions, type ExtensionOffer } from '../protocol/extension-header.js';
import { ClientHandshake } from '../protocol/client-handshake.js';
import { HttpHeadReader, parseResponseHead, type HttpLimits } from '../protocol/http11.js';
import { Connector } from '../client/reconnect.js';
import type { ReconnectOptions } from '../client/backoff.js';
import { Connection } from './connection.js';
import { openStream, sessionFor, type Http2Setting } from './http2-client.js';
import { openTunnel, proxyFor, type ProxySetting } from './proxy.js';
import { clientExtensionsWithCompression, type CompressionOption } from './deflate.js';
import type { ClientExtension, MessageCodec } from './message-codec.js';
import type { ConnectionOptions } from './types.js';
import { checkConnectOptions } from './options.js';
import { parseWebSocketUrl, type WebSocketUrl } from '../protocol/url.js';

export { parseWebSocketUrl, type WebSocketUrl } from '../protocol/url.js';

/** Options of {@link connect}. */
export interface ConnectOptions extends ConnectionOptions {
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string> | Array<[string, string]>;
  /** Subprotocols to offer, in order of preference. */
  subprotocols?: string[];
  /** The Origin header to send. */
  origin?: string;
  /** Time allowed for TCP, TLS and the handshake, in ms. Default 10,000. */
  openTimeout?: number;
  /** Certificate authorities to trust for wss:// (PEM). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Whether to verify the server's certificate. Default true. */
  rejectUnauthorized?: boolean;
  /** Any other `tls.connect` option (client certificate, servername, ...). */
  tls?: tls.ConnectionOptions;
  /** Limits on the HTTP response head. */
  httpLimits?: HttpLimits;
  /** Extensions to offer (permessage-deflate). */
  extensions?: ClientExtension[];
  /** permessage-deflate (RFC 7692): offered by default (as browsers do), `false` to not offer it, or settings. */
  compression?: CompressionOption;
  /** An already connected transport (e.g. a proxy tunnel) to run the handshake over. */
  socket?: Duplex;
  /** Aborts the opening handshake (and reconnecting). */
  signal?: AbortSignal;
  /**
   * Retry with backoff: `await connect()` retries the first open until it
   * succeeds; iterating `connect()` reconnects after each drop unless false.
   */
  reconnect?: boolean | ReconnectOptions;
  /** An http:// or https:// proxy to tunnel through with CONNECT, or true for HTTPS_PROXY/HTTP_PROXY/NO_PROXY. */
  proxy?: ProxySetting;
  /**
   * WebSockets over HTTP/2 (RFC 8441), multiplexed over one session per origin: `true` requires it (h2 by ALPN for
   * wss://, h2c with prior knowledge for ws://); `'auto'` uses it when a wss:// server offers h2 and extended
   * CONNECT, else HTTP/1.1, as browsers do. Default false (HTTP/1.1).
   */
  http2?: Http2Setting;
}

/**
 * Opens a WebSocket connection to `url` (ws:// or wss://): await it for one
 * connection, or iterate it for a new connection after each drop.
 *
 * ```ts
 * const ws = await connect('ws://localhost:8765');
 * await ws.send('hello');
 * console.log(await ws.recv());
 *
 * for await (const ws of connect(url, { reconnect: true })) { ... }
 * ```
 */
export function connect(url: string | URL, options: ConnectOptions = {}): Connector<Connection> {
  checkConnectOptions(options);
  return new Connector(() => openConnection(url, options), options.reconnect, options.signal);
}

/** Opens one connection (no retry) and resolves once the handshake succeeded; what awaiting {@link connect} does. */
export async function openConnection(url: string | URL, options: ConnectOptions = {}): Promise<Connection> {
  checkConnectOptions(options);
  const target = parseWebSocketUrl(url);
  options = { ...options, extensions: clientExtensionsWithCompression(options.compression, options.extensions) };
  let socket = options.socket;
  let timeout = options.openTimeout ?? 10_000;
  const proxy = socket === undefined ? proxyFor(target, options.proxy) : null;
  if (proxy !== null) {
    const started = Date.now();
    const tunnel = await openTunnel(proxy, target, { timeout, signal: options.signal, tls: options.tls });
    socket = target.secure ? openTransport(target, options, tunnel) : tunnel;
    timeout = Math.max(1, timeout - (Date.now() - started));
  }
  if (options.http2 !== undefined && options.http2 !== false && socket === undefined) {
    if (options.http2 === true && proxy !== null) throw new InvalidHandshake('http2 through a proxy is not supported', 'WS_HTTP2_UNSUPPORTED');
    const started = Date.now();
    let stream: Duplex | null = null;
    const opened = await withinDeadline(url, timeout, options.signal, () => stream?.destroy(), async () => {
      const found = await sessionFor(target, options, options.http2 === 'auto');
      if (found === null || 'socket' in found) return found;
      const offer = clientOffer(target, options);
      const attempt = openStream(found.session, target, offer);
      stream = attempt.stream;
      const response = await attempt.response;
      return new Connection(attempt.stream, 'client', {
        ...options,
        subprotocol: response.protocol,
        codec: acceptExtensions(response.extensions, options.extensions ?? []),
        extensions: formatExtensions(response.extensions),
      });
    });
    if (opened instanceof Connection) return opened;
    // 'auto' on a server without WebSockets over HTTP/2: HTTP/1.1, on the socket ALPN chose it for if there is one.
    if (opened !== null) socket = opened.socket;
    timeout = Math.max(1, timeout - (Date.now() - started));
  }
  const transport = socket ?? openTransport(target, options);
  return withinDeadline(url, timeout, options.signal, () => transport.destroy(), () => handshake(transport, target, options));
}

/** Runs `attempt` within `timeout` ms and until `signal` aborts; `undo` releases what it opened if it fails. */
async function withinDeadline<T>(url: string | URL, timeout: number, signal: AbortSignal | undefined, undo: () => void, attempt: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`timed out opening ${String(url)} after ${timeout} ms`)), timeout);
      if (signal) {
        onAbort = () => reject(signal.reason ?? new Error('aborted'));
        if (signal.aborted) onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
      }
      attempt().then(resolve, reject);
    });
  } catch (error) {
    undo();
    throw error;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

function openTransport(target: WebSocketUrl, options: ConnectOptions, tunnel?: Duplex): Duplex {
  if (!target.secure) return net.connect({ host: target.hostname, port: target.port });
  return tls.connect({
    ...(tunnel !== undefined ? { socket: tunnel } : {}),
    host: target.hostname,
    port: target.port,
    servername: net.isIP(target.hostname) ? undefined : target.hostname,
    ALPNProtocols: ['http/1.1'],
    ...(options.ca !== undefined ? { ca: options.ca } : {}),
    ...(options.rejectUnauthorized !== undefined ? { rejectUnauthorized: options.rejectUnauthorized } : {}),
    ...options.tls,
  });
}

function handshake(socket: Duplex, target: WebSocketUrl, options: ConnectOptions): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const offer = clientOffer(target, options);
    const request = offer.http11Request();
    const reader = new HttpHeadReader(false, options.httpLimits);
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new InvalidHandshake('connection closed during the opening handshake', 'WS_HANDSHAKE_EOF'));
    };
    const onData = (chunk: Buffer) => {
      try {
        const complete = reader.push(chunk);
        if (complete === null) return;
        socket.pause();
        cleanup();
        const response = offer.checkHttp11(parseResponseHead(complete.head), complete.rest);
        const codec = acceptExtensions(response.extensions, options.extensions ?? []);
        const ws = new Connection(socket, 'client', {
          ...options,
          subprotocol: response.protocol,
          codec,
          extensions: formatExtensions(response.extensions),
          head: complete.rest,
        });
        resolve(ws);
      } catch (error) {
        cleanup();
        reject(error instanceof Error && !(error instanceof InvalidHandshake) ? new InvalidHeader('', error.message) : error);
      }
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.resume(); // a proxy tunnel is handed over paused
    socket.write(request);
  });
}

/** The handshake of a connection to `target` with `options`' subprotocols, extensions, Origin and headers. */
export function clientOffer(target: WebSocketUrl, options: ConnectOptions): ClientHandshake {
  return new ClientHandshake({
    host: target.host,
    target: target.target,
    protocols: options.subprotocols ?? [],
    extensions: (options.extensions ?? []).flatMap((extension) => extension.offers()),
    origin: options.origin,
    headers: Array.isArray(options.headers) ? options.headers : Object.entries(options.headers ?? {}),
  });
}

/** The codec of the extension the server answered with (RFC 6455 §9.1: only one it was offered). */
export function acceptExtensions(answers: ExtensionOffer[], extensions: ClientExtension[]): MessageCodec | null {
  let codec: MessageCodec | null = null;
  for (const answer of answers) {
    const extension = extensions.find((e) => e.name === answer.name);
    // RFC 6455 §9.1: the server must not answer with an extension the client did not offer.
    if (extension === undefined || codec !== null) {
      throw new NegotiationError(`server answered with extension ${answer.name}, which was not offered`);
    }
    codec = extension.accept(answer);
  }
  return codec;
}
