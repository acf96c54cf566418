import type { Duplex } from 'node:stream';

/**
 * Sockets still in the opening handshake, each destroyed if its handshake is
 * not over within `timeout` ms. One coarse timer sweeps them all instead of a
 * `Timeout` set and cleared per socket (handshakes per second): a socket is
 * dropped between `timeout` and `timeout` plus one sweep period (a quarter of
 * the timeout, at most one second) after it was added.
 */
export class PendingHandshakes {
  // Deadlines in insertion order, which is deadline order: every socket gets the same timeout.
  private readonly deadlines = new Map<Duplex, number>();
  private readonly timeout: number;
  private readonly period: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(timeout: number) {
    this.timeout = timeout;
    this.period = Math.max(1, Math.min(1000, Math.ceil(timeout / 4)));
  }

  /** Handshakes in progress. */
  get size(): number {
    return this.deadlines.size;
  }

  /** Starts the clock of `socket`'s handshake. */
  add(socket: Duplex): void {
    this.deadlines.set(socket, Date.now() + this.timeout);
    if (this.timer === null) {
      this.timer = setInterval(sweep, this.period, this);
      this.timer.unref();
    }
  }

  /** The handshake of `socket` is over (upgraded, refused or closed); false if it was not pending. */
  delete(socket: Duplex): boolean {
    return this.deadlines.delete(socket);
  }

  /** Destroys every pending socket (server closing). */
  destroyAll(): void {
    for (const socket of this.deadlines.keys()) socket.destroy();
    this.deadlines.clear();
    this.stop();
  }

  /** @internal Destroys the sockets whose deadline has passed. */
  sweep(): void {
    const now = Date.now();
    for (const [socket, deadline] of this.deadlines) {
      if (deadline > now) break;
      this.deadlines.delete(socket);
      socket.destroy();
    }
    if (this.deadlines.size === 0) this.stop();
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

function sweep(pending: PendingHandshakes): void {
  pending.sweep();
}
