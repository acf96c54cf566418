/** The SensorServer simulator speaks the app's protocol: paths, JSON shapes, close codes, HTTP endpoints. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Connection } from '../../src/index.js';
import { SensorSimulator } from '../../src/cli/sensors/simulator.js';
import { sensorsUrl, SensorCloseCode } from '../../src/cli/sensors/protocol.js';
import { within } from '../helpers.js';

let sim: SensorSimulator;
let denied: SensorSimulator;
let base: string;

before(async () => {
  sim = await new SensorSimulator({ rate: 100, seed: 1 }).start();
  denied = await new SensorSimulator({ webPort: null, denyLocation: true }).start();
  base = sim.url;
});
after(async () => {
  await sim.close();
  await denied.close();
});

async function messages(ws: Connection, n: number): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  while (out.length < n) out.push(JSON.parse(String(await within(ws.recv(), 5000, 'message'))) as Record<string, unknown>);
  await ws.close();
  return out;
}

async function closeOf(path: string, server = base): Promise<{ code: number; reason: string }> {
  const ws = await connect(server + path);
  const info = await within(ws.closed, 5000, 'close');
  return { code: info.code, reason: info.reason };
}

const magnitude = (v: unknown) => Math.hypot(...(v as number[]));

describe('SensorServer simulator', () => {
  it('streams one sensor on /sensor/connect?type= with values, timestamp (ns since boot) and accuracy', async () => {
    const got = await messages(await connect(`${base}/sensor/connect?type=android.sensor.accelerometer`), 50);
    for (const m of got) {
      assert.deepEqual(Object.keys(m).sort(), ['accuracy', 'timestamp', 'values']);
      assert.equal((m.values as number[]).length, 3);
      assert.ok(Number.isInteger(m.timestamp) && (m.timestamp as number) < Number.MAX_SAFE_INTEGER);
      // A hand-held phone: gravity plus walking bounce.
      assert.ok(magnitude(m.values) > 5 && magnitude(m.values) < 15, `|a| = ${magnitude(m.values)}`);
    }
    const steps = got.slice(1).map((m, i) => (m.timestamp as number) - (got[i]!.timestamp as number));
    for (const dt of steps) assert.equal(dt, 10_000_000); // 100 Hz, exactly on the grid
  });

  it('matches the path and the type case-insensitively, like the app', async () => {
    const [m] = await messages(await connect(`${base}/SENSOR/Connect?type=Android.Sensor.Gravity`), 1);
    assert.ok(Math.abs(magnitude(m!.values) - 9.80665) < 1e-3);
  });

  it('streams several sensors on /sensors/connect?types=[...] with a "type" field', async () => {
    const types = ['android.sensor.gyroscope', 'android.sensor.magnetic_field', 'android.sensor.rotation_vector'];
    const got = await messages(await connect(sensorsUrl(base.slice(5), types)), 60);
    assert.deepEqual(new Set(got.map((m) => m.type)), new Set(types));
    for (const m of got.filter((m) => m.type === 'android.sensor.rotation_vector')) {
      const [x, y, z, w, heading] = m.values as number[];
      assert.ok(Math.abs(Math.hypot(x!, y!, z!, w!) - 1) < 1e-3, 'a unit quaternion');
      assert.ok(heading! > 0);
    }
    for (const m of got.filter((m) => m.type === 'android.sensor.magnetic_field')) {
      const b = magnitude(m.values);
      assert.ok(b > 40 && b < 60, `Earth's field is 25-65 µT, got ${b}`);
    }
  });

  it('streams locations on /gps and answers getLastKnownLocation', async () => {
    const ws = await connect(`${base}/gps`);
    await ws.send('getLastKnownLocation');
    const first = JSON.parse(String(await within(ws.recv(), 5000, 'location'))) as Record<string, unknown>;
    assert.equal(first.lastKnowLocation, true);
    for (const key of ['longitude', 'latitude', 'altitude', 'bearing', 'accuracy', 'speed', 'time']) {
      assert.equal(typeof first[key], 'number', key);
    }
    const next = JSON.parse(String(await within(ws.recv(), 5000, 'fix'))) as Record<string, unknown>;
    assert.equal(next.lastKnowLocation, false);
    assert.ok(Math.abs((next.latitude as number) - 51.4769) < 0.01);
    assert.equal(typeof next.elapsedRealtimeNanos, 'number');
    await ws.close();
  });

  it('streams touches on /touchscreen as {action, x, y}', async () => {
    const got = await messages(await connect(`${base}/touchscreen`), 5);
    assert.equal(got[0]!.action, 'ACTION_DOWN');
    for (const m of got) {
      assert.deepEqual(Object.keys(m).sort(), ['action', 'x', 'y']);
      assert.match(String(m.action), /^ACTION_(DOWN|MOVE|UP)$/);
    }
  });

  it('streams step detector events (value 1.0) only while walking', async () => {
    const got = await messages(await connect(`${base}/sensor/connect?type=android.sensor.step_detector`), 1);
    assert.deepEqual(got[0]!.values, [1]);
  });

  it('closes with the app\'s codes for bad requests', async () => {
    assert.equal((await closeOf('/sensor/connect?type=android.sensor.heart_rate')).code, SensorCloseCode.SENSOR_NOT_FOUND);
    assert.equal((await closeOf('/sensor/connect')).code, SensorCloseCode.PARAMETER_MISSING);
    assert.equal((await closeOf('/sensor/connect?type=')).code, SensorCloseCode.NO_SENSOR_SPECIFIED);
    assert.equal((await closeOf('/sensors/connect')).code, SensorCloseCode.PARAMETER_MISSING);
    assert.equal((await closeOf('/sensors/connect?types=%5Bnope')).code, SensorCloseCode.INVALID_JSON_ARRAY);
    assert.equal((await closeOf('/sensors/connect?types=%7B%7D')).code, SensorCloseCode.INVALID_JSON_ARRAY);
    assert.equal((await closeOf(`/sensors/connect?types=${encodeURIComponent('["android.sensor.gravity"]')}`)).code, SensorCloseCode.TOO_FEW_SENSORS);
    assert.equal((await closeOf('/sensors/connect?types=%5B%5D')).code, SensorCloseCode.NO_SENSOR_SPECIFIED);
    const unknown = await closeOf(`/sensors/connect?types=${encodeURIComponent('["android.sensor.gravity","android.sensor.x"]')}`);
    assert.deepEqual(unknown, { code: 4001, reason: 'sensor of type android.sensor.x not found' });
    assert.deepEqual(await closeOf('/nope'), { code: 4002, reason: 'unsupported request' });
    assert.equal((await closeOf('/gps', denied.url)).code, SensorCloseCode.PERMISSION_DENIED);
  });

  it('closes every stream with 4004 when stopped, and 4005 when the user disconnects', async () => {
    const other = await new SensorSimulator({ webPort: null }).start();
    const a = await connect(`${other.url}/touchscreen`);
    await other.disconnectAll();
    assert.equal((await a.closed).code, 4005);
    const b = await connect(`${other.url}/sensor/connect?type=android.sensor.gravity`);
    await other.close();
    assert.deepEqual({ ...(await b.closed) }, { code: 4004, reason: 'Server stopped', wasClean: true });
  });

  it('answers GET /wsport and GET /sensors on its web port', async () => {
    const wsport = await (await fetch(`${sim.webUrl}/wsport`)).json();
    assert.deepEqual(wsport, { portNo: sim.port });
    const response = await fetch(`${sim.webUrl}/sensors`);
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    const list = (await response.json()) as Array<{ name: string; type: string }>;
    assert.ok(list.length >= 7);
    for (const sensor of list) assert.deepEqual(Object.keys(sensor).sort(), ['name', 'type']);
    assert.ok(list.some((s) => s.type === 'android.sensor.accelerometer'));
    assert.equal((await fetch(`${sim.webUrl}/other`)).status, 404);
  });

  it('keeps its rate: 100 samples/s on each of two sensors', async () => {
    const ws = await connect(sensorsUrl(base.slice(5), ['android.sensor.accelerometer', 'android.sensor.gyroscope']));
    const start = performance.now();
    let n = 0;
    while (performance.now() - start < 1000) {
      await ws.recv();
      n++;
    }
    await ws.close();
    assert.ok(n > 170 && n < 230, `${n} messages in 1 s`);
  });
});
