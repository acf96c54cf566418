/**
 * Consumes a stream of sensor readings forever, reconnecting after each drop
 * and printing every drop and recovery. Ctrl-C stops it.
 *
 *   npx tsx examples/sensor-client.ts [url] [initialDelayMs]
 *
 * The default URL is a SensorServer accelerometer stream
 * (ws://127.0.0.1:8080/sensor/connect?type=android.sensor.accelerometer).
 */
import { connect, type Connection } from 'wskit';

const url = process.argv[2] ?? 'ws://127.0.0.1:8080/sensor/connect?type=android.sensor.accelerometer';
const initialDelay = Number(process.argv[3] ?? 5000);
const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 23)} ${line}`);
const describe = (reason: unknown) => (reason instanceof Error ? reason.message : String(reason));

const stop = new AbortController();
let current: Connection | null = null;
process.once('SIGINT', () => {
  stop.abort();
  void current?.close(1001, 'client stopping');
});

let droppedAt = 0;
const connections = connect(url, {
  signal: stop.signal,
  pingInterval: 5_000, // a frozen server is noticed within 10 s
  pingTimeout: 5_000,
  reconnect: {
    initialDelay,
    maxDelay: 30_000,
    onRetry: (attempt, delay, reason) => log(`retry #${attempt} in ${delay} ms (${describe(reason)})`),
  },
});
try {
  for await (const ws of connections) {
    current = ws;
    log(droppedAt === 0 ? `connected to ${url}` : `reconnected after ${Date.now() - droppedAt} ms down`);
    let received = 0;
    try {
      for await (const message of ws) {
        received++;
        log(`reading ${String(message)}`);
      }
      log(`closed by the server (${ws.closeCode}${ws.closeReason ? ` ${ws.closeReason}` : ''}) after ${received} readings`);
    } catch (error) {
      log(`dropped after ${received} readings: ${describe(error)}`);
    }
    current = null;
    droppedAt = Date.now();
  }
} catch (error) {
  log(`giving up: ${describe(error)}`);
  process.exitCode = 1;
}
