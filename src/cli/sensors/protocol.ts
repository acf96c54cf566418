/**
 * The SensorServer protocol (umer0586/SensorServer 6.4.0): paths, message
 * shapes, close codes, and what each Android sensor's values mean.
 */

/** The app's default WebSocket port. */
export const DEFAULT_WS_PORT = 8080;
/** The app's default HTTP (web UI) port, which answers `GET /wsport` and `GET /sensors`. */
export const DEFAULT_WEB_PORT = 9090;
/** The app's default sampling interval in microseconds (SENSOR_DELAY 200 ms, i.e. 5 Hz). */
export const DEFAULT_SAMPLING_INTERVAL_US = 200_000;

/** Path of a single-sensor stream: `?type=android.sensor.…`. */
export const PATH_SENSOR = '/sensor/connect';
/** Path of a multi-sensor stream: `?types=["t1","t2"]` (URL-encoded JSON array, at least two). */
export const PATH_SENSORS = '/sensors/connect';
/** Path of the location stream. */
export const PATH_GPS = '/gps';
/** Path of the touch-screen stream. */
export const PATH_TOUCH = '/touchscreen';
/** The text a `/gps` client sends to get the last known location at once. */
export const GET_LAST_KNOWN_LOCATION = 'getLastKnownLocation';

/** The app's close codes (SensorWebSocketServer.kt). */
export const SensorCloseCode = {
  SENSOR_NOT_FOUND: 4001,
  UNSUPPORTED_REQUEST: 4002,
  PARAMETER_MISSING: 4003,
  SERVER_STOPPED: 4004,
  CLOSED_BY_APP_USER: 4005,
  INVALID_JSON_ARRAY: 4006,
  TOO_FEW_SENSORS: 4007,
  NO_SENSOR_SPECIFIED: 4008,
  PERMISSION_DENIED: 4009,
} as const;

const CLOSE_WORDS: Record<number, string> = {
  1000: 'normal closure',
  1001: 'going away (server shutting down or page left)',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status code received',
  1006: 'connection lost without a close frame (network, app killed, or server unreachable)',
  1007: 'invalid data (bad UTF-8)',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'missing extension',
  1011: 'internal server error',
  1012: 'service restart',
  1013: 'try again later',
  1015: 'TLS handshake failed',
  4001: 'sensor not found on this phone',
  4002: 'unsupported request (unknown path)',
  4003: 'parameter missing (type or types)',
  4004: 'server stopped in the app',
  4005: "closed by the app's user",
  4006: 'invalid JSON array in types',
  4007: 'too few sensors (a multi-sensor stream needs at least two)',
  4008: 'no sensor specified',
  4009: 'permission denied (allow location for SensorServer in Android settings)',
};

/** A close code in words, e.g. `4005 closed by the app's user`. */
export function describeClose(code: number, reason = ''): string {
  const words = CLOSE_WORDS[code] ?? (code >= 4000 && code < 5000 ? 'application-defined code' : 'unknown code');
  return `${code} ${words}${reason ? ` — "${reason}"` : ''}`;
}

/**
 * Close codes after which retrying cannot help (the request itself is wrong);
 * 4004/4005 (app stopped) and 4009 (permission, may be granted) are retried.
 */
export const PERMANENT_CLOSE_CODES: ReadonlySet<number> = new Set([4001, 4002, 4003, 4006, 4007, 4008]);

/** What one sensor's values mean: axis labels and a unit. */
export interface SensorInfo {
  /** The Android string type, e.g. `android.sensor.accelerometer`. */
  type: string;
  /** The short name used on the command line, e.g. `accelerometer`. */
  short: string;
  /** A human title. */
  title: string;
  /** The unit of every value. */
  unit: string;
  /** One label per value index (Android device axes: X right, Y up the screen, Z out of the screen). */
  axes: string[];
}

const XYZ = ['X (right)', 'Y (up the screen)', 'Z (out of the screen)'];

/** The sensors wskit knows how to label; others are shown with generic axis names. */
export const SENSORS: readonly SensorInfo[] = [
  { type: 'android.sensor.accelerometer', short: 'accelerometer', title: 'Accelerometer', unit: 'm/s²', axes: XYZ },
  { type: 'android.sensor.gyroscope', short: 'gyroscope', title: 'Gyroscope', unit: 'rad/s', axes: XYZ.map((a) => `about ${a}`) },
  { type: 'android.sensor.magnetic_field', short: 'magnetic_field', title: 'Magnetic field', unit: 'µT', axes: XYZ },
  { type: 'android.sensor.gravity', short: 'gravity', title: 'Gravity', unit: 'm/s²', axes: XYZ },
  { type: 'android.sensor.linear_acceleration', short: 'linear_acceleration', title: 'Linear acceleration', unit: 'm/s²', axes: XYZ },
  {
    type: 'android.sensor.rotation_vector',
    short: 'rotation_vector',
    title: 'Rotation vector',
    unit: '',
    axes: ['x·sin(θ/2)', 'y·sin(θ/2)', 'z·sin(θ/2)', 'cos(θ/2)', 'heading accuracy (rad)'],
  },
  {
    type: 'android.sensor.game_rotation_vector',
    short: 'game_rotation_vector',
    title: 'Game rotation vector',
    unit: '',
    axes: ['x·sin(θ/2)', 'y·sin(θ/2)', 'z·sin(θ/2)', 'cos(θ/2)'],
  },
  { type: 'android.sensor.orientation', short: 'orientation', title: 'Orientation', unit: '°', axes: ['azimuth', 'pitch', 'roll'] },
  { type: 'android.sensor.step_detector', short: 'step_detector', title: 'Step detector', unit: 'step', axes: ['step'] },
  { type: 'android.sensor.step_counter', short: 'step_counter', title: 'Step counter', unit: 'steps', axes: ['steps since boot'] },
  { type: 'android.sensor.light', short: 'light', title: 'Light', unit: 'lx', axes: ['illuminance'] },
  { type: 'android.sensor.pressure', short: 'pressure', title: 'Pressure', unit: 'hPa', axes: ['air pressure'] },
  { type: 'android.sensor.proximity', short: 'proximity', title: 'Proximity', unit: 'cm', axes: ['distance'] },
  { type: 'android.sensor.ambient_temperature', short: 'ambient_temperature', title: 'Temperature', unit: '°C', axes: ['temperature'] },
  { type: 'android.sensor.relative_humidity', short: 'relative_humidity', title: 'Humidity', unit: '%', axes: ['relative humidity'] },
];

/** Sensors that report at a steady rate (others report on change or on events), so a long pause means lost samples. */
export const CONTINUOUS_TYPES: ReadonlySet<string> = new Set([
  'android.sensor.accelerometer',
  'android.sensor.accelerometer_uncalibrated',
  'android.sensor.gyroscope',
  'android.sensor.gyroscope_uncalibrated',
  'android.sensor.magnetic_field',
  'android.sensor.magnetic_field_uncalibrated',
  'android.sensor.gravity',
  'android.sensor.linear_acceleration',
  'android.sensor.rotation_vector',
  'android.sensor.game_rotation_vector',
  'android.sensor.geomagnetic_rotation_vector',
  'android.sensor.orientation',
]);

/** Pseudo-types for the two non-sensor streams. */
export const GPS_TYPE = 'gps';
/** The touch-screen stream's pseudo-type. */
export const TOUCH_TYPE = 'touch';

const ALIASES: Record<string, string> = {
  accel: 'accelerometer',
  acc: 'accelerometer',
  gyro: 'gyroscope',
  magnetometer: 'magnetic_field',
  magnetic: 'magnetic_field',
  mag: 'magnetic_field',
  linear: 'linear_acceleration',
  rotation: 'rotation_vector',
  steps: 'step_detector',
  step: 'step_detector',
  touchscreen: TOUCH_TYPE,
  location: GPS_TYPE,
};

/** Maps a short name (`accelerometer`, `gyro`, `gps`, `touch`) or a full Android type to the Android type (or `gps`/`touch`). */
export function resolveType(name: string): string {
  const lower = name.trim().toLowerCase();
  if (lower.includes('.')) return lower;
  const short = ALIASES[lower] ?? lower;
  if (short === GPS_TYPE || short === TOUCH_TYPE) return short;
  return `android.sensor.${short}`;
}

/** Labels for `type`, generic (`v0`, `v1`…) when unknown. */
export function sensorInfo(type: string, valueCount = 3): SensorInfo {
  const known = SENSORS.find((s) => s.type === type.toLowerCase());
  if (known) return known;
  const short = type.replace(/^android\.sensor\./, '');
  return { type, short, title: short, unit: '', axes: Array.from({ length: valueCount }, (_, i) => `v${i}`) };
}

/** A sensor event as the app sends it (`type` only on multi-sensor streams). */
export interface SensorEvent {
  /** The values (meaning per sensor type). */
  values: number[];
  /** `SensorEvent.timestamp`: nanoseconds since the phone booted (not Unix time). */
  timestamp: number;
  /** `SENSOR_STATUS_*`: 0 unreliable … 3 high. */
  accuracy: number;
  /** The Android type, present on `/sensors/connect` streams. */
  type?: string;
}

/** A location as the app sends it on `/gps`. */
export interface LocationEvent {
  /** Degrees. */
  longitude: number;
  /** Degrees. */
  latitude: number;
  /** Metres above the WGS84 ellipsoid. */
  altitude: number;
  /** Degrees east of true north. */
  bearing: number;
  /** Horizontal accuracy radius in metres (68 %). */
  accuracy: number;
  /** m/s. */
  speed: number;
  /** Unix time in ms of the fix. */
  time: number;
  /** True in the answer to `getLastKnownLocation` (the app's spelling). */
  lastKnowLocation?: boolean;
  /** Any other field (API-level dependent). */
  [key: string]: unknown;
}

/** A touch event as the app sends it on `/touchscreen`. */
export interface TouchEvent {
  /** `ACTION_DOWN`, `ACTION_MOVE` or `ACTION_UP`. */
  action: 'ACTION_DOWN' | 'ACTION_MOVE' | 'ACTION_UP';
  /** Pixels from the left of the app's view. */
  x: number;
  /** Pixels from the top of the app's view. */
  y: number;
}

/** The single-sensor URL for `type` on `host:port`. */
export function sensorUrl(hostPort: string, type: string): string {
  return `ws://${hostPort}${PATH_SENSOR}?type=${encodeURIComponent(type)}`;
}

/** The multi-sensor URL for `types` (two or more) on `host:port`. */
export function sensorsUrl(hostPort: string, types: string[]): string {
  return `ws://${hostPort}${PATH_SENSORS}?types=${encodeURIComponent(JSON.stringify(types))}`;
}

/**
 * The stream URLs for `host:port` and a list of types (short names allowed):
 * one multi-sensor stream when several sensors are wanted, one for a single
 * sensor, plus `/gps` and `/touchscreen` when asked for.
 */
export function streamUrls(hostPort: string, names: string[]): string[] {
  const types = [...new Set(names.map(resolveType))];
  const sensors = types.filter((t) => t !== GPS_TYPE && t !== TOUCH_TYPE);
  const urls: string[] = [];
  if (sensors.length === 1) urls.push(sensorUrl(hostPort, sensors[0]!));
  else if (sensors.length > 1) urls.push(sensorsUrl(hostPort, sensors));
  if (types.includes(GPS_TYPE)) urls.push(`ws://${hostPort}${PATH_GPS}`);
  if (types.includes(TOUCH_TYPE)) urls.push(`ws://${hostPort}${PATH_TOUCH}`);
  return urls;
}

/** What kind of stream a URL is, from its path (matched case-insensitively like the app). */
export function streamKind(url: string): { kind: 'sensor' | 'sensors' | 'gps' | 'touch' | 'other'; type?: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { kind: 'other' };
  }
  const path = parsed.pathname.toLowerCase();
  if (path === PATH_SENSOR) return { kind: 'sensor', type: parsed.searchParams.get('type')?.toLowerCase() ?? '' };
  if (path === PATH_SENSORS) return { kind: 'sensors' };
  if (path === PATH_GPS) return { kind: 'gps', type: GPS_TYPE };
  if (path === PATH_TOUCH) return { kind: 'touch', type: TOUCH_TYPE };
  return { kind: 'other' };
}
