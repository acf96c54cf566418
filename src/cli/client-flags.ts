/**
 * The connection flags shared by the client commands (`connect`, `bench`,
 * `replay`): headers, subprotocols, TLS (including wscat's `--no-check` and
 * client certificates), proxy; URL checking, and a connect() whose failure is
 * one line.
 */
import { readFileSync } from 'node:fs';
import type { Connection } from '../node/connection.js';
import { connect, parseWebSocketUrl, type ConnectOptions } from '../node/client.js';
import { SECONDS, UsageError, numberFlag } from './args.js';
import { explainConnectError } from './format.js';

/** The option definitions of the connection flags, for `parseOptions`. */
export const CLIENT_OPTIONS = {
  header: { type: 'string', short: 'H', multiple: true },
  subprotocol: { type: 'string', short: 's', multiple: true },
  origin: { type: 'string', short: 'o' },
  auth: { type: 'string' },
  proxy: { type: 'string' },
  insecure: { type: 'boolean', short: 'k' },
  'no-check': { type: 'boolean' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  passphrase: { type: 'string' },
  'ping-interval': { type: 'string' },
  http2: { type: 'boolean' },
} as const;

/** The help lines of {@link CLIENT_OPTIONS}, shared by the commands' `--help`. */
export const CLIENT_OPTIONS_HELP = `  -H, --header 'Name: value'  add a request header (repeatable)
  -s, --subprotocol NAME      offer a subprotocol (repeatable); a warning says
                              when the server accepts none of them
  -o, --origin ORIGIN         send an Origin header
      --auth USER:PASS        HTTP Basic authentication
      --proxy URL             connect through an HTTP proxy (CONNECT)
  -k, --insecure, --no-check  do not verify the server's TLS certificate
      --ca FILE               trust the CA certificate(s) in FILE (PEM)
      --cert FILE, --key FILE present this client certificate (PEM)
      --passphrase TEXT       ... whose key is encrypted with TEXT
      --ping-interval SECONDS keepalive ping interval (default 20; 0 disables)
      --http2                 open the WebSocket as a stream of an HTTP/2
                              connection (RFC 8441 extended CONNECT): wss://
                              needs a server offering h2, ws:// speaks h2c with
                              prior knowledge; fails if the server does not
                              enable extended CONNECT`;

/** Parsed values of {@link CLIENT_OPTIONS}. */
export interface ClientFlagValues {
  header?: string[];
  subprotocol?: string[];
  origin?: string;
  auth?: string;
  proxy?: string;
  insecure?: boolean;
  'no-check'?: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  passphrase?: string;
  'ping-interval'?: string;
  http2?: boolean;
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read ${flag} file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** Builds `connect()` options from the parsed connection flags; throws UsageError on a bad value. */
export function clientOptions(values: ClientFlagValues): ConnectOptions {
  const headers: Array<[string, string]> = [];
  for (const header of values.header ?? []) {
    const colon = header.indexOf(':');
    const name = colon > 0 ? header.slice(0, colon).trim() : '';
    if (name === '' || /[^!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(name) || /[\r\n]/.test(header)) {
      throw new UsageError(`invalid header '${header}' (expected 'Name: value')`);
    }
    headers.push([name, header.slice(colon + 1).trim()]);
  }
  if (values.auth !== undefined) {
    if (!values.auth.includes(':')) throw new UsageError(`invalid --auth '${values.auth}' (expected user:password)`);
    headers.push(['Authorization', `Basic ${Buffer.from(values.auth).toString('base64')}`]);
  }
  const options: ConnectOptions = { headers };
  if (values.subprotocol) options.subprotocols = values.subprotocol;
  if (values.origin !== undefined) options.origin = values.origin;
  if (values.insecure || values['no-check']) options.rejectUnauthorized = false;
  if (values.ca !== undefined) options.ca = readPem('--ca', values.ca);
  if ((values.cert === undefined) !== (values.key === undefined)) throw new UsageError('--cert and --key go together');
  if (values.passphrase !== undefined && values.key === undefined) throw new UsageError('--passphrase needs --cert and --key');
  if (values.cert !== undefined && values.key !== undefined) {
    options.tls = { cert: readPem('--cert', values.cert), key: readPem('--key', values.key) };
    if (values.passphrase !== undefined) options.tls.passphrase = values.passphrase;
  }
  const ping = numberFlag('--ping-interval', values['ping-interval'], SECONDS);
  if (ping !== undefined) options.pingInterval = ping === 0 ? null : ping * 1000;
  if (values.http2 === true) {
    if (values.proxy !== undefined) throw new UsageError('--http2 does not go with --proxy');
    options.http2 = true;
  }
  if (values.proxy !== undefined) {
    try {
      const proxy = new URL(values.proxy);
      if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') throw new Error();
    } catch {
      throw new UsageError(`invalid --proxy '${values.proxy}' (expected http://host:port or https://host:port)`);
    }
    options.proxy = values.proxy;
  }
  return options;
}

/** `host:port`, `localhost`, `[::1]:8765/path`, `example.com/chat`: what wscat accepts without a scheme. */
const BARE_HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9-]+(\.[a-z0-9-]+)*)(:\d{1,5})?([/?].*)?$/i;

/**
 * Checks a URL argument and returns it complete: like wscat, a URL without a
 * scheme (`localhost:8765`, `example.com/chat`) means ws://; anything else
 * that is not a ws://, wss://, http:// or https:// URL is a usage error.
 */
export function checkUrl(url: string | undefined, command: string): string {
  if (url === undefined) throw new UsageError(`missing URL (e.g. wskit ${command} ws://localhost:8765)`);
  let complete = url;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    const bare = BARE_HOST.exec(url);
    // A single word ('nope') is more likely a mistake than a host on the local network: say what a URL looks like.
    if (bare !== null && (bare[3] !== undefined || bare[2] !== undefined || bare[1]!.startsWith('[') || bare[1]!.toLowerCase() === 'localhost')) {
      complete = `ws://${url}`;
    } else {
      throw new UsageError(`invalid WebSocket URL: ${url} (expected ws://host:port/path or wss://...)`);
    }
  }
  try {
    parseWebSocketUrl(complete);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return complete;
}

/** A connection attempt that failed, already explained in one line. */
export class ConnectFailed extends Error {}

/** Connects, turning any failure into a one-line {@link ConnectFailed} (exit status 1). */
export async function open(url: string, options: ConnectOptions): Promise<Connection> {
  try {
    return await connect(url, options);
  } catch (error) {
    throw new ConnectFailed(explainConnectError(error, url));
  }
}

/** The warning when the server accepted none of the subprotocols offered (many servers go on without one), else null. */
export function subprotocolWarning(ws: Connection, offered: string[] | undefined): string | null {
  if (offered === undefined || offered.length === 0 || ws.subprotocol !== null) return null;
  return `warning: the server accepted none of the subprotocols offered (${offered.join(', ')})`;
}
