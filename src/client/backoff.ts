/**
 * When to reconnect: exponential backoff with full jitter, shared by the Node
 * and browser clients. Pure logic: no timers, no I/O, randomness injectable.
 */
import type { CloseInfo } from '../errors.js';

/** How a client retries; every field has a default (see {@link RECONNECT_DEFAULTS}). */
export interface ReconnectOptions {
  /** Upper bound of the first random delay, in ms (RFC 6455 §7.2.3 suggests 0–5 s). Default 5,000. */
  initialDelay?: number;
  /** Growth of the delay bound per consecutive failure. Default 1.618 (Python websockets). */
  factor?: number;
  /** Cap of the delay bound, in ms. Default 90,000 (Python websockets). */
  maxDelay?: number;
  /** Consecutive failed attempts before giving up (the last error is raised). Default Infinity. */
  maxAttempts?: number;
  /** A connection that stayed open this long, in ms, resets the backoff (partysocket's minUptime). Default 5,000. */
  minUptime?: number;
  /** Decides whether an opening error is worth retrying. Default {@link isRetryable}. */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** Called before each reconnection attempt with its number (1, 2, ...), the delay in ms, and why. */
  onRetry?: (attempt: number, delay: number, reason: unknown) => void;
  /** Source of randomness in [0, 1) (tests pass a fixed one). Default Math.random. */
  random?: () => number;
}

/** The defaults of {@link ReconnectOptions}. */
export const RECONNECT_DEFAULTS = {
  initialDelay: 5_000,
  factor: 1.618,
  maxDelay: 90_000,
  maxAttempts: Infinity,
  minUptime: 5_000,
} as const;

/** HTTP statuses worth retrying: timeouts, rate limiting and server-side trouble (Python websockets retries 500–504). */
const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Handshake failures a retry can fix: the peer went away or was too slow. */
const RETRY_HANDSHAKE_CODES = new Set(['WS_HANDSHAKE_EOF', 'WS_HANDSHAKE_FAILED', 'WS_TIMEOUT']);

/**
 * The default retry policy. Retries network errors (ECONNREFUSED, ECONNRESET,
 * ENOTFOUND, ...), timeouts, a connection dropped during the handshake and
 * HTTP 408/425/429/5xx; not an invalid URL, another HTTP status (401, 403,
 * 404, a proxy's 407), a failed negotiation, a certificate that does not
 * verify, or a programming error: retrying cannot fix those.
 */
export function isRetryable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, response } = error as { code?: unknown; response?: { status?: unknown } };
  if (typeof response?.status === 'number') return RETRY_STATUSES.has(response.status);
  if (typeof code !== 'string') return false;
  if (RETRY_HANDSHAKE_CODES.has(code)) return true;
  // Node system errors (errno names). TLS verification failures have other names
  // (CERT_HAS_EXPIRED, DEPTH_ZERO_SELF_SIGNED_CERT, ERR_TLS_CERT_ALTNAME_INVALID).
  return /^E[A-Z0-9]+$/.test(code) || code.startsWith('EAI_');
}

/** The bound of the random delay after `level` consecutive failures: min(maxDelay, initialDelay × factor^level). */
export function backoffBound(level: number, options: ReconnectOptions = {}): number {
  const initial = options.initialDelay ?? RECONNECT_DEFAULTS.initialDelay;
  const factor = options.factor ?? RECONNECT_DEFAULTS.factor;
  const max = options.maxDelay ?? RECONNECT_DEFAULTS.maxDelay;
  return Math.min(max, initial * factor ** level);
}

/** A full-jitter delay (AWS architecture blog, "Exponential Backoff and Jitter"): uniform in [0, bound). */
export function backoffDelay(level: number, options: ReconnectOptions = {}): number {
  return Math.floor((options.random ?? Math.random)() * backoffBound(level, options));
}

/**
 * The state of one client's reconnection: how many attempts failed in a row
 * and how long the last connection lasted. Each method returns the delay
 * before the next attempt, or null to give up.
 */
export class ReconnectSchedule {
  /** Consecutive failed attempts since the last successful open (compared with maxAttempts). */
  failures = 0;
  /** Reconnection attempts made since the last successful open. */
  attempt = 0;
  private level = 0;
  private openedAt = 0;

  constructor(
    readonly options: ReconnectOptions = {},
    private readonly now: () => number = Date.now,
  ) {}

  /** An attempt to open failed with `error`: the delay before the next one, or null to give up. */
  failed(error: unknown): number | null {
    this.failures++;
    const shouldRetry = this.options.shouldRetry ?? isRetryable;
    if (this.failures >= (this.options.maxAttempts ?? RECONNECT_DEFAULTS.maxAttempts)) return null;
    if (!shouldRetry(error, this.failures)) return null;
    return this.next(error, backoffDelay(this.level++, this.options));
  }

  /** A connection opened. */
  opened(): void {
    this.failures = 0;
    this.attempt = 0;
    this.openedAt = this.now();
  }

  /** An open connection closed: the delay before reconnecting. */
  closed(info: CloseInfo, reason: unknown): number {
    const uptime = this.now() - this.openedAt;
    if (uptime >= (this.options.minUptime ?? RECONNECT_DEFAULTS.minUptime)) this.level = 0;
    // 1012 Service Restart: the server asked us to come back at once.
    if (info.code === 1012 && info.wasClean) return this.next(reason, 0);
    // RFC 6455 §7.2.3: after an abnormal closure, delay the first reconnection by a random amount.
    return this.next(reason, backoffDelay(this.level++, this.options));
  }

  private next(reason: unknown, delay: number): number {
    this.attempt++;
    this.options.onRetry?.(this.attempt, delay, reason);
    return delay;
  }
}
