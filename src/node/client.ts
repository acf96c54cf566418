import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { InvalidHandshake, InvalidHeader, NegotiationError, TimeoutError } from '../errors.js';
import { formatExtensions, type ExtensionOffer } from '../protocol/extension-header.js';
import { buildUpgradeRequest, generateKey, validateUpgradeResponse } from '../protocol/handshake.js';
import { HttpHeadReader, parseResponseHead, type HttpLimits } from '../protocol/http11.js';
import { Connector } from '../client/reconnect.js';
import type { ReconnectOptions } from '../client/backoff.js';
import { Connection } from './connection.js';
import { openTunnel, proxyFor, type ProxySetting } from './proxy.js';
import { clientExtensionsWithCompression, type CompressionOption } from './deflate.js';
import type { ClientExtension, MessageCodec } from './message-codec.js';
import type { ConnectionOptions } from './types.js';

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
}

/** A parsed ws:// or wss:// URL. */
export interface WebSocketUrl {
  /** Whether TLS is used. */
  secure: boolean;
  /** Host name or IP address (IPv6 without brackets). */
  hostname: string;
  /** TCP port. */
  port: number;
  /** The Host header value. */
  host: string;
  /** Path and query. */
  target: string;
}

/** Parses and checks a WebSocket URL (http:// and https:// are accepted as ws:// and wss://). */
export function parseWebSocketUrl(input: string | URL): WebSocketUrl {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new InvalidHandshake(`invalid WebSocket URL: ${String(input)}`, 'WS_INVALID_URL');
  }
  const scheme = url.protocol;
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(scheme)) {
    throw new InvalidHandshake(`unsupported URL scheme ${scheme} (use ws:// or wss://)`, 'WS_INVALID_URL');
  }
  if (url.hash !== '') throw new InvalidHandshake('a WebSocket URL cannot have a fragment', 'WS_INVALID_URL');
  const secure = scheme === 'wss:' || scheme === 'https:';
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    secure,
    hostname,
    port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
    host: url.host,
    target: (url.pathname || '/') + url.search,
  };
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
  return new Connector(() => openConnection(url, options), options.reconnect, options.signal);
}

/** Opens one connection (no retry) and resolves once the handshake succeeded; what awaiting {@link connect} does. */
export async function openConnection(url: string | URL, options: ConnectOptions = {}): Promise<Connection> {
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
  socket ??= openTransport(target, options);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<Connection>((resolve, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`timed out opening ${String(url)} after ${timeout} ms`)), timeout);
      if (options.signal) {
        onAbort = () => reject(options.signal!.reason ?? new Error('aborted'));
        if (options.signal.aborted) onAbort();
        options.signal.addEventListener('abort', onAbort, { once: true });
      }
      handshake(socket, target, options).then(resolve, reject);
    });
  } catch (error) {
    socket.destroy();
    throw error;
  } finally {
    clearTimeout(timer);
    if (onAbort) options.signal?.removeEventListener('abort', onAbort);
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
    const key = generateKey();
    const offers: ExtensionOffer[] = (options.extensions ?? []).flatMap((e) => e.offers());
    const protocols = options.subprotocols ?? [];
    const headers = Array.isArray(options.headers) ? options.headers : Object.entries(options.headers ?? {});
    const request = buildUpgradeRequest({
      host: target.host,
      target: target.target,
      key,
      protocols,
      extensions: offers,
      origin: options.origin,
      headers,
    });
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
        const head = parseResponseHead(complete.head);
        const response = validateUpgradeResponse(head, key, protocols, complete.rest);
        const codec = acceptExtensions(response.extensions, options.extensions ?? []);
        const ws = new Connection(socket, 'client', {
          ...options,
          subprotocol: response.protocol,
          codec,
          extensions: formatExtensions(response.extensions),
          head: complete.rest,
        });
        socket.resume();
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

function acceptExtensions(answers: ExtensionOffer[], extensions: ClientExtension[]): MessageCodec | null {
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
