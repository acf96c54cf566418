/**
 * Prints a phone's accelerometer, streamed by the SensorServer Android app:
 * one line per reading with the time, the three axes in m/s² and a bar of
 * the magnitude (about 9.8 at rest: gravity).
 *
 *   npx tsx examples/sensor-print.ts 192.168.1.20:8080 [--count N]
 *
 * No phone? `npx wskit sensors --simulate` runs a simulator on 127.0.0.1:8080
 * (the default address here). Each message is JSON such as
 * {"values":[x,y,z],"timestamp":<ns since the phone booted>,"accuracy":3}.
 */
import { connect, ConnectionClosedError } from 'wskit';

const args = process.argv.slice(2);
const countAt = args.indexOf('--count');
const count = countAt === -1 ? Infinity : Number(args.splice(countAt, 2)[1]);
const address = args[0] ?? '127.0.0.1:8080';
const base = address.includes('://') ? address : `ws://${address}`;
const url = `${base}/sensor/connect?type=android.sensor.accelerometer`;

interface Reading {
  values: number[];
  timestamp: number;
  accuracy: number;
}

const ws = await connect(url);
console.log(`reading ${url}`);
process.once('SIGINT', () => void ws.close(1000, 'bye'));

let first: number | null = null;
let printed = 0;
try {
  for await (const message of ws) {
    const { values, timestamp } = JSON.parse(String(message)) as Reading;
    const [x = 0, y = 0, z = 0] = values;
    first ??= timestamp;
    const seconds = (timestamp - first) / 1e9;
    const magnitude = Math.hypot(x, y, z);
    const bar = '#'.repeat(Math.min(40, Math.round(magnitude * 2)));
    const axis = (v: number) => v.toFixed(2).padStart(7);
    console.log(`${seconds.toFixed(3).padStart(8)} s  x ${axis(x)}  y ${axis(y)}  z ${axis(z)}  |a| ${magnitude.toFixed(2).padStart(6)} ${bar}`);
    if (++printed >= count) {
      await ws.close(1000, 'enough readings');
      break;
    }
  }
} catch (error) {
  // Codes other than 1000/1001 end the loop with an error. SensorServer has its own:
  // 4004 when stopped in the app, 4005 when its user disconnects us, 4001 for a sensor the phone lacks.
  if (!(error instanceof ConnectionClosedError)) throw error;
}
console.log(`closed: ${ws.closeCode} ${ws.closeReason ?? ''}`.trimEnd());
