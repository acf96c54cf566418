/**
 * Admission control at TCP accept: how many connections may be in the
 * handshake at once (slowloris), open in total, open per client IP, and
 * opened per IP per time window. Counting starts when the socket is accepted
 * and ends when it closes, so a handshake in progress counts too.
 */

/** Limits on incoming connections. */
export interface AdmissionLimits {
  /** Most connections still in the opening handshake; more are dropped at once. Default 1,024. */
  maxPendingHandshakes?: number;
  /** Most open connections (503 beyond). Default unlimited. */
  maxConnections?: number;
  /** Most open connections per client IP (429 beyond). Default unlimited: behind a proxy, every client shares one IP. */
  maxConnectionsPerIp?: number;
  /** Most new connections per client IP within `intervalMs` (429 beyond). Default unlimited. */
  connectionRate?: { perIp: number; intervalMs: number };
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
  readonly refused = { pending: 0, total: 0, perIp: 0, rate: 0 };

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
   * or says why it is refused (then nothing is counted).
   */
  admit(ip: string, pending: number, now = Date.now()): Refusal | null {
    const { maxPendingHandshakes = 1024, maxConnections, maxConnectionsPerIp, connectionRate } = this.limits;
    if (pending >= maxPendingHandshakes) {
      this.refused.pending++;
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
