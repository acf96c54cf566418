/**
 * WebSockets over HTTP/2 on the server (RFC 8441): the sessions Node's
 * `http2` module runs for wskit, their limits, and the conversions between an
 * HTTP/2 stream's fields and the core's request head. The handshake itself is
 * the core's ({@link validateExtendedConnect}, `ServerHandshake`); a stream
 * that passed it is a byte stream like a TCP socket for `Connection`.
 */
import * as http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Http2RequestHead } from '../protocol/handshake.js';
import { HttpHeaders, type HttpLimits } from '../protocol/http11.js';

/** Limits of the HTTP/2 sessions a server runs (`http2` option of `serve()`). */
export interface Http2Limits {
  /**
   * Most streams (WebSockets and handshakes) open at once on one session: SETTINGS_MAX_CONCURRENT_STREAMS of the
   * sessions the server runs, and a limit wskit keeps itself on the WebSocket streams of any session (an attached
   * server's settings are the application's). Default 100.
   */
  maxStreamsPerSession?: number;
  /**
   * Most WebSocket streams (established or in their handshake) open at once over HTTP/2 on the whole server, all
   * sessions together; beyond it an extended CONNECT is answered 503. Default 10,000.
   */
  maxStreams?: number;
  /**
   * Most streams of a session that may end abnormally within `resetWindow` ms (reset by RST_STREAM, or refused or
   * timed out before the WebSocket was established): beyond it the session gets GOAWAY (ENHANCE_YOUR_CALM) and is
   * closed. Bounds the "rapid reset" attack (CVE-2023-44487), streams opened and cancelled at once. Default 200.
   */
  maxResets?: number;
  /** The window of `maxResets`, in ms. Default 10,000. */
  resetWindow?: number;
  /** Most invalid frames or streams Node's HTTP/2 tolerates from one session before closing it. Default 100. */
  maxInvalidFrames?: number;
}

/** The `http2` option of `serve()`: `true` for the defaults, or limits. */
export type Http2Option = boolean | Http2Limits;

/** Defaults of {@link Http2Limits}. */
export const DEFAULT_HTTP2_LIMITS: Required<Http2Limits> = {
  maxStreamsPerSession: 100,
  maxStreams: 10_000,
  maxResets: 200,
  resetWindow: 10_000,
  maxInvalidFrames: 100,
};

/** The limits an `http2` option stands for, or null when HTTP/2 is off. */
export function http2Limits(option: Http2Option | undefined): Required<Http2Limits> | null {
  if (option === undefined || option === false) return null;
  return { ...DEFAULT_HTTP2_LIMITS, ...(option === true ? {} : option) };
}

/** The HTTP/2 connection preface (RFC 9113 §3.4): a cleartext client speaking HTTP/2 with prior knowledge starts with it. */
export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Whether `chunk` (the first bytes of a connection) starts like the HTTP/2 preface. */
export function startsWithPreface(chunk: Buffer): boolean {
  const n = Math.min(chunk.length, HTTP2_PREFACE.length);
  return n >= 4 && chunk.compare(HTTP2_PREFACE, 0, n, 0, n) === 0;
}

/**
 * The settings that make a session accept WebSockets: SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3), the
 * stream limit, and the header list size bounded like an HTTP/1.1 head.
 */
export function sessionSettings(limits: Required<Http2Limits>, httpLimits: Required<HttpLimits>): http2.ServerOptions {
  return {
    settings: {
      enableConnectProtocol: true,
      maxConcurrentStreams: limits.maxStreamsPerSession,
      maxHeaderListSize: httpLimits.maxHeadSize,
    },
    maxHeaderListPairs: httpLimits.maxHeaders + 8, // the pseudo-header fields count as pairs in Node
    maxSessionInvalidFrames: limits.maxInvalidFrames,
    maxSessionRejectedStreams: limits.maxInvalidFrames,
  };
}

/** The core's view of an HTTP/2 request: pseudo-header fields apart, the others as {@link HttpHeaders} in order. */
export function http2RequestHead(headers: http2.IncomingHttpHeaders, rawHeaders: string[] | undefined): Http2RequestHead {
  const fields = new HttpHeaders();
  if (rawHeaders !== undefined) {
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      if (name.charCodeAt(0) !== 0x3a) fields.append(name, rawHeaders[i + 1]!);
    }
  } else {
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith(':') || value === undefined) continue;
      for (const item of Array.isArray(value) ? value : [String(value)]) fields.append(name, item);
    }
  }
  return {
    method: pseudo(headers, ':method'),
    protocol: pseudo(headers, ':protocol'),
    scheme: pseudo(headers, ':scheme'),
    authority: pseudo(headers, ':authority'),
    path: pseudo(headers, ':path'),
    headers: fields,
  };
}

function pseudo(headers: http2.IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** Whether `transport` is an HTTP/2 stream rather than a socket. */
export function isHttp2Stream(transport: Duplex): transport is http2.ServerHttp2Stream {
  return (transport as { session?: unknown }).session !== undefined && typeof (transport as { respond?: unknown }).respond === 'function';
}

/** RFC 9113 §8.2.2: connection-specific fields must not appear in an HTTP/2 message (Node refuses to send them). */
export const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding']);

/** Answers a stream with a complete response (a refusal, or a plain HTTP answer). */
export function respondOnStream(stream: http2.ServerHttp2Stream, status: number, headers: Iterable<[string, string]>, body: string | Uint8Array): void {
  if (stream.destroyed || stream.headersSent) {
    stream.destroy();
    return;
  }
  const fields: http2.OutgoingHttpHeaders = { ':status': status };
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (!CONNECTION_SPECIFIC.has(lower)) fields[lower] = value;
  }
  try {
    stream.respond(fields);
    stream.end(body);
  } catch {
    stream.destroy();
  }
}

const kGuard = Symbol('wskit.sessionGuard');

/**
 * Watches one session: counts its streams that ended abnormally (rapid
 * reset) and closes a session that stays idle for the handshake timeout with
 * no WebSocket open.
 */
export class SessionGuard {
  private readonly session: http2.ServerHttp2Session;
  private readonly limits: Required<Http2Limits>;
  private windowStart = 0;
  private abnormal = 0;
  /** WebSockets open on the session. */
  open = 0;
  /** WebSocket streams of the session, established or in their handshake. */
  streams = 0;

  constructor(session: http2.ServerHttp2Session, limits: Required<Http2Limits>, idleTimeout: number | null) {
    this.session = session;
    this.limits = limits;
    (session as { [kGuard]?: SessionGuard })[kGuard] = this;
    session.on('error', noop);
    // Node's session timer is rearmed by each frame: it fires after idleTimeout ms without one. A session of an
    // attached server (null) also serves the application's HTTP: its lifetime is the application's.
    if (idleTimeout !== null) {
      session.setTimeout(idleTimeout, () => {
        if (this.open === 0) session.destroy();
      });
    }
  }

  /** The guard of `session`, if wskit runs it. */
  static of(session: http2.Http2Session | undefined): SessionGuard | undefined {
    return (session as { [kGuard]?: SessionGuard } | undefined)?.[kGuard];
  }

  /** A stream was reset (by either side) or ended before its WebSocket was established. */
  abnormalEnd(now = Date.now()): void {
    if (now - this.windowStart >= this.limits.resetWindow) {
      this.windowStart = now;
      this.abnormal = 0;
    }
    if (++this.abnormal > this.limits.maxResets && !this.session.destroyed) {
      this.session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      this.session.destroy();
    }
  }
}

/** Why an extended CONNECT stream is refused by {@link Http2StreamCount}. */
export type StreamRefusal = 'session' | 'server';

/**
 * Counts the WebSocket streams of a server, per session and in total, against `maxStreamsPerSession` and
 * `maxStreams`; a stream admitted is counted until it closes.
 */
export class Http2StreamCount {
  private readonly limits: Required<Http2Limits>;
  /** WebSocket streams open over HTTP/2 on the server. */
  total = 0;

  constructor(limits: Required<Http2Limits>) {
    this.limits = limits;
  }

  /** Counts `stream` (of the session `guard` watches) until it closes, or says which limit refuses it. */
  admit(stream: http2.ServerHttp2Stream, guard: SessionGuard | undefined): StreamRefusal | null {
    if (guard !== undefined && guard.streams >= this.limits.maxStreamsPerSession) return 'session';
    if (this.total >= this.limits.maxStreams) return 'server';
    this.total++;
    if (guard !== undefined) guard.streams++;
    stream.once('close', () => {
      this.total--;
      if (guard !== undefined) guard.streams--;
    });
    return null;
  }
}

/**
 * Refuses a stream `admit` refused. RFC 9113 §5.1.2: a stream beyond the session's concurrency limit is a stream
 * error REFUSED_STREAM (the request was not processed; the client may retry it on another connection). The
 * server's total is an overload like `maxConnections`: 503 with Retry-After.
 */
export function refuseStream(stream: http2.ServerHttp2Stream, refusal: StreamRefusal): void {
  if (refusal === 'session') stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
  else respondOnStream(stream, 503, [['retry-after', '1']], 'too many WebSockets over HTTP/2\n');
}

function noop(): void {}
