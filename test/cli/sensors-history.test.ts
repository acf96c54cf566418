/**
 * `wskit sensors --redis` as a real process: killed (SIGKILL) and started again on the same port, with its history
 * in a real redis-server; a page's feed (a wskit.topics.v1 client) resumes across the restart from its position,
 * recovered, with every publication once and in order. Without --redis the restart is reported as not recovered.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { SensorSimulator } from '../../src/cli/sensors/simulator.js';
import { ReconnectingClient, type SubscribedInfo } from '../../src/index.js';
import { freePort, skipWithoutRedis, until } from '../helpers.js';
import { startRedis } from '../redis-server.js';
import { killAll, start, waitForLine } from '../e2e/cli-helpers.js';

after(() => killAll());

/** Runs `wskit sensors` against the simulator on `port` and resolves once its dashboard listens. */
async function sensors(sim: SensorSimulator, port: number, extra: string[]) {
  const child = start(['sensors', sim.url.slice('ws://'.length), '--type', 'accelerometer', '--port', String(port), ...extra]);
  await waitForLine(child, /Dashboard at http:/, 15_000);
  return child;
}

/** A page's feed: subscribed to the samples, counting publications, their samples, and the subscription answers. */
function feed(port: number) {
  const offsets: number[] = [];
  const answers: SubscribedInfo[] = [];
  const client = new ReconnectingClient(`ws://127.0.0.1:${port}/live`, { topics: true, reconnect: { initialDelay: 100, maxDelay: 500 } });
  client.subscribe('samples', (_data, { offset }) => offsets.push(offset), { onSubscribed: (info) => answers.push(info) });
  return { client, offsets, answers };
}

describe('wskit sensors restarted under a page', { timeout: 90_000 }, () => {
  it('with --redis: SIGKILL and restart, the page resumes recovered, every publication once, in order', { skip: skipWithoutRedis }, async () => {
    const redisPort = await freePort();
    const redis: ChildProcess = await startRedis(redisPort);
    const sim = await new SensorSimulator({ rate: 100, webPort: null, seed: 3 }).start();
    const port = await freePort();
    const args = ['--redis', `redis://127.0.0.1:${redisPort}`, '--history', '60'];
    let child = await sensors(sim, port, args);
    const page = feed(port);
    try {
      await until(() => page.offsets.length >= 20, 10_000, 'publications before the kill');
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      const before = page.offsets.at(-1)!;
      child = await sensors(sim, port, args);
      await until(() => page.answers.length >= 2 && page.offsets.at(-1)! >= before + 20, 20_000, 'publications after the restart');
      const first = page.offsets[0]!;
      assert.deepEqual(page.offsets, Array.from({ length: page.offsets.length }, (_, i) => first + i), 'every offset once, in order');
      assert.deepEqual(page.answers.slice(0, 2).map((a) => [a.resumed, a.recovered]), [[false, true], [true, true]]);
      assert.equal(page.answers[1]!.epoch, page.answers[0]!.epoch, 'the epoch survived the restart in Redis');
      console.log(`# wskit sensors --redis SIGKILLed at offset ${before} and restarted: the page resumed, ${page.offsets.length} publications, lost/dup/reorder 0/0/0`);
    } finally {
      await page.client.close();
      child.kill('SIGKILL');
      await sim.close();
      redis.kill('SIGKILL');
    }
  });

  it('without --redis: the restart loses the history and the page is told recovered: false', async () => {
    const sim = await new SensorSimulator({ rate: 100, webPort: null, seed: 4 }).start();
    const port = await freePort();
    let child = await sensors(sim, port, []);
    const page = feed(port);
    try {
      await until(() => page.offsets.length >= 5, 10_000, 'publications before the kill');
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      child = await sensors(sim, port, []);
      await until(() => page.answers.length >= 2, 20_000, 'the resume after the restart');
      assert.deepEqual([page.answers[1]!.resumed, page.answers[1]!.recovered], [true, false]);
      assert.notEqual(page.answers[1]!.epoch, page.answers[0]!.epoch);
    } finally {
      await page.client.close();
      child.kill('SIGKILL');
      await sim.close();
    }
  });
});
