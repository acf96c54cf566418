/**
 * Output helpers shared by the `wskit` commands: colours (only on a TTY,
 * never with NO_COLOR), control-character escaping, and the one-line frame
 * format of `wskit proxy`, e.g. `> TEXT FIN '{"a":1}' [7 bytes]`.
 */
import { closeCodeName } from '../protocol/opcodes.js';

/** Whether colours should be used on `stream`: a TTY, NO_COLOR unset, TERM not `dumb`. */
export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && process.env.TERM !== 'dumb';
}

/** ANSI styling functions that do nothing when colours are off. */
export interface Palette {
  /** Green, for received messages. */
  green(s: string): string;
  /** Cyan, for sent messages. */
  cyan(s: string): string;
  /** Yellow, for control frames and warnings. */
  yellow(s: string): string;
  /** Red, for errors. */
  red(s: string): string;
  /** Dim, for timestamps and status lines. */
  dim(s: string): string;
  /** Bold. */
  bold(s: string): string;
}

/** A {@link Palette} for `stream` (plain text unless {@link useColor}). */
export function palette(stream: NodeJS.WriteStream = process.stdout): Palette {
  const on = useColor(stream);
  const style = (open: number, close: number) => (s: string) => (on ? `\x1b[${open}m${s}\x1b[${close}m` : s);
  return {
    green: style(32, 39),
    cyan: style(36, 39),
    yellow: style(33, 39),
    red: style(31, 39),
    dim: style(2, 22),
    bold: style(1, 22),
  };
}

/** Bidirectional-text controls: they reorder what a terminal shows ("Trojan Source"), so they are escaped too. */
function isBidiControl(c: number): boolean {
  return c === 0x061c || c === 0x200e || c === 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/**
 * The one escaping function for text from the network on its way to a
 * terminal, in every command: C0 and C1 control characters, DEL and bidi
 * controls become visible escapes, so received text cannot drive the terminal
 * (ANSI escape sequences, retitling, carriage returns). Tab is kept; a newline
 * only when `keepNewlines` (interactive display). Idempotent: escaping an
 * escaped line changes nothing, so a sink may escape what a caller already did.
 */
export function escapeControl(text: string, keepNewlines = false): string {
  let out = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) continue;
    if (c === 0x09 || (c === 0x0a && keepNewlines)) continue;
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && c <= 0x9f) || isBidiControl(c)) {
      out += text.slice(start, i);
      start = i + 1;
      if (c === 0x0a) out += '\\n';
      else if (c === 0x0d) out += '\\r';
      else if (c === 0x1b) out += '\\e';
      else out += c < 0x100 ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
    }
  }
  return start === 0 ? text : out + text.slice(start);
}

/** Lowercase hex of `data`, at most `max` bytes followed by `…` when longer. */
export function toHex(data: Uint8Array, max = Infinity): string {
  const shown = data.length > max ? data.subarray(0, max) : data;
  const hex = Buffer.from(shown.buffer, shown.byteOffset, shown.byteLength).toString('hex');
  return data.length > max ? hex + '…' : hex;
}

/** Parses hex digits (spaces and colons allowed between bytes) into bytes; throws on anything else. */
export function parseHex(input: string): Buffer {
  const digits = input.replace(/[\s:]/g, '');
  if (digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits)) throw new Error(`invalid hex '${input}'`);
  return Buffer.from(digits, 'hex');
}

/** Pretty-prints `text` if it is JSON (2-space indent), else returns it unchanged. */
export function prettyJson(text: string, indent: number | '' = 2): string {
  const first = text.trimStart()[0];
  if (first !== '{' && first !== '[' && first !== '"') return text;
  try {
    return JSON.stringify(JSON.parse(text), null, indent);
  } catch {
    return text;
  }
}

/** A close code with its name: `1000 (OK)`. */
export function describeClose(code: number, reason = ''): string {
  return `${code} (${closeCodeName(code)})${reason ? ` ${quote(reason)}` : ''}`;
}

/** Single-quotes `text` for display, escaping control characters and quotes. */
export function quote(text: string): string {
  return `'${escapeControl(text.replace(/\\/g, '\\\\')).replace(/'/g, "\\'")}'`;
}

/** Short names of the RFC 6455 opcodes. */
export const OPCODE_NAMES: Record<number, string> = {
  0x0: 'CONT',
  0x1: 'TEXT',
  0x2: 'BINARY',
  0x8: 'CLOSE',
  0x9: 'PING',
  0xa: 'PONG',
};

/** The name of an opcode, `OP3` for reserved ones. */
export function opcodeName(opcode: number): string {
  return OPCODE_NAMES[opcode] ?? `OP${opcode.toString(16).toUpperCase()}`;
}

/** What {@link formatFrame} needs to know about a frame. */
export interface FrameSummary {
  /** The opcode. */
  opcode: number;
  /** FIN bit. */
  fin: boolean;
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 4). */
  rsv: number;
  /** Payload length from the header. */
  length: number;
  /** The first bytes of the unmasked payload (may be shorter than `length`). */
  preview: Uint8Array;
  /** For continuation frames, the opcode of the message's first frame. */
  messageOpcode?: number;
}

/** The flags field of a frame line: `FIN`, `---`, `FIN+RSV1`. */
export function frameFlags(fin: boolean, rsv: number): string {
  let flags = fin ? 'FIN' : '---';
  if (rsv & 4) flags += '+RSV1';
  if (rsv & 2) flags += '+RSV2';
  if (rsv & 1) flags += '+RSV3';
  return flags;
}

/** Readable text for a text payload prefix: escaped, quoted, `…` when truncated. */
function textPreview(preview: Uint8Array, length: number, maxChars: number): string {
  let text = Buffer.from(preview.buffer, preview.byteOffset, preview.byteLength).toString('utf8');
  let truncated = preview.length < length;
  if (truncated) text = text.replace(/\uFFFD+$/, ''); // a multi-byte character cut in half
  if (text.length > maxChars) {
    text = text.slice(0, maxChars);
    truncated = true;
  }
  return quote(text) + (truncated ? '…' : '');
}

/**
 * One line describing a frame, without time or direction:
 * `TEXT FIN '{"a":1}' [7 bytes]`, `CLOSE FIN 1000 (OK) 'bye' [5 bytes]`,
 * `BINARY FIN 0102ff [3 bytes]`. Payloads are truncated to `maxChars`.
 */
export function formatFrame(frame: FrameSummary, maxChars = 80): string {
  const name = opcodeName(frame.opcode);
  const flags = frameFlags(frame.fin, frame.rsv);
  const size = `[${frame.length} byte${frame.length === 1 ? '' : 's'}]`;
  let body: string;
  const kind = frame.opcode === 0 ? frame.messageOpcode : frame.opcode;
  if (frame.length === 0) body = '';
  else if (frame.rsv & 4 && (kind === 1 || kind === 2)) body = `(compressed) ${toHex(frame.preview, maxChars >> 1)}`;
  else if (frame.opcode === 0x8) {
    if (frame.preview.length >= 2) {
      const code = (frame.preview[0]! << 8) | frame.preview[1]!;
      const reason = Buffer.from(frame.preview.subarray(2)).toString('utf8');
      body = describeClose(code, reason);
    } else body = toHex(frame.preview);
  } else if (kind === 0x1 || ((frame.opcode === 0x9 || frame.opcode === 0xa) && isPrintable(frame.preview))) {
    body = textPreview(frame.preview, frame.length, maxChars);
  } else body = toHex(frame.preview, maxChars >> 1) + (frame.preview.length < frame.length && frame.preview.length <= maxChars >> 1 ? '…' : '');
  return `${name} ${flags}${body ? ' ' + body : ''} ${size}`;
}

function isPrintable(data: Uint8Array): boolean {
  for (const byte of data) if (byte < 0x20 || byte >= 0x7f) return false;
  return true;
}

/** `HH:MM:SS.mmm` local time of `date`. */
export function clock(date = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}.${p(date.getMilliseconds(), 3)}`;
}

/** A number with thousands separators and `digits` decimals. */
export function formatNumber(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A one-line explanation of why connecting to `url` failed (refused, DNS, TLS, HTTP status...). */
export function explainConnectError(error: unknown, url: string): string {
  return escapeControl(connectErrorText(error, url));
}

function connectErrorText(error: unknown, url: string): string {
  const e = error as NodeJS.ErrnoException & { response?: { status: number; statusText: string } };
  const code = e?.code;
  const prefix = `cannot connect to ${url}`;
  if (code === 'ECONNREFUSED') return `${prefix}: connection refused`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `${prefix}: host not found`;
  if (code === 'ECONNRESET') return `${prefix}: connection reset by the server`;
  if (code === 'ETIMEDOUT' || code === 'WS_TIMEOUT') return `${prefix}: timed out`;
  if (code === 'WS_INVALID_STATUS' && e.response) {
    return `${prefix}: server answered HTTP ${e.response.status}${e.response.statusText ? ' ' + e.response.statusText : ''} instead of 101`;
  }
  if (typeof code === 'string' && (code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('UNABLE_TO') || code === 'SELF_SIGNED_CERT_IN_CHAIN')) {
    return `${prefix}: TLS error: ${e.message} (use --ca FILE to trust a certificate, or --insecure)`;
  }
  // OpenSSL's own text ("write EPROTO 80FC...:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:...") in words.
  const openssl = /SSL routines:[^:]*:([^:]+)/.exec(e?.message ?? '');
  if (code === 'EPROTO' || code?.startsWith('ERR_SSL') || openssl !== null) {
    const reason = openssl?.[1] ?? e.message.split('\n')[0];
    if (/wrong version number|packet length too long|http request/i.test(reason!)) {
      return `${prefix}: TLS handshake failed: the server does not speak TLS on this port (for a plain server use ws:// instead of wss://)`;
    }
    return `${prefix}: TLS handshake failed: ${reason}`;
  }
  const message = e instanceof Error ? e.message : String(error);
  return `${prefix}: ${message.split('\n')[0]}`;
}
