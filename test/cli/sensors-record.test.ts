/**
 * `wskit sensors` as a client: stream URLs, reconnection, close codes in words,
 * gap counting, and headless CSV recording checked against what the simulator sent.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { Collector, csvRow, CSV_HEADER, type Sample } from '../../src/cli/sensors/collector.js';
import { describeClose, resolveType, streamUrls } from '../../src/cli/sensors/protocol.js';
import { SensorSimulator } from '../../src/cli/sensors/simulator.js';
import { delay, freePort, within } from '../helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const children = new Set<ChildProcess>();
const dir = mkdtempSync(path.join(tmpdir(), 'wskit-sensors-'));
after(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function wskit(args: string[]): { child: ChildProcess; line: Promise<string>; output: () => string } {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/wskit.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const line = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.on('exit', (code) => reject(new Error(`wskit ${args.join(' ')} exited with ${code}: ${err}`)));
  });
  line.catch(() => undefined);
  return { child, line, output: () => out + err };
}

function until(check: () => boolean, ms: number, what: string): Promise<void> {
  return within(
    (async () => {
      while (!check()) await delay(25);
    })(),
    ms,
    what,
  );
}

describe('stream URLs', () => {
  it('maps short names to Android types and groups sensors into one multi-sensor stream', () => {
    assert.equal(resolveType('accelerometer'), 'android.sensor.accelerometer');
    assert.equal(resolveType('gyro'), 'android.sensor.gyroscope');
    assert.equal(resolveType('android.sensor.LIGHT'), 'android.sensor.light');
    assert.deepEqual(streamUrls('10.0.0.2:8080', ['accelerometer']), ['ws://10.0.0.2:8080/sensor/connect?type=android.sensor.accelerometer']);
    assert.deepEqual(streamUrls('10.0.0.2:8080', ['accelerometer', 'gyroscope', 'gps', 'touch']), [
      `ws://10.0.0.2:8080/sensors/connect?types=${encodeURIComponent('["android.sensor.accelerometer","android.sensor.gyroscope"]')}`,
      'ws://10.0.0.2:8080/gps',
      'ws://10.0.0.2:8080/touchscreen',
    ]);
  });

  it('describes close codes in words', () => {
    assert.equal(describeClose(4005), "4005 closed by the app's user");
    assert.equal(describeClose(4001, 'Sensor of type x not found'), '4001 sensor not found on this phone — "Sensor of type x not found"');
    assert.match(describeClose(4999), /application-defined/);
  });

  it('writes CSV rows with the values exactly as received', () => {
    const sample: Sample = { source: 1, type: 'android.sensor.light', timestamp: 3925657519043709, accuracy: 3, values: [0.1 + 0.2], received: 5, x: 0 };
    assert.equal(CSV_HEADER.split(',').length, csvRow(sample).split(',').length);
    assert.equal(csvRow(sample), '5,1,android.sensor.light,3925657519043709,3,,0.30000000000000004,,,,,');
  });
});

describe('Collector', () => {
  it('reconnects when the app restarts and reports the close code in words', async () => {
    const port = await freePort();
    let sim = await new SensorSimulator({ port, webPort: null, rate: 50 }).start();
    const collector = new Collector([`ws://127.0.0.1:${port}/sensor/connect?type=android.sensor.gravity`], { initialDelay: 200 });
    let count = 0;
    collector.on('sample', () => count++);
    collector.start();
    try {
      await until(() => count > 5, 5000, 'first samples');
      await sim.close(); // 4004, and nobody listens for a while: connection refused
      await until(() => collector.sources[0]!.state === 'retrying', 5000, 'retrying');
      assert.equal(collector.sources[0]!.lastCode, 4004);
      assert.match(collector.sources[0]!.lastClose!, /server stopped/);
      await delay(300);
      sim = await new SensorSimulator({ port, webPort: null, rate: 50 }).start();
      const before = count;
      await until(() => count > before + 5, 10_000, 'samples after the restart');
      assert.equal(collector.sources[0]!.state, 'open');
      assert.ok(collector.sources[0]!.reconnects >= 1);
    } finally {
      await collector.stop();
      await sim.close();
    }
  });

  it('stops retrying after a permanent close code (4001 sensor not found)', async () => {
    const sim = await new SensorSimulator({ webPort: null }).start();
    const collector = new Collector([`${sim.url}/sensor/connect?type=android.sensor.heart_rate`]).start();
    try {
      await within(collector.done(), 5000, 'giving up');
      assert.equal(collector.sources[0]!.state, 'failed');
      assert.equal(collector.sources[0]!.lastCode, 4001);
    } finally {
      await collector.stop();
      await sim.close();
    }
  });

  it('computes rates from the samples\' own timestamps: a burst after a stall still reads 250 Hz', () => {
    const collector = new Collector(['ws://127.0.0.1:1/sensors/connect?types=[]']);
    const source = collector.sources[0]!;
    const send = (type: string, n: number, from: number, hz: number) => {
      for (let i = 0; i < n; i++) {
        collector.handle(source, JSON.stringify({ type, values: [0, 0, 9.8], timestamp: Math.round((from + i / hz) * 1e9), accuracy: 3 }));
      }
    };
    // Two seconds of a 250 Hz sensor delivered in one burst (Wi-Fi after a stall): counting arrivals would read thousands.
    send('android.sensor.gyroscope', 500, 100, 250);
    // A second sensor at 50 Hz in the same stream, and a slow one (a fix every 2 s) over 10 s.
    send('android.sensor.accelerometer', 100, 100, 50);
    send('android.sensor.pressure', 6, 100, 0.5);
    const rates = Object.fromEntries(collector.stats().map((s) => [s.type, s.rate]));
    assert.deepEqual(rates, { 'android.sensor.gyroscope': 250, 'android.sensor.accelerometer': 50, 'android.sensor.pressure': 0.5 });
    // Out-of-order samples do not distort it.
    collector.handle(source, JSON.stringify({ type: 'android.sensor.gyroscope', values: [0], timestamp: 50e9, accuracy: 3 }));
    assert.equal(collector.stats().find((s) => s.type === 'android.sensor.gyroscope')!.rate, 250);
  });

  it('counts the samples missing from a stream with gaps', async () => {
    const sim = await new SensorSimulator({ webPort: null, rate: 200, drop: 0.2, seed: 3 }).start();
    const collector = new Collector([`${sim.url}/sensor/connect?type=android.sensor.accelerometer`]).start();
    const timestamps: number[] = [];
    collector.on('sample', (s: Sample) => timestamps.push(s.timestamp!));
    try {
      await until(() => timestamps.length > 300, 10_000, 'samples');
      const [stats] = collector.stats();
      const expected = Math.round((timestamps.at(-1)! - timestamps[0]!) / 5e6) + 1 - timestamps.length;
      assert.ok(stats!.gaps > expected - 15 && stats!.gaps <= expected, `gaps ${stats!.gaps}, expected about ${expected}`);
    } finally {
      await collector.stop();
      await sim.close();
    }
  });
});

describe('wskit sensors --csv (headless)', () => {
  it('records exactly what the simulator sent, with monotonic timestamps', async () => {
    const sentFile = path.join(dir, 'sent.jsonl');
    const csvFile = path.join(dir, 'out.csv');
    const limit = 400;
    const sim = wskit(['sensors', '--simulate', '--port', '0', '--web-port', '0', '--rate', '250', '--limit', String(limit), '--log-sent', sentFile]);
    const hostPort = /ws:\/\/(\S+)/.exec(await within(sim.line, 10_000, 'simulator start'))![1]!;
    const recorder = wskit(['sensors', hostPort, '--type', 'accelerometer,gyroscope', '--csv', csvFile]);
    try {
      await within(recorder.line, 10_000, 'recorder start');
      const sentLines = () => readFileSync(sentFile, 'utf8').split('\n').filter(Boolean);
      await until(() => {
        try {
          return sentLines().length >= limit;
        } catch {
          return false;
        }
      }, 20_000, 'the simulator sending its samples');
      await delay(500);
      recorder.child.kill('SIGINT');
      const [code] = await within(once(recorder.child, 'exit'), 10_000, 'recorder exit');
      assert.equal(code, 0, recorder.output());
      assert.match(recorder.output(), new RegExp(`Recorded ${limit} samples`));

      const sent = sentLines().map((l) => JSON.parse(l) as { conn: number; path: string; message: { type: string; timestamp: number; accuracy: number; values: number[] } });
      assert.equal(sent.length, limit);
      assert.ok(sent.every((s) => s.path === '/sensors/connect'));
      const rows = readFileSync(csvFile, 'utf8').trimEnd().split('\n');
      assert.equal(rows[0], CSV_HEADER);
      assert.equal(rows.length - 1, sent.length, 'same count');
      const last = new Map<string, number>();
      rows.slice(1).forEach((row, i) => {
        const [, source, type, timestamp, accuracy, action, ...values] = row.split(',');
        const message = sent[i]!.message;
        assert.equal(source, '1');
        assert.equal(type, message.type);
        assert.equal(Number(timestamp), message.timestamp);
        assert.equal(Number(accuracy), message.accuracy);
        assert.equal(action, '');
        assert.deepEqual(values.filter((v) => v !== '').map(Number), message.values, `row ${i + 1}`);
        assert.ok(Number(timestamp) > (last.get(type!) ?? 0), 'timestamps increase per sensor');
        last.set(type!, Number(timestamp));
      });
      assert.deepEqual([...last.keys()].sort(), ['android.sensor.accelerometer', 'android.sensor.gyroscope']);
    } finally {
      recorder.child.kill('SIGKILL');
      sim.child.kill('SIGTERM');
      await within(once(sim.child, 'exit'), 10_000, 'simulator exit').catch(() => sim.child.kill('SIGKILL'));
    }
  });
});
