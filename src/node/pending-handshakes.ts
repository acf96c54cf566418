import type { Duplex } from 'node:stream';

/** A handshake in progress: when it must be over, and the address (see {@link addressKey}) it came from. */
interface Pending {
  deadline: number;
  from: string;
}

/**
 * Sockets still in the opening handshake, each destroyed if its handshake is
 * not over within `timeout` ms. One coarse timer sweeps them all instead of a
 * `Timeout` set and cleared per socket (handshakes per second): a socket is
 * dropped between `timeout` and `timeout` plus one sweep period (a quarter of
 * the timeout, at most one second) after it was added. Handshakes are also
 * counted per client address, for the admission's per-address share.
 */
export class PendingHandshakes {
  // Insertion order is deadline order: every socket gets the same timeout.
  private readonly sockets = new Map<Duplex, Pending>();
  private readonly perAddress = new Map<string, number>();
  private readonly timeout: number;
  private readonly period: number;
  private timer: NodeJS.Timeout | null = null;
  private readonly onExpired: (() => void) | null;

  /** `onExpired` is told of each socket dropped for taking too long (the metrics count it). */
  constructor(timeout: number, onExpired: (() => void) | null = null) {
    this.timeout = timeout;
    this.onExpired = onExpired;
    this.period = Math.max(1, Math.min(1000, Math.ceil(timeout / 4)));
  }

  /** Handshakes in progress. */
  get size(): number {
    return this.sockets.size;
  }

  /** Handshakes in progress from address `from` (an {@link addressKey}). */
  from(from: string): number {
    return this.perAddress.get(from) ?? 0;
  }

  /** Starts the clock of `socket`'s handshake; `from` is its {@link addressKey}. */
  add(socket: Duplex, from: string): void {
    this.sockets.set(socket, { deadline: Date.now() + this.timeout, from });
    this.perAddress.set(from, this.from(from) + 1);
    if (this.timer === null) {
      this.timer = setInterval(sweep, this.period, this);
      this.timer.unref();
    }
  }

  /** The handshake of `socket` is over (upgraded, refused or closed); false if it was not pending. */
  delete(socket: Duplex): boolean {
    const pending = this.sockets.get(socket);
    if (pending === undefined) return false;
    this.sockets.delete(socket);
    this.forget(pending.from);
    return true;
  }

  /** Destroys every pending socket (server closing). */
  destroyAll(): void {
    for (const socket of this.sockets.keys()) socket.destroy();
    this.sockets.clear();
    this.perAddress.clear();
    this.stop();
  }

  /** @internal Destroys the sockets whose deadline has passed. */
  sweep(): void {
    const now = Date.now();
    for (const [socket, pending] of this.sockets) {
      if (pending.deadline > now) break;
      this.sockets.delete(socket);
      this.forget(pending.from);
      socket.destroy();
      this.onExpired?.();
    }
    if (this.sockets.size === 0) this.stop();
  }

  private forget(from: string): void {
    const left = this.from(from) - 1;
    if (left <= 0) this.perAddress.delete(from);
    else this.perAddress.set(from, left);
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

function sweep(pending: PendingHandshakes): void {
  pending.sweep();
}
