/**
 * The HTTP/2 sides of `wskit proxy` (RFC 8441): clients that open their WebSocket as an extended CONNECT stream
 * (h2c with prior knowledge on the proxy's port), and targets reached that way (`--target-http2`). What passes
 * between the handshakes is the same WebSocket frames as after an HTTP/1.1 Upgrade, so the relay and the frame log
 * are shared; only the handshake is translated: Upgrade/Key/Accept on HTTP/1.1, `:protocol`/`:status 200` on h2.
 */
import * as http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { computeAccept, generateKey } from '../protocol/handshake.js';
import type { WebSocketUrl } from '../protocol/url.js';
import { CONNECTION_SPECIFIC } from '../node/http2-server.js';

// RFC 9113 §8.2.2: connection-specific fields do not exist in HTTP/2; the WebSocket key and accept are HTTP/1.1's
// (RFC 8441 §5: an extended CONNECT has neither). Host becomes :authority.
const HTTP11_ONLY = new Set([...CONNECTION_SPECIFIC, 'host', 'sec-websocket-key', 'sec-websocket-accept']);

/** Streams a client of the proxy may have open on one HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
export const MAX_STREAMS_PER_CLIENT = 100;

/** A WebSocket handshake request, whatever carried it. */
export interface ProxiedRequest {
  method: string;
  /** The request target (path and query). */
  path: string;
  /** `HTTP/1.1` or `HTTP/2`. */
  version: string;
  /** Header fields in order, pseudo-header fields excluded. */
  headers: Array<[string, string]>;
}

/** A target's answer to the handshake. */
export interface ProxiedResponse {
  status: number;
  statusText: string;
  version: string;
  headers: Array<[string, string]>;
  /** Whether the WebSocket is open (101 over HTTP/1.1, 2xx over h2). */
  upgraded: boolean;
}

/** The fields of an h2 request or response that also mean something in HTTP/1.1. */
export function fieldsOf(headers: http2.IncomingHttpHeaders): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [String(value)]) fields.push([name, item]);
  }
  return fields;
}

/** `fields` without the ones HTTP/2 forbids or replaces, names in lower case (RFC 9113 §8.2). */
export function http2Fields(fields: Array<[string, string]>): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [name, value] of fields) {
    const lower = name.toLowerCase();
    if (HTTP11_ONLY.has(lower)) continue;
    const previous = out[lower];
    out[lower] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [String(previous), value];
  }
  return out;
}

/** The HTTP/1.1 Upgrade request standing for an extended CONNECT (a fresh Sec-WebSocket-Key; RFC 6455 §4.1). */
export function upgradeRequestFor(request: ProxiedRequest, target: WebSocketUrl, path: string): { head: string; headers: Array<[string, string]> } {
  const headers: Array<[string, string]> = [
    ['Host', target.host],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', generateKey()],
  ];
  for (const [name, value] of request.headers) if (!HTTP11_ONLY.has(name.toLowerCase())) headers.push([name, value]);
  let head = `GET ${path} HTTP/1.1\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  return { head: head + '\r\n', headers };
}

/** The 101 an HTTP/1.1 client gets for a target's `:status 200` (Sec-WebSocket-Accept from its own key). */
export function switchingProtocolsFor(key: string, response: ProxiedResponse): string {
  let head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(key)}\r\n`;
  for (const [name, value] of response.headers) if (!HTTP11_ONLY.has(name.toLowerCase()) && name.toLowerCase() !== 'date') head += `${name}: ${value}\r\n`;
  return head + '\r\n';
}

/**
 * The proxy's client-side HTTP/2: a session per client connection that sent the preface, with extended CONNECT
 * enabled (RFC 8441 §3); each CONNECT stream goes to `onWebSocket`, any other request gets 400.
 */
export class Http2Front {
  private server: http2.Http2Server | null = null;
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  constructor(
    private readonly onWebSocket: (stream: http2.ServerHttp2Stream, request: ProxiedRequest, session: http2.ServerHttp2Session) => void,
    private readonly idleTimeout: number,
  ) {}

  /** Takes a client socket whose first bytes (`first`, already read) are the HTTP/2 preface. */
  accept(socket: net.Socket, first: Buffer): void {
    if (this.server === null) {
      // At most 100 WebSockets per client connection, each with the proxy's handshake deadline (see acceptStream).
      const server = http2.createServer({ settings: { enableConnectProtocol: true, maxConcurrentStreams: MAX_STREAMS_PER_CLIENT } });
      server.on('session', (session: http2.ServerHttp2Session) => this.follow(session));
      server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
        stream.on('error', () => undefined);
        if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
          stream.respond({ ':status': 400, 'content-type': 'text/plain; charset=utf-8' });
          stream.end('wskit proxy: only WebSocket requests (RFC 8441 extended CONNECT) are relayed\n');
          return;
        }
        const request = { method: 'CONNECT', path: String(headers[':path'] ?? '/'), version: 'HTTP/2', headers: fieldsOf(headers) };
        this.onWebSocket(stream, request, stream.session as http2.ServerHttp2Session);
      });
      this.server = server;
    }
    socket.unshift(first);
    this.server.emit('connection', socket);
  }

  /** A session with no stream open is closed after the idle timeout (Node's timer: no frame for that long). */
  private follow(session: http2.ServerHttp2Session): void {
    let open = 0;
    this.sessions.add(session);
    session.on('error', () => undefined);
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      open++;
      stream.once('close', () => open--);
    });
    session.setTimeout(this.idleTimeout, () => {
      if (open === 0) session.destroy();
    });
    session.once('close', () => this.sessions.delete(session));
  }

  /** Ends every client session. */
  close(): void {
    for (const session of this.sessions) session.destroy();
  }
}

/**
 * The proxy's target-side HTTP/2 (`--target-http2`): one session to the target shared by every WebSocket, as a
 * browser pools them, opened again when it ends.
 */
export class Http2Back {
  private session: http2.ClientHttp2Session | null = null;
  private ready: Promise<http2.ClientHttp2Session> | null = null;

  constructor(
    private readonly target: WebSocketUrl,
    private readonly insecure: boolean,
  ) {}

  /** The session, once the target's SETTINGS allow extended CONNECT; rejects otherwise. */
  private open(): Promise<http2.ClientHttp2Session> {
    if (this.ready !== null && this.session !== null && !this.session.closed && !this.session.destroyed) return this.ready;
    const { target } = this;
    const authority = `${target.secure ? 'https' : 'http'}://${net.isIPv6(target.hostname) ? `[${target.hostname}]` : target.hostname}:${target.port}`;
    const session = http2.connect(authority, {
      ...(target.secure
        ? {
            createConnection: () =>
              tls.connect({
                host: target.hostname,
                port: target.port,
                servername: net.isIP(target.hostname) ? undefined : target.hostname,
                ALPNProtocols: ['h2'],
                rejectUnauthorized: !this.insecure,
              }),
          }
        : {}),
    });
    this.session = session;
    session.on('error', () => undefined);
    this.ready = new Promise((resolve, reject) => {
      session.once('remoteSettings', (settings) => {
        // RFC 8441 §3: no :protocol before the server said it understands it.
        if (settings.enableConnectProtocol === true) resolve(session);
        else {
          session.close();
          reject(new Error('the target does not accept WebSockets over HTTP/2 (no SETTINGS_ENABLE_CONNECT_PROTOCOL)'));
        }
      });
      session.once('error', (error: NodeJS.ErrnoException) => reject(new Error(error.code ?? error.message)));
      session.once('close', () => reject(new Error('the target closed the HTTP/2 connection')));
    });
    this.ready.catch(() => undefined);
    return this.ready;
  }

  /** Sends the handshake as an extended CONNECT; resolves with the stream and the target's answer. */
  async request(request: ProxiedRequest, path: string): Promise<{ stream: http2.ClientHttp2Stream; response: ProxiedResponse }> {
    const session = await this.open();
    const stream = session.request(
      {
        ':method': 'CONNECT',
        ':protocol': 'websocket',
        ':scheme': this.target.secure ? 'https' : 'http',
        ':path': path,
        ':authority': this.target.host,
        ...http2Fields(request.headers),
      },
      { endStream: false },
    );
    stream.on('error', () => undefined);
    const response = await new Promise<ProxiedResponse>((resolve, reject) => {
      stream.once('response', (headers) => {
        const status = Number(headers[':status']);
        resolve({ status, statusText: '', version: 'HTTP/2', headers: fieldsOf(headers), upgraded: status >= 200 && status < 300 });
      });
      stream.once('close', () => reject(new Error(`the target reset the stream (code ${stream.rstCode ?? 0})`)));
    });
    return { stream, response };
  }

  close(): void {
    this.session?.destroy();
  }
}

/** Whether `transport` is an HTTP/2 stream (it has an id within a session). */
export function streamIdOf(transport: Duplex): number | undefined {
  const id = (transport as { id?: unknown }).id;
  return typeof id === 'number' && (transport as { session?: unknown }).session !== undefined ? id : undefined;
}
