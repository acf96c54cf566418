// Pure helpers of the console page (no DOM): also imported by the Node tests.

/** Close codes in words (RFC 6455 §7.4.1, IANA registry, and SensorServer's 4001–4009). */
export const CLOSE_WORDS = {
  1000: 'normal closure',
  1001: 'going away (server shutting down or page navigated away)',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status code in the close frame',
  1006: 'abnormal closure: the connection dropped or could not be opened (browsers hide the cause)',
  1007: 'invalid payload data (e.g. bad UTF-8)',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'a required extension was not negotiated',
  1011: 'internal server error',
  1012: 'service restart',
  1013: 'try again later',
  1014: 'bad gateway',
  1015: 'TLS handshake failed',
  4001: 'SensorServer: sensor not found',
  4002: 'SensorServer: unsupported request (unknown path)',
  4003: 'SensorServer: parameter missing',
  4004: 'SensorServer: server stopped',
  4005: "SensorServer: closed by the app's user",
  4006: 'SensorServer: invalid JSON array',
  4007: 'SensorServer: too few sensors (need at least two)',
  4008: 'SensorServer: no sensor specified',
  4009: 'SensorServer: permission denied',
};

/** "1000 normal closure — "bye"" for a close code and reason. */
export function describeClose(code, reason = '') {
  let words = CLOSE_WORDS[code];
  if (words === undefined) {
    if (code >= 4000 && code <= 4999) words = 'private-use code (defined by the application)';
    else if (code >= 3000 && code <= 3999) words = 'registered code (libraries and frameworks)';
    else words = 'unknown code';
  }
  return `${code} ${words}${reason ? ` — “${reason}”` : ''}`;
}

/** Text explaining the mixed-content rule. */
export const MIXED_CONTENT =
  'This page was loaded over https://, so the browser refuses ws:// connections (mixed content) before anything ' +
  'reaches the network. Use a wss:// URL (the server needs TLS), or open this console over http:// — ' +
  '`wskit console` serves it at http://127.0.0.1:8766/.';

/**
 * Checks a URL typed by the user before the browser sees it.
 * Returns { url, note? } or { error }.
 */
export function checkUrl(input, pageProtocol = 'http:') {
  const text = String(input ?? '').trim();
  if (text === '') return { error: 'Enter a WebSocket URL, for example ws://127.0.0.1:8765.' };
  const invalid = (hint = '') =>
    ({ error: `“${text}” is not a valid URL. A WebSocket URL looks like ws://host:port/path or wss://host/path.${hint}` });
  // "localhost:8765" parses as a URL with the scheme "localhost:": catch a missing scheme first.
  if (/^(\[[0-9a-f:.]+\]|[\w.-]+)(:\d+)?([/?]|$)/i.test(text) && !/^(wss?|https?):/i.test(text)) return invalid(` Did you mean ws://${text}?`);
  let url;
  try {
    url = new URL(text);
  } catch {
    return invalid();
  }
  let note;
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    const scheme = url.protocol === 'http:' ? 'ws:' : 'wss:';
    note = `Using ${scheme}// for ${url.protocol}// (WebSocket URLs start with ws:// or wss://).`;
    url = new URL(scheme + text.slice(url.protocol.length));
  } else if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    return { error: `Unsupported scheme “${url.protocol}”: a WebSocket URL starts with ws:// or wss://.` };
  }
  if (url.hash !== '' || text.includes('#')) return { error: 'A WebSocket URL cannot contain a #fragment.' };
  if (url.hostname === '') return { error: 'The URL has no host name.' };
  if (pageProtocol === 'https:' && url.protocol === 'ws:') return { error: MIXED_CONTENT };
  return note ? { url: url.href, note } : { url: url.href };
}

/** Splits a subprotocol field ("chat, superchat") into tokens; { error } on an invalid token. */
export function parseProtocols(text) {
  const list = String(text ?? '').split(/[\s,]+/).filter(Boolean);
  const bad = list.find((p) => !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(p));
  if (bad !== undefined) return { error: `“${bad}” is not a valid subprotocol name (letters, digits and !#$%&'*+-.^_\`|~ only).` };
  if (new Set(list).size !== list.length) return { error: 'A subprotocol is listed twice.' };
  return { protocols: list };
}

/** Parses hex such as "48 65 6c", "0x48,0x65" or "48656c"; { bytes } or { error }. */
export function parseHex(text) {
  const cleaned = String(text ?? '').replace(/0x/gi, '').replace(/[\s,:;-]+/g, '');
  if (cleaned === '') return { bytes: new Uint8Array(0) };
  const bad = cleaned.search(/[^0-9a-f]/i);
  if (bad !== -1) return { error: `“${cleaned[bad]}” is not a hex digit (use 0-9 and a-f, e.g. 48 65 6c 6c 6f).` };
  if (cleaned.length % 2 !== 0) return { error: `Odd number of hex digits (${cleaned.length}): each byte needs two.` };
  const bytes = new Uint8Array(cleaned.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(cleaned.slice(2 * i, 2 * i + 2), 16);
  return { bytes };
}

/** Validates JSON and reports where it breaks: { value } or { error }. */
export function checkJson(text) {
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    const message = String(error?.message ?? error);
    const match = /position (\d+)/.exec(message);
    if (match) {
      const pos = Number(match[1]);
      const before = text.slice(0, pos);
      const line = before.split('\n').length;
      const column = pos - before.lastIndexOf('\n');
      return { error: `Invalid JSON at line ${line}, column ${column}: ${message.replace(/ in JSON at position \d+.*$/, '')}.` };
    }
    return { error: `Invalid JSON: ${message}` };
  }
}

/** If `text` is a JSON object or array, its parsed value; else undefined. */
export function jsonOf(text) {
  const t = text.trimStart();
  if (!(t.startsWith('{') || t.startsWith('['))) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A hex dump (offset, 16 bytes, ASCII), at most `max` bytes. */
export function hexDump(bytes, max = 1024) {
  const lines = [];
  const n = Math.min(bytes.length, max);
  for (let off = 0; off < n; off += 16) {
    const row = bytes.subarray(off, Math.min(off + 16, n));
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(6, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  if (bytes.length > n) lines.push(`… ${bytes.length - n} more bytes`);
  return lines.join('\n');
}

/** "512 B", "1.5 KiB", "2.0 MiB". */
export function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** UTF-8 length of a string. */
export function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}
