/**
 * A SensorServer-compatible simulator: the same WebSocket paths, query
 * parameters, JSON shapes and close codes as the Android app, plus its two
 * HTTP endpoints (`GET /wsport`, `GET /sensors`), fed by `signals.ts`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type Handler, type RouteMatch, type Server } from '../../node/server.js';
import { router } from '../../router.js';
import type { Connection } from '../../node/connection.js';
import type { RequestInfo } from '../../node/types.js';
import {
  DEFAULT_SAMPLING_INTERVAL_US,
  GET_LAST_KNOWN_LOCATION,
  PATH_GPS,
  PATH_SENSOR,
  PATH_SENSORS,
  PATH_TOUCH,
  SensorCloseCode,
  sensorInfo,
} from './protocol.js';
import {
  accuracyOf,
  location,
  Random,
  sampleValues,
  SAMPLED_TYPES,
  SIMULATED_TYPES,
  STEP_DETECTOR,
  stepTimes,
  stroke,
  type TouchSample,
} from './signals.js';

/** Options of {@link SensorSimulator}. */
export interface SimulatorOptions {
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** WebSocket port (the app's default is 8080); 0 picks a free one. */
  port?: number;
  /** HTTP port for `/wsport` and `/sensors` (the app's default is 9090); 0 picks a free one, null for none. */
  webPort?: number | null;
  /** Samples per second per sampled sensor. Default 5 (the app's 200,000 µs interval). */
  rate?: number;
  /** GPS fixes per second. Default 1. */
  gpsRate?: number;
  /** Stop sending on a stream after this many messages (tests). */
  limit?: number;
  /** Fraction of samples to skip, leaving gaps in the timestamps (to exercise drop indicators). */
  drop?: number;
  /** Close `/gps` with 4009 as if location permission were missing. */
  denyLocation?: boolean;
  /** PRNG seed for sensor noise. */
  seed?: number;
  /** Called with every text message sent, and the connection's number. */
  onSent?: (connection: number, path: string, text: string) => void;
  /** Queued bytes above which a slow client's samples are skipped (as a phone's buffer would). Default 1 MiB. */
  highWaterMark?: number;
}

/** One open stream and its schedule. */
interface Stream {
  id: number;
  ws: Connection;
  path: string;
  types: string[];
  multi: boolean;
  /** Next sample time, ns since the simulation started, per sampled type. */
  next: Map<string, number>;
  /** Up to where step events were emitted (seconds since start). */
  stepsUntil: number;
  /** Next GPS fix (s since start). */
  nextFix: number;
  /** Pending touch events and the next stroke time. */
  touches: TouchSample[];
  nextStroke: number;
  sent: number;
  rng: Random;
}

const noop = () => {};

/** A simulated phone running SensorServer. */
export class SensorSimulator {
  /** The WebSocket server (after `start()`). */
  ws: Server | null = null;
  /** The HTTP server of `/wsport` and `/sensors` (after `start()`), if any. */
  web: http.Server | null = null;
  /** Messages sent so far on all streams. */
  sent = 0;
  /** Samples skipped because a client read too slowly. */
  skipped = 0;
  private readonly options: SimulatorOptions;
  private readonly streams = new Set<Stream>();
  private timer: NodeJS.Timeout | null = null;
  private readonly started = performance.now();
  /** Pretend uptime so timestamps look like `SensorEvent.timestamp` (ns since boot). */
  private readonly bootOffsetNs = 3 * 3600e9 + 1234567;
  private nextId = 1;
  private lastFix: ReturnType<typeof location> & { time: number; elapsedRealtimeNanos: number } | null = null;

  constructor(options: SimulatorOptions = {}) {
    this.options = options;
  }

  /** Samples per second per sampled sensor. */
  get rate(): number {
    return this.options.rate ?? 1e6 / DEFAULT_SAMPLING_INTERVAL_US;
  }

  /** Starts both servers. */
  async start(): Promise<this> {
    const host = this.options.host ?? '127.0.0.1';
    this.ws = await serve(() => undefined, {
      host,
      port: this.options.port ?? 0,
      logger: null,
      route: this.route(),
    });
    if (this.options.webPort !== null) {
      const web = http.createServer((req, res) => this.answerHttp(req, res));
      try {
        await new Promise<void>((resolve, reject) => {
          web.once('error', reject);
          web.listen(this.options.webPort ?? 0, host, () => resolve());
        });
      } catch (error) {
        // Half started is not started: the WebSocket server would keep the process alive.
        await this.ws.close();
        this.ws = null;
        throw error;
      }
      this.web = web;
    }
    const tick = Math.max(4, Math.min(20, 1000 / this.rate));
    this.timer = setInterval(() => this.tick(), tick);
    return this;
  }

  /** The WebSocket base URL, e.g. `ws://127.0.0.1:8080`. */
  get url(): string {
    return this.ws!.url;
  }

  /** The WebSocket port. */
  get port(): number {
    return this.ws!.address()!.port;
  }

  /** The HTTP base URL, e.g. `http://127.0.0.1:9090`. */
  get webUrl(): string {
    const address = this.web!.address() as AddressInfo;
    return `http://${address.address}:${address.port}`;
  }

  /** Number of open streams. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Stops like the app's Stop button: every stream is closed with 4004, or `code` (e.g. 4005). */
  async close(code: number = SensorCloseCode.SERVER_STOPPED, reason = 'Server stopped'): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const web = this.web;
    await Promise.all([
      this.ws?.close(code, reason),
      web ? new Promise<void>((resolve) => web.close(() => resolve())) : undefined,
    ]);
    web?.closeAllConnections();
  }

  /** Closes the open streams with `code` as the app's user would (4005), keeping the servers running. */
  async disconnectAll(code: number = SensorCloseCode.CLOSED_BY_APP_USER, reason = 'Connection closed by user'): Promise<void> {
    await Promise.all([...this.streams].map((s) => s.ws.close(code, reason).catch(noop)));
  }

  private nowSeconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  private answerHttp(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!.toLowerCase();
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Access-Control-Allow-Origin': '*' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method not allowed' });
    if (path === '/wsport') return json(200, { portNo: this.port });
    if (path === '/sensors') {
      return json(200, SIMULATED_TYPES.map((type) => ({ name: `wskit simulated ${sensorInfo(type).title.toLowerCase()}`, type })));
    }
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`wskit SensorServer simulator: WebSocket on port ${this.port}; GET /wsport, GET /sensors\n`);
      return;
    }
    json(404, { error: 'not found' });
  }

  /** Routes by path, lower-cased as by the app; other paths are accepted, then closed with 4002. */
  private route(): (request: RequestInfo) => RouteMatch {
    const handler: Handler = (ws) => this.handle(ws, ws.request!);
    const paths = router({ [PATH_SENSOR]: handler, [PATH_SENSORS]: handler, [PATH_GPS]: handler, [PATH_TOUCH]: handler });
    return (request) => paths({ path: request.path.toLowerCase() }) ?? { handler, params: {} };
  }

  private async handle(ws: Connection, request: RequestInfo): Promise<void> {
    const path = request.path.toLowerCase();
    let types: string[];
    let multi = false;
    if (path === PATH_SENSOR) {
      const type = request.query.get('type');
      if (type === null) return void (await ws.close(SensorCloseCode.PARAMETER_MISSING, '<type> param required'));
      if (type === '') return void (await ws.close(SensorCloseCode.NO_SENSOR_SPECIFIED, 'No sensor specified'));
      if (!SIMULATED_TYPES.includes(type.toLowerCase())) {
        return void (await ws.close(SensorCloseCode.SENSOR_NOT_FOUND, `Sensor of type ${type} not found`));
      }
      types = [type.toLowerCase()];
    } else if (path === PATH_SENSORS) {
      const raw = request.query.get('types');
      if (raw === null) return void (await ws.close(SensorCloseCode.PARAMETER_MISSING, '<Types> parameter required'));
      const list = parseJsonArray(raw);
      if (list === null) {
        return void (await ws.close(SensorCloseCode.INVALID_JSON_ARRAY, `Syntax error : ${raw} is not valid JSON array`));
      }
      if (list.length === 1) return void (await ws.close(SensorCloseCode.TOO_FEW_SENSORS, 'At least two sensor types must be specified'));
      if (list.length === 0) return void (await ws.close(SensorCloseCode.NO_SENSOR_SPECIFIED, ' No sensor specified'));
      const unknown = list.find((t) => !SIMULATED_TYPES.includes(t.toLowerCase()));
      if (unknown !== undefined) return void (await ws.close(SensorCloseCode.SENSOR_NOT_FOUND, `sensor of type ${unknown} not found`));
      types = list.map((t) => t.toLowerCase());
      multi = true;
    } else if (path === PATH_GPS) {
      if (this.options.denyLocation) {
        // The app's reason goes on to explain the Android settings, but a close reason is limited to 123 bytes.
        return void (await ws.close(SensorCloseCode.PERMISSION_DENIED, 'App has No permission to access location'));
      }
      types = ['gps'];
    } else if (path === PATH_TOUCH) {
      types = ['touch'];
    } else {
      return void (await ws.close(SensorCloseCode.UNSUPPORTED_REQUEST, 'unsupported request'));
    }
    const nowNs = Math.round(this.nowSeconds() * 1e9);
    const id = this.nextId++;
    const stream: Stream = {
      id,
      ws,
      path,
      types,
      multi,
      next: new Map(types.filter((t) => (SAMPLED_TYPES as readonly string[]).includes(t)).map((t) => [t, nowNs])),
      stepsUntil: nowNs / 1e9,
      nextFix: nowNs / 1e9 + 0.2,
      touches: [],
      nextStroke: nowNs / 1e9 + 0.3,
      sent: 0,
      rng: new Random((this.options.seed ?? 7) * 1000 + id),
    };
    this.streams.add(stream);
    try {
      for await (const message of ws) {
        // Binary messages and other texts are ignored, as by the app.
        if (path === PATH_GPS && message === GET_LAST_KNOWN_LOCATION) {
          const fix = this.lastFix ?? this.fix(this.nowSeconds(), stream.rng);
          this.send(stream, JSON.stringify({ ...fix, lastKnowLocation: true }), true);
        }
      }
    } finally {
      this.streams.delete(stream);
    }
  }

  private fix(t: number, rng: Random): NonNullable<SensorSimulator['lastFix']> {
    const elapsedRealtimeNanos = this.bootOffsetNs + Math.round(t * 1e9);
    const time = Math.round(Date.now() - (this.nowSeconds() - t) * 1000);
    return { ...location(t, rng), time, elapsedRealtimeNanos };
  }

  /** Sends `text` unless the stream hit its limit or the client reads too slowly; returns whether it was sent. */
  private send(stream: Stream, text: string, force = false): boolean {
    const limit = this.options.limit;
    if (limit !== undefined && stream.sent >= limit && !force) return false;
    if (stream.ws.bufferedAmount > (this.options.highWaterMark ?? 1 << 20)) {
      this.skipped++;
      return false;
    }
    stream.ws.send(text).catch(noop);
    stream.sent++;
    this.sent++;
    this.options.onSent?.(stream.id, stream.path, text);
    return true;
  }

  private tick(): void {
    const now = this.nowSeconds();
    const nowNs = Math.round(now * 1e9);
    const periodNs = Math.round(1e9 / this.rate);
    const drop = this.options.drop ?? 0;
    for (const stream of this.streams) {
      if (stream.ws.readyState !== 1) continue;
      // Sampled sensors: every due grid point, in time order across types.
      const due: Array<[number, string]> = [];
      for (const [type, next] of stream.next) {
        let t = next;
        for (; t <= nowNs; t += periodNs) due.push([t, type]);
        stream.next.set(type, t);
      }
      // The step detector fires on steps.
      if (stream.types.includes(STEP_DETECTOR)) {
        for (const ts of stepTimes(stream.stepsUntil, now)) due.push([Math.round(ts * 1e9), STEP_DETECTOR]);
        stream.stepsUntil = now;
      }
      due.sort((a, b) => a[0] - b[0]);
      for (const [tNs, type] of due) {
        if (drop > 0 && stream.rng.next() < drop) continue;
        const values = type === STEP_DETECTOR ? [1] : sampleValues(type, tNs / 1e9, stream.rng)!;
        const event: Record<string, unknown> = { values, timestamp: this.bootOffsetNs + tNs, accuracy: accuracyOf(type) };
        if (stream.multi) event.type = type;
        this.send(stream, JSON.stringify(event));
      }
      if (stream.types.includes('gps')) {
        const gpsRate = this.options.gpsRate ?? 1;
        while (stream.nextFix <= now) {
          const fix = this.fix(stream.nextFix, stream.rng);
          this.lastFix = fix;
          stream.nextFix += 1 / gpsRate;
          this.send(stream, JSON.stringify({
            longitude: fix.longitude,
            latitude: fix.latitude,
            altitude: fix.altitude,
            bearing: fix.bearing,
            accuracy: fix.accuracy,
            speed: fix.speed,
            time: fix.time,
            lastKnowLocation: false,
            speedAccuracyMetersPerSecond: 0.3,
            bearingAccuracyDegrees: 8.5,
            elapsedRealtimeNanos: fix.elapsedRealtimeNanos,
            verticalAccuracyMeters: 3.1,
            elapsedRealtimeAgeMillis: 0,
            elapsedRealtimeUncertaintyNanos: 1e6,
          }));
        }
      }
      if (stream.types.includes('touch')) {
        if (stream.touches.length === 0 && stream.nextStroke <= now) {
          stream.touches = stroke(stream.nextStroke, stream.rng);
          stream.nextStroke = stream.touches.at(-1)!.t + 0.6 + stream.rng.next() * 1.8;
        }
        while (stream.touches.length > 0 && stream.touches[0]!.t <= now) {
          const { action, x, y } = stream.touches.shift()!;
          this.send(stream, JSON.stringify({ action, x, y }));
        }
      }
    }
  }
}

/** Parses the `types` parameter like the app's `JsonUtil.readJSONArray`: a JSON array of strings, else null. */
export function parseJsonArray(text: string): string[] | null {
  try {
    const value: unknown = JSON.parse(text);
    if (!Array.isArray(value)) return null;
    return value.map((v) => String(v));
  } catch {
    return null;
  }
}
