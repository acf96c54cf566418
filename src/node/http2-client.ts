/**
 * WebSockets over HTTP/2 on the client (RFC 8441): one session per origin,
 * shared by every WebSocket opened to it (as browsers pool them), each an
 * extended CONNECT stream. A session is usable once the server's SETTINGS
 * carry SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (§3); without it, `http2: 'auto'`
 * falls back to HTTP/1.1, as browsers do.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { InvalidHandshake } from '../errors.js';
import type { ClientHandshake } from '../protocol/client-handshake.js';
import type { UpgradeResponse } from '../protocol/handshake.js';
import { HttpHeaders } from '../protocol/http11.js';
import { originKey, type WebSocketUrl } from '../protocol/url.js';
import { http2StreamTransport } from './transport.js';

/** The `http2` option of `connect()`: `true` requires HTTP/2, `'auto'` uses it where the server offers it. */
export type Http2Setting = boolean | 'auto';

/** TLS settings of a session, part of what decides whether a session can be shared. */
export interface SessionTls {
  ca?: string | Buffer | Array<string | Buffer>;
  rejectUnauthorized?: boolean;
  tls?: tls.ConnectionOptions;
}

/** A session that can carry WebSockets, or the socket to speak HTTP/1.1 on (ALPN chose it), or null (use a new one). */
export type SessionOrFallback = { session: http2.ClientHttp2Session } | { socket: Duplex } | null;

interface PoolEntry {
  /** The session once it accepts extended CONNECT; the socket when ALPN chose HTTP/1.1; null when it cannot serve. */
  opened: Promise<http2.ClientHttp2Session | Duplex | null>;
  session: http2.ClientHttp2Session | null;
  streams: number;
}

const pool = new Map<string, PoolEntry>();
/** Origins whose server answered without extended CONNECT or without h2: `'auto'` goes straight to HTTP/1.1 there. */
const http11Origins = new Set<string>();
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;

function identity(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'object' && value !== null) {
    let id = objectIds.get(value);
    if (id === undefined) objectIds.set(value, (id = nextObjectId++));
    return `#${id}`;
  }
  return String(value);
}

/** Sessions are shared between connections to one origin with the same TLS settings (never a checked with an unchecked one). */
function poolKey(target: WebSocketUrl, settings: SessionTls): string {
  return `${originKey(target)} ${identity(settings.ca)} ${identity(settings.rejectUnauthorized)} ${identity(settings.tls)}`;
}

/** Open HTTP/2 sessions of this process's clients (tests and metrics read it). */
export function clientSessionCount(): number {
  return pool.size;
}

/**
 * A session to `target`'s origin that accepts extended CONNECT: the pooled one, or a new one. With `auto`,
 * resolves to the TLS socket when ALPN chose HTTP/1.1, or null when the server does not accept WebSockets over
 * HTTP/2 (the caller opens an HTTP/1.1 connection then); without, rejects in those cases.
 */
export async function sessionFor(target: WebSocketUrl, settings: SessionTls, auto: boolean): Promise<SessionOrFallback> {
  const key = poolKey(target, settings);
  if (auto && (http11Origins.has(key) || !target.secure)) return null;
  let entry = pool.get(key);
  if (entry === undefined || entry.session?.destroyed === true || entry.session?.closed === true) {
    entry = openEntry(key, target, settings);
  }
  const opened = await entry.opened;
  if (opened !== null && opened === entry.session) return { session: entry.session };
  if (opened !== null) {
    // ALPN chose HTTP/1.1: the first caller speaks it on this socket, others on new ones.
    entry.opened = Promise.resolve(null);
    const socket = opened as Duplex;
    if (auto) return { socket };
    socket.destroy();
  }
  if (auto) return null;
  throw new InvalidHandshake(`${target.host} does not accept WebSockets over HTTP/2 (no h2 in ALPN, or no SETTINGS_ENABLE_CONNECT_PROTOCOL)`, 'WS_HTTP2_UNSUPPORTED');
}

/** Starts a pool entry: the transport, then (over h2) the session and its first SETTINGS. */
function openEntry(key: string, target: WebSocketUrl, settings: SessionTls): PoolEntry {
  const entry: PoolEntry = { opened: Promise.resolve(null), session: null, streams: 0 };
  const forget = (): void => {
    if (pool.get(key) === entry) pool.delete(key);
  };
  entry.opened = connectTransport(target, settings).then(
    (socket) => {
      if (target.secure && (socket as tls.TLSSocket).alpnProtocol !== 'h2') {
        http11Origins.add(key);
        forget();
        return socket;
      }
      return openSession(entry, target, socket, forget).then((accepts) => {
        if (accepts) return entry.session;
        http11Origins.add(key);
        forget();
        entry.session?.close();
        return null;
      });
    },
    (error: unknown) => {
      forget();
      throw error;
    },
  );
  pool.set(key, entry);
  return entry;
}

function connectTransport(target: WebSocketUrl, settings: SessionTls): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = target.secure
      ? tls.connect({
          host: target.hostname,
          port: target.port,
          servername: net.isIP(target.hostname) ? undefined : target.hostname,
          // RFC 7301: h2 preferred, HTTP/1.1 accepted (what a browser offers).
          ALPNProtocols: ['h2', 'http/1.1'],
          ...(settings.ca !== undefined ? { ca: settings.ca } : {}),
          ...(settings.rejectUnauthorized !== undefined ? { rejectUnauthorized: settings.rejectUnauthorized } : {}),
          ...settings.tls,
        })
      : net.connect({ host: target.hostname, port: target.port });
    const onError = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.once('error', onError);
    socket.once(target.secure ? 'secureConnect' : 'connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** Starts the session over `socket`; resolves with whether the server's first SETTINGS accept extended CONNECT. */
function openSession(entry: PoolEntry, target: WebSocketUrl, socket: Duplex, forget: () => void): Promise<boolean> {
  const authority = `${target.secure ? 'https' : 'http'}://${net.isIPv6(target.hostname) ? `[${target.hostname}]` : target.hostname}:${target.port}`;
  const session = http2.connect(authority, { createConnection: () => socket });
  entry.session = session;
  session.on('error', noop);
  session.once('close', forget);
  session.once('goaway', forget);
  // A session without WebSockets yet must not keep the process alive; one with WebSockets does (see openStream).
  session.unref();
  return new Promise<boolean>((resolve) => {
    // RFC 8441 §3: the server's SETTINGS say whether it accepts extended CONNECT; the first SETTINGS decide.
    session.once('remoteSettings', (remote) => resolve(remote.enableConnectProtocol === true));
    session.once('close', () => resolve(false));
  });
}

/**
 * Opens an extended CONNECT stream on `session` and resolves once the server answered 2xx and what it agreed
 * checks out; rejects (and resets the stream) otherwise.
 */
export function openStream(
  session: http2.ClientHttp2Session,
  target: WebSocketUrl,
  offer: ClientHandshake,
): { stream: http2.ClientHttp2Stream; response: Promise<UpgradeResponse> } {
  const stream = http2StreamTransport(session.request(offer.http2Request(target.secure), { endStream: false }));
  const entry = [...pool.values()].find((candidate) => candidate.session === session);
  // An open WebSocket keeps the process alive, as a TCP one does; an idle session does not.
  if (entry !== undefined) {
    if (entry.streams++ === 0) session.ref();
    stream.once('close', () => {
      if (--entry.streams === 0) setImmediate(closeIfIdle, entry);
    });
  }
  const response = new Promise<UpgradeResponse>((resolve, reject) => {
    const onClose = (): void => reject(new InvalidHandshake(`stream closed during the opening handshake (code ${stream.rstCode ?? 0})`, 'WS_HANDSHAKE_EOF'));
    stream.once('close', onClose);
    stream.once('error', reject);
    stream.once('response', (fields: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader) => {
      stream.off('close', onClose);
      stream.off('error', reject);
      try {
        const headers = new HttpHeaders();
        for (const [name, value] of Object.entries(fields)) {
          if (name.startsWith(':') || value === undefined) continue;
          for (const item of Array.isArray(value) ? value : [String(value)]) headers.append(name, item);
        }
        resolve(offer.checkHttp2(Number(fields[':status']), headers));
      } catch (error) {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(error);
      }
    });
  });
  return { stream, response };
}

/**
 * A session whose last WebSocket closed is closed (GOAWAY) once this turn is over, unless a new one started on
 * it: an idle session would keep a server's close() waiting (Node's http2 servers wait for their sessions).
 */
function closeIfIdle(entry: PoolEntry): void {
  if (entry.streams === 0 && entry.session !== null && !entry.session.closed) entry.session.close();
}

function noop(): void {}
