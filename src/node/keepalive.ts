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

/** @internal An application's ping (`ws.ping()`) waiting for its pong. The keepalive loop's own ping is no object. */
export interface PendingPing {
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
 * @internal One connection's ping/pong state, kept in the connection's own fields (memory per idle connection: an
 * object of its own cost 104 bytes): `ping()` promises answered by pongs, and the keepalive loop (a ping every
 * `keepaliveInterval` ms, the connection dropped when its pong takes longer than `keepaliveTimeout` ms). The functions
 * below ({@link startKeepalive}, {@link sendPing}, {@link receivePong}, {@link stopKeepalive}) are its methods.
 *
 * The loop's waits are places in shared {@link TimerList}s, not a timer per connection: an idle connection costs a
 * few fields instead of a Timeout object, its arguments array and a place in Node's timer lists. Its ping costs no
 * allocation either: the frame is the firing's {@link PingRound}, and what the pong is matched against is the round's
 * tag, kept as a number.
 */
export interface KeepaliveEntry extends KeepaliveHost {
  /** Ms between keepalive pings; null or 0: none. */
  readonly keepaliveInterval: number | null;
  /** Ms a keepalive ping waits for its pong; null or 0: no limit. */
  readonly keepaliveTimeout: number | null;
  /** IDLE, AWAITING_INTERVAL or AWAITING_PONG: which list the entry is in, if any. */
  keepaliveState: number;
  /** The tag of the keepalive ping waiting for its pong, -1 if none. */
  keepaliveTag: number;
  /**
   * When the wait ends, in whole microseconds after its list's base (see {@link TimerList.dueOf}): a small integer,
   * where a time in fractional ms would make V8 box the field in a heap number (memory per idle connection). While a
   * keepalive ping waits for its pong, the wait began when the ping was written: the wait's end less its duration is
   * when it was sent (see pingSentAt), so the ping needs no field of its own.
   */
  keepaliveDue: number;
  /** Neighbours in the list of its wait. */
  keepalivePrev: KeepaliveEntry | null;
  keepaliveNext: KeepaliveEntry | null;
  /** Application pings waiting for their pongs, oldest first. */
  keepalivePings: PendingPing[] | null;
}

/** @internal Arms the next keepalive ping (nothing if the interval is null or 0). */
export function startKeepalive(entry: KeepaliveEntry): void {
  const interval = entry.keepaliveInterval;
  if (interval === null || interval <= 0) return;
  wait(entry, AWAITING_INTERVAL, interval);
}

/**
 * @internal Sends a ping with `payload` and resolves with the round-trip time in ms when its pong (or a later
 * ping's) arrives.
 */
export function sendPing(entry: KeepaliveEntry, payload: Buffer): Promise<number> {
  if (isWaiting(entry, payload) || (entry.keepaliveTag >= 0 && carriesTag(payload, entry.keepaliveTag))) {
    return Promise.reject(new InvalidState('a ping with the same payload is already waiting for its pong'));
  }
  return new Promise((resolve, reject) => {
    (entry.keepalivePings ??= []).push({ payload, sentAt: keepaliveClock.now(), resolve, reject });
    entry.sendPingFrame(payload);
  });
}

/**
 * @internal A pong arrived: answers its ping and every earlier one (RFC 6455 §5.5.3: "If an endpoint receives a Ping
 * frame and has not yet sent Pong frame(s) in response to previous Ping frame(s), the endpoint MAY elect to send a
 * Pong frame for only the most recently processed Ping frame").
 * Returns the round-trip time of the ping it answers, or -1 if it answers none.
 */
export function receivePong(entry: KeepaliveEntry, payload: Buffer): number {
  const now = keepaliveClock.now();
  if (entry.keepaliveTag >= 0 && carriesTag(payload, entry.keepaliveTag)) {
    const sentAt = pingSentAt(entry);
    keepaliveAnswered(entry);
    if (entry.keepalivePings !== null) answerUpTo(entry, sentBefore(entry, sentAt), now);
    return now - sentAt;
  }
  const pings = entry.keepalivePings;
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
  if (entry.keepaliveTag >= 0 && pingSentAt(entry) <= sentAt) keepaliveAnswered(entry);
  answerUpTo(entry, index + 1, now);
  return now - sentAt;
}

/** @internal The connection closed: no more keepalive, waiting pings reject with `error`. */
export function stopKeepalive(entry: KeepaliveEntry, error: Error): void {
  leaveList(entry);
  entry.keepaliveTag = -1;
  const pings = entry.keepalivePings;
  entry.keepalivePings = null;
  if (pings !== null) for (const ping of pings) ping.reject(error);
}

function isWaiting(entry: KeepaliveEntry, payload: Buffer): boolean {
  const pings = entry.keepalivePings;
  return pings !== null && pings.some((p) => p.payload.equals(payload));
}

/** When the waiting keepalive ping was written: its wait's start (see {@link KeepaliveEntry.keepaliveDue}). */
function pingSentAt(entry: KeepaliveEntry): number {
  const list = listOf(entry);
  if (list === undefined) return keepaliveClock.now();
  // Without a pong timeout the next interval's wait starts as the ping is written.
  return list.dueOf(entry) - (entry.keepaliveState === AWAITING_PONG ? entry.keepaliveTimeout! : entry.keepaliveInterval!);
}

/** How many application pings went out at or before `sentAt` (they are in order). */
function sentBefore(entry: KeepaliveEntry, sentAt: number): number {
  const pings = entry.keepalivePings!;
  let n = 0;
  while (n < pings.length && pings[n]!.sentAt <= sentAt) n++;
  return n;
}

/** Resolves the first `count` application pings with their round-trip times. */
function answerUpTo(entry: KeepaliveEntry, count: number, now: number): void {
  if (count === 0) return;
  const pings = entry.keepalivePings!;
  const answered = pings.splice(0, count);
  if (pings.length === 0) entry.keepalivePings = null;
  for (const ping of answered) ping.resolve(now - ping.sentAt);
}

/** The keepalive ping has its pong: the next one is due an interval from now. */
function keepaliveAnswered(entry: KeepaliveEntry): void {
  entry.keepaliveTag = -1;
  if (entry.keepaliveState === AWAITING_PONG) startKeepalive(entry);
}

/** The list of the entry's wait, by its state (an entry is in a list exactly while its state is not IDLE). */
function listOf(entry: KeepaliveEntry): TimerList | undefined {
  const state = entry.keepaliveState;
  if (state === IDLE) return undefined;
  return TimerList.existing(state === AWAITING_PONG ? entry.keepaliveTimeout! : entry.keepaliveInterval!);
}

/** Takes the entry out of its wait's list, if it waits; its state is IDLE after. */
function leaveList(entry: KeepaliveEntry): void {
  listOf(entry)?.remove(entry);
  entry.keepaliveState = IDLE;
}

function wait(entry: KeepaliveEntry, state: number, ms: number): void {
  leaveList(entry);
  entry.keepaliveState = state;
  TimerList.of(ms).add(entry);
}

/** A wait in state `state` ended (the entry has left its list and is IDLE): ping, or drop the connection whose pong is overdue. */
function expired(entry: KeepaliveEntry, state: number): void {
  if (state === AWAITING_PONG) {
    entry.keepaliveTag = -1;
    entry.keepaliveTimedOut();
    return;
  }
  if (state !== AWAITING_INTERVAL || !entry.keepaliveOpen()) return;
  const ping = currentRound();
  if (isWaiting(entry, ping.payload)) {
    // An application ping already uses this payload: try again next interval.
    startKeepalive(entry);
    return;
  }
  entry.keepaliveTag = ping.tag;
  entry.sendKeepalivePing(ping.frame, ping.payload);
  // The wait starts now: its start is the ping's send time (pingSentAt).
  const timeout = entry.keepaliveTimeout;
  if (timeout !== null && timeout > 0) wait(entry, AWAITING_PONG, timeout);
  else startKeepalive(entry);
}

/**
 * Ping/pong tracking for a host with no fields of its own for it (a {@link KeepaliveEntry} as an object): what a
 * connection does in its own fields, for any {@link KeepaliveHost}.
 */
export class Keepalive implements KeepaliveEntry {
  private readonly host: KeepaliveHost;
  /** @internal */
  readonly keepaliveInterval: number | null;
  /** @internal */
  readonly keepaliveTimeout: number | null;
  /** @internal */
  keepaliveState = IDLE;
  /** @internal */
  keepaliveTag = -1;
  /** @internal */
  keepaliveDue = 0;
  /** @internal */
  keepalivePrev: KeepaliveEntry | null = null;
  /** @internal */
  keepaliveNext: KeepaliveEntry | null = null;
  /** @internal */
  keepalivePings: PendingPing[] | null = null;

  constructor(host: KeepaliveHost, interval: number | null, timeout: number | null) {
    this.host = host;
    this.keepaliveInterval = interval;
    this.keepaliveTimeout = timeout;
  }

  /** Arms the next keepalive ping (nothing if the interval is null or 0). */
  start(): void {
    startKeepalive(this);
  }

  /** Sends a ping with `payload`; resolves with the round-trip time in ms when its pong (or a later ping's) arrives. */
  ping(payload: Buffer): Promise<number> {
    return sendPing(this, payload);
  }

  /** A pong arrived: the round-trip time of the ping it answers, or -1 (see {@link receivePong}). */
  pong(payload: Buffer): number {
    return receivePong(this, payload);
  }

  /** No more keepalive; waiting pings reject with `error`. */
  stop(error: Error): void {
    stopKeepalive(this, error);
  }

  /** @internal */
  keepaliveOpen(): boolean {
    return this.host.keepaliveOpen();
  }

  /** @internal */
  sendKeepalivePing(frame: Buffer, payload: Buffer): void {
    this.host.sendKeepalivePing(frame, payload);
  }

  /** @internal */
  sendPingFrame(payload: Buffer): void {
    this.host.sendPingFrame(payload);
  }

  /** @internal */
  keepaliveTimedOut(): void {
    this.host.keepaliveTimedOut();
  }
}

/**
 * How long a list's base stays, in ms, before its entries' ends are counted from a later one: they are then at most
 * this plus the wait's duration in µs, small integers for waits of up to a quarter of an hour (2^30 µs is 17.9 min).
 */
const REBASE_AFTER = 60_000;

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
  private head: KeepaliveEntry | null = null;
  private tail: KeepaliveEntry | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Inside fire(): entries added meanwhile (a pong wait of the same duration) leave the arming to its end. */
  private firing = false;
  /** The keepaliveClock ms its entries' ends are counted from, in whole µs (moved on as time passes: see rebase). */
  private base: number;

  private constructor(duration: number) {
    this.duration = duration;
    this.base = Math.floor(keepaliveClock.now());
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

  /**
   * The list of waits of `duration`, which holds every entry waiting that long: a list leaves the map only once
   * emptied, so an entry finds its list by its wait's duration and needs no field for it.
   */
  static existing(duration: number): TimerList | undefined {
    return TimerList.lists.get(duration);
  }

  /** When the wait of `entry`, one of this list's, ends (keepaliveClock ms). */
  dueOf(entry: KeepaliveEntry): number {
    return this.base + entry.keepaliveDue / 1000;
  }

  add(entry: KeepaliveEntry): void {
    entry.keepaliveDue = Math.round((keepaliveClock.now() + this.duration - this.base) * 1000);
    entry.keepalivePrev = this.tail;
    entry.keepaliveNext = null;
    if (this.tail === null) this.head = entry;
    else this.tail.keepaliveNext = entry;
    this.tail = entry;
    // Armed for the head, not for `duration`; not while fire() runs: an entry re-added then (a ping's pong wait when
    // pingTimeout equals pingInterval) must not push the timer past the entries still due after it.
    if (this.timer === null && !this.firing) this.arm(this.dueOf(this.head!) - keepaliveClock.now());
  }

  remove(entry: KeepaliveEntry): void {
    const prev = entry.keepalivePrev;
    const next = entry.keepaliveNext;
    if (prev === null) this.head = next;
    else prev.keepaliveNext = next;
    if (next === null) this.tail = prev;
    else next.keepalivePrev = prev;
    entry.keepalivePrev = entry.keepaliveNext = null;
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
      while (entry !== null && this.dueOf(entry) <= now) {
        const state = entry.keepaliveState;
        this.remove(entry);
        entry.keepaliveState = IDLE;
        expired(entry, state);
        entry = this.head;
      }
    } finally {
      this.firing = false;
      round = null;
      if (this.head !== null && this.timer === null) this.arm(Math.max(this.granularity, this.dueOf(this.head) - keepaliveClock.now()));
      if (this.head !== null && keepaliveClock.now() - this.base > REBASE_AFTER) this.rebase();
    }
  }

  /**
   * Moves the base to now (whole ms) and every entry's end back by as much: ends stay small integers of µs for as
   * long as the list lives (a list with entries in it every firing lives as long as the process). One pass over the
   * list every {@link REBASE_AFTER} ms.
   */
  private rebase(): void {
    const shift = Math.floor(keepaliveClock.now() - this.base);
    this.base += shift;
    const micros = shift * 1000;
    for (let entry = this.head; entry !== null; entry = entry.keepaliveNext) entry.keepaliveDue -= micros;
  }
}

function onTimerList(list: TimerList): void {
  list.fire();
}
