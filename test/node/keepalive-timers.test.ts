/**
 * The keepalive loop's shared timer lists and pings, on mocked timers (`setTimeout` and `Date`; keepalive's clock is
 * pointed at `Date.now()`): when pings go out (one interval after a connection started, also when pingTimeout equals
 * pingInterval, where a ping's pong wait joins the same list while it fires; at most 1 ms early and a list's
 * granularity late), the frame the connections due in one firing share, which pongs answer which pings, and the
 * timeout.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { Keepalive, keepaliveClock, type KeepaliveHost } from '../../src/node/keepalive.js';

const INTERVAL = 1000;
/** A list of 1,000 ms waits fires at most 1 ms apart: a wait ends at most that much late (plus its own ms). */
const LATE = 2;

interface Recorder extends KeepaliveHost {
  /** Keepalive pings: when, the shared frame, its payload. */
  pings: Array<{ at: number; frame: Buffer; payload: Buffer }>;
  appPings: Buffer[];
  timedOutAt: number | null;
}

function recorder(): Recorder {
  const host: Recorder = {
    pings: [],
    appPings: [],
    timedOutAt: null,
    keepaliveOpen: () => true,
    sendKeepalivePing: (frame, payload) => host.pings.push({ at: Date.now(), frame, payload }),
    sendPingFrame: (payload) => host.appPings.push(payload),
    keepaliveTimedOut: () => {
      host.timedOutAt = Date.now();
    },
  };
  return host;
}

/**
 * Advances the mocked clock 1 ms at a time: `mock.timers.tick(n)` runs the timers due within n ms with `Date.now()`
 * already n ms on, which would read as late pings.
 */
function advance(ms: number): void {
  for (let i = 0; i < ms; i++) mock.timers.tick(1);
}

const started: Keepalive[] = [];
const realClock = keepaliveClock.now;

function keepalive(host: KeepaliveHost, interval: number | null, timeout: number | null): Keepalive {
  const k = new Keepalive(host, interval, timeout);
  started.push(k);
  k.start();
  return k;
}

describe('keepalive timers and pings', () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    keepaliveClock.now = () => Date.now();
  });
  afterEach(() => {
    // Empties the shared lists (their timers go with them) before the real timers come back.
    for (const k of started.splice(0)) k.stop(new Error('test over'));
    keepaliveClock.now = realClock;
    mock.timers.reset();
  });

  it('with pingTimeout equal to pingInterval, a connection started later pings one interval after its start, not after the next firing', () => {
    const first = recorder();
    keepalive(first, INTERVAL, INTERVAL);
    advance(50);
    const second = recorder();
    const startedAt = Date.now();
    keepalive(second, INTERVAL, INTERVAL);
    advance(INTERVAL - 50);
    assert.equal(first.pings.length, 1, 'the first connection pinged after one interval');
    // Before the fix of 2026-12 the first connection's pong wait re-armed the list's timer a whole interval later.
    advance(INTERVAL / 2);
    assert.equal(second.pings.length, 1, 'the second connection pinged within half an interval of its due time');
    const delay = second.pings[0]!.at - startedAt;
    assert.ok(delay >= INTERVAL && delay <= INTERVAL + LATE, `the second connection pinged ${delay} ms after it started (interval ${INTERVAL} ms)`);
  });

  it('connections due in one firing share one frame; the next firing has another tag; no ping before its interval', () => {
    const hosts = Array.from({ length: 3 }, () => recorder());
    for (const host of hosts) keepalive(host, INTERVAL, 5000);
    advance(INTERVAL - 1);
    assert.equal(hosts[0]!.pings.length, 0, 'no ping before its interval');
    advance(LATE);
    const [a, b, c] = hosts.map((h) => h.pings[0]!);
    assert.ok(a && b && c, 'every connection pinged');
    assert.equal(a.frame, b.frame, 'one frame object for the firing');
    assert.equal(b.frame, c.frame);
    // RFC 6455 §5.2: FIN + opcode 0x9, unmasked, 4 bytes of payload.
    assert.deepEqual([...a.frame.subarray(0, 2)], [0x89, 4]);
    assert.deepEqual(a.payload, a.frame.subarray(2));
    const later = recorder();
    keepalive(later, INTERVAL, 5000);
    advance(INTERVAL + LATE);
    assert.equal(later.pings.length, 1);
    assert.notDeepEqual(later.pings[0]!.payload, a.payload, 'another firing, another tag');
  });

  it('the pong carrying the ping\'s payload answers it with the round-trip time, and the next ping is an interval later', () => {
    const host = recorder();
    const k = keepalive(host, INTERVAL, INTERVAL);
    advance(INTERVAL);
    const ping = host.pings[0]!;
    advance(7);
    assert.equal(k.pong(Buffer.from([0, 0, 0, 0])), -1, 'another payload answers nothing');
    assert.equal(k.pong(Buffer.from(ping.payload)), 7, 'round-trip time in ms');
    assert.equal(k.pong(Buffer.from(ping.payload)), -1, 'a second pong answers nothing');
    advance(INTERVAL + 500);
    assert.equal(host.timedOutAt, null, 'answered: not timed out');
    assert.equal(host.pings.length, 2, 'the loop goes on');
    assert.ok(host.pings[1]!.at - ping.at >= INTERVAL + 7, 'the next ping an interval after the pong');
  });

  it('a ping without its pong times out after pingTimeout; a stale pong (an earlier firing\'s payload) does not answer it', () => {
    const host = recorder();
    const k = keepalive(host, INTERVAL, 500);
    advance(INTERVAL);
    const first = host.pings[0]!;
    k.pong(Buffer.from(first.payload));
    advance(INTERVAL);
    assert.equal(host.pings.length, 2);
    const sentAt = host.pings[1]!.at;
    assert.equal(k.pong(Buffer.from(first.payload)), -1, 'the first ping\'s payload again');
    advance(499);
    assert.equal(host.timedOutAt, null, 'not before pingTimeout');
    advance(LATE);
    assert.ok(host.timedOutAt !== null && host.timedOutAt - sentAt >= 500 && host.timedOutAt - sentAt <= 500 + LATE, `timed out ${host.timedOutAt! - sentAt} ms after the ping`);
  });

  it('a pong answers the earlier pings too: the keepalive ping answers an application ping before it, and the reverse', async () => {
    const host = recorder();
    const k = keepalive(host, INTERVAL, INTERVAL);
    advance(INTERVAL - 10);
    const early = k.ping(Buffer.from('early'));
    advance(10);
    const keepalivePing = host.pings[0]!;
    advance(5);
    assert.equal(k.pong(Buffer.from(keepalivePing.payload)), 5);
    assert.equal(await early, 15, 'the application ping sent before it is answered too');

    advance(INTERVAL);
    assert.equal(host.pings.length, 2);
    advance(3);
    const late = k.ping(Buffer.from('late'));
    advance(4);
    assert.equal(k.pong(Buffer.from('late')), 4, 'the application ping\'s own round-trip time');
    assert.equal(await late, 4);
    assert.equal(k.pong(Buffer.from(host.pings[1]!.payload)), -1, 'the keepalive ping sent before it was answered with it');
    advance(INTERVAL - 10);
    assert.equal(host.timedOutAt, null, 'answered: not timed out');
    assert.equal(host.pings.length, 2);
  });

  it('an application ping with the waiting keepalive ping\'s payload is refused; stop() rejects waiting application pings', async () => {
    const host = recorder();
    const k = keepalive(host, INTERVAL, INTERVAL);
    advance(INTERVAL);
    await assert.rejects(k.ping(Buffer.from(host.pings[0]!.payload)), /already waiting/);
    const waiting = k.ping(Buffer.from('x'));
    k.stop(new Error('closed'));
    await assert.rejects(waiting, /closed/);
    advance(INTERVAL * 3);
    assert.equal(host.timedOutAt, null, 'stopped: no timeout');
    assert.equal(host.pings.length, 1, 'stopped: no more pings');
  });

  it('without a pong timeout the pings go on every interval, and a pong still measures the round trip', () => {
    const host = recorder();
    const k = keepalive(host, INTERVAL, null);
    advance(INTERVAL * 3 + LATE);
    assert.equal(host.pings.length, 3);
    advance(2);
    assert.equal(k.pong(Buffer.from(host.pings[2]!.payload)), Date.now() - host.pings[2]!.at);
    assert.equal(host.timedOutAt, null);
  });

  it('a 20 s list fires at most every 20 ms: connections whose waits end within it are pinged together, at most 1 ms early (Node counts whole ms)', () => {
    const hosts: Recorder[] = [];
    const startedAt: number[] = [];
    for (let i = 0; i < 40; i++) {
      const host = recorder();
      hosts.push(host);
      startedAt.push(Date.now());
      keepalive(host, 20_000, 20_000);
      advance(1);
    }
    advance(20_100);
    const frames = new Set(hosts.map((h) => h.pings[0]!.frame));
    assert.ok(frames.size <= 3, `40 connections started 1 ms apart were pinged in ${frames.size} firings`);
    hosts.forEach((host, i) => {
      const delay = host.pings[0]!.at - startedAt[i]!;
      assert.ok(delay >= 20_000 - 1 && delay <= 20_000 + 20 + 1, `connection ${i} pinged ${delay} ms after its start`);
    });
  });

  it('a list that lives for minutes (its ends counted from a later base) still pings every interval and times each pong exactly', () => {
    // Two connections half an interval apart keep the list from emptying, so it lives on, its base moved every 60 s.
    const a = recorder();
    const b = recorder();
    const k = keepalive(a, INTERVAL, null);
    advance(INTERVAL / 2);
    keepalive(b, INTERVAL, null);
    const startedAt = Date.now();
    while (Date.now() - startedAt < 150_000) {
      const seen = a.pings.length;
      for (let waited = 0; a.pings.length === seen; waited++) {
        assert.ok(waited <= INTERVAL + LATE, `ping ${seen} came within an interval and ${LATE} ms`);
        advance(1);
      }
      advance(7);
      assert.equal(k.pong(Buffer.from(a.pings.at(-1)!.payload)), 7, `ping ${seen}'s round trip`);
    }
    for (const host of [a, b]) {
      for (let i = 1; i < host.pings.length; i++) {
        const gap = host.pings[i]!.at - host.pings[i - 1]!.at;
        assert.ok(gap >= INTERVAL - 1 && gap <= INTERVAL + LATE, `pings ${i - 1} and ${i} ${gap} ms apart`);
      }
    }
    assert.ok(b.pings.length >= 149);
  });
});
