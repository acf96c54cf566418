/**
 * The opening handshake (RFC 6455 §4) as pure functions: building and
 * checking requests and responses. No I/O; the callers read and write bytes.
 */
import * as crypto from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';
import { formatExtensions, parseExtensions, type ExtensionOffer } from './extension-header.js';
import {
  HttpHeadError,
  HttpHeaders,
  isToken,
  isValidFieldValue,
  skipOws,
  trimOwsEnd,
  type HttpRequestHead,
  type HttpResponseHead,
} from './http11.js';
import { InvalidHeader, InvalidStatus, NegotiationError } from '../errors.js';

/** The GUID every Sec-WebSocket-Accept is derived with (§1.3). */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** `Sec-WebSocket-Accept` for a key: base64(SHA-1(key + GUID)). */
export function computeAccept(key: string): string {
  // One-shot crypto.hash (Node >= 20.12) is 2-3x faster than a Hash object per handshake.
  if (oneShotHash !== undefined) return oneShotHash('sha1', key + WEBSOCKET_GUID, 'base64');
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string }).hash;

/** A fresh `Sec-WebSocket-Key`: 16 random bytes, base64. */
export function generateKey(): string {
  return randomBytes(16).toString('base64');
}

/** Splits a comma-separated header value into trimmed, non-empty items (no regex: CVE-2021-32640). */
export function parseList(value: string | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const item of value.split(',')) {
    const trimmed = item.trim();
    if (trimmed !== '') out.push(trimmed);
  }
  return out;
}

function hasToken(value: string | undefined, token: string): boolean {
  // The usual value is the token alone: compared without splitting the list.
  if (value !== undefined && value.length === token.length && value.toLowerCase() === token) return true;
  return parseList(value).some((item) => item.toLowerCase() === token);
}

/** Whether `key` is base64 of exactly 16 bytes (§4.1 item 7). */
export function isValidKey(key: string): boolean {
  if (key.length !== 24 || !key.endsWith('==')) return false;
  for (let i = 0; i < 22; i++) {
    const c = key.charCodeAt(i);
    const ok = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
    if (!ok) return false;
  }
  return true;
}

/** A WebSocket upgrade request that passed validation. */
export interface UpgradeRequest {
  /** The request head. */
  head: HttpRequestHead;
  /** The path without the query string, e.g. `/chat`. */
  path: string;
  /** The query parameters. */
  query: URLSearchParams;
  /** Sec-WebSocket-Key. */
  key: string;
  /** Subprotocols offered, in the client's order of preference. */
  protocols: string[];
  /** Extensions offered. */
  extensions: ExtensionOffer[];
}

/**
 * Checks a request head against §4.2.1. Throws HttpHeadError with the status
 * to answer (400, 405, 426 with the version header) when it is not a valid
 * WebSocket upgrade. `target`, if the caller already split `head.target`, is reused.
 */
export function validateUpgradeRequest(head: HttpRequestHead, target?: RequestTarget): UpgradeRequest {
  if (head.method !== 'GET') throw new HttpHeadError(405, `WebSocket upgrade requires GET, not ${head.method}`);
  if (head.version !== 'HTTP/1.1') throw new HttpHeadError(400, 'WebSocket upgrade requires HTTP/1.1');
  // One pass over the fields rather than a lookup (a scan) per header name; the checks below keep their order.
  // Headers still kept as the head's text are scanned in place: only the values checked are sliced out.
  const fields = UPGRADE_FIELDS;
  fields.reset();
  const text = head.headers.headText;
  if (text !== null) fields.scanText(text, head.headers.headTextStart);
  else fields.scanFlat(head.headers.flat);
  const { hosts, upgrade, connection, keys, key, versions, version, protocolValues, extensionValues } = fields;
  fields.reset();
  if (hosts !== 1) throw new HttpHeadError(400, 'missing or repeated Host header');
  if (!upgrade) throw new HttpHeadError(426, 'missing "Upgrade: websocket" header');
  if (!connection) throw new HttpHeadError(426, 'missing "Connection: Upgrade" header');
  if (keys !== 1 || !isValidKey(key)) throw new HttpHeadError(400, 'missing or invalid Sec-WebSocket-Key');
  if (versions !== 1 || version !== '13') throw new HttpHeadError(426, 'unsupported Sec-WebSocket-Version (13 is)');
  const extensions = offeredExtensions(extensionValues);
  const split = target ?? splitTarget(head.target);
  return new Upgrade(head, split, key, offeredProtocols(protocolValues), extensions);
}

/** The extensions offered in the `Sec-WebSocket-Extensions` fields (null: none); HttpHeadError 400 if malformed. */
export function offeredExtensions(values: string[] | null): ExtensionOffer[] {
  if (values === null) return [];
  try {
    return values.flatMap(parseExtensions);
  } catch (error) {
    throw new HttpHeadError(400, (error as Error).message);
  }
}

/** The subprotocols offered in the `Sec-WebSocket-Protocol` fields (null: none); HttpHeadError 400 if one is not a token. */
export function offeredProtocols(values: string[] | null): string[] {
  // Repeated fields are one comma-separated list (RFC 9110 §5.3).
  const protocols = values === null ? [] : values.length === 1 ? parseList(values[0]) : parseList(values.join(', '));
  // §4.1: each subprotocol is a token; "b   x" is not two offers nor one.
  if (!protocols.every(isToken)) throw new HttpHeadError(400, 'invalid Sec-WebSocket-Protocol');
  return protocols;
}

/**
 * Checks an HTTP/2 extended CONNECT against RFC 8441 §4-5: `:method` CONNECT,
 * `:protocol` websocket, `:scheme`, `:path` and `:authority` present, and the
 * RFC 6455 fields but Sec-WebSocket-Key (§5: "not used"). Throws HttpHeadError
 * with the status to answer; 426 means "wrong version" (answered as 400 with
 * Sec-WebSocket-Version over HTTP/2, which has no Upgrade). The result has
 * `key` '' and a head with version `HTTP/2` and `:path` as its target.
 */
export function validateExtendedConnect(request: Http2RequestHead): UpgradeRequest {
  if (request.method !== 'CONNECT') throw new HttpHeadError(405, `WebSocket over HTTP/2 requires CONNECT, not ${request.method}`);
  // RFC 8441 §4: an extended CONNECT carries :protocol; a plain CONNECT is a TCP tunnel, not a WebSocket.
  if (request.protocol === undefined || request.protocol.toLowerCase() !== 'websocket') {
    throw new HttpHeadError(400, 'extended CONNECT without ":protocol: websocket"');
  }
  // §4: "the :scheme and :path pseudo-header fields of the target URI MUST also be included".
  if (request.scheme !== 'https' && request.scheme !== 'http') throw new HttpHeadError(400, 'missing or invalid :scheme');
  if (request.path === undefined || request.path === '') throw new HttpHeadError(400, 'missing :path');
  if (request.authority === undefined || request.authority === '') throw new HttpHeadError(400, 'missing :authority');
  const headers = request.headers;
  const versions = headers.getAll('sec-websocket-version');
  if (versions.length !== 1 || versions[0] !== '13') throw new HttpHeadError(426, 'unsupported Sec-WebSocket-Version (13 is)');
  const protocols = headers.getAll('sec-websocket-protocol');
  const extensionValues = headers.getAll('sec-websocket-extensions');
  const extensions = offeredExtensions(extensionValues.length === 0 ? null : extensionValues);
  const head: HttpRequestHead = { method: 'CONNECT', target: request.path, version: 'HTTP/2', headers };
  return new Upgrade(head, splitTarget(request.path), '', offeredProtocols(protocols.length === 0 ? null : protocols), extensions);
}

/** The pseudo-header fields and the fields of an HTTP/2 request (RFC 9113 §8.3.1). */
export interface Http2RequestHead {
  /** `:method`. */
  method: string | undefined;
  /** `:protocol` (RFC 8441 §4), present only on an extended CONNECT. */
  protocol: string | undefined;
  /** `:scheme`. */
  scheme: string | undefined;
  /** `:authority`. */
  authority: string | undefined;
  /** `:path`. */
  path: string | undefined;
  /** The regular header fields (no pseudo-headers). */
  headers: HttpHeaders;
}

/**
 * What §4.2.1 checks in the fields of an upgrade request, gathered in one pass. One object for the process, reset
 * around each (synchronous) use: no allocation per handshake.
 */
class UpgradeFields {
  hosts = 0;
  upgrade = false;
  connection = false;
  keys = 0;
  key = '';
  versions = 0;
  version = '';
  extensionValues: string[] | null = null;
  protocolValues: string[] | null = null;

  reset(): void {
    this.hosts = 0;
    this.upgrade = false;
    this.connection = false;
    this.keys = 0;
    this.key = '';
    this.versions = 0;
    this.version = '';
    this.extensionValues = null;
    this.protocolValues = null;
  }

  /** Names and values alternating. */
  scanFlat(fields: readonly string[]): void {
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      const length = name.length;
      // The length test skips most names without lowercasing.
      const which = FIELD_BY_LENGTH[length];
      if (which !== undefined && isName(name, which)) this.field(which, fields[i + 1]!);
    }
  }

  /** The validated field lines of a head's text from `start` to the empty line, names compared where they lie. */
  scanText(text: string, start: number): void {
    for (;;) {
      const end = text.indexOf('\r\n', start);
      if (end <= start) return;
      const colon = text.indexOf(':', start);
      const which = FIELD_BY_LENGTH[colon - start];
      if (which !== undefined && nameAt(text, start, which)) {
        if (which === 'host') this.hosts++;
        else {
          const from = skipOws(text, colon + 1, end);
          this.field(which, text.slice(from, trimOwsEnd(text, from, end)));
        }
      }
      start = end + 2;
    }
  }

  private field(name: string, value: string): void {
    switch (name) {
      case 'host':
        this.hosts++;
        break;
      case 'upgrade':
        if (!this.upgrade) this.upgrade = hasToken(value, 'websocket');
        break;
      case 'connection':
        if (!this.connection) this.connection = hasToken(value, 'upgrade');
        break;
      case 'sec-websocket-key':
        this.keys++;
        this.key = value;
        break;
      case 'sec-websocket-version':
        this.versions++;
        this.version = value;
        break;
      case 'sec-websocket-protocol':
        (this.protocolValues ??= []).push(value);
        break;
      case 'sec-websocket-extensions':
        (this.extensionValues ??= []).push(value);
        break;
    }
  }
}

const UPGRADE_FIELDS = new UpgradeFields();

/** The one field name of each length that the upgrade checks read (no two share a length). */
const FIELD_BY_LENGTH: Array<string | undefined> = [];
for (const name of ['host', 'upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions']) {
  FIELD_BY_LENGTH[name.length] = name;
}

/** Whether `text` at `at` holds `key` (lowercase) in any case (an ASCII token name: setting 0x20 lowercases letters). */
function nameAt(text: string, at: number, key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = text.charCodeAt(at + i);
    const k = key.charCodeAt(i);
    if (c !== k && (c | 0x20) !== k) return false;
  }
  return true;
}

/** Whether header name `name` is `key` (lowercase) in any case; the caller compared lengths. */
function isName(name: string, key: string): boolean {
  return name === key || name.toLowerCase() === key;
}

class Upgrade implements UpgradeRequest {
  constructor(
    readonly head: HttpRequestHead,
    private readonly target: RequestTarget,
    readonly key: string,
    readonly protocols: string[],
    readonly extensions: ExtensionOffer[],
  ) {}

  get path(): string {
    return this.target.path;
  }

  get query(): URLSearchParams {
    return this.target.query;
  }
}

/** A request target split into path and query; the query is parsed on first use (most handlers never read it). */
export class RequestTarget {
  /** The path without query, e.g. `/chat`. */
  readonly path: string;
  private readonly search: string;
  private parsed: URLSearchParams | null = null;

  constructor(path: string, search: string) {
    this.path = path;
    this.search = search;
  }

  /** The query parameters. */
  get query(): URLSearchParams {
    return (this.parsed ??= new URLSearchParams(this.search));
  }
}

/** Splits a request target into path and query. */
export function splitTarget(target: string): RequestTarget {
  const q = target.indexOf('?');
  let path = q === -1 ? target : target.slice(0, q);
  // An absolute-form target (proxies) carries scheme and authority.
  if (!path.startsWith('/')) {
    try {
      path = new URL(path).pathname;
    } catch {
      throw new HttpHeadError(400, 'malformed request target');
    }
  }
  return new RequestTarget(path, q === -1 ? '' : target.slice(q + 1));
}

/** The extra headers a 426 must carry (§4.4). */
export const UPGRADE_REQUIRED_HEADERS: Array<[string, string]> = [
  ['Upgrade', 'websocket'],
  ['Connection', 'Upgrade'],
  ['Sec-WebSocket-Version', '13'],
];

/** Serializes the 101 response accepting an upgrade (§4.2.2 item 5), with any extra headers. */
export function acceptResponse(
  key: string,
  protocol: string | null,
  extensions: ExtensionOffer[],
  extraHeaders: Iterable<[string, string]> = [],
): Buffer {
  return Buffer.from(acceptResponseText(key, protocol, extensions.length > 0 ? formatExtensions(extensions) : '', extraHeaders), 'latin1');
}

const ACCEPT_HEAD = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ';

/**
 * The 101 response as one latin1 string, for a single socket write: the
 * constant part is precomputed, and `extensions` is the
 * `Sec-WebSocket-Extensions` value already formatted ('' for none).
 */
export function acceptResponseText(
  key: string,
  protocol: string | null,
  extensions: string,
  extraHeaders: Iterable<[string, string]> = NO_HEADERS,
): string {
  let head = ACCEPT_HEAD + computeAccept(key);
  if (protocol !== null) head += `\r\nSec-WebSocket-Protocol: ${checkedValue('Sec-WebSocket-Protocol', protocol)}`;
  if (extensions !== '') head += `\r\nSec-WebSocket-Extensions: ${checkedValue('Sec-WebSocket-Extensions', extensions)}`;
  for (const [name, value] of extraHeaders) head += `\r\n${checkedName(name)}: ${checkedValue(name, value)}`;
  return head + '\r\n\r\n';
}

const NO_HEADERS: Array<[string, string]> = [];

/** What the client asks for in its upgrade request. */
export interface UpgradeRequestOptions {
  /** Host header value (host[:port]). */
  host: string;
  /** Request target: path and query. */
  target: string;
  /** Sec-WebSocket-Key, from {@link generateKey}. */
  key: string;
  /** Subprotocols to offer. */
  protocols?: string[];
  /** Extensions to offer. */
  extensions?: ExtensionOffer[];
  /** Origin header, if any. */
  origin?: string;
  /** More headers. */
  headers?: Iterable<[string, string]>;
}

/** Serializes the client's upgrade request (§4.1). */
export function buildUpgradeRequest(options: UpgradeRequestOptions): Buffer {
  let head = `GET ${options.target} HTTP/1.1\r\nHost: ${options.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`;
  head += `Sec-WebSocket-Key: ${options.key}\r\nSec-WebSocket-Version: 13\r\n`;
  if (options.protocols && options.protocols.length > 0) {
    // A subprotocol is an HTTP token (§4.1): anything else would be refused by the server, or inject headers.
    for (const protocol of options.protocols) {
      if (typeof protocol !== 'string' || !isToken(protocol)) throw new TypeError(`invalid subprotocol ${JSON.stringify(protocol)}: not an HTTP token`);
    }
    head += `Sec-WebSocket-Protocol: ${options.protocols.join(', ')}\r\n`;
  }
  if (options.extensions && options.extensions.length > 0) {
    head += `Sec-WebSocket-Extensions: ${formatExtensions(options.extensions)}\r\n`;
  }
  if (options.origin !== undefined) head += `Origin: ${checkedValue('Origin', options.origin)}\r\n`;
  for (const [name, value] of options.headers ?? []) head += `${checkedName(name)}: ${checkedValue(name, value)}\r\n`;
  return Buffer.from(head + '\r\n', 'latin1');
}

/** A header name as it can go on the wire: an HTTP token (RFC 9110 §5.1). */
function checkedName(name: string): string {
  if (typeof name !== 'string' || !isToken(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
  return name;
}

/**
 * A header value as it can go on the wire: no control characters (CR/LF would inject headers), and Latin-1 only,
 * since the head is written as Latin-1 and anything above U+00FF would be silently mangled.
 */
function checkedValue(name: string, value: string): string {
  if (typeof value !== 'string' || !isValidFieldValue(value)) throw new TypeError(`invalid value for header ${name}: control characters`);
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0xff) throw new TypeError(`invalid value for header ${name}: characters beyond Latin-1 (percent-encode them)`);
  }
  return value;
}

/** What the server agreed to, from a valid 101 response. */
export interface UpgradeResponse {
  /** The subprotocol the server chose, or null. */
  protocol: string | null;
  /** The extensions the server accepted. */
  extensions: ExtensionOffer[];
  /** The response headers. */
  headers: HttpHeaders;
}

/**
 * Checks the server's response against §4.1 (status 101, Upgrade, Connection,
 * Accept) and that any subprotocol it chose was offered. Extension answers are
 * returned for the caller to check against what it offered.
 */
export function validateUpgradeResponse(
  head: HttpResponseHead,
  key: string,
  offeredProtocols: string[],
  body: Buffer = Buffer.alloc(0),
): UpgradeResponse {
  const { headers } = head;
  if (head.status !== 101) {
    throw new InvalidStatus({
      status: head.status,
      statusText: head.statusText,
      headers: new Map(Object.entries(headers.toJSON())),
      body,
    });
  }
  if (!hasToken(headers.get('upgrade'), 'websocket')) throw new InvalidHeader('Upgrade', 'missing "Upgrade: websocket" in response');
  if (!hasToken(headers.get('connection'), 'upgrade')) throw new InvalidHeader('Connection', 'missing "Connection: Upgrade" in response');
  const accept = headers.getAll('sec-websocket-accept');
  if (accept.length !== 1 || accept[0] !== computeAccept(key)) {
    throw new InvalidHeader('Sec-WebSocket-Accept', 'invalid Sec-WebSocket-Accept');
  }
  return agreedByServer(headers, offeredProtocols);
}

/**
 * What a server's accepting response agreed to, over HTTP/1.1 or HTTP/2 alike: at most one subprotocol, one
 * that was offered (§4.1 item 6 of the client's checks), and the extensions it answered (§9.1), parsed.
 */
export function agreedByServer(headers: HttpHeaders, offeredProtocols: string[]): UpgradeResponse {
  const protocols = parseList(headers.get('sec-websocket-protocol'));
  if (protocols.length > 1) throw new NegotiationError('server chose more than one subprotocol');
  const protocol = protocols[0] ?? null;
  if (protocol !== null && !offeredProtocols.includes(protocol)) {
    throw new NegotiationError(`server chose subprotocol ${protocol}, which was not offered`);
  }
  let extensions: ExtensionOffer[];
  try {
    extensions = headers.getAll('sec-websocket-extensions').flatMap(parseExtensions);
  } catch (error) {
    throw new NegotiationError((error as Error).message);
  }
  return { protocol, extensions, headers };
}
