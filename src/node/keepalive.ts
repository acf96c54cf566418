import { InvalidState } from '../errors.js';

/** What keepalive needs from its connection: methods, not closures (memory per idle connection). */
export interface KeepaliveHost {
  /** Whether the connection is open, so a ping may be sent. */
  keepaliveOpen(): boolean;
  /**
   * Writes the keepalive loop's ping: `frame` is it encoded unmasked, shared by every connection pinged in the same
   * firing (what a server writes as is); `payload` is its application data (a client masks a frame of its own).
   */
  sendKeepalivePing(frame: Buffer, payload: Buffer): void;
  /** Writes an application's ping (`ws.ping()`). */
  sendPingFrame(payload: Buffer): void;
  /** No pong came within the timeout: the host drops the connection. */
  keepaliveTimedOut(): void;
}

/** An application's ping (`ws.ping()`) waiting for its pong. The keepalive loop's own ping is no object. */
interface PendingPing {
  payload: Buffer;
  sentAt: number;
  resolve: (rtt: number) => void;
  reject: (error: Error) => void;
}

/**
 * @internal The clock keepalive reads (monotonic ms). Replaceable so that unit tests can drive keepalive with
 * `mock.timers` (which mocks `setTimeout` and `Date`, not `performance`).
 */
export const keepaliveClock = { now: (): number => performance.now() };

const IDLE = 0;
const AWAITING_INTERVAL = 1;
const AWAITING_PONG = 2;

/** Keepalive pings carry a 4-byte tag: a 30-bit number (a small integer in V8, no heap number per connection). */
const TAG_BITS = 0x3fffffff;
let nextTag = Math.floor(Math.random() * TAG_BITS);

/**
 * The ping of one firing of a timer list: every connection whose interval ended in it sends the same payload, so
 * the payload and the frame are made once per firing, not per ping. RFC 6455 §5.5.2 lets a ping carry any
 * application data; the tag changes with every firing, so a pong is matched to the ping it answers (a stale or
 * replayed pong carries an older tag), and it differs from the 4 random bytes of `ws.ping()`'s default payload but
 * once in 2^30.
 */
class PingRound {
  readonly tag: number;
  readonly payload: Buffer;
  /** The ping unmasked (RFC 6455 §5.2: FIN, opcode 0x9, payload length 4), as a server sends it. */
  readonly frame: Buffer;

  constructor(tag: number) {
    this.tag = tag;
    this.frame = Buffer.from([0x89, 4, (tag >>> 24) & 0xff, (tag >>> 16) & 0xff, (tag >>> 8) & 0xff, tag & 0xff]);
    this.payload = this.frame.subarray(2);
  }
}

/** The round of the firing in progress, made by its first ping (null between firings). */
let round: PingRound | null = null;

function currentRound(): PingRound {
  if (round === null) {
    round = new PingRound(nextTag);
    nextTag = (nextTag + 1) & TAG_BITS;
  }
  return round;
}

/** Whether a pong's payload is a keepalive ping's with `tag`: 4 bytes, compared without a native call. */
function carriesTag(payload: Buffer, tag: number): boolean {
  return payload.length === 4 && ((payload[0]! << 24) | (payload[1]! << 16) | (payload[2]! << 8) | payload[3]!) === tag;
}

/**
 * Ping/pong tracking of one connection: `ping()` promises answered by pongs,
 * and the keepalive loop (a ping every `interval` ms, the connection dropped
 * when its pong takes longer than `timeout` ms).
 *
 * The loop's waits are entries in shared {@link TimerList}s, not a timer per
 * connection: an idle connection costs a few fields instead of a Timeout
 * object, its arguments array and a place in Node's timer lists. Its ping
 * costs no allocation either: the frame is the firing's {@link PingRound},
 * and what the pong is matched against is the round's tag, kept as a number.
 */
export class Keepalive {
  private readonly host: KeepaliveHost;
  private readonly interval: number | null;
  private readonly timeout: number | null;
  /** Application pings waiting for their pongs, oldest first. */
  private pings: PendingPing[] | null = null;
  private state = IDLE;
  /** The tag of the keepalive ping waiting for its pong, -1 if none. */
  private tag = -1;
  /**
   * @internal Position in a TimerList: when the wait ends (keepaliveClock ms) and neighbours. While a keepalive
   * ping waits for its pong, the wait began when the ping was written: `due` less the wait's duration is when it
   * was sent (see {@link pingSentAt}), so the ping needs no field of its own.
   */
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
    if (this.isWaiting(payload) || (this.tag >= 0 && carriesTag(payload, this.tag))) {
      return Promise.reject(new InvalidState('a ping with the same payload is already waiting for its pong'));
    }
    return new Promise((resolve, reject) => {
      (this.pings ??= []).push({ payload, sentAt: keepaliveClock.now(), resolve, reject });
      this.host.sendPingFrame(payload);
    });
  }

  /**
   * A pong arrived: answers its ping and every earlier one (RFC 6455 §5.5.3: "If an endpoint receives a Ping frame
   * and has not yet sent Pong frame(s) in response to previous Ping frame(s), the endpoint MAY elect to send a Pong
   * frame for only the most recently processed Ping frame").
   * Returns the round-trip time of the ping it answers, or -1 if it answers none.
   */
  pong(payload: Buffer): number {
    const now = keepaliveClock.now();
    if (this.tag >= 0 && carriesTag(payload, this.tag)) {
      const sentAt = this.pingSentAt();
      this.keepaliveAnswered();
      if (this.pings !== null) this.answerUpTo(this.sentBefore(sentAt), now);
      return now - sentAt;
    }
    const pings = this.pings;
    if (pings === null) return -1;
    let index = -1;
    for (let i = 0; i < pings.length; i++) {
      if (pings[i]!.payload.equals(payload)) {
        index = i;
        break;
      }
    }
    if (index === -1) return -1;
    const sentAt = pings[index]!.sentAt;
    // The keepalive ping, if it went out before this one, is answered too.
    if (this.tag >= 0 && this.pingSentAt() <= sentAt) this.keepaliveAnswered();
    this.answerUpTo(index + 1, now);
    return now - sentAt;
  }

  /** The connection closed: no more keepalive, waiting pings reject with `error`. */
  stop(error: Error): void {
    this.list?.remove(this);
    this.state = IDLE;
    this.tag = -1;
    const pings = this.pings;
    this.pings = null;
    if (pings !== null) for (const ping of pings) ping.reject(error);
  }

  private isWaiting(payload: Buffer): boolean {
    return this.pings !== null && this.pings.some((p) => p.payload.equals(payload));
  }

  /** When the waiting keepalive ping was written: its wait's start (see {@link due}). */
  private pingSentAt(): number {
    // Without a pong timeout the next interval's wait starts as the ping is written.
    return this.due - (this.state === AWAITING_PONG ? this.timeout! : this.interval!);
  }

  /** How many application pings went out at or before `sentAt` (they are in order). */
  private sentBefore(sentAt: number): number {
    const pings = this.pings!;
    let n = 0;
    while (n < pings.length && pings[n]!.sentAt <= sentAt) n++;
    return n;
  }

  /** Resolves the first `count` application pings with their round-trip times. */
  private answerUpTo(count: number, now: number): void {
    if (count === 0) return;
    const pings = this.pings!;
    const answered = pings.splice(0, count);
    if (pings.length === 0) this.pings = null;
    for (const ping of answered) ping.resolve(now - ping.sentAt);
  }

  /** The keepalive ping has its pong: the next one is due an interval from now. */
  private keepaliveAnswered(): void {
    this.tag = -1;
    if (this.state === AWAITING_PONG) this.start();
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
      this.tag = -1;
      this.host.keepaliveTimedOut();
      return;
    }
    if (state !== AWAITING_INTERVAL || !this.host.keepaliveOpen()) return;
    const ping = currentRound();
    if (this.isWaiting(ping.payload)) {
      // An application ping already uses this payload: try again next interval.
      this.start();
      return;
    }
    this.tag = ping.tag;
    this.host.sendKeepalivePing(ping.frame, ping.payload);
    // The wait starts now: its start is the ping's send time (pingSentAt).
    if (this.timeout !== null && this.timeout > 0) this.wait(AWAITING_PONG, this.timeout);
    else this.start();
  }
}

/** The coarsest a list's firings get, in ms: a ping or a timeout is at most this late. */
const MAX_GRANULARITY = 20;

/**
 * Keepalives waiting for the same duration. Each joins at the tail with
 * `due = now + duration`, so the list is in due order and one timer, armed
 * for the head, serves them all; adding and removing are O(1).
 *
 * After a firing the timer is armed no sooner than `duration / 1000` ms later (at most {@link MAX_GRANULARITY}):
 * connections whose waits end close together are handled in one firing, one timer and one ping frame for all of
 * them, instead of a firing per millisecond with one connection each. A wait ends that much late at most (20 ms on a
 * 20 s interval), and never more than 1 ms early.
 */
class TimerList {
  private static readonly lists = new Map<number, TimerList>();
  private readonly duration: number;
  private readonly granularity: number;
  private head: Keepalive | null = null;
  private tail: Keepalive | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Inside fire(): entries added meanwhile (a pong wait of the same duration) leave the arming to its end. */
  private firing = false;

  private constructor(duration: number) {
    this.duration = duration;
    this.granularity = Math.min(MAX_GRANULARITY, Math.max(1, Math.floor(duration / 1000)));
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
    entry.due = keepaliveClock.now() + this.duration;
    entry.list = this;
    entry.prev = this.tail;
    entry.next = null;
    if (this.tail === null) this.head = entry;
    else this.tail.next = entry;
    this.tail = entry;
    // Armed for the head, not for `duration`; not while fire() runs: an entry re-added then (a ping's pong wait when
    // pingTimeout equals pingInterval) must not push the timer past the entries still due after it.
    if (this.timer === null && !this.firing) this.arm(this.head!.due - keepaliveClock.now());
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
    this.firing = true;
    round = null;
    try {
      // Node's timer clock counts whole milliseconds: an entry due within the next one is due now.
      const now = keepaliveClock.now() + 1;
      let entry = this.head;
      while (entry !== null && entry.due <= now) {
        this.remove(entry);
        entry.expired();
        entry = this.head;
      }
    } finally {
      this.firing = false;
      round = null;
      if (this.head !== null && this.timer === null) this.arm(Math.max(this.granularity, this.head.due - keepaliveClock.now()));
    }
  }
}

function onTimerList(list: TimerList): void {
  list.fire();
}
