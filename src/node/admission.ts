/**
 * Admission control at TCP accept: how many connections may be in the
 * handshake at once (slowloris), and how much of that budget one address may
 * take; how many may be open in total, open per client IP, and opened per IP
 * per time window. Counting starts when the socket is accepted and ends when
 * it closes, so a handshake in progress counts too.
 */

/** Limits on incoming connections. */
export interface AdmissionLimits {
  /** Most connections still in the opening handshake; more are dropped at once. Default 1,024. */
  maxPendingHandshakes?: number;
  /**
   * One address's share of `maxPendingHandshakes`: once half of that budget is in use, an address that already has
   * this many handshakes in progress is dropped at accept. One address (silent sockets, slowloris) then holds at most
   * half the budget (or this many, if more) and cannot lock every other client out, while a burst from one address
   * on a quiet server (a load test, a reverse proxy) is not limited. IPv6 clients count by their /64 prefix (one
   * subscriber's allocation). Default 64.
   */
  maxPendingHandshakesPerIp?: number;
  /** Most open connections (503 beyond). Default unlimited. */
  maxConnections?: number;
  /** Most open connections per client IP (429 beyond). Default unlimited: behind a proxy, every client shares one IP. */
  maxConnectionsPerIp?: number;
  /** Most new connections per client IP within `intervalMs` (429 beyond). Default unlimited. */
  connectionRate?: { perIp: number; intervalMs: number };
}

/** Default {@link AdmissionLimits.maxPendingHandshakes}. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 1024;
/** Default {@link AdmissionLimits.maxPendingHandshakesPerIp}. */
export const DEFAULT_MAX_PENDING_HANDSHAKES_PER_IP = 64;

/**
 * What counts as one client address for the per-address share of the
 * handshake budget: an IPv4 address (also when written IPv4-mapped,
 * `::ffff:192.0.2.1`), or the /64 prefix of an IPv6 address, since one
 * subscriber is routinely given a whole /64 (RFC 6177 §3) and could otherwise
 * use a fresh address for every socket.
 */
export function addressKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  if (ip.startsWith('::ffff:') && ip.includes('.')) return ip.slice(7);
  const zone = ip.indexOf('%');
  const bare = zone === -1 ? ip : ip.slice(0, zone);
  const gap = bare.indexOf('::');
  const split = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const left = split(gap === -1 ? bare : bare.slice(0, gap));
  const right = gap === -1 ? [] : split(bare.slice(gap + 2));
  // RFC 4291 §2.2: '::' stands for as many zero groups as make eight; a trailing dotted IPv4 part is two groups.
  const missing = 8 - left.length - right.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const groups = [...left, ...Array<string>(Math.max(0, missing)).fill('0'), ...right].slice(0, 4);
  return `${groups.map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}

/** Why a connection was refused: an HTTP status and a message, or `drop` to close without a reply. */
export type Refusal = { status: 429 | 503; message: string } | 'drop';

interface RateWindow {
  start: number;
  count: number;
}

/** Tracks connections against {@link AdmissionLimits}. */
export class Admission {
  private readonly limits: AdmissionLimits;
  private readonly open = new Map<string, number>();
  private readonly rates = new Map<string, RateWindow>();
  private total = 0;
  /** Connections refused so far, by reason. */
  readonly refused = { pending: 0, pendingPerIp: 0, total: 0, perIp: 0, rate: 0 };

  constructor(limits: AdmissionLimits = {}) {
    this.limits = limits;
  }

  /** Whether any limit beyond the pending-handshake cap is set (else nothing needs counting). */
  get counting(): boolean {
    const { maxConnections, maxConnectionsPerIp, connectionRate } = this.limits;
    return maxConnections !== undefined || maxConnectionsPerIp !== undefined || connectionRate !== undefined;
  }

  /**
   * Counts a new connection from `ip` given `pending` handshakes in progress,
   * `pendingFromIp` of them from its address (see {@link addressKey}), or says
   * why it is refused (then nothing is counted).
   */
  admit(ip: string, pending: number, pendingFromIp: number, now = Date.now()): Refusal | null {
    const { maxPendingHandshakes = DEFAULT_MAX_PENDING_HANDSHAKES, maxConnections, maxConnectionsPerIp, connectionRate } = this.limits;
    const perIp = this.limits.maxPendingHandshakesPerIp ?? DEFAULT_MAX_PENDING_HANDSHAKES_PER_IP;
    if (pending >= maxPendingHandshakes) {
      this.refused.pending++;
      return 'drop';
    }
    if (pendingFromIp >= perIp && pending * 2 >= maxPendingHandshakes) {
      this.refused.pendingPerIp++;
      return 'drop';
    }
    if (maxConnections !== undefined && this.total >= maxConnections) {
      this.refused.total++;
      return { status: 503, message: 'too many connections' };
    }
    const openFromIp = this.open.get(ip) ?? 0;
    if (maxConnectionsPerIp !== undefined && openFromIp >= maxConnectionsPerIp) {
      this.refused.perIp++;
      return { status: 429, message: 'too many connections from this address' };
    }
    if (connectionRate !== undefined) {
      let window = this.rates.get(ip);
      if (window === undefined || now - window.start >= connectionRate.intervalMs) {
        if (this.rates.size > 10_000) this.sweep(now, connectionRate.intervalMs);
        window = { start: now, count: 0 };
        this.rates.set(ip, window);
      }
      if (window.count >= connectionRate.perIp) {
        this.refused.rate++;
        return { status: 429, message: 'too many new connections from this address' };
      }
      window.count++;
    }
    if (this.counting) {
      this.open.set(ip, openFromIp + 1);
      this.total++;
    }
    return null;
  }

  /** The connection from `ip` closed. */
  release(ip: string): void {
    this.total--;
    const count = (this.open.get(ip) ?? 1) - 1;
    if (count <= 0) this.open.delete(ip);
    else this.open.set(ip, count);
  }

  /** Number of connections counted (handshaking or open). */
  get connections(): number {
    return this.total;
  }

  // Rate windows of many distinct IPs would otherwise accumulate forever.
  private sweep(now: number, intervalMs: number): void {
    for (const [ip, window] of this.rates) if (now - window.start >= intervalMs) this.rates.delete(ip);
  }
}
