/**
 * What counting costs per message, measured in-process where the machine's noise matters least: the same work on
 * connections with and without a route meter, alternated in short rounds, CPU time per message compared pair by
 * pair. The sockets are sinks (written bytes discarded), so only wskit's own work is timed: parsing and queueing a
 * received 64-byte text message and sending it back (the echo row's per-message work), and one 64-byte broadcast to
 * 2,000 connections (the broadcast row's).
 *
 *   node --import tsx bench/metrics-cost.ts [--rounds N]
 *
 * Prints, per workload, the median nanoseconds per message (or delivery) off and on, the median of the per-round
 * differences, and that difference as a share of the off figure. Both variants run on the same connection objects,
 * whose meter field is set or cleared between rounds. WSKIT_AA=1 leaves it cleared in both: the harness's own
 * noise (an A/A comparison).
 */
import { Duplex } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RouteMeter } from '../src/metrics/route-meter.js';
import { Connection } from '../src/node/connection.js';
import { broadcast } from '../src/node/broadcast.js';
import { encodeFrame } from '../src/protocol/frame.js';

const argv = process.argv.slice(2);
const rounds = Number(argv[argv.indexOf('--rounds') + 1] ?? 0) || 40;

/** A socket that takes every write and never produces data. */
class Sink extends Duplex {
  override _read(): void {}
  override _write(_chunk: unknown, _encoding: BufferEncoding, callback: () => void): void {
    callback();
  }
  override _writev(_chunks: unknown[], callback: () => void): void {
    callback();
  }
}

function connection(meter: RouteMeter | null): Connection {
  return new Connection(new Sink(), 'server', { meter, pingInterval: null, maxQueue: 1 << 30, writeLimit: 1 << 30 });
}

function cpuNs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

// ---- echo: 1,000 masked 64-byte text frames in, each message read and sent back
const PER_BATCH = 1000;
const incoming = Buffer.concat(Array.from({ length: PER_BATCH }, () => encodeFrame(1, 'x'.repeat(64), true, false, new Uint8Array([1, 2, 3, 4]))));

async function echo(ws: Connection, batches: number): Promise<number> {
  const start = cpuNs();
  for (let b = 0; b < batches; b++) {
    ws.handleData(Buffer.from(incoming)); // a copy: frames are unmasked in place
    for (let i = 0; i < PER_BATCH; i++) void ws.send((await ws.recv()) as string);
    await nextTurn(); // the turn's writes are flushed
  }
  return (cpuNs() - start) / (batches * PER_BATCH);
}

// ---- broadcast: one 64-byte text message to 2,000 connections
const FANOUT = 2000;
async function fanout(room: Connection[], messages: number): Promise<number> {
  const start = cpuNs();
  for (let m = 0; m < messages; m++) {
    broadcast(room, 'y'.repeat(64));
    await nextTurn();
  }
  return (cpuNs() - start) / (messages * room.length);
}

async function compare(name: string, run: (metered: boolean) => Promise<number>): Promise<void> {
  const off: number[] = [];
  const on: number[] = [];
  const differences: number[] = [];
  for (let i = 0; i < 3; i++) {
    await run(false);
    await run(true); // warm-up: both variants optimised
  }
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so a drift in the machine's load does not favour one.
    const first = r % 2 === 0;
    const a = await run(!first);
    const b = await run(first);
    const [without, withMeter] = first ? [a, b] : [b, a];
    off.push(without);
    on.push(withMeter);
    differences.push(withMeter - without);
  }
  const base = median(off);
  const delta = median(differences);
  process.stdout.write(
    `${name.padEnd(34)} off ${base.toFixed(1).padStart(7)} ns   on ${median(on).toFixed(1).padStart(7)} ns   ` +
      `difference ${delta.toFixed(1).padStart(6)} ns (${((delta / base) * 100).toFixed(2)}%)   ${rounds} rounds\n`,
  );
}

const meter = process.env.WSKIT_AA === '1' ? null : new RouteMeter('');
/** Turns counting on or off on the same connections: the two variants differ in this one field and nothing else. */
function meterAll(connections: Connection[], on: boolean): Connection[] {
  for (const ws of connections) (ws as unknown as { meter: RouteMeter | null }).meter = on ? meter : null;
  return connections;
}
const single = [connection(null)];
await compare('echo 64 B text, per message', (on) => echo(meterAll(single, on)[0]!, 200));
const room = Array.from({ length: FANOUT }, () => connection(null));
await compare('broadcast 64 B, per delivery', (on) => fanout(meterAll(room, on), 300));
if (meter !== null && (meter.textReceived === 0 || meter.textSent === 0)) throw new Error('the metered connections counted nothing');
