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
  /** Null for the keepalive loop's own ping, which no caller awaits. */
  resolve: ((rtt: number) => void) | null;
  reject: ((error: Error) => void) | null;
}

const IDLE = 0;
const AWAITING_INTERVAL = 1;
const AWAITING_PONG = 2;

/**
 * Ping/pong tracking of one connection: `ping()` promises answered by pongs,
 * and the keepalive loop (a ping every `interval` ms, the connection dropped
 * when its pong takes longer than `timeout` ms).
 *
 * The loop's waits are entries in shared {@link TimerList}s, not a timer per
 * connection: an idle connection costs a few fields instead of a Timeout
 * object, its arguments array and a place in Node's timer lists.
 */
export class Keepalive {
  private readonly host: KeepaliveHost;
  private readonly interval: number | null;
  private readonly timeout: number | null;
  private pings: PendingPing[] | null = null;
  private state = IDLE;
  /** @internal Position in a TimerList: when the wait ends (performance.now() ms) and neighbours. */
  due = 0;
  /** @internal */
  prev: Keepalive | null = null;
  /** @internal */
  next: Keepalive | null = null;
  /** @internal */
  list: TimerList | null = null;

  constructor(host: KeepaliveHost, interval: number | null, timeout: number | null) {
    this.host = host;
    this.interval = interval;
    this.timeout = timeout;
  }

  /** Arms the next keepalive ping (nothing if the interval is null or 0). */
  start(): void {
    if (this.interval === null || this.interval <= 0) return;
    this.wait(AWAITING_INTERVAL, this.interval);
  }

  /**
   * Sends a ping with `payload` and resolves with the round-trip time in ms
   * when its pong (or a later ping's) arrives.
   */
  ping(payload: Buffer): Promise<number> {
    if (this.isWaiting(payload)) {
      return Promise.reject(new InvalidState('a ping with the same payload is already waiting for its pong'));
    }
    return new Promise((resolve, reject) => {
      (this.pings ??= []).push({ payload, sentAt: performance.now(), resolve, reject });
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
    for (const ping of answered) {
      if (ping.resolve !== null) ping.resolve(now - ping.sentAt);
      else if (this.state === AWAITING_PONG) this.start();
    }
    return now - answered[answered.length - 1]!.sentAt;
  }

  /** The connection closed: no more keepalive, waiting pings reject with `error`. */
  stop(error: Error): void {
    this.list?.remove(this);
    this.state = IDLE;
    const pings = this.pings;
    this.pings = null;
    if (pings !== null) for (const ping of pings) ping.reject?.(error);
  }

  private isWaiting(payload: Buffer): boolean {
    return this.pings !== null && this.pings.some((p) => p.payload.equals(payload));
  }

  private wait(state: number, ms: number): void {
    this.list?.remove(this);
    this.state = state;
    TimerList.of(ms).add(this);
  }

  /** @internal A wait ended: ping, or drop the connection whose pong is overdue. */
  expired(): void {
    const state = this.state;
    this.state = IDLE;
    if (state === AWAITING_PONG) {
      this.host.keepaliveTimedOut();
      return;
    }
    if (state !== AWAITING_INTERVAL || !this.host.keepaliveOpen()) return;
    const payload = Buffer.allocUnsafe(4);
    globalThis.crypto.getRandomValues(payload);
    if (this.isWaiting(payload)) {
      // An application ping already uses these 4 random bytes: try again next interval.
      this.start();
      return;
    }
    (this.pings ??= []).push({ payload, sentAt: performance.now(), resolve: null, reject: null });
    this.host.sendPingFrame(payload);
    if (this.timeout !== null && this.timeout > 0) this.wait(AWAITING_PONG, this.timeout);
    else this.start();
  }
}

/**
 * Keepalives waiting for the same duration. Each joins at the tail with
 * `due = now + duration`, so the list is in due order and one timer, armed
 * for the head, serves them all; adding and removing are O(1).
 */
class TimerList {
  private static readonly lists = new Map<number, TimerList>();
  private readonly duration: number;
  private head: Keepalive | null = null;
  private tail: Keepalive | null = null;
  private timer: NodeJS.Timeout | null = null;

  private constructor(duration: number) {
    this.duration = duration;
  }

  static of(duration: number): TimerList {
    let list = TimerList.lists.get(duration);
    if (list === undefined) {
      list = new TimerList(duration);
      TimerList.lists.set(duration, list);
    }
    return list;
  }

  add(entry: Keepalive): void {
    entry.due = performance.now() + this.duration;
    entry.list = this;
    entry.prev = this.tail;
    entry.next = null;
    if (this.tail === null) this.head = entry;
    else this.tail.next = entry;
    this.tail = entry;
    // Armed for the head, not for `duration`: an entry re-added while fire() runs (a ping's pong wait when
    // pingTimeout equals pingInterval) must not push the timer past the entries still due after it.
    if (this.timer === null) this.arm(this.head!.due - performance.now());
  }

  remove(entry: Keepalive): void {
    if (entry.prev === null) this.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === null) this.tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = entry.next = entry.list = null;
    // An emptied list lets its timer go; a timer armed for a removed head just re-arms when it fires.
    if (this.head === null) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      TimerList.lists.delete(this.duration);
    }
  }

  private arm(ms: number): void {
    this.timer = setTimeout(onTimerList, Math.max(1, Math.ceil(ms)), this);
    this.timer.unref();
  }

  /** @internal */
  fire(): void {
    this.timer = null;
    // Node's timer clock counts whole milliseconds: an entry due within the next one is due now.
    const now = performance.now() + 1;
    let entry = this.head;
    while (entry !== null && entry.due <= now) {
      this.remove(entry);
      entry.expired();
      entry = this.head;
    }
    if (this.head !== null && this.timer === null) this.arm(this.head.due - performance.now());
  }
}

function onTimerList(list: TimerList): void {
  list.fire();
}
