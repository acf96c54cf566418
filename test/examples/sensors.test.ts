/**
 * The phone-sensor examples against `wskit sensors --simulate`, the
 * SensorServer-compatible simulator, run as the command a reader would run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { killAll, start, waitForLine } from '../e2e/cli-helpers.js';
import { within } from '../helpers.js';
import { runExample, type RunningExample } from './run-example.js';

const exited = (example: RunningExample) =>
  example.child.exitCode !== null ? Promise.resolve(example.child.exitCode) : new Promise((resolve) => example.child.once('exit', resolve));

/** Starts the simulator on free ports and resolves with its HOST:PORT. */
async function simulator(): Promise<{ hostPort: string; stop: () => void }> {
  const child = start(['sensors', '--simulate', '--port', '0', '--web-port', '0', '--rate', '50']);
  const hostPort = await waitForLine(child, /SensorServer simulator on ws:\/\/([^\s,]+)/, 15_000);
  return { hostPort, stop: () => child.kill('SIGTERM') };
}

describe('phone sensor examples against the simulator', { timeout: 60_000 }, () => {
  let sim: { hostPort: string; stop: () => void };
  before(async () => {
    sim = await simulator();
  });
  after(() => killAll());

  it('sensor-print.ts prints accelerometer readings: time, three axes and a magnitude near gravity', async () => {
    const example = runExample('sensor-print.ts', [sim.hostPort, '--count', '25']);
    assert.equal(await within(exited(example), 15_000, 'sensor-print.ts'), 0, example.output.join('\n'));
    const readings = example.output.filter((l) => /^\s*\d+\.\d{3} s /.test(l));
    assert.equal(readings.length, 25, example.output.join('\n'));
    const parsed = readings.map((l) => {
      const m = /^\s*(\S+) s {2}x +(\S+) {2}y +(\S+) {2}z +(\S+) {2}\|a\| +(\S+) (#+)$/.exec(l);
      assert.ok(m, l);
      return m.slice(1, 6).map(Number);
    });
    assert.equal(parsed[0]![0], 0);
    assert.ok(parsed.every(([t], i) => i === 0 || t! > parsed[i - 1]![0]!), 'the phone timestamps increase');
    for (const [, x, y, z, magnitude] of parsed) {
      assert.ok(Math.abs(Math.hypot(x!, y!, z!) - magnitude!) < 0.02);
      assert.ok(magnitude! > 5 && magnitude! < 15, `|a| = ${magnitude}`);
    }
    assert.match(example.output.at(-1)!, /^closed: 1000 enough readings$/, "the simulator echoes the close reason (RFC 6455 5.5.1)");
  });

  it('sensor-print.ts reports why the app closed the stream (4004 when stopped)', async () => {
    const own = await simulator();
    const example = runExample('sensor-print.ts', [own.hostPort]);
    try {
      await example.line(/^\s*\d+\.\d{3} s /);
      own.stop();
      await example.line(/^closed: 4004 Server stopped$/);
      assert.equal(await within(exited(example), 10_000, 'sensor-print.ts'), 0);
    } finally {
      example.child.kill('SIGKILL');
    }
  });

  it('sensor-client.ts reads the simulated stream until stopped', async () => {
    const url = `ws://${sim.hostPort}/sensor/connect?type=android.sensor.accelerometer`;
    const example = runExample('sensor-client.ts', [url, '200']);
    try {
      await example.line(/ connected to ws:/);
      const [reading] = await example.line(/ reading (\{.*\})$/);
      const message = JSON.parse(/ reading (\{.*\})$/.exec(reading!)![1]!) as { values: number[]; timestamp: number };
      assert.equal(message.values.length, 3);
      assert.ok(Number.isInteger(message.timestamp));
      example.child.kill('SIGINT');
      assert.equal(await within(exited(example), 10_000, 'sensor-client.ts'), 0);
    } finally {
      example.child.kill('SIGKILL');
    }
  });
});
