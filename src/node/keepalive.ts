import { InvalidState } from '../errors.js';

/** What keepalive needs from its connection: methods, not closures (memory per idle connection). */
export interface KeepaliveHost {
  /** Whether the connection is open, so a ping may be sent. */
  keepaliveOpen(): boolean;
  /** Writes a ping frame. */
  sendPingFrame(payload: Buffer): void;
  /** No pong came within the timeout: the host drops the connection. */
  keepaliveTimedOut(): void;
}

interface PendingPing {
  payload: Buffer;
  sentAt: number;
  resolve: (rtt: number) => void;
  reject: (error: Error) => void;
}

/**
 * Ping/pong tracking of one connection: `ping()` promises answered by pongs,
 * and the keepalive loop (a ping every `interval` ms, the connection dropped
 * when its pong takes longer than `timeout` ms).
 */
export class Keepalive {
  private readonly host: KeepaliveHost;
  private readonly interval: number | null;
  private readonly timeout: number | null;
  private timer: NodeJS.Timeout | null = null;
  private pings: PendingPing[] | null = null;

  constructor(host: KeepaliveHost, interval: number | null, timeout: number | null) {
    this.host = host;
    this.interval = interval;
    this.timeout = timeout;
  }

  /** Arms the next keepalive ping (nothing if the interval is null or 0). */
  start(): void {
    if (this.interval === null || this.interval <= 0) return;
    this.timer = setTimeout(onKeepalive, this.interval, this);
    this.timer.unref();
  }

  /**
   * Sends a ping with `payload` and resolves with the round-trip time in ms
   * when its pong (or a later ping's) arrives.
   */
  ping(payload: Buffer): Promise<number> {
    const pings = (this.pings ??= []);
    if (pings.some((p) => p.payload.equals(payload))) {
      return Promise.reject(new InvalidState('a ping with the same payload is already waiting for its pong'));
    }
    return new Promise((resolve, reject) => {
      pings.push({ payload, sentAt: performance.now(), resolve, reject });
      this.host.sendPingFrame(payload);
    });
  }

  /**
   * A pong arrived: answers its ping and every earlier one (RFC 6455 §5.5.3).
   * Returns the round-trip time of the ping it answers, or -1 if it answers none.
   */
  pong(payload: Buffer): number {
    const pings = this.pings;
    if (pings === null) return -1;
    const index = pings.findIndex((p) => p.payload.equals(payload));
    if (index === -1) return -1;
    const now = performance.now();
    const answered = pings.splice(0, index + 1);
    if (pings.length === 0) this.pings = null;
    for (const ping of answered) ping.resolve(now - ping.sentAt);
    return now - answered[answered.length - 1]!.sentAt;
  }

  /** The connection closed: no more keepalive, waiting pings reject with `error`. */
  stop(error: Error): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const pings = this.pings;
    this.pings = null;
    if (pings !== null) for (const ping of pings) ping.reject(error);
  }

  /** @internal Keepalive timer: ping, and drop the connection if no pong comes in time. */
  tick(): void {
    this.timer = null;
    if (!this.host.keepaliveOpen()) return;
    const payload = Buffer.allocUnsafe(4);
    globalThis.crypto.getRandomValues(payload);
    const ping = this.ping(payload);
    ping.catch(() => undefined);
    if (this.timeout !== null && this.timeout > 0) {
      const timer = setTimeout(onPingTimeout, this.timeout, this.host);
      timer.unref();
      ping.then(
        () => {
          clearTimeout(timer);
          this.start();
        },
        () => clearTimeout(timer),
      );
    } else {
      this.start();
    }
  }
}

function onKeepalive(keepalive: Keepalive): void {
  keepalive.tick();
}
function onPingTimeout(host: KeepaliveHost): void {
  host.keepaliveTimedOut();
}
