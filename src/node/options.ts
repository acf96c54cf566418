/**
 * Numeric options, checked by one rule each: the library's options (numbers,
 * at `serve()`, `attach()` and `connect()`) and the `wskit` flags (text with
 * units such as `64k` or `500ms`) go through the same {@link checkNumber}, so
 * `maxMessageSize: NaN` and `--max-size abc` are refused the same way instead
 * of silently removing a limit.
 */

/** What a number measures; it decides which suffixes a text value may carry. */
export type NumberUnit = 'bytes' | 'ms' | 'seconds' | 'count';

/** How one numeric option is checked. */
export interface NumberRule {
  /** Smallest value accepted. Default 0. */
  min?: number;
  /** Largest value accepted. Default `Number.MAX_SAFE_INTEGER`. */
  max?: number;
  /** Only whole numbers. */
  integer?: boolean;
  /** Above `min` strictly (a rate or a speed of 0 makes no sense). */
  positive?: boolean;
  /** What it measures: `bytes` accepts `64k`, `1M`, `1G` (powers of 1024); `ms` and `seconds` accept `500ms`, `2s`, `5m`, `1h`; `count` accepts `10k`, `1M` (powers of 1000). */
  unit?: NumberUnit;
  /** `Infinity` is accepted (meaning no limit). */
  infinite?: boolean;
  /** Text is accepted and parsed (command-line flags); the library takes numbers only. */
  text?: boolean;
}

const BYTE_SUFFIXES: Record<string, number> = { b: 1, k: 1024, kb: 1024, kib: 1024, m: 1 << 20, mb: 1 << 20, mib: 1 << 20, g: 1 << 30, gb: 1 << 30, gib: 1 << 30 };
const COUNT_SUFFIXES: Record<string, number> = { k: 1e3, m: 1e6 };
const SECOND_SUFFIXES: Record<string, number> = { ms: 1e-3, s: 1, m: 60, h: 3600 };
const NUMBER = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]*)$/i;

/** The suffixes allowed for `unit`, as multipliers of the plain value. */
function suffixes(unit: NumberUnit | undefined): Record<string, number> {
  switch (unit) {
    case 'bytes':
      return BYTE_SUFFIXES;
    case 'count':
      return COUNT_SUFFIXES;
    case 'seconds':
      return SECOND_SUFFIXES;
    case 'ms':
      return { ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };
    default:
      return {};
  }
}

/** What a valid value looks like, for error messages: `an integer from 1 to 65535`, `a size in bytes (65536, 64k, 1M)`. */
export function describeRule(rule: NumberRule): string {
  const min = rule.min ?? 0;
  const max = rule.max ?? Number.MAX_SAFE_INTEGER;
  const kind = rule.integer ? 'an integer' : 'a number';
  const above = rule.positive ? `> ${min}` : `≥ ${min}`;
  const range = max >= Number.MAX_SAFE_INTEGER ? ` ${above}` : rule.positive ? ` ${above} and ≤ ${max}` : ` from ${min} to ${max}`;
  if (!rule.text) return kind + range;
  switch (rule.unit) {
    case 'bytes':
      return `a size in bytes${range} (e.g. 65536, 64k, 1M)`;
    case 'seconds':
      return `a duration in seconds${range} (e.g. 10, 0.5, 500ms, 2m)`;
    case 'ms':
      return `a duration in ms${range} (e.g. 500, 2s)`;
    case 'count':
      return `${kind}${range} (e.g. 100, 10k)`;
    default:
      return kind + range;
  }
}

/**
 * Checks one numeric option and returns its value: a number, or (with
 * `rule.text`) a decimal number with an optional unit suffix. Throws a
 * `TypeError` for anything that is not a number (or text when allowed), a
 * `RangeError` for NaN, an infinity not allowed, a fraction where an integer
 * is needed, or a value out of range; the message names the option.
 */
export function checkNumber(name: string, value: unknown, rule: NumberRule = {}): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && rule.text) {
    const match = NUMBER.exec(value.trim());
    const multiplier = match === null ? undefined : match[2] === '' ? 1 : suffixes(rule.unit)[match[2]!.toLowerCase()];
    if (match === null || multiplier === undefined) throw new RangeError(`${name} must be ${describeRule(rule)}, got '${value}'`);
    // 1.5k is 1536 bytes; rounding keeps 0.1s * 1000 from becoming 100.00000000000001 ms.
    n = Number(match[1]) * multiplier;
    if (multiplier !== 1) n = Math.round(n * 1e9) / 1e9;
  } else {
    const shown = typeof value === 'string' ? `'${value}'` : typeof value;
    throw new TypeError(`${name} must be a number, got ${shown}`);
  }
  const min = rule.min ?? 0;
  const max = rule.max ?? Number.MAX_SAFE_INTEGER;
  const ok = Number.isNaN(n)
    ? false
    : n === Infinity
      ? rule.infinite === true
      : Number.isFinite(n) && (rule.positive ? n > min : n >= min) && n <= max && (!rule.integer || Number.isInteger(n));
  if (!ok) throw new RangeError(`${name} must be ${describeRule(rule)}${rule.infinite ? ' or Infinity' : ''}, got ${typeof value === 'string' ? `'${value}'` : String(n)}`);
  return n;
}

/** Checks `options[key]` when it is set (and not null where null is allowed); `prefix` names the parent option. */
function checkOptional(options: object | undefined, prefix: string, rules: Record<string, NumberRule & { nullable?: boolean }>): void {
  if (options === undefined || options === null) return;
  for (const [key, rule] of Object.entries(rules)) {
    const value = (options as Record<string, unknown>)[key];
    if (value === undefined || (value === null && rule.nullable)) continue;
    checkNumber(prefix + key, value, rule);
  }
}

const BYTES = { integer: true, unit: 'bytes' } as const;
const MS = { unit: 'ms' } as const;
const POSITIVE_COUNT = { integer: true, min: 1 } as const;

/** The numeric options shared by both sides (`ConnectionOptions`). */
const CONNECTION_RULES: Record<string, NumberRule & { nullable?: boolean }> = {
  maxMessageSize: BYTES,
  maxFragments: POSITIVE_COUNT,
  maxQueue: POSITIVE_COUNT,
  writeLimit: BYTES,
  backpressureLimit: BYTES,
  pingInterval: { ...MS, nullable: true },
  pingTimeout: { ...MS, nullable: true },
  closeTimeout: MS,
};

const HTTP_LIMIT_RULES = { maxLineLength: { ...BYTES, min: 1 }, maxHeaders: POSITIVE_COUNT, maxHeadSize: { ...BYTES, min: 1 } };

/**
 * Checks every numeric option of `serve()` / `attach()`; throws TypeError or
 * RangeError naming the first bad one. (permessage-deflate's numbers are
 * checked where the compression settings are built.)
 */
export function checkServerOptions(options: object): void {
  const o = options as Record<string, unknown>;
  checkOptional(o, '', {
    ...CONNECTION_RULES,
    port: { integer: true, max: 65535 },
    handshakeTimeout: { ...MS, min: 1 },
    maxPendingHandshakes: POSITIVE_COUNT,
    maxPendingHandshakesPerIp: POSITIVE_COUNT,
    maxConnections: { integer: true },
    maxConnectionsPerIp: { integer: true },
  });
  checkOptional(o.connectionRate as object | undefined, 'connectionRate.', { perIp: { integer: true }, intervalMs: { ...MS, min: 1 } });
  checkOptional(o.httpLimits as object | undefined, 'httpLimits.', HTTP_LIMIT_RULES);
  checkOptional(o.broadcast as object | undefined, 'broadcast.', { maxBuffered: BYTES });
  if (typeof o.http2 === 'object') checkOptional(o.http2 as object, 'http2.', HTTP2_RULES);
}

// SETTINGS_MAX_CONCURRENT_STREAMS is a 32-bit value (RFC 9113 §6.5.2).
const HTTP2_RULES = {
  maxStreamsPerSession: { ...POSITIVE_COUNT, max: 2 ** 32 - 1 },
  maxStreams: POSITIVE_COUNT,
  maxResets: POSITIVE_COUNT,
  resetWindow: { ...MS, min: 1 },
  maxInvalidFrames: { integer: true },
};

/** Checks every numeric option of `connect()`; throws TypeError or RangeError naming the first bad one. */
export function checkConnectOptions(options: object): void {
  const o = options as Record<string, unknown>;
  checkOptional(o, '', { ...CONNECTION_RULES, openTimeout: { ...MS, min: 1 } });
  checkOptional(o.httpLimits as object | undefined, 'httpLimits.', HTTP_LIMIT_RULES);
  if (typeof o.reconnect === 'object') {
    checkOptional(o.reconnect as object, 'reconnect.', {
      initialDelay: MS,
      factor: { min: 1 },
      maxDelay: MS,
      maxAttempts: { integer: true, min: 1, infinite: true },
      minUptime: MS,
    });
  }
}
