/**
 * Bounded HTTP/1.1 message heads, enough for the WebSocket opening handshake
 * (RFC 9112 §2–5). The reader never holds more than `maxHeadSize` bytes, and
 * parsing is a single linear pass: no regular expressions on untrusted input.
 */

/** Limits applied while reading an HTTP head. */
export interface HttpLimits {
  /** Longest request line or header line, in bytes (414 / 431 beyond). Default 8 KiB. */
  maxLineLength?: number;
  /** Most header lines (431 beyond). Default 128. */
  maxHeaders?: number;
  /** Most bytes in the whole head (431 beyond). Default 64 KiB. */
  maxHeadSize?: number;
}

/** Defaults of {@link HttpLimits}, as Python websockets. */
export const DEFAULT_HTTP_LIMITS: Required<HttpLimits> = {
  maxLineLength: 8192,
  maxHeaders: 128,
  maxHeadSize: 65536,
};

/** An HTTP head that could not be accepted; `status` is the response it deserves. */
export class HttpHeadError extends Error {
  /** The HTTP status to reply with (400, 414, 431, 505...). */
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpHeadError';
    this.status = status;
  }
}

/** Header fields with case-insensitive names. Backed by a Map, so names like `__proto__` are plain keys. */
export class HttpHeaders {
  // Names and values in one flat array, in the order received: an upgraded connection keeps its
  // request headers, and a Map of arrays cost it about 1 KiB more (memory per idle connection).
  // Headers read by the server are first kept as the head's text and split on first use: most
  // connections never read them, and every object an idle connection keeps is copied by each
  // young-generation GC while connections are set up (handshakes per second).
  private fields: string[] | null = null;
  private source: string | null = null;
  private sourceStart = 0;

  /** @internal Headers backed by the validated field lines of a request head starting at `start` of `text`. */
  static fromHead(text: string, start: number): HttpHeaders {
    const headers = new HttpHeaders();
    headers.source = text;
    headers.sourceStart = start;
    return headers;
  }

  private get list(): string[] {
    if (this.fields === null) {
      this.fields = this.source === null ? [] : splitFields(this.source, this.sourceStart);
      this.source = null;
    }
    return this.fields;
  }

  /** Builds headers from name/value pairs or a plain record. */
  static from(init?: Iterable<[string, string]> | Record<string, string | string[]>): HttpHeaders {
    const headers = new HttpHeaders();
    if (init === undefined) return headers;
    const pairs: Iterable<[string, string | string[]]> = Symbol.iterator in init
      ? (init as Iterable<[string, string]>)
      : Object.entries(init as Record<string, string | string[]>);
    for (const [name, value] of pairs) {
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else headers.append(name, value);
    }
    return headers;
  }

  /** The fields in the order received, names as sent. */
  get raw(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    const list = this.list;
    for (let i = 0; i < list.length; i += 2) out.push([list[i]!, list[i + 1]!]);
    return out;
  }

  /** Adds a field. */
  append(name: string, value: string): void {
    this.list.push(name, value);
  }

  /** The value of a field; repeated fields are joined with ", " (RFC 9110 §5.3). */
  get(name: string): string | undefined {
    const key = name.toLowerCase();
    const list = this.list;
    let found: string | undefined;
    for (let i = 0; i < list.length; i += 2) {
      if (!sameName(list[i]!, key)) continue;
      found = found === undefined ? list[i + 1]! : `${found}, ${list[i + 1]!}`;
    }
    return found;
  }

  /** Every value of a field, in order. */
  getAll(name: string): string[] {
    const key = name.toLowerCase();
    const list = this.list;
    const out: string[] = [];
    for (let i = 0; i < list.length; i += 2) if (sameName(list[i]!, key)) out.push(list[i + 1]!);
    return out;
  }

  /** Whether a field is present. */
  has(name: string): boolean {
    const key = name.toLowerCase();
    const list = this.list;
    for (let i = 0; i < list.length; i += 2) if (sameName(list[i]!, key)) return true;
    return false;
  }

  /**
   * @internal Names and values alternating, in the order received: one scan instead of a lookup per name.
   * Headers still kept as text are split for this call only, not kept split.
   */
  get flat(): readonly string[] {
    if (this.fields === null && this.source !== null) return splitFields(this.source, this.sourceStart);
    return this.list;
  }

  /**
   * @internal The head's text while the headers are still kept as it (else null), for a scan of the field lines in
   * place; they start at {@link headTextStart} and were validated when the head was read.
   */
  get headText(): string | null {
    return this.fields === null ? this.source : null;
  }

  /** @internal Where the field lines start in {@link headText}. */
  get headTextStart(): number {
    return this.sourceStart;
  }

  /** Number of field lines. */
  get size(): number {
    return this.list.length >> 1;
  }

  /** A plain object of lowercase names to joined values (for logging or JSON). */
  toJSON(): Record<string, string> {
    const out: Record<string, string> = Object.create(null);
    const list = this.list;
    for (let i = 0; i < list.length; i += 2) {
      const key = list[i]!.toLowerCase();
      out[key] = key in out ? `${out[key]!}, ${list[i + 1]!}` : list[i + 1]!;
    }
    return out;
  }
}

/** @internal The first index in [from, to) past optional whitespace (SP, HTAB). */
export function skipOws(text: string, from: number, to: number): number {
  while (from < to && (text.charCodeAt(from) === 0x20 || text.charCodeAt(from) === 0x09)) from++;
  return from;
}

/** @internal The end of [from, to) without its trailing optional whitespace. */
export function trimOwsEnd(text: string, from: number, to: number): number {
  while (to > from && (text.charCodeAt(to - 1) === 0x20 || text.charCodeAt(to - 1) === 0x09)) to--;
  return to;
}

/** The field lines of a validated head from `start` to the empty line: names and trimmed values, alternating. */
function splitFields(text: string, start: number): string[] {
  const out: string[] = [];
  for (;;) {
    const end = text.indexOf('\r\n', start);
    if (end <= start) return out;
    const colon = text.indexOf(':', start);
    const from = skipOws(text, colon + 1, end);
    const to = trimOwsEnd(text, from, end);
    out.push(text.slice(start, colon), text.slice(from, to));
    start = end + 2;
  }
}

/** Whether a field name equals `key` (lowercase), ignoring case; the length test skips most names without lowercasing. */
function sameName(name: string, key: string): boolean {
  return name.length === key.length && (name === key || name.toLowerCase() === key);
}

/** A parsed request head. */
export interface HttpRequestHead {
  /** The method, e.g. `GET`. */
  method: string;
  /** The request target as sent, e.g. `/chat?room=1`. */
  target: string;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: string;
  /** The header fields. */
  headers: HttpHeaders;
}

/** A parsed response head. */
export interface HttpResponseHead {
  /** The status code. */
  status: number;
  /** The reason phrase. */
  statusText: string;
  /** The version, e.g. `HTTP/1.1`. */
  version: string;
  /** The header fields. */
  headers: HttpHeaders;
}

/**
 * Accumulates bytes until a complete head (ending in CRLF CRLF) has arrived,
 * enforcing the limits as the bytes come in. `push` returns the head and the
 * bytes after it once complete, or null while more is needed; it throws
 * {@link HttpHeadError} as soon as a limit is crossed.
 */
export class HttpHeadReader {
  private readonly limits: Required<HttpLimits>;
  private readonly isRequest: boolean;
  private readonly parts: Buffer[] = [];
  private total = 0;
  private lineLength = 0;
  private lines = 0;
  private previous = 0;

  constructor(isRequest: boolean, limits: HttpLimits = {}) {
    this.isRequest = isRequest;
    this.limits = { ...DEFAULT_HTTP_LIMITS, ...limits };
  }

  /** Feeds bytes; returns the complete head and leftover bytes, or null if more are needed. */
  push(chunk: Buffer): { head: Buffer; rest: Buffer } | null {
    const { maxLineLength, maxHeaders, maxHeadSize } = this.limits;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      // Every byte counts, the final LF included.
      if (++this.total > maxHeadSize) throw new HttpHeadError(431, `HTTP head larger than ${maxHeadSize} bytes`);
      if (byte === 0x0a) {
        if (this.previous !== 0x0d) throw new HttpHeadError(400, 'bare LF in HTTP head');
        if (this.lineLength === 1) {
          const end = i + 1;
          this.parts.push(chunk.subarray(0, end));
          const head = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
          return { head, rest: chunk.subarray(end) };
        }
        checkLineCount(++this.lines, maxHeaders);
        this.lineLength = 0;
      } else {
        checkLineLength(++this.lineLength, this.lines === 0, this.isRequest, maxLineLength);
      }
      this.previous = byte;
    }
    this.parts.push(chunk);
    return null;
  }
}

/**
 * A line's limit, for both readers of a head: `length` counts the line's bytes before its LF, the CR included. Too
 * long, a request line gets 414 (RFC 9110 §15.5.15 URI Too Long; a status line, 400) and a header line 431 (RFC 6585
 * §5 Request Header Fields Too Large).
 */
function checkLineLength(length: number, firstLine: boolean, isRequest: boolean, maxLineLength: number): void {
  if (length <= maxLineLength + 1) return;
  throw firstLine
    ? new HttpHeadError(isRequest ? 414 : 400, `request line longer than ${maxLineLength} bytes`)
    : new HttpHeadError(431, `header line longer than ${maxLineLength} bytes`);
}

/** The field count's limit, for both readers of a head: `lines` counts the request line too (431, RFC 6585 §5). */
function checkLineCount(lines: number, maxHeaders: number): void {
  if (lines > maxHeaders + 1) throw new HttpHeadError(431, `more than ${maxHeaders} header fields`);
}

const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;

/** Whether `s` is an RFC 9110 token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** Whether `s` may be sent as a field value: no control characters but HTAB (RFC 9110 §5.5). */
export function isValidFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

function isDigit(s: string, at: number): boolean {
  const c = s.charCodeAt(at);
  return c >= 0x30 && c <= 0x39;
}

/** Checks the field line `text[start, end)` and appends it to `headers` if given, or throws the 400 it deserves. */
function parseFieldLine(text: string, start: number, end: number, headers: HttpHeaders | null): void {
  const first = text.charCodeAt(start);
  if (first === 0x20 || first === 0x09) throw new HttpHeadError(400, 'obsolete line folding in header');
  const colon = text.indexOf(':', start);
  if (colon <= start || colon >= end) throw new HttpHeadError(400, 'malformed header line');
  for (let i = start; i < colon; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) {
      throw new HttpHeadError(400, `invalid header name ${JSON.stringify(text.slice(start, Math.min(colon, start + 40)))}`);
    }
  }
  const from = skipOws(text, colon + 1, end);
  const to = trimOwsEnd(text, from, end);
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) throw new HttpHeadError(400, `invalid value in header ${text.slice(start, colon)}`);
  }
  if (headers !== null) headers.append(text.slice(start, colon), text.slice(from, to));
}

function parseFields(lines: string[]): HttpHeaders {
  const headers = new HttpHeaders();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line !== '') parseFieldLine(line, 0, line.length, headers);
  }
  return headers;
}

/** The request line `text[0, end)` as method, target and version, or the 400/505 it deserves. */
function parseRequestLine(text: string, end: number): { method: string; target: string; version: string } {
  const sp1 = text.indexOf(' ');
  const sp2 = sp1 === -1 ? -1 : text.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp1 >= end || sp2 <= sp1 + 1 || sp2 >= end || text.lastIndexOf(' ', end - 1) !== sp2) {
    throw new HttpHeadError(400, 'malformed request line');
  }
  const method = text.slice(0, sp1);
  const target = text.slice(sp1 + 1, sp2);
  const version = text.slice(sp2 + 1, end);
  if (!isToken(method)) throw new HttpHeadError(400, 'malformed request method');
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') {
    // HTTP/x.y, or HTTP/2 and HTTP/3 as RFC 9113/9114 name them, is a version we don't speak (505); anything else is malformed.
    const wellFormed = version.startsWith('HTTP/') && isDigit(version, 5) &&
      (version.length === 6 || (version.length === 8 && version[6] === '.' && isDigit(version, 7)));
    throw new HttpHeadError(wellFormed ? 505 : 400, `unsupported HTTP version ${JSON.stringify(version.slice(0, 16))}`);
  }
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) throw new HttpHeadError(400, 'control character in request target');
  }
  return { method, target, version };
}

/** Parses a complete request head as returned by {@link HttpHeadReader}. */
export function parseRequestHead(head: Buffer): HttpRequestHead {
  const lines = head.toString('latin1').split('\r\n');
  const requestLine = lines[0]!;
  const { method, target, version } = parseRequestLine(requestLine, requestLine.length);
  return { method, target, version, headers: parseFields(lines) };
}

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
// What follows a head is usually nothing: one shared empty buffer rather than a view per handshake.
const NO_BYTES = Buffer.alloc(0);

/**
 * Reads and parses a request head that arrived whole at the start of `chunk`,
 * in one pass: the bytes are decoded once and each line is checked and parsed
 * where it lies, with the limits and the statuses of {@link HttpHeadReader}
 * followed by {@link parseRequestHead}. Returns null when `chunk` does not hold
 * a complete head within `maxHeadSize` bytes: feed it to an HttpHeadReader then.
 */
export function readRequestHead(chunk: Buffer, limits: Required<HttpLimits>): { head: HttpRequestHead; rest: Buffer } | null {
  const { maxLineLength, maxHeaders, maxHeadSize } = limits;
  const found = chunk.indexOf(HEAD_END);
  if (found === -1 || found + 4 > maxHeadSize) return null;
  const text = chunk.toString('latin1', 0, found + 4);
  let requestLine: { method: string; target: string; version: string } | null = null;
  // The reader checks every line's framing before the parser sees any line: a
  // parse error is kept until the framing of the whole head has been checked.
  let problem: HttpHeadError | null = null;
  let lines = 0;
  let start = 0;
  let fieldsStart = 0;
  for (;;) {
    const lf = text.indexOf('\n', start);
    const length = lf - start; // bytes before the LF, the CR included
    checkLineLength(length, lines === 0, true, maxLineLength);
    if (length === 0 || text.charCodeAt(lf - 1) !== 0x0d) throw new HttpHeadError(400, 'bare LF in HTTP head');
    if (length === 1) {
      if (problem !== null) throw problem;
      if (requestLine === null) throw new HttpHeadError(400, 'malformed request line');
      const headers = HttpHeaders.fromHead(text, fieldsStart);
      const head: HttpRequestHead = { method: requestLine.method, target: requestLine.target, version: requestLine.version, headers };
      return { head, rest: lf + 1 === chunk.length ? NO_BYTES : chunk.subarray(lf + 1) };
    }
    checkLineCount(++lines, maxHeaders);
    if (problem === null) {
      try {
        if (lines === 1) requestLine = parseRequestLine(text, lf - 1);
        else parseFieldLine(text, start, lf - 1, null);
      } catch (error) {
        problem = error as HttpHeadError;
      }
    }
    start = lf + 1;
    if (lines === 1) fieldsStart = start;
  }
}
/** Parses a complete response head as returned by {@link HttpHeadReader}. */
export function parseResponseHead(head: Buffer): HttpResponseHead {
  const lines = head.toString('latin1').split('\r\n');
  const statusLine = lines[0]!;
  const sp1 = statusLine.indexOf(' ');
  const version = sp1 > 0 ? statusLine.slice(0, sp1) : '';
  if (!version.startsWith('HTTP/1.')) throw new HttpHeadError(400, 'malformed status line');
  const rest = statusLine.slice(sp1 + 1);
  const sp2 = rest.indexOf(' ');
  const codeText = sp2 === -1 ? rest : rest.slice(0, sp2);
  // RFC 9112 §4: status-code = 3DIGIT (Number() alone would take "1e2" or " 99").
  const status = isThreeDigits(codeText) ? Number(codeText) : 0;
  if (status < 100) {
    throw new HttpHeadError(400, 'malformed status code');
  }
  return { status, statusText: sp2 === -1 ? '' : rest.slice(sp2 + 1), version, headers: parseFields(lines) };
}

function isThreeDigits(s: string): boolean {
  if (s.length !== 3) return false;
  for (let i = 0; i < 3; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

const STATUS_TEXT: Record<number, string> = {
  101: 'Switching Protocols', 200: 'OK', 204: 'No Content', 301: 'Moved Permanently', 302: 'Found',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  408: 'Request Timeout', 414: 'URI Too Long', 426: 'Upgrade Required', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
};

/** The standard reason phrase of a status code. */
export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Unknown';
}

/** Serializes a response head (and body) into bytes. */
export function serializeResponse(
  status: number,
  headers: Iterable<[string, string]> = [],
  body?: string | Uint8Array,
): Buffer {
  let head = `HTTP/1.1 ${status} ${statusText(status)}\r\n`;
  let hasLength = false;
  for (const [name, value] of headers) {
    if (!isToken(name) || !isValidFieldValue(value)) throw new TypeError(`invalid response header ${name}`);
    if (name.toLowerCase() === 'content-length') hasLength = true;
    head += `${name}: ${value}\r\n`;
  }
  const bodyBytes = body === undefined ? null : typeof body === 'string' ? Buffer.from(body) : body;
  if (bodyBytes !== null && !hasLength) head += `Content-Length: ${bodyBytes.length}\r\n`;
  head += '\r\n';
  const headBytes = Buffer.from(head, 'latin1');
  return bodyBytes === null ? headBytes : Buffer.concat([headBytes, bodyBytes]);
}
