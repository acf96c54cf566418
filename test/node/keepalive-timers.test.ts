/**
 * The keepalive loop's shared timer lists: each connection pings one interval after it started, also when
 * pingTimeout equals pingInterval (the defaults), where a ping's pong wait joins the same list while it fires.
 * Real timers (Keepalive reads performance.now()); the bounds leave half an interval of slack for a loaded machine.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Keepalive, type KeepaliveHost } from '../../src/node/keepalive.js';

const INTERVAL = 1000;
const after: Keepalive[] = [];

function host(pinged: (at: number) => void): KeepaliveHost {
  return {
    keepaliveOpen: () => true,
    sendPingFrame: () => pinged(performance.now()),
    keepaliveTimedOut: () => {},
  };
}

it('with pingTimeout equal to pingInterval, a connection started later pings one interval after its start, not after the next firing', { timeout: 10_000 }, async () => {
  // The lists' timers are unref'd (they never keep a process alive): this one keeps the test's alive.
  const alive = setInterval(() => {}, INTERVAL);
  const first = new Keepalive(host(() => {}), INTERVAL, INTERVAL);
  first.start();
  await new Promise((resolve) => setTimeout(resolve, 50));
  let startedAt = 0;
  const pingedAt = new Promise<number>((resolve) => {
    const second = new Keepalive(host(resolve), INTERVAL, INTERVAL);
    startedAt = performance.now();
    second.start();
    after.push(second);
  });
  after.push(first);
  try {
    const delay = (await pingedAt) - startedAt;
    // Before the fix the first connection's pong wait re-armed the list's timer a whole interval later: ~1950 ms.
    assert.ok(delay >= INTERVAL - 1 && delay < INTERVAL * 1.5, `the second connection pinged ${delay.toFixed(0)} ms after it started (interval ${INTERVAL} ms)`);
  } finally {
    for (const keepalive of after) keepalive.stop(new Error('test over'));
    clearInterval(alive);
  }
});
