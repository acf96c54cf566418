/**
 * Physically plausible phone signals for the SensorServer simulator: a phone
 * held in the hand by someone who walks around a 80 m circle for 20 s, stands
 * still for 10 s, and so on. Every value is a function of the time since the
 * simulation started (plus seeded sensor noise), so all streams agree.
 *
 * Frames: the world is East-North-Up; device axes follow Android (X right,
 * Y up the screen, Z out of the screen). The accelerometer measures the
 * reaction to gravity (a phone flat on a table reads Z ≈ +9.81 m/s²).
 */
import type { LocationEvent } from './protocol.js';

/** Standard gravity in m/s². */
export const G = 9.80665;
/** Walking cadence in steps per second. */
export const CADENCE_HZ = 1.8;
/** Walking speed in m/s. */
export const WALK_SPEED = 1.4;
/** Seconds walking then seconds standing, repeated. */
export const WALK_CYCLE = { walk: 20, stand: 10 } as const;
/** Radius of the walked circle in metres. */
export const CIRCLE_RADIUS = 80;
/** Where the walk happens (Greenwich Park). */
export const HOME = { latitude: 51.4769, longitude: -0.0005, altitude: 45 } as const;
/** The simulated screen in pixels (width, height). */
export const SCREEN = { width: 1080, height: 2340 } as const;

type Vec3 = [number, number, number];
type Mat3 = [Vec3, Vec3, Vec3];

/** A small seeded PRNG (mulberry32) with a Gaussian helper. */
export class Random {
  private state: number;
  private spare: number | null = null;
  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Normal with mean 0 and standard deviation `sigma`. */
  gauss(sigma = 1): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s * sigma;
    }
    const u = Math.max(this.next(), 1e-12);
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v) * sigma;
  }
}

const smoothstep = (x: number) => (x <= 0 ? 0 : x >= 1 ? 1 : x * x * (3 - 2 * x));

/** How much the person is walking at `t` seconds (0 standing … 1 walking), with 1 s ramps. */
export function walking(t: number): number {
  const period = WALK_CYCLE.walk + WALK_CYCLE.stand;
  const tau = ((t % period) + period) % period;
  return smoothstep(tau) * smoothstep(WALK_CYCLE.walk - tau);
}

/** Metres walked by `t` seconds (ramps ignored). */
export function distance(t: number): number {
  const period = WALK_CYCLE.walk + WALK_CYCLE.stand;
  const cycles = Math.floor(t / period);
  const tau = t - cycles * period;
  return WALK_SPEED * (cycles * WALK_CYCLE.walk + Math.min(tau, WALK_CYCLE.walk));
}

/** Angle along the circle (radians, counter-clockwise from east) at `t`. */
function circleAngle(t: number): number {
  return distance(t) / CIRCLE_RADIUS;
}

/** Device orientation at `t` as Euler angles (yaw about Up, pitch about X, roll about Y), radians. */
export function attitude(t: number): { yaw: number; pitch: number; roll: number } {
  const w = walking(t);
  const yaw = circleAngle(t) + 0.15 * Math.sin(2 * Math.PI * 0.05 * t);
  const pitch = 0.55 + 0.12 * Math.sin(2 * Math.PI * 0.13 * t) + 0.03 * w * Math.sin(2 * Math.PI * CADENCE_HZ * t);
  const roll = 0.08 * Math.sin(2 * Math.PI * 0.21 * t + 1) + 0.04 * w * Math.sin(Math.PI * CADENCE_HZ * t);
  return { yaw, pitch, roll };
}

function rotZ(a: number): Mat3 {
  const c = Math.cos(a), s = Math.sin(a);
  return [[c, -s, 0], [s, c, 0], [0, 0, 1]];
}
function rotX(a: number): Mat3 {
  const c = Math.cos(a), s = Math.sin(a);
  return [[1, 0, 0], [0, c, -s], [0, s, c]];
}
function rotY(a: number): Mat3 {
  const c = Math.cos(a), s = Math.sin(a);
  return [[c, 0, s], [0, 1, 0], [-s, 0, c]];
}
function mul(a: Mat3, b: Mat3): Mat3 {
  const r: Mat3 = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) r[i]![j] = a[i]![0] * b[0]![j] + a[i]![1] * b[1]![j] + a[i]![2] * b[2]![j];
  return r;
}
/** Rᵀ·v: a world vector expressed in device axes. */
function toDevice(r: Mat3, v: Vec3): Vec3 {
  return [
    r[0][0] * v[0] + r[1][0] * v[1] + r[2][0] * v[2],
    r[0][1] * v[0] + r[1][1] * v[1] + r[2][1] * v[2],
    r[0][2] * v[0] + r[1][2] * v[1] + r[2][2] * v[2],
  ];
}

/** The device-to-world rotation matrix at `t`. */
export function rotation(t: number): Mat3 {
  const { yaw, pitch, roll } = attitude(t);
  return mul(mul(rotZ(yaw), rotX(pitch)), rotY(roll));
}

/** Linear acceleration of the phone in world axes (m/s²): the bounce and sway of walking. */
function worldAcceleration(t: number): Vec3 {
  const w = walking(t);
  const phase = 2 * Math.PI * CADENCE_HZ * t;
  const up = 1.6 * w * Math.sin(phase);
  const forward = 0.5 * w * Math.sin(phase + Math.PI / 2);
  const side = 0.35 * w * Math.sin(phase / 2);
  const heading = circleAngle(t) + Math.PI / 2; // direction of travel, counter-clockwise from east
  return [
    forward * Math.cos(heading) - side * Math.sin(heading),
    forward * Math.sin(heading) + side * Math.cos(heading),
    up,
  ];
}

/** Angular velocity in device axes (rad/s), from the derivative of the rotation. */
function angularVelocity(t: number): Vec3 {
  const h = 1e-4;
  const r0 = rotation(t - h), r1 = rotation(t + h), r = rotation(t);
  // W = Rᵀ·dR/dt is skew-symmetric; ω = (W32, W13, W21).
  const d = (i: number, j: number) => (r1[i]![j]! - r0[i]![j]!) / (2 * h);
  const w = (i: number, j: number) => r[0][i] * d(0, j) + r[1][i] * d(1, j) + r[2][i] * d(2, j);
  return [w(2, 1), w(0, 2), w(1, 0)];
}

/** Earth's magnetic field in London, East-North-Up, µT. */
const EARTH_FIELD: Vec3 = [0.1, 19.5, -45.2];

/** Unit quaternion [x, y, z, w] of a rotation matrix (w ≥ 0). */
function quaternion(r: Mat3): [number, number, number, number] {
  const trace = r[0][0] + r[1][1] + r[2][2];
  let x: number, y: number, z: number, w: number;
  if (trace > 0) {
    const s = Math.sqrt(trace + 1) * 2;
    w = 0.25 * s;
    x = (r[2][1] - r[1][2]) / s;
    y = (r[0][2] - r[2][0]) / s;
    z = (r[1][0] - r[0][1]) / s;
  } else if (r[0][0] > r[1][1] && r[0][0] > r[2][2]) {
    const s = Math.sqrt(1 + r[0][0] - r[1][1] - r[2][2]) * 2;
    w = (r[2][1] - r[1][2]) / s;
    x = 0.25 * s;
    y = (r[0][1] + r[1][0]) / s;
    z = (r[0][2] + r[2][0]) / s;
  } else if (r[1][1] > r[2][2]) {
    const s = Math.sqrt(1 + r[1][1] - r[0][0] - r[2][2]) * 2;
    w = (r[0][2] - r[2][0]) / s;
    x = (r[0][1] + r[1][0]) / s;
    y = 0.25 * s;
    z = (r[1][2] + r[2][1]) / s;
  } else {
    const s = Math.sqrt(1 + r[2][2] - r[0][0] - r[1][1]) * 2;
    w = (r[1][0] - r[0][1]) / s;
    x = (r[0][2] + r[2][0]) / s;
    y = (r[1][2] + r[2][1]) / s;
    z = 0.25 * s;
  }
  return w < 0 ? [-x, -y, -z, -w] : [x, y, z, w];
}

/** Rounds like a float32 printed by the app, keeping JSON short. */
export function round(value: number, digits = 5): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The Android types the simulator produces by sampling (the step detector and GPS/touch are event streams). */
export const SAMPLED_TYPES = [
  'android.sensor.accelerometer',
  'android.sensor.gyroscope',
  'android.sensor.magnetic_field',
  'android.sensor.gravity',
  'android.sensor.linear_acceleration',
  'android.sensor.rotation_vector',
] as const;

/** The step detector's type: one event with value 1.0 per step. */
export const STEP_DETECTOR = 'android.sensor.step_detector';

/** Every sensor type the simulator knows, in `GET /sensors` order. */
export const SIMULATED_TYPES: readonly string[] = [...SAMPLED_TYPES, STEP_DETECTOR];

/** Values of a sampled sensor at `t` seconds, with sensor noise from `rng`; null for an unknown type. */
export function sampleValues(type: string, t: number, rng: Random): number[] | null {
  const r = rotation(t);
  const gravity = toDevice(r, [0, 0, G]);
  switch (type) {
    case 'android.sensor.accelerometer': {
      const lin = toDevice(r, worldAcceleration(t));
      return [0, 1, 2].map((i) => round(gravity[i]! + lin[i]! + rng.gauss(0.03)));
    }
    case 'android.sensor.gravity':
      return gravity.map((v) => round(v));
    case 'android.sensor.linear_acceleration': {
      const lin = toDevice(r, worldAcceleration(t));
      return lin.map((v) => round(v + rng.gauss(0.02)));
    }
    case 'android.sensor.gyroscope':
      return angularVelocity(t).map((v) => round(v + rng.gauss(0.004)));
    case 'android.sensor.magnetic_field':
      return toDevice(r, EARTH_FIELD).map((v) => round(v + rng.gauss(0.35), 3));
    case 'android.sensor.rotation_vector': {
      const [x, y, z, w] = quaternion(r);
      return [round(x), round(y), round(z), round(w), round(0.26, 4)];
    }
    default:
      return null;
  }
}

/** Accuracy (`SENSOR_STATUS_*`) the simulator reports for `type`. */
export function accuracyOf(type: string): number {
  return type === 'android.sensor.magnetic_field' ? 2 : 3;
}

/** Times (seconds) of the steps taken in [from, to): one per cadence period while walking. */
export function stepTimes(from: number, to: number): number[] {
  const times: number[] = [];
  for (let k = Math.ceil(from * CADENCE_HZ - 0.25); (k + 0.25) / CADENCE_HZ < to; k++) {
    const t = (k + 0.25) / CADENCE_HZ; // the peaks of the vertical bounce
    if (t >= from && walking(t) > 0.5) times.push(t);
  }
  return times;
}

/** A GPS fix at `t` seconds with receiver noise (a slowly wandering offset). */
export function location(t: number, rng: Random): Omit<LocationEvent, 'time'> {
  const phi = circleAngle(t);
  const east = CIRCLE_RADIUS * Math.cos(phi) + 1.2 * Math.sin(0.07 * t) + rng.gauss(0.4);
  const north = CIRCLE_RADIUS * Math.sin(phi) + 1.2 * Math.cos(0.05 * t) + rng.gauss(0.4);
  const latitude = HOME.latitude + north / 111_320;
  const longitude = HOME.longitude + east / (111_320 * Math.cos((HOME.latitude * Math.PI) / 180));
  const heading = phi + Math.PI / 2; // counter-clockwise from east
  const bearing = (((90 - (heading * 180) / Math.PI) % 360) + 360) % 360;
  const speed = WALK_SPEED * walking(t);
  return {
    longitude: round(longitude, 7),
    latitude: round(latitude, 7),
    altitude: round(HOME.altitude + 0.8 * Math.sin(0.03 * t) + rng.gauss(0.5), 1),
    bearing: round(bearing, 1),
    accuracy: round(4 + 2 * Math.abs(Math.sin(0.02 * t)) + Math.abs(rng.gauss(0.3)), 1),
    speed: round(Math.max(0, speed + rng.gauss(0.05)), 2),
  };
}

/** One touch event of a simulated finger stroke. */
export interface TouchSample {
  /** Seconds since the simulation started. */
  t: number;
  /** Android MotionEvent action. */
  action: 'ACTION_DOWN' | 'ACTION_MOVE' | 'ACTION_UP';
  /** Pixels. */
  x: number;
  /** Pixels. */
  y: number;
}

/** A finger stroke starting at `t0`: down, moves at 60 Hz along a curve, up. */
export function stroke(t0: number, rng: Random): TouchSample[] {
  const duration = 0.25 + rng.next() * 0.7;
  const x0 = 150 + rng.next() * (SCREEN.width - 300), y0 = 300 + rng.next() * (SCREEN.height - 600);
  const dx = (rng.next() - 0.5) * 700, dy = (rng.next() - 0.5) * 1200, bend = (rng.next() - 0.5) * 300;
  const at = (u: number) => ({
    x: round(Math.min(SCREEN.width, Math.max(0, x0 + dx * u + bend * Math.sin(Math.PI * u))), 1),
    y: round(Math.min(SCREEN.height, Math.max(0, y0 + dy * u)), 1),
  });
  const events: TouchSample[] = [{ t: t0, action: 'ACTION_DOWN', ...at(0) }];
  const n = Math.max(2, Math.round(duration * 60));
  for (let i = 1; i < n; i++) events.push({ t: t0 + (duration * i) / n, action: 'ACTION_MOVE', ...at(i / n) });
  events.push({ t: t0 + duration, action: 'ACTION_UP', ...at(1) });
  return events;
}
