import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '../../src/index.js';
import { within } from '../helpers.js';
import { runExample, type RunningExample } from './run-example.js';

const URL_LINE = /(?:ws|http):\/\/[^\s/]+/;

describe('examples/clock.ts', () => {
  let example: RunningExample;
  let url: string;
  before(async () => {
    example = runExample('clock.ts', [], { TICK_MS: '100' });
    url = (await example.line(URL_LINE))[0];
  });
  after(() => example.stop());

  it('every client receives the same ticks', async () => {
    const clients = await Promise.all(Array.from({ length: 5 }, () => connect(url)));
    const ticks = await within(
      Promise.all(
        clients.map(async (ws) => {
          const got: string[] = [];
          for (let i = 0; i < 6; i++) got.push((await ws.recv()) as string);
          return got;
        }),
      ),
      10_000,
      'ticks',
    );
    for (const got of ticks) {
      for (const tick of got) assert.ok(!Number.isNaN(Date.parse(tick)), `${tick} is a date`);
      const times = got.map((t) => Date.parse(t));
      assert.deepEqual(times, [...times].sort((a, b) => a - b), 'ticks in order');
    }
    // Ticks after the first (sent at connect) are broadcasts: shared by all clients.
    const common = ticks.map((got) => new Set(got.slice(1)));
    const shared = ticks[0]!.slice(2).filter((t) => common.every((set) => set.has(t)));
    assert.ok(shared.length >= 2, 'clients received the same broadcast ticks');
    await Promise.all(clients.map((ws) => ws.close()));
  });
});
