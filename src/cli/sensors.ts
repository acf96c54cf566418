import { createWriteStream } from 'node:fs';
import { numberFlag, parseOptions, parsePort, redisUrlFlag, SECONDS, UsageError, untilSignal } from './args.js';
import { Collector, FileRecorder, type Sample, type SourceStatus } from './sensors/collector.js';
import { Dashboard, DEFAULT_HISTORY_SECONDS, sensorsHistory } from './sensors/dashboard.js';
import { redisHistory } from '../pubsub/redis-history.js';
import { DEFAULT_WEB_PORT, DEFAULT_WS_PORT, streamUrls } from './sensors/protocol.js';
import { SensorSimulator } from './sensors/simulator.js';
import { escapeControl } from './format.js';
import type { NumberRule } from '../node/options.js';

/** One line for `wskit --help`. */
export const summary = 'live dashboard and recorder for the SensorServer Android app (and a simulator of it)';

/** `wskit sensors --help`. */
export const help = `Usage: wskit sensors URL... [--type T,...] [--port P] [--csv FILE] [--json FILE]
       wskit sensors HOST:PORT --list [--web-port Q]
       wskit sensors --simulate [--port P] [--web-port Q] [--rate HZ]

Reads the phone sensors streamed by the SensorServer Android app
(github.com/umer0586/SensorServer) and shows them live in the browser: one chart
per sensor with a line per axis, numeric readout, rate, dropped samples,
pause, time window, CSV/JSON recording. Reconnects by itself when the app
restarts; close codes are shown in words.

URL is a full stream URL (ws://192.168.1.20:8080/sensor/connect?type=android.sensor.light,
/sensors/connect?types=[...], /gps, /touchscreen) or HOST:PORT with --type.
Several sensor types share one /sensors/connect stream; gps and touch have
their own.

Dashboard and recording:
      --type T,...   for HOST:PORT: accelerometer, gyroscope, magnetic_field, gravity,
                     linear_acceleration, rotation_vector, step_detector, light,
                     pressure, proximity, gps, touch, or android.sensor.* names
                     (default accelerometer)
  -p, --port P       dashboard port (default 8767; 0 picks a free port)
      --host H       dashboard interface (default 127.0.0.1)
      --allow-host NAME  also answer for this host name (repeatable); IP
                     addresses, localhost and *.localhost always work, other
                     names get 403 (DNS rebinding)
      --csv FILE     record to CSV: received_ms,source,type,timestamp_ns,accuracy,action,v0..v5
                     (GPS: v0..v4 = latitude, longitude, altitude, speed, bearing; touch: v0,v1 = x,y)
      --json FILE    record every message verbatim as JSON Lines {received,source,message}
                     With --csv or --json no dashboard is served unless --port is given.
      --history S    keep S seconds of samples for pages that reconnect or reload, which
                     get the samples of the gap (default ${DEFAULT_HISTORY_SECONDS}; 5m accepted)
      --redis URL    keep that history in Redis Streams (redis://host:port), so that it
                     survives a restart of wskit sensors; without it a restart loses it and
                     the page says so
  -d, --duration S   stop after S seconds (default: until Ctrl-C; 90s, 5m accepted)
      --list         print the sensors the phone offers (GET http://HOST:WEB_PORT/sensors)

Simulator (a SensorServer-compatible fake phone, same paths, JSON and close codes):
      --simulate     run the simulator instead
  -p, --port P       WebSocket port (default ${DEFAULT_WS_PORT})
      --web-port Q   HTTP port answering GET /wsport and GET /sensors (default ${DEFAULT_WEB_PORT})
      --host H       interface (default 127.0.0.1; 0.0.0.0 to reach it from other machines)
      --rate HZ      samples per second per sensor (default 5: the app's 200,000 µs interval)
      --log-sent F   write every message sent as JSON Lines {conn,path,message}
      --limit N      stop sending after N messages per stream (for tests)
      --drop P       skip this fraction of samples, leaving gaps (to see the dropped counter)
      --deny-location  close /gps with 4009 (permission denied)

Examples:
  wskit sensors 192.168.1.20:8080 --type accelerometer,gyroscope,gps
  wskit sensors 'ws://192.168.1.20:8080/sensor/connect?type=android.sensor.light'
  wskit sensors 192.168.1.20:8080 --type accelerometer --csv walk.csv --duration 60
  wskit sensors --simulate --rate 200 & wskit sensors 127.0.0.1:8080 --type accelerometer,gyroscope,gps,touch
`;

/** Runs `wskit sensors`. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    args,
    {
      type: { type: 'string', short: 't' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      'allow-host': { type: 'string', multiple: true },
      csv: { type: 'string' },
      json: { type: 'string' },
      duration: { type: 'string', short: 'd' },
      history: { type: 'string' },
      redis: { type: 'string' },
      list: { type: 'boolean' },
      simulate: { type: 'boolean' },
      'web-port': { type: 'string' },
      rate: { type: 'string' },
      'log-sent': { type: 'string' },
      limit: { type: 'string' },
      drop: { type: 'string' },
      'deny-location': { type: 'boolean' },
      seed: { type: 'string' },
    },
    true,
  );
  if (values.simulate) {
    if (positionals.length > 0) throw new UsageError('--simulate takes no URL');
    return simulate(values);
  }
  if (positionals.length === 0) throw new UsageError('give a SensorServer URL or HOST:PORT (or --simulate)');
  const types = values.type?.split(',').map((t) => t.trim()).filter(Boolean) ?? ['accelerometer'];
  const urls: string[] = [];
  for (const target of positionals) {
    if (/^(ws|wss):\/\//i.test(target)) urls.push(target);
    else if (/^[^/\s]+:\d+$/.test(target)) {
      if (values.list) return list(target, parsePort(values['web-port'], DEFAULT_WEB_PORT, '--web-port'));
      urls.push(...streamUrls(target, types));
    } else throw new UsageError(`'${target}' is neither a ws:// URL nor HOST:PORT`);
  }
  const duration = numberFlag('--duration', values.duration, { ...SECONDS, positive: true });
  const dashboardPort = parsePort(values.port, 8767);
  const historySeconds = numberFlag('--history', values.history, { ...SECONDS, positive: true, max: 7 * 24 * 3600 }) ?? DEFAULT_HISTORY_SECONDS;
  const redis = values.redis === undefined ? undefined : redisUrlFlag(values.redis);

  const collector = new Collector(urls);
  const recorders: FileRecorder[] = [];
  if (values.csv) recorders.push(new FileRecorder(values.csv, 'csv'));
  if (values.json) recorders.push(new FileRecorder(values.json, 'json'));
  for (const recorder of recorders) {
    collector.on('sample', (sample: Sample, text: string) => {
      const drained = recorder.write(sample, text);
      if (drained !== null) collector.holdUntil(drained);
    });
  }
  collector.on('status', (source: SourceStatus) => process.stderr.write(escapeControl(statusLine(source)) + '\n'));
  collector.on('warning', (source: SourceStatus, text: string) => process.stderr.write(escapeControl(`[${source.id}] ${source.url}: ${text}`) + '\n'));

  let dashboard: Dashboard | null = null;
  if (recorders.length === 0 || values.port !== undefined) {
    // Redis outages are reported on stderr, escaped: Redis's error text comes from the network.
    const logger = { error: (...parts: unknown[]) => process.stderr.write(escapeControl(parts.map((p) => (p instanceof Error ? p.message : String(p))).join(' ')) + '\n') };
    const history =
      redis === undefined
        ? sensorsHistory(historySeconds)
        : redisHistory({ url: redis, prefix: 'wskit:sensors', ttl: Math.round(historySeconds * 1000), size: 1_000_000, logger });
    dashboard = new Dashboard(collector, { host: values.host ?? '127.0.0.1', port: dashboardPort, allowedHosts: values['allow-host'], history, logger });
    try {
      await dashboard.listen();
    } catch (error) {
      await dashboard.close().catch(() => undefined);
      const e = error as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE') throw new Error(`port ${dashboardPort} is already in use (--port)`);
      throw error; // Redis unreachable: its own message names it (password redacted)
    }
    process.stdout.write(`Dashboard at ${dashboard.url}\n`);
  }
  for (const url of urls) process.stdout.write(`Reading ${url}\n`);
  collector.start();
  const printStats = () => {
    const stats = collector.stats();
    if (stats.length > 0) process.stderr.write(escapeControl(stats.map((s) => `${s.title} ${s.rate.toFixed(1)} Hz, ${s.count} samples, ${s.gaps} missing`).join(' | ')) + '\n');
  };
  const summaryTimer = setInterval(printStats, 5000);
  let timer: NodeJS.Timeout | undefined;
  const stop = new Promise<string>((resolve) => {
    if (duration !== undefined) timer = setTimeout(() => resolve('duration'), duration * 1000);
    void untilSignal().then(resolve);
    void collector.done().then(() => resolve('failed'));
  });
  const why = await stop;
  clearTimeout(timer);
  clearInterval(summaryTimer);
  printStats();
  // Stopping is bounded: closing handshakes have 2 s (closeTimeout), and whatever still hangs after 5 s is cut.
  const code = why === 'failed' ? 1 : 0;
  const deadline = setTimeout(() => {
    process.stderr.write('wskit sensors: connections did not close within 5 s; exiting\n');
    process.exit(code);
  }, 5000);
  deadline.unref();
  const recorded = collector.stop().then(() => Promise.all(recorders.map((r) => r.close())));
  await Promise.all([recorded, dashboard?.close()]);
  for (const recorder of recorders) process.stderr.write(`Recorded ${recorder.count} samples\n`);
  clearTimeout(deadline);
  return code;
}

function statusLine(source: SourceStatus): string {
  const where = `[${source.id}] ${source.url}`;
  switch (source.state) {
    case 'open':
      return `${where}: connected`;
    case 'retrying':
      return `${where}: ${source.lastClose ?? 'closed'}; retrying in ${((source.retryAt! - Date.now()) / 1000).toFixed(1)} s`;
    case 'failed':
      return `${where}: ${source.lastClose ?? 'failed'}; not retrying`;
    case 'connecting':
      return `${where}: connecting`;
    default:
      return `${where}: stopped`;
  }
}

async function list(hostPort: string, webPort: number): Promise<number> {
  const host = hostPort.slice(0, hostPort.lastIndexOf(':'));
  const url = `http://${host}:${webPort}/sensors`;
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  let sensors: unknown;
  try {
    sensors = JSON.parse(await readAtMost(response, LIST_LIMIT));
  } catch (error) {
    throw new Error(`${url} did not answer a sensor list: ${(error as Error).message}`);
  }
  if (!Array.isArray(sensors)) throw new Error(`${url} did not answer a sensor list (a JSON array)`);
  for (const sensor of sensors as Array<{ name?: unknown; type?: unknown }>) {
    process.stdout.write(escapeControl(`${String(sensor?.type).padEnd(42)} ${String(sensor?.name)}`) + '\n');
  }
  return 0;
}

/** The most of a `--list` answer read (a phone's list is a few kB). */
const LIST_LIMIT = 1 << 20;

/** A response body as text, refused past `limit` bytes (a hostile phone could stream forever). */
async function readAtMost(response: Response, limit: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  while (reader !== undefined) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new Error(`more than ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function simulate(values: Record<string, string | string[] | boolean | undefined>): Promise<number> {
  const number = (name: string, rule: NumberRule) => numberFlag(`--${name}`, values[name] as string | undefined, rule);
  const rate = number('rate', { positive: true, max: 10_000 });
  const limit = number('limit', { integer: true, unit: 'count' });
  const drop = number('drop', { max: 0.99 });
  const seed = number('seed', { integer: true, max: 2 ** 32 - 1 });
  const logPath = values['log-sent'] as string | undefined;
  const log = logPath ? createWriteStream(logPath) : null;
  const port = parsePort(values.port as string | undefined, DEFAULT_WS_PORT);
  const webPort = parsePort(values['web-port'] as string | undefined, DEFAULT_WEB_PORT, '--web-port');
  const simulator = new SensorSimulator({
    host: (values.host as string | undefined) ?? '127.0.0.1',
    port,
    webPort,
    rate,
    limit,
    drop,
    seed,
    denyLocation: Boolean(values['deny-location']),
    onSent: log ? (conn, path, text) => log.write(`{"conn":${conn},"path":${JSON.stringify(path)},"message":${text}}\n`) : undefined,
  });
  try {
    await simulator.start();
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { port?: number };
    if (e.code !== 'EADDRINUSE') throw error;
    const flag = e.port === webPort && e.port !== port ? '--web-port' : '--port';
    throw new Error(`port ${e.port} is already in use (${flag})`);
  }
  const hostPort = simulator.url.replace(/^ws:\/\//, '');
  process.stdout.write(
    `SensorServer simulator on ${simulator.url} (HTTP ${simulator.webUrl}/wsport and /sensors), ${simulator.rate} samples/s per sensor\n` +
      `Try: wskit sensors ${hostPort} --type accelerometer,gyroscope,magnetic_field,gps,touch\n`,
  );
  await untilSignal();
  await simulator.close();
  if (log) await new Promise((resolve) => log.end(resolve));
  return 0;
}
