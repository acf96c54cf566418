/**
 * HTTP CONNECT tunnels for the client (RFC 9110 §9.3.6), with Basic proxy
 * authentication, and the `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`
 * conventions of curl and Python websockets when `proxy: true`.
 */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { InvalidHandshake, TimeoutError, type HttpResponseInfo } from '../errors.js';
import { HttpHeadReader, parseResponseHead } from '../protocol/http11.js';
import type { WebSocketUrl } from '../protocol/url.js';

/** The `proxy` option: a proxy URL, `true` to read the environment, or false/undefined for none. */
export type ProxySetting = string | URL | boolean | undefined;

/** The proxy answered CONNECT with a status other than 2xx (407: credentials missing or wrong). */
export class InvalidProxyStatus extends InvalidHandshake {
  /** The proxy's response. */
  readonly response: HttpResponseInfo;
  constructor(response: HttpResponseInfo) {
    super(`proxy rejected CONNECT: HTTP ${response.status} ${response.statusText}`.trimEnd(), 'WS_INVALID_PROXY_STATUS');
    this.response = response;
  }
}

/**
 * The proxy to use for `target`, or null. A string or URL is used as given;
 * `true` reads `https_proxy`/`HTTPS_PROXY` for wss:// and `http_proxy`/
 * `HTTP_PROXY` for ws:// (lower case first, as curl does), unless `no_proxy`/
 * `NO_PROXY` lists the host.
 */
export function proxyFor(target: WebSocketUrl, setting: ProxySetting, env: NodeJS.ProcessEnv = process.env): URL | null {
  if (setting === undefined || setting === false) return null;
  let value: string | URL | undefined;
  if (setting === true) {
    value = target.secure ? (env.https_proxy ?? env.HTTPS_PROXY) : (env.http_proxy ?? env.HTTP_PROXY);
    if (value === undefined || value === '' || bypassesProxy(target, env.no_proxy ?? env.NO_PROXY ?? '')) return null;
  } else {
    value = setting;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidHandshake(`invalid proxy URL: ${String(value)}`, 'WS_INVALID_PROXY');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidHandshake(`unsupported proxy scheme ${url.protocol} (use http:// or https://)`, 'WS_INVALID_PROXY');
  }
  return url;
}

/** Whether a NO_PROXY list (`*`, `host`, `.domain`, `domain`, `host:port`, IPs; comma or space separated) covers `target`. */
export function bypassesProxy(target: WebSocketUrl, noProxy: string): boolean {
  const host = target.hostname.toLowerCase();
  for (let entry of noProxy.toLowerCase().split(/[\s,]+/)) {
    if (entry === '') continue;
    if (entry === '*') return true;
    const port = /^(.*):(\d+)$/.exec(entry);
    if (port !== null && !entry.endsWith(']')) {
      if (Number(port[2]) !== target.port) continue;
      entry = port[1]!;
    }
    // curl's rule: a domain matches itself and every subdomain, with or without a leading dot or *.
    const domain = entry.replace(/^\[(.*)\]$/, '$1').replace(/^\*?\./, '');
    if (host === domain || host.endsWith(`.${domain}`)) return true;
  }
  return false;
}

/** Options of {@link openTunnel}. */
export interface TunnelOptions {
  /** Deadline for reaching the proxy and its answer, in ms. */
  timeout: number;
  /** Aborts. */
  signal?: AbortSignal;
  /** TLS options for an https:// proxy. */
  tls?: tls.ConnectionOptions;
}

/**
 * Connects to `proxy`, asks it to CONNECT to the target's host and port
 * (with `Proxy-Authorization: Basic` from the URL's user and password), and
 * resolves with the raw tunnel once the proxy answered 2xx.
 */
export function openTunnel(proxy: URL, target: WebSocketUrl, options: TunnelOptions): Promise<Duplex> {
  const port = proxy.port === '' ? (proxy.protocol === 'https:' ? 443 : 80) : Number(proxy.port);
  const hostname = proxy.hostname.replace(/^\[(.*)\]$/, '$1');
  const socket: Duplex =
    proxy.protocol === 'https:'
      ? tls.connect({ host: hostname, port, servername: net.isIP(hostname) ? undefined : hostname, ...options.tls })
      : net.connect({ host: hostname, port });
  const authority = net.isIPv6(target.hostname) ? `[${target.hostname}]:${target.port}` : `${target.hostname}:${target.port}`;
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.username !== '') {
    const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    lines.push(`Proxy-Authorization: Basic ${Buffer.from(credentials).toString('base64')}`);
  }
  return new Promise<Duplex>((resolve, reject) => {
    const reader = new HttpHeadReader(false);
    const finish = (error: unknown) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('error', finish);
      socket.off('close', onClose);
      if (error === null) return resolve(socket);
      socket.destroy();
      reject(error);
    };
    const onAbort = () => finish(options.signal!.reason ?? new Error('aborted'));
    const onClose = () => finish(new InvalidHandshake('proxy closed the connection before answering CONNECT', 'WS_HANDSHAKE_EOF'));
    const onData = (chunk: Buffer) => {
      let complete: ReturnType<HttpHeadReader['push']>;
      try {
        complete = reader.push(chunk);
        if (complete === null) return;
        const head = parseResponseHead(complete.head);
        if (head.status < 200 || head.status > 299) {
          const headers = new Map(Object.entries(head.headers.toJSON()));
          return finish(new InvalidProxyStatus({ status: head.status, statusText: head.statusText, headers, body: complete.rest }));
        }
      } catch (error) {
        return finish(new InvalidHandshake(`invalid answer from proxy: ${(error as Error).message}`, 'WS_INVALID_PROXY_RESPONSE'));
      }
      socket.pause();
      if (complete.rest.length > 0) socket.unshift(complete.rest);
      finish(null);
    };
    const timer = setTimeout(() => finish(new TimeoutError(`timed out opening a tunnel through ${proxy.host}`)), options.timeout);
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData);
    socket.on('error', finish);
    socket.on('close', onClose);
    socket.write(lines.join('\r\n') + '\r\n\r\n');
  });
}
