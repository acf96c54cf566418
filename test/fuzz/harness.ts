/**
 * A fuzz harness against a live server: generated and mutated handshakes and
 * frame streams, sent in random chunks over real sockets. Asserts that the
 * server never crashes (a canary client is served after every batch), that
 * every reply is a valid handshake answer, that every frame stream ends with
 * the close code and echoes that our own core, fed the same bytes in one piece,
 * predicts (so chunking never changes the outcome), and that memory stays bounded.
 * Every run prints its seed; `--seed S` replays it.
 */
import net from 'node:net';
import { deflateRawSync } from 'node:zlib';
import { connect, serve, type Server } from '../../src/index.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { isValidWireCloseCode } from '../../src/protocol/opcodes.js';
import { Protocol, type ProtocolHandler } from '../../src/protocol/protocol.js';

/** Options of a fuzz run. */
export interface FuzzOptions {
  iterations: number;
  seed: number;
  /** Print progress lines. */
  verbose?: boolean;
}

/** What a fuzz run found. */
export interface FuzzReport {
  seed: number;
  iterations: number;
  handshakeCases: number;
  frameCases: number;
  compressedCases: number;
  statuses: Record<string, number>;
  closeCodes: Record<string, number>;
  peakRssMiB: number;
  failures: string[];
}

const MAX_MESSAGE = 64 * 1024;
const HANDSHAKE_STATUSES = new Set([101, 400, 405, 414, 426, 431, 505]);

/** A small seeded PRNG (mulberry32), so any failure can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID_REQUEST = [
  'GET /fuzz?x=1 HTTP/1.1',
  'Host: 127.0.0.1',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
];

function mutateHandshake(random: () => number): Buffer {
  const lines = [...VALID_REQUEST];
  const pick = (n: number) => Math.floor(random() * n);
  const mutations = 1 + pick(3);
  for (let m = 0; m < mutations; m++) {
    switch (pick(9)) {
      case 0: lines.splice(1 + pick(lines.length - 1), 1); break;
      case 1: lines.push(lines[pick(lines.length)]!); break;
      case 2: lines.push(`X-F${pick(1000)}: ${'v'.repeat(pick(12_000))}`); break;
      case 3: lines[0] = ['POST / HTTP/1.1', 'GET / HTTP/1.0', 'GET / HTTP/2.0', 'GET  / HTTP/1.1', 'GET /' + 'a'.repeat(9000) + ' HTTP/1.1', 'BREW / HTTP/1.1'][pick(6)]!; break;
      case 4: lines[5] = `Sec-WebSocket-Version: ${['8', '13, 8', '', '14'][pick(4)]}`; break;
      case 5: lines[4] = `Sec-WebSocket-Key: ${['', 'c2hvcnQ=', 'dGhlIHNhbXBsZSBub25jZQ', '!!!!!!!!!!!!!!!!!!!!!!=='][pick(4)]}`; break;
      case 6: for (let i = 0; i < pick(200); i++) lines.push(`H${i}: x`); break;
      case 7: lines.push(`Sec-WebSocket-Extensions: ${['permessage-deflate; x', 'a; b="c', '__proto__', ';;;', 'x'.repeat(100)][pick(5)]}`); break;
      default: {
        const text = lines.join('\r\n');
        const i = pick(text.length);
        lines.splice(0, lines.length, ...(text.slice(0, i) + String.fromCharCode(pick(256)) + text.slice(i + 1)).split('\r\n'));
      }
    }
  }
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
}

function randomFrames(random: () => number): Buffer {
  const pick = (n: number) => Math.floor(random() * n);
  const frames: Buffer[] = [];
  const count = 1 + pick(12);
  for (let i = 0; i < count; i++) {
    const r = random();
    const opcode = r < 0.35 ? 1 : r < 0.6 ? 2 : r < 0.7 ? 0 : r < 0.8 ? 9 : r < 0.85 ? 10 : r < 0.9 ? 8 : pick(16);
    const size = random() < 0.9 ? pick(200) : random() < 0.5 ? 126 + pick(70_000) : pick(126);
    let payload: Buffer;
    if (opcode === 1 || opcode === 0) {
      payload = random() < 0.8 ? Buffer.from('héllo wörld ✓ '.repeat(Math.ceil(size / 16)).slice(0, size)) : randomBytes(random, size);
    } else if (opcode === 8) {
      payload = random() < 0.7 ? Buffer.from([0x03, 0xe8 + pick(30)]) : randomBytes(random, pick(4));
    } else {
      payload = randomBytes(random, size);
    }
    const fin = opcode >= 8 ? random() < 0.95 : random() < 0.7;
    const frame = encodeFrame(opcode, payload, fin, random() < 0.03, random() < 0.97 ? randomBytes(random, 4) : null);
    if (random() < 0.03) frame[0]! ^= 1 << pick(8);
    frames.push(frame);
  }
  return Buffer.concat(frames);
}

/** Messages compressed per RFC 7692 (no context takeover), some corrupt, some bombs past the limit. */
function compressedFrames(random: () => number): Buffer {
  const pick = (n: number) => Math.floor(random() * n);
  const frames: Buffer[] = [];
  for (let i = 0, count = 1 + pick(6); i < count; i++) {
    const r = random();
    const text = r < 0.5;
    const plain = r < 0.1 ? Buffer.alloc(MAX_MESSAGE * (2 + pick(8))) : text ? Buffer.from('compressible text '.repeat(1 + pick(400))) : randomBytes(random, pick(3000));
    let body = deflateRawSync(plain);
    // §7.2.1: the sender removes the trailing 00 00 ff ff of a sync flush; a final block has none, so append an empty stored one.
    if (random() < 0.1) body = Buffer.from(body.map((b) => (random() < 0.02 ? pick(256) : b)));
    if (random() < 0.5 && body.length > 4) {
      const half = pick(body.length);
      frames.push(encodeFrame(text ? 1 : 2, body.subarray(0, half), false, true, randomBytes(random, 4)));
      frames.push(encodeFrame(0, body.subarray(half), true, false, randomBytes(random, 4)));
    } else {
      frames.push(encodeFrame(text ? 1 : 2, body, true, true, randomBytes(random, 4)));
    }
    if (random() < 0.1) frames.push(encodeFrame(9, 'ping', true, random() < 0.2, randomBytes(random, 4)));
  }
  return Buffer.concat(frames);
}

function randomBytes(random: () => number, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** What our core predicts for a frame stream fed in one piece. */
function predict(stream: Buffer): { code: number | null; echoes: number } {
  let echoes = 0;
  const handler: ProtocolHandler = {
    onWrite: () => undefined,
    onMessage: () => void echoes++,
    onText: () => void echoes++,
    onPing: () => undefined,
    onPong: () => undefined,
    onCloseFrame: () => undefined,
    onEnd: () => undefined,
  };
  const protocol = new Protocol('server', handler, { maxMessageSize: MAX_MESSAGE });
  protocol.receiveData(Buffer.from(stream));
  const code = protocol.failure?.closeCode ?? protocol.closeReceived?.code ?? null;
  // After a close frame the server stops echoing; messages before it were echoed.
  return { code: code === 1005 ? 1005 : code, echoes };
}

function sendInChunks(socket: net.Socket, data: Buffer, random: () => number): void {
  let at = 0;
  while (at < data.length) {
    const size = 1 + Math.floor(random() * (random() < 0.5 ? 16 : 4096));
    socket.write(data.subarray(at, at + size));
    at += size;
  }
}

function exchange(port: number, bytes: Buffer, random: () => number, settleMs: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), settleMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.on('connect', () => {
      sendInChunks(socket, bytes, random);
      socket.end();
    });
  });
}

/** Decodes the server's frames after its 101 response: echoes counted, close code read. */
function observe(reply: Buffer, compressed = false): { status: number | null; code: number | null; echoes: number } {
  const end = reply.indexOf('\r\n\r\n');
  const status = reply.length >= 12 ? Number(reply.subarray(9, 12).toString('latin1')) : null;
  if (end === -1 || status !== 101) return { status, code: null, echoes: 0 };
  let code: number | null = null;
  let echoes = 0;
  const decoder = new Protocol('client', {
    onWrite: () => undefined,
    onMessage: () => void echoes++,
    onText: () => void echoes++,
    onPing: () => undefined,
    onPong: () => undefined,
    onCloseFrame: (close) => (code = close.code),
    onEnd: () => undefined,
  }, { maxMessageSize: 16 * MAX_MESSAGE, rsv1Allowed: compressed });
  decoder.receiveData(reply.subarray(end + 4));
  return { status, code, echoes };
}

/** Runs the fuzzer against a fresh in-process server. */
export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  const random = prng(options.seed);
  const server: Server = await serve(
    async (ws) => {
      for await (const message of ws) await ws.send(message);
    },
    { host: '127.0.0.1', port: 0, maxMessageSize: MAX_MESSAGE, handshakeTimeout: 500, closeTimeout: 500, logger: null },
  );
  const port = server.address()!.port;
  const report: FuzzReport = {
    seed: options.seed,
    iterations: options.iterations,
    handshakeCases: 0,
    frameCases: 0,
    compressedCases: 0,
    statuses: {},
    closeCodes: {},
    peakRssMiB: 0,
    failures: [],
  };
  const baselineRss = process.memoryUsage().rss;
  const handshake = Buffer.from(VALID_REQUEST.join('\r\n') + '\r\n\r\n');
  const deflateHandshake = Buffer.from(
    [...VALID_REQUEST, 'Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover'].join('\r\n') + '\r\n\r\n',
  );
  try {
    for (let i = 0; i < options.iterations; i++) {
      const where = `seed ${options.seed}, iteration ${i}`;
      const kind = random();
      if (kind < 0.15) {
        // Inflation is asynchronous, so chunking may change which error is seen first: any valid close, no crash.
        report.compressedCases++;
        const reply = await exchange(port, Buffer.concat([deflateHandshake, compressedFrames(random)]), random, 1500);
        const seen = observe(reply, true);
        report.closeCodes[String(seen.code)] = (report.closeCodes[String(seen.code)] ?? 0) + 1;
        if (seen.status !== 101) report.failures.push(`${where}: deflate handshake answered ${seen.status}`);
        else if (seen.code !== null && !isValidWireCloseCode(seen.code)) report.failures.push(`${where}: invalid close code ${seen.code}`);
      } else if (kind < 0.4) {
        report.handshakeCases++;
        const request = mutateHandshake(random);
        const reply = await exchange(port, request, random, 1500);
        const { status } = observe(reply);
        report.statuses[String(status)] = (report.statuses[String(status)] ?? 0) + 1;
        if (status !== null && !HANDSHAKE_STATUSES.has(status)) report.failures.push(`${where}: unexpected status ${status}`);
      } else {
        report.frameCases++;
        const stream = randomFrames(random);
        const expected = predict(stream);
        const reply = await exchange(port, Buffer.concat([handshake, stream]), random, 1500);
        const seen = observe(reply);
        report.closeCodes[String(seen.code)] = (report.closeCodes[String(seen.code)] ?? 0) + 1;
        if (seen.status !== 101) report.failures.push(`${where}: handshake answered ${seen.status}`);
        else if (expected.code !== null && expected.code !== 1005 && seen.code !== expected.code) {
          report.failures.push(`${where}: close code ${seen.code}, core predicts ${expected.code}`);
        } else if (expected.code !== null && expected.code >= 1002 && seen.echoes > expected.echoes) {
          report.failures.push(`${where}: ${seen.echoes} echoes, core predicts at most ${expected.echoes}`);
        }
      }
      if (i % 50 === 49 || i === options.iterations - 1) {
        const canary = await connect(`ws://127.0.0.1:${port}`, { openTimeout: 2000 });
        await canary.send('canary');
        if ((await canary.recv()) !== 'canary') report.failures.push(`${where}: canary echo failed`);
        await canary.close();
        const rss = process.memoryUsage().rss;
        report.peakRssMiB = Math.max(report.peakRssMiB, +(rss / 1048576).toFixed(1));
        if (rss - baselineRss > 512 * 1024 * 1024) report.failures.push(`${where}: RSS grew by ${rss - baselineRss} bytes`);
        if (options.verbose) console.log(`${i + 1}/${options.iterations} failures=${report.failures.length} rss=${report.peakRssMiB} MiB`);
      }
      if (report.failures.length >= 10) break;
    }
  } finally {
    await server.close();
  }
  return report;
}
