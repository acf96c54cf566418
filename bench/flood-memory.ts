/**
 * Peak RSS per connection under a flood, wskit next to `ws` in the same run (issue 16 item 1). For each side (server,
 * client), each flood (1-byte compressed text frames, 1-byte plain text frames) and each library, a fresh child process
 * runs an echo peer of that library with its defaults (`ws`'s server with `perMessageDeflate: true`, since it is off
 * by default there), and this process floods `--connections` connections to it from raw sockets, as fast as the
 * sockets take, for `--seconds`, reading and discarding whatever comes back. The child samples its RSS every 20 ms
 * (and once more when the flood ends); printed: (peak RSS - RSS before the first connection) / connections, the
 * median of `--runs` runs (wskit and ws alternately first) with the range, the absolute peak, and how many messages
 * each echoed (the flood goes as fast as each library reads, so the faster one handles more messages in the time).
 * `--messages N` floods a fixed count instead of a fixed time, so both libraries do the same work: each connection
 * sends exactly N frames as fast as the peer reads them, and the run ends once N echoes came back (or the connection
 * closed, or 60 s passed without the echoes); the seconds each run took are printed too.
 * `--detail` prints each run's heap and buffer figures at its peak; `--only 'server text'` runs the matching rows.
 *
 *   node --import tsx bench/flood-memory.ts [--connections 10] [--seconds 3 | --messages N] [--runs 1] [--only ROW] [--detail]
 */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { createServer, connect as tcpConnect, type Server as TcpServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { constants, deflateRawSync } from 'node:zlib';
import WebSocket, { WebSocketServer } from 'ws';
import { acceptResponseText } from '../src/protocol/handshake.js';
import { connect, serve } from '../src/index.js';

type Library = 'wskit' | 'ws';
type Side = 'server' | 'client';
type Flood = 'compressed' | 'text';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '3' },
    messages: { type: 'string' },
    child: { type: 'string' },
    runs: { type: 'string', default: '1' },
    only: { type: 'string' },
    detail: { type: 'boolean', default: false },
  },
});

const MiB = 1024 * 1024;
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** One 1-byte text message, compressed (RFC 7692 §7.2.1: the sync flush's 00 00 ff ff removed) or not. */
function oneFrame(flood: Flood, masked: boolean): Buffer {
  const payload = flood === 'compressed'
    ? deflateRawSync(Buffer.from('a'), { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4)
    : Buffer.from('a');
  const head = Buffer.from([flood === 'compressed' ? 0xc1 : 0x81, (masked ? 0x80 : 0) | payload.length]);
  // A zero masking key leaves the payload as is (RFC 6455 §5.3).
  return Buffer.concat(masked ? [head, Buffer.alloc(4), payload] : [head, payload]);
}

/** 64 KiB of `oneFrame()`s. */
function frames(flood: Flood, masked: boolean): Buffer {
  const one = oneFrame(flood, masked);
  return Buffer.concat(Array.from({ length: Math.floor(64 * 1024 / one.length) }, () => one));
}

/** How one socket's flood ends: at a time (ms since the epoch) or after a count of frames of `frameSize` bytes. */
type Limit = { until: number } | { messages: number; frameSize: number };

/** How the run's floods end: `seconds` after the first connection starts, or `messages` frames per connection. */
type RunLimit = { seconds: number } | { messages: number };

/** Writes exactly `messages` frames (cut from `chunk`) as fast as `socket` drains, then waits for as many echoes. */
async function floodCount(socket: Socket, chunk: Buffer, messages: number, frameSize: number): Promise<void> {
  let echoes = 0;
  let pending = Buffer.alloc(0);
  let allEchoed: (() => void) | null = null;
  // Counts the peer's data frames with FIN (each echo is one such frame); control frames are skipped (RFC 6455 §5.2).
  socket.on('data', (data: Buffer) => {
    let buffer = pending.length === 0 ? data : Buffer.concat([pending, data]);
    for (;;) {
      if (buffer.length < 2) break;
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) break;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) break;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer[1]! & 0x80) offset += 4;
      if (buffer.length < offset + length) break;
      if ((buffer[0]! & 0x80) !== 0 && (buffer[0]! & 0x08) === 0) echoes++;
      buffer = buffer.subarray(offset + length);
    }
    pending = Buffer.from(buffer);
    if (echoes >= messages) allEchoed?.();
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let left = messages;
  while (left > 0 && !socket.destroyed) {
    const count = Math.min(left, chunk.length / frameSize);
    left -= count;
    if (!socket.write(chunk.subarray(0, count * frameSize))) {
      await Promise.race([new Promise<void>((resolve) => socket.once('drain', resolve)), closed]);
    }
  }
  if (echoes < messages && !socket.destroyed) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => { allEchoed = resolve; }),
      closed,
      new Promise<void>((resolve) => { timer = setTimeout(resolve, 60_000); }),
    ]);
    clearTimeout(timer);
  }
  socket.destroy();
}

/** Floods `socket` with `chunk` until the limit. */
function floodUntil(socket: Socket, chunk: Buffer, limit: Limit): Promise<void> {
  return 'until' in limit ? flood(socket, chunk, limit.until) : floodCount(socket, chunk, limit.messages, limit.frameSize);
}

/** Writes `chunk` on `socket` as fast as it drains until `until`, discarding what it reads. */
async function flood(socket: Socket, chunk: Buffer, until: number): Promise<void> {
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
  while (Date.now() < until && !socket.destroyed) {
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          socket.off('drain', done).off('close', done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, until - Date.now()));
        socket.once('drain', done).once('close', done);
      });
    }
  }
  socket.destroy();
}

/** Reads an HTTP head off `socket`; resolves with it. */
function readHead(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (data: Buffer): void => {
      text += data.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData).once('error', reject);
  });
}

interface Report {
  baseline: number;
  peak: number;
  closed: number;
  /** process.memoryUsage() at the sample that set the peak (where the memory was: heap, buffers). */
  atPeak: NodeJS.MemoryUsage;
  echoed: number;
}

// ---- the child: an echo peer of one library, sampling its RSS ----
async function child(library: Library, side: Side, target: string, connections: number): Promise<void> {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  let atPeak = process.memoryUsage();
  let closed = 0;
  let echoed = 0;
  const sample = (): void => {
    const rss = process.memoryUsage.rss();
    if (rss > peak) {
      peak = rss;
      atPeak = process.memoryUsage();
    }
  };
  setInterval(sample, 20).unref();
  const send = (message: unknown): boolean => process.send!(message);
  process.on('message', () => {
    sample();
    send({ baseline, peak, closed, atPeak, echoed } satisfies Report);
    setImmediate(() => process.exit(0));
  });
  const wskitEcho = async (ws: Awaited<ReturnType<typeof connect>>): Promise<void> => {
    try {
      for await (const message of ws) {
        echoed++;
        await ws.send(message);
      }
    } catch {
      // the flooder left
    }
    closed++;
  };
  const wsEcho = (ws: WebSocket): void => {
    ws.on('message', (data, isBinary) => {
      echoed++;
      ws.send(data, { binary: isBinary }, () => undefined);
    });
    ws.on('error', () => undefined);
    ws.on('close', () => closed++);
  };
  if (side === 'server') {
    if (library === 'wskit') {
      const server = await serve(wskitEcho, { host: '127.0.0.1', port: 0 });
      send({ port: server.address()!.port });
    } else {
      const server: WebSocketServer = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true }, (): void => {
        send({ port: (server.address() as { port: number }).port });
      });
      server.on('connection', wsEcho);
    }
    return;
  }
  for (let i = 0; i < connections; i++) {
    if (library === 'wskit') {
      void connect(target, { pingInterval: null }).then(wskitEcho, () => closed++);
    } else {
      wsEcho(new WebSocket(target));
    }
  }
}

// ---- the parent: the flooder ----
async function run(library: Library, side: Side, kind: Flood, connections: number, runLimit: RunLimit): Promise<Report & { elapsed: number }> {
  const mode = JSON.stringify({ library, side });
  let flooder: TcpServer | null = null;
  let target = '';
  const floods: Promise<void>[] = [];
  let started = 0;
  const limit = (masked: boolean): Limit => {
    if (started === 0) started = Date.now();
    return 'seconds' in runLimit
      ? { until: started + runLimit.seconds * 1000 }
      : { messages: runLimit.messages, frameSize: oneFrame(kind, masked).length };
  };
  if (side === 'client') {
    // A raw server that answers the upgrade (accepting permessage-deflate for the compressed flood) and floods.
    const chunk = frames(kind, false);
    flooder = createServer((socket) => {
      floods.push((async () => {
        const head = await readHead(socket).catch(() => '');
        const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? KEY;
        const deflate = kind === 'compressed' && /permessage-deflate/i.test(head);
        socket.write(acceptResponseText(key, null, deflate ? 'permessage-deflate' : ''), 'latin1');
        await floodUntil(socket, chunk, limit(false));
      })());
    });
    await new Promise<void>((resolve) => flooder!.listen(0, '127.0.0.1', resolve));
    target = `ws://127.0.0.1:${(flooder.address() as { port: number }).port}/`;
  }
  const proc = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify({ library, side, target, connections })], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages: unknown[] = [];
  let wake: (() => void) | null = null;
  proc.on('message', (message) => {
    messages.push(message);
    wake?.();
  });
  const next = async (ms: number): Promise<unknown> => {
    const deadline = Date.now() + ms;
    while (messages.length === 0) {
      if (Date.now() > deadline) throw new Error(`${mode}: no answer from the child in ${ms} ms`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
    }
    return messages.shift();
  };
  if (side === 'server') {
    const { port } = (await next(30_000)) as { port: number };
    const chunk = frames(kind, true);
    const extensions = kind === 'compressed' ? 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' : '';
    for (let i = 0; i < connections; i++) {
      floods.push((async () => {
        const socket = tcpConnect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extensions}\r\n`);
        await readHead(socket).catch(() => '');
        await floodUntil(socket, chunk, limit(true));
      })());
    }
  } else {
    const deadline = Date.now() + 30_000;
    while (floods.length < connections && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await Promise.all(floods);
  const elapsed = (Date.now() - started) / 1000;
  proc.send('report');
  const report = (await next(30_000)) as Report;
  await new Promise((resolve) => proc.once('exit', resolve));
  flooder?.close();
  return { ...report, elapsed };
}

if (values.child !== undefined) {
  const { library, side, target, connections } = JSON.parse(values.child) as { library: Library; side: Side; target: string; connections: number };
  await child(library, side, target, connections);
} else {
  const connections = Number(values.connections);
  const runLimit: RunLimit = values.messages !== undefined ? { messages: Number(values.messages) } : { seconds: Number(values.seconds) };
  const runs = Number(values.runs);
  const cells: Array<{ side: Side; kind: Flood }> = [];
  for (const side of ['server', 'client'] as const) {
    for (const kind of ['compressed', 'text'] as const) {
      if (values.only === undefined || `${side} ${kind}`.includes(values.only)) cells.push({ side, kind });
    }
  }
  const what = 'seconds' in runLimit ? `for ${runLimit.seconds} s` : `with ${runLimit.messages} messages`;
  console.log(`# ${connections} connections flooded ${what} each, ${runs} run(s) (wskit and ws alternately first); ` +
    `ws ${createRequire(import.meta.url)('ws/package.json').version}, node ${process.version}`);
  const results = new Map<string, Array<Report & { elapsed: number }>>();
  for (let r = 0; r < runs; r++) {
    for (const { side, kind } of cells) {
      // Alternate which library goes first, so that neither always runs on a machine the other just loaded.
      for (const library of (r % 2 === 0 ? ['wskit', 'ws'] : ['ws', 'wskit']) as Library[]) {
        const report = await run(library, side, kind, connections, runLimit);
        const key = `${side} ${kind} ${library}`;
        results.set(key, [...(results.get(key) ?? []), report]);
        if (values.detail) {
          const m = report.atPeak;
          const f = (n: number): string => (n / MiB).toFixed(1);
          console.log(`  run ${r + 1} ${library} ${side} ${kind}: ${perConnection(report, connections).toFixed(2)} MiB/conn; at the peak rss ${f(m.rss)} ` +
            `heapTotal ${f(m.heapTotal)} heapUsed ${f(m.heapUsed)} external ${f(m.external)} arrayBuffers ${f(m.arrayBuffers)}; ` +
            `baseline ${f(report.baseline)}; messages echoed ${report.echoed} in ${report.elapsed.toFixed(1)} s`);
        }
      }
    }
  }
  console.log('peak RSS per connection, MiB: median (min-max) [absolute peak, median; messages echoed, median; seconds, median]');
  console.log('side    flood                     wskit                                          ws');
  let worse = false;
  for (const { side, kind } of cells) {
    const medians: number[] = [];
    const text: string[] = [];
    for (const library of ['wskit', 'ws'] as const) {
      const reports = results.get(`${side} ${kind} ${library}`)!;
      const per = reports.map((report) => perConnection(report, connections));
      medians.push(median(per));
      text.push((`${median(per).toFixed(2)} (${Math.min(...per).toFixed(2)}-${Math.max(...per).toFixed(2)}) ` +
        `[${(median(reports.map((report) => report.peak)) / MiB).toFixed(0)} MiB; ${median(reports.map((report) => report.echoed))}; ` +
        `${median(reports.map((report) => report.elapsed)).toFixed(1)} s]`).padEnd(47));
    }
    if (medians[0]! > medians[1]!) worse = true;
    console.log(`${side.padEnd(8)}${(kind === 'compressed' ? '1-byte compressed text' : '1-byte text').padEnd(26)}${text.join('')}`);
  }
  if (worse) {
    console.log('wskit peaked above ws in at least one flood (median)');
    process.exitCode = 1;
  }
}

function perConnection(report: Report, connections: number): number {
  return (report.peak - report.baseline) / connections / MiB;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
