/** permessage-deflate over real sockets: negotiation, wire format, thresholds, bombs, limits, cleanup. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import {
  connect,
  DeflateCodec,
  NegotiationError,
  PerMessageDeflateServer,
  ZlibLimiter,
  type CompressionOptions,
} from '../../src/index.js';
import { ZlibPools } from '../../src/node/deflate.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { computeAccept } from '../../src/protocol/handshake.js';
import { codecParams } from '../../src/protocol/deflate-params.js';
import { delay, echo, startServer, within } from '../helpers.js';

const MiB = 1024 * 1024;

/** A hand-driven client: sends a handshake with the given extension offer, then raw frames; parses what comes back. */
async function rawClient(port: number, extensions: string | null) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      (extensions === null ? '' : `Sec-WebSocket-Extensions: ${extensions}\r\n`) +
      '\r\n',
  );
  let buffer = Buffer.alloc(0);
  let head: string | null = null;
  const frames: Array<{ fin: boolean; rsv1: boolean; opcode: number; payload: Buffer }> = [];
  const waiters: Array<() => void> = [];
  let ended = false;
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    if (head === null) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      head = buffer.subarray(0, end).toString('latin1');
      buffer = buffer.subarray(end + 4);
    }
    for (;;) {
      if (buffer.length < 2) break;
      let length = buffer[1]! & 0x7f;
      let at = 2;
      if (length === 126) {
        if (buffer.length < 4) break;
        length = buffer.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (buffer.length < 10) break;
        length = Number(buffer.readBigUInt64BE(2));
        at = 10;
      }
      if (buffer.length < at + length) break;
      const b0 = buffer[0]!;
      frames.push({ fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0, opcode: b0 & 0x0f, payload: buffer.subarray(at, at + length) });
      buffer = buffer.subarray(at + length);
    }
    for (const wake of waiters.splice(0)) wake();
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    ended = true;
    for (const wake of waiters.splice(0)) wake();
  });
  const until = async (test: () => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!test()) {
      if (ended || Date.now() > deadline) throw new Error('raw client: condition not met');
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  await until(() => head !== null);
  return {
    socket,
    frames,
    head: head as unknown as string,
    send(opcode: number, payload: Buffer | string, rsv1 = false) {
      socket.write(encodeFrame(opcode, payload, true, rsv1, randomBytes(4)));
    },
    async frame(index: number) {
      await until(() => frames.length > index);
      return frames[index]!;
    },
    closed: new Promise<void>((resolve) => socket.once('close', () => resolve())),
  };
}

/** Deflates like a peer with context takeover would, one message at a time, minus the 4-byte tail. */
function peerDeflater(windowBits = 15) {
  const stream = zlib.createDeflateRaw({ windowBits });
  return (data: Buffer): Promise<Buffer> =>
    new Promise((resolve) => {
      const chunks: Buffer[] = [];
      const onData = (c: Buffer) => chunks.push(c);
      stream.on('data', onData);
      stream.write(data);
      stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        stream.off('data', onData);
        const out = Buffer.concat(chunks);
        resolve(out.subarray(0, out.length - 4));
      });
    });
}

const inflate = (payload: Buffer, windowBits = 15) =>
  zlib.inflateRawSync(Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]), { windowBits, finishFlush: zlib.constants.Z_SYNC_FLUSH });

describe('negotiation over a real handshake', () => {
  it('is on by default on both sides, with Python websockets’ server windows and a shared server compressor', async () => {
    const server = await startServer(echo);
    try {
      const ws = await connect(server.url);
      // server_no_context_takeover by default: Node's deflate streams are ~100 KiB each, so the server shares them.
      assert.equal(ws.extensions, 'permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12');
      await ws.close();
    } finally {
      await server.close();
    }
  });

  it('is off when either side says compression: false', async () => {
    for (const [serverCompression, clientCompression] of [
      [false, true],
      [true, false],
    ] as const) {
      const server = await startServer(echo, { compression: serverCompression });
      try {
        const ws = await connect(server.url, { compression: clientCompression });
        assert.equal(ws.extensions, '');
        await ws.send('x'.repeat(1000));
        assert.equal(await ws.recv(), 'x'.repeat(1000));
        await ws.close();
      } finally {
        await server.close();
      }
    }
  });

  it('passes the options through', async () => {
    const server = await startServer(echo, { compression: { serverNoContextTakeover: true, serverMaxWindowBits: 10 } });
    try {
      const ws = await connect(server.url, { compression: { clientNoContextTakeover: true, clientMaxWindowBits: 9 } });
      assert.equal(
        ws.extensions,
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9',
      );
      await ws.close();
    } finally {
      await server.close();
    }
  });

  it('declines a malformed offer but still accepts the connection', async () => {
    const server = await startServer(echo);
    try {
      const raw = await rawClient(server.address()!.port, 'permessage-deflate; server_max_window_bits=16');
      assert.match(raw.head, /^HTTP\/1\.1 101/);
      assert.doesNotMatch(raw.head, /sec-websocket-extensions/i);
      raw.socket.destroy();
    } finally {
      await server.close();
    }
  });

  for (const [what, answer] of [
    ['an unknown parameter', 'permessage-deflate; foo=bar'],
    ['a duplicate parameter', 'permessage-deflate; server_no_context_takeover; server_no_context_takeover'],
    ['a client window larger than offered', 'permessage-deflate; client_max_window_bits=15'],
    ['a value-less client_max_window_bits', 'permessage-deflate; client_max_window_bits'],
    ['an extension that was not offered', 'x-webkit-deflate-frame'],
  ] as const) {
    it(`the client fails the handshake when the server answers with ${what}`, async () => {
      const listener = net.createServer((socket) => {
        socket.once('data', (request) => {
          const key = /sec-websocket-key: *(\S+)/i.exec(request.toString('latin1'))![1]!;
          const accept = computeAccept(key);
          socket.write(
            `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
              `Sec-WebSocket-Extensions: ${answer}\r\n\r\n`,
          );
        });
        socket.on('error', () => undefined);
      });
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      try {
        const port = (listener.address() as net.AddressInfo).port;
        await assert.rejects(connect(`ws://127.0.0.1:${port}`, { compression: { clientMaxWindowBits: 12 } }), NegotiationError);
      } finally {
        listener.close();
      }
    });
  }
});

describe('wire format', () => {
  it('compresses above the threshold (RSV1 set, tail stripped), not below, never control frames', async () => {
    const server = await startServer(async (ws) => {
      for await (const message of ws) {
        if (message === 'ping') await ws.ping('hello');
        else await ws.send(message);
      }
    }, { compression: { threshold: 64 } });
    try {
      const raw = await rawClient(server.address()!.port, 'permessage-deflate; client_max_window_bits');
      assert.match(raw.head, /sec-websocket-extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12/i);
      raw.send(0x1, 'small');
      const small = await raw.frame(0);
      assert.equal(small.rsv1, false);
      assert.equal(small.payload.toString(), 'small');

      const big = 'a fairly repetitive message, '.repeat(20);
      raw.send(0x1, big);
      const compressed = await raw.frame(1);
      assert.equal(compressed.rsv1, true);
      assert.ok(compressed.payload.length < big.length / 4);
      assert.ok(!compressed.payload.subarray(-4).equals(Buffer.from([0, 0, 0xff, 0xff])));
      assert.equal(inflate(compressed.payload, 12).toString(), big);

      raw.send(0x1, 'ping');
      const ping = await raw.frame(2);
      assert.equal(ping.opcode, 0x9);
      assert.equal(ping.rsv1, false);
      assert.equal(ping.payload.toString(), 'hello');
      raw.socket.destroy();
    } finally {
      await server.close();
    }
  });

  it('threshold 0 compresses every message, even empty or incompressible (libwebsockets #2794); above 0 those go as they are', async () => {
    const noise = randomBytes(200);
    for (const threshold of [0, 64]) {
      // No context takeover on our side: each message inflates on its own.
      const server = await startServer(echo, { compression: { threshold, serverNoContextTakeover: true } });
      try {
        const raw = await rawClient(server.address()!.port, 'permessage-deflate');
        const messages = [Buffer.alloc(0), Buffer.from('a'), noise];
        for (const [i, message] of messages.entries()) {
          raw.send(0x2, message);
          const frame = await raw.frame(i);
          const compressed = threshold === 0;
          assert.equal(frame.rsv1, compressed, `threshold ${threshold}, ${message.length} bytes`);
          assert.ok((compressed ? inflate(frame.payload, 12) : frame.payload).equals(message));
        }
        raw.socket.destroy();
      } finally {
        await server.close();
      }
    }
  });

  it('decodes compressed client messages with context takeover, and uncompressed ones in between', async () => {
    const server = await startServer(echo, { compression: { threshold: 1_000_000 } });
    try {
      const raw = await rawClient(server.address()!.port, 'permessage-deflate; client_max_window_bits');
      const deflate = peerDeflater(12);
      const texts = ['first message '.repeat(30), 'first message '.repeat(30), 'second', 'third '.repeat(100)];
      raw.send(0x1, await deflate(Buffer.from(texts[0]!)), true);
      raw.send(0x1, await deflate(Buffer.from(texts[1]!)), true);
      raw.send(0x1, texts[2]!);
      raw.send(0x2, await deflate(Buffer.from(texts[3]!)), true);
      for (let i = 0; i < texts.length; i++) {
        const frame = await raw.frame(i);
        assert.equal(frame.rsv1, false, 'threshold above every message: echoes go uncompressed');
        assert.equal(frame.payload.toString(), texts[i]);
      }
      raw.socket.destroy();
    } finally {
      await server.close();
    }
  });

  it('fails with 1007 on invalid compressed data, and 1002 on RSV1 without negotiation', async () => {
    const server = await startServer(echo);
    try {
      const raw = await rawClient(server.address()!.port, 'permessage-deflate');
      raw.send(0x2, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01]), true);
      const close = await raw.frame(0);
      assert.equal(close.opcode, 0x8);
      assert.equal(close.payload.readUInt16BE(0), 1007);
      raw.socket.destroy();

      const plain = await rawClient(server.address()!.port, null);
      plain.send(0x1, Buffer.from([0x4b, 0x04, 0x00]), true);
      assert.equal((await plain.frame(0)).payload.readUInt16BE(0), 1002);
      plain.socket.destroy();
    } finally {
      await server.close();
    }
  });
});

describe('round trips', () => {
  const messages = [
    '',
    'é',
    'short text',
    'x'.repeat(127),
    'x'.repeat(128),
    JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'] }))),
    Buffer.alloc(0),
    randomBytes(100),
    randomBytes(300_000),
    Buffer.alloc(900_000, 0x41),
  ];
  const combos: CompressionOptions[] = [];
  for (const serverNoContextTakeover of [false, true]) {
    for (const clientNoContextTakeover of [false, true]) combos.push({ serverNoContextTakeover, clientNoContextTakeover });
  }
  combos.push({ serverMaxWindowBits: 8, clientMaxWindowBits: 8 }, { serverMaxWindowBits: 15, clientMaxWindowBits: 15, level: 9, memLevel: 9 });

  for (const combo of combos) {
    it(`byte for byte both ways with ${JSON.stringify(combo)}`, async () => {
      const server = await startServer(echo, { compression: combo });
      try {
        const ws = await connect(server.url, { compression: combo });
        assert.notEqual(ws.extensions, '');
        for (let round = 0; round < 2; round++) {
          for (const message of messages) await ws.send(message);
          for (const message of messages) {
            const got = await ws.recv();
            if (typeof message === 'string') assert.equal(got, message);
            else assert.ok(Buffer.isBuffer(got) && got.equals(message));
          }
        }
        await ws.close();
      } finally {
        await server.close();
      }
    });
  }

  it('keeps order and content when the caller reuses its buffer right after send()', async () => {
    const server = await startServer(echo);
    try {
      const ws = await connect(server.url);
      const buffer = Buffer.alloc(4096, 1);
      const sends: Array<Promise<void>> = [];
      for (let i = 0; i < 200; i++) {
        buffer.writeUInt32BE(i, 0);
        sends.push(ws.send(buffer));
      }
      await Promise.all(sends);
      for (let i = 0; i < 200; i++) assert.equal(((await ws.recv()) as Buffer).readUInt32BE(0), i);
      await ws.close();
    } finally {
      await server.close();
    }
  });
});

describe('compression bombs', () => {
  it('a few KiB that inflate past maxMessageSize close with 1009', async () => {
    const server = await startServer(echo, { maxMessageSize: MiB });
    try {
      const raw = await rawClient(server.address()!.port, 'permessage-deflate');
      const bomb = await peerDeflater()(Buffer.alloc(16 * MiB));
      assert.ok(bomb.length < 20 * 1024, `bomb is ${bomb.length} bytes`);
      raw.send(0x2, bomb, true);
      const close = await raw.frame(0);
      assert.equal(close.opcode, 0x8);
      assert.equal(close.payload.readUInt16BE(0), 1009);
      await within(raw.closed, 5000, 'server closing TCP');
    } finally {
      await server.close();
    }
  });

  it('a 1 GiB bomb is stopped at the limit, quickly, without the memory', async () => {
    // ~1 MiB of deflate that inflates to 1 GiB of zeros; built from a 1 MiB buffer reused, so the test itself stays small.
    const deflater = zlib.createDeflateRaw({ level: 9 });
    const parts: Buffer[] = [];
    deflater.on('data', (c: Buffer) => parts.push(c));
    const zeros = Buffer.alloc(MiB);
    for (let i = 0; i < 1024; i++) if (!deflater.write(zeros)) await new Promise((r) => deflater.once('drain', r));
    await new Promise<void>((resolve) => deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
    const bomb = Buffer.concat(parts).subarray(0, -4);
    deflater.close();

    const limit = 4 * MiB;
    const server = await startServer(echo, { maxMessageSize: limit });
    try {
      const raw = await rawClient(server.address()!.port, 'permessage-deflate');
      global.gc?.();
      const before = process.memoryUsage();
      let peakRss = before.rss;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 2);
      const started = performance.now();
      raw.send(0x2, bomb, true);
      const close = await raw.frame(0);
      const elapsed = performance.now() - started;
      clearInterval(sampler);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const after = process.memoryUsage();
      assert.equal(close.payload.readUInt16BE(0), 1009);
      const rssDelta = peakRss - before.rss;
      console.log(
        `# 1 GiB bomb (${(bomb.length / MiB).toFixed(2)} MiB on the wire, limit ${limit / MiB} MiB): closed 1009 in ${elapsed.toFixed(0)} ms; ` +
          `peak rss +${(rssDelta / MiB).toFixed(1)} MiB, heap +${((after.heapUsed - before.heapUsed) / MiB).toFixed(1)} MiB, ` +
          `external +${((after.external - before.external) / MiB).toFixed(1)} MiB`,
      );
      // The wire payload alone is ~1 MiB and is held twice (frame + inflate input); 1 GiB would be 256 times the limit.
      assert.ok(rssDelta < 64 * MiB, `rss grew by ${rssDelta} bytes`);
      assert.ok(elapsed < 3000, `took ${elapsed} ms: zlib was not stopped at the limit`);
      raw.socket.destroy();
    } finally {
      await server.close();
    }
  });

  it('the codec rejects with closeCode 1009 at exactly one byte over', async () => {
    const codec = new DeflateCodec(
      codecParams({ serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 }, 'server'),
      { threshold: 0, level: 6, memLevel: 8, limiter: new ZlibLimiter(1) },
    );
    const deflate = peerDeflater();
    assert.equal((await codec.decode(await deflate(Buffer.alloc(1000, 1)), 1000)).length, 1000);
    await assert.rejects(codec.decode(await deflate(Buffer.alloc(1001, 1)), 1000), (e: Error & { closeCode?: number }) => e.closeCode === 1009);
    codec.close();
  });
});

describe('limits and cleanup', () => {
  it('the limiter is FIFO and never runs more than its concurrency', async () => {
    const limiter = new ZlibLimiter(3);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limiter.run(async () => {
          running++;
          peak = Math.max(peak, running);
          order.push(i);
          await delay(1 + (i % 3));
          running--;
        }),
      ),
    );
    assert.equal(peak, 3);
    assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => i));
    assert.equal(limiter.running, 0);
    assert.equal(limiter.pending, 0);
    assert.throws(() => new ZlibLimiter(0), RangeError);
  });

  it('bounds zlib work across all of a server’s connections', async () => {
    const limiter = new ZlibLimiter(2);
    let peak = 0;
    const run = limiter.run.bind(limiter);
    limiter.run = (task) => run(() => ((peak = Math.max(peak, limiter.running)), task()));
    const server = await startServer(echo, { compression: { limiter } });
    const clientLimiter = new ZlibLimiter(50);
    try {
      const clients = await Promise.all(Array.from({ length: 30 }, () => connect(server.url, { compression: { limiter: clientLimiter } })));
      const payload = JSON.stringify(Array.from({ length: 3000 }, (_, i) => i));
      await Promise.all(clients.map(async (ws) => {
        for (let i = 0; i < 5; i++) await ws.send(payload);
        for (let i = 0; i < 5; i++) assert.equal(await ws.recv(), payload);
      }));
      assert.ok(peak <= 2 && peak >= 1, `peak ${peak}`);
      await Promise.all(clients.map((ws) => ws.close()));
    } finally {
      await server.close();
    }
  });

  it('close() during a zlib call settles it and frees the limiter slot', async () => {
    const limiter = new ZlibLimiter(1);
    const codec = new DeflateCodec(
      codecParams({ serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 }, 'server'),
      { threshold: 0, level: 9, memLevel: 9, limiter },
    );
    const pending = codec.encode(randomBytes(8 * MiB));
    const queued = codec.decode(Buffer.from([0x03, 0x00]), 10);
    codec.close();
    await assert.rejects(pending);
    await assert.rejects(queued);
    assert.equal(limiter.running, 0);
    // Another codec can use the limiter afterwards.
    const other = new DeflateCodec(codecParams({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 15 }, 'client'), {
      threshold: 0, level: 6, memLevel: 8, limiter,
    });
    assert.ok((await other.encode(Buffer.alloc(1000))) !== undefined);
    other.close();
  });

  it('connections without context takeover share a few zlib streams, bounded by the limiter, and hold none while idle', async () => {
    const limiter = new ZlibLimiter(2);
    const pools = new ZlibPools({ threshold: 0, level: 6, memLevel: 5, limiter });
    const params = codecParams({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 12, clientMaxWindowBits: 12 }, 'server');
    const codecs = Array.from({ length: 50 }, () => new DeflateCodec(params, { threshold: 0, level: 6, memLevel: 5, limiter, pools }));
    assert.equal(pools.streams, 0, 'negotiated and idle: no zlib state');
    const peer = (i: number) => Buffer.from(`message ${i} `.repeat(40));
    // Every message decodes on its own (a fresh inflater): RFC 7692 §7.1.1.1, nothing refers to an earlier message.
    const encoded = await Promise.all(codecs.map((codec, i) => codec.encode(peer(i))));
    encoded.forEach((payload, i) => assert.deepEqual(inflate(payload!, 12), peer(i)));
    const decoded = await Promise.all(codecs.map(async (codec, i) => codec.decode(await peerDeflater(12)(peer(i)), 1 << 20)));
    decoded.forEach((message, i) => assert.deepEqual(message, peer(i)));
    assert.ok(pools.streams >= 2 && pools.streams <= 4, `${pools.streams} streams for 50 connections (limiter concurrency 2, two directions)`);
    assert.equal(codecs[0]!.shared, codecs[49]!.shared, 'one compressor: a broadcast can compress once');
    // An invalid message fails its connection only; the pool forgets the broken stream and goes on.
    await assert.rejects(codecs[0]!.decode(Buffer.from([0xff, 0xff, 0xff]), 1 << 20), (e: Error & { closeCode?: number }) => e.closeCode === 1007);
    assert.deepEqual(await codecs[1]!.decode(await peerDeflater(12)(peer(1)), 1 << 20), peer(1));
    for (const codec of codecs) codec.close();
  });

  it('a server’s extension object can be passed explicitly and is not duplicated', async () => {
    const extension = new PerMessageDeflateServer({ serverMaxWindowBits: 9 });
    const server = await startServer(echo, { extensions: [extension] });
    try {
      const ws = await connect(server.url);
      assert.match(ws.extensions, /server_max_window_bits=9/);
      await ws.close();
    } finally {
      await server.close();
    }
  });

  it('releases zlib contexts: heap and native memory return to baseline after many compressed connections', { timeout: 80_000 }, async () => {
    const child = fileURLToPath(new URL('./deflate-leak.child.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', child, '2000'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      timeout: 75_000,
    });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as {
      cycles: number;
      baseline: NodeJS.MemoryUsage;
      after: NodeJS.MemoryUsage;
      peakExternal: number;
    };
    const heapDelta = result.after.heapUsed - result.baseline.heapUsed;
    const externalDelta = result.after.external - result.baseline.external;
    const rssDelta = result.after.rss - result.baseline.rss;
    console.log(
      `# ${result.cycles} compressed connect/send/close cycles: heap ${(heapDelta / 1024).toFixed(0)} KiB, ` +
        `external ${(externalDelta / 1024).toFixed(0)} KiB, rss ${(rssDelta / MiB).toFixed(1)} MiB vs baseline ` +
        `(external peaked at +${((result.peakExternal - result.baseline.external) / MiB).toFixed(1)} MiB)`,
    );
    // Each cycle allocates ~100 KiB of zlib state on each side: a leak of 2,000 cycles would be ~400 MiB.
    assert.ok(heapDelta < 4 * MiB, `heap grew by ${heapDelta}`);
    assert.ok(externalDelta < 4 * MiB, `external memory grew by ${externalDelta}`);
  });
});

