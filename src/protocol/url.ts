/**
 * WebSocket URIs (RFC 6455 §3): `ws://` and `wss://`, parsed and checked once
 * for every client path (direct, through a proxy, over HTTP/2). Pure: no I/O.
 */
import { InvalidHandshake } from '../errors.js';

/** A parsed ws:// or wss:// URL. */
export interface WebSocketUrl {
  /** Whether TLS is used. */
  secure: boolean;
  /** Host name or IP address (IPv6 without brackets). */
  hostname: string;
  /** TCP port. */
  port: number;
  /** The Host header value (`:authority` over HTTP/2). */
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
  // §3: "Fragment identifiers are meaningless in the context of WebSocket URIs and MUST NOT be used on these URIs."
  if (url.hash !== '') throw new InvalidHandshake('a WebSocket URL cannot have a fragment', 'WS_INVALID_URL');
  const secure = scheme === 'wss:' || scheme === 'https:';
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    secure,
    hostname,
    port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
    host: url.host,
    // §3: the resource name is the path ("/" if empty) and the query.
    target: (url.pathname || '/') + url.search,
  };
}

/** The origin a URL's connections can share (one HTTP/2 session per origin): `wss://host:port`. */
export function originKey(url: WebSocketUrl): string {
  return `${url.secure ? "wss" : "ws"}://[${url.hostname}]:${url.port}`;
}
