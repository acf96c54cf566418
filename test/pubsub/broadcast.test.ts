import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { setImmediate as tick } from 'node:timers/promises';
import { broadcast, connect, State, type Connection, type Server } from '../../src/index.js';
import { delay, startServer, until, within } from '../helpers.js';

/** A server whose handler keeps every connection open; resolves once `count` are open. */
async function holdingServer(options = {}): Promise<Server> {
  return startServer(async (ws) => {
    await ws.closed;
  }, { pingInterval: null, ...options });
}

async function openClients(server: Server, count: number, options = {}): Promise<Connection[]> {
  const clients: Connection[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, () => connect(server.url, { pingInterval: null, ...options }));
    clients.push(...(await Promise.all(batch)));
  }
  while (server.connections.size < count) await delay(5);
  return clients;
}

function collect(ws: Connection, expected: number, progress?: number[], index = 0): Promise<Array<string | Buffer>> {
  const promise = (async () => {
    const received: Array<string | Buffer> = [];
    for await (const message of ws) {
      received.push(message);
      if (progress) progress[index] = received.length;
      if (received.length === expected) break;
    }
    return received;
  })();
  promise.catch(() => undefined); // reported where awaited
  return promise;
}

describe('broadcast', () => {
  it('connections handed the same frames in a turn share one written buffer; one with a frame of its own gets its own bytes', async () => {
    // The write of a turn's frames is reused for the next connection with the very same frames (src/node/connection.ts
    // sameRun): alternate connections get a message of their own in the middle instead of the broadcast one, so hits and
    // misses alternate.
    const server = await holdingServer({ compression: false });
    const clients = await openClients(server, 8);
    try {
      const untilC = clients.map(async (ws) => {
        const list: Array<string | Buffer> = [];
        for await (const message of ws) {
          list.push(message);
          if (message === 'c') break;
        }
        return list;
      });
      const peers = [...server.connections];
      broadcast(peers, 'a');
      broadcast(peers.filter((_, i) => i % 2 === 0), Buffer.from([1, 2]));
      peers.forEach((ws, i) => i % 2 === 1 && void ws.send(`own ${i}`));
      broadcast(peers, 'c');
      const got = await within(Promise.all(untilC), 10_000, 'delivery');
      // Every connection gets three frames, so the lists differ in content only, not in length.
      const withOwn = got.filter((list) => typeof list[1] === 'string');
      assert.equal(withOwn.length, 4);
      for (const list of got) {
        if (typeof list[1] === 'string') assert.deepEqual([list[0], list[2]], ['a', 'c']);
        else assert.deepEqual(list, ['a', Buffer.from([1, 2]), 'c']);
      }
      assert.deepEqual(new Set(withOwn.map((list) => list[1])), new Set(['own 1', 'own 3', 'own 5', 'own 7']));
    } finally {
      await Promise.all(clients.map((ws) => ws.close().catch(() => undefined)));
      await server.close();
    }
  });

  it('1,000 real connections each receive every message exactly once, in order (one encoding)', async () => {
    const server = await holdingServer({ compression: false });
    const clients = await openClients(server, 1000);
    try {
      const messages = Array.from({ length: 50 }, (_, i) => (i % 5 === 4 ? Buffer.from([i, 0, 255]) : `message ${i}`));
      const received = clients.map((ws) => collect(ws, messages.length));
      const timings: number[] = [];
      const start = performance.now();
      for (const message of messages) {
        const t = performance.now();
        const result = broadcast(server.connections, message);
        timings.push(performance.now() - t);
        assert.deepEqual(result, { sent: 1000, skipped: 0, closed: 0 });
        await tick();
      }
      const all = await within(Promise.all(received), 30_000, 'delivery to 1,000 clients');
      const total = performance.now() - start;
      for (const got of all) assert.deepEqual(got, messages);
      timings.sort((a, b) => a - b);
      console.log(
        `# broadcast to 1,000: median ${timings[25]!.toFixed(2)} ms per call, max ${timings[49]!.toFixed(2)} ms; ` +
          `50 messages delivered to all in ${total.toFixed(0)} ms`,
      );
    } finally {
      for (const ws of clients) ws.terminate();
      await server.close();
    }
  });

  it('compressed connections get their own encoding, in order with their other sends', async () => {
    const server = await holdingServer();
    const clients = await openClients(server, 100);
    try {
      assert.ok([...server.connections].every((ws) => ws.extensions.startsWith('permessage-deflate')));
      const big = 'x'.repeat(10_000);
      const messages = ['a', big, Buffer.from([1, 2, 3]), 'b', big + 'y'];
      const received = clients.map((ws) => collect(ws, messages.length + 1));
      for (const message of messages) assert.equal(broadcast(server.connections, message).sent, 100);
      for (const ws of server.connections) void ws.send('direct');
      const all = await within(Promise.all(received), 10_000, 'delivery');
      for (const got of all) assert.deepEqual(got, [...messages, 'direct']);
    } finally {
      for (const ws of clients) ws.terminate();
      await server.close();
    }
  });

  it('skips closing connections and the excluded one', async () => {
    const server = await holdingServer();
    const clients = await openClients(server, 3);
    try {
      const [first, second] = [...server.connections];
      void first!.close();
      const result = broadcast(server.connections, 'x', { exclude: second! });
      assert.deepEqual(result, { sent: 1, skipped: 0, closed: 0 });
    } finally {
      for (const ws of clients) ws.terminate();
      await server.close();
    }
  });

  for (const [policy, compression] of [['skip', false], ['close', false], ['skip', true]] as const) {
    it(`a stalled client does not hold up the others and stays under the bound (policy: ${policy}, compression: ${compression})`, async () => {
      const maxBuffered = 512 * 1024;
      const server = await holdingServer({ closeTimeout: 300, compression });
      const fastCount = compression ? 5 : 20;
      const fast = await openClients(server, fastCount);
      // maxQueue 1: the stalled client stops reading from its socket after one message and never recv()s.
      const stalled = await connect(server.url, { pingInterval: null, maxQueue: 1 });
      while (server.connections.size < fastCount + 1) await delay(5);
      try {
        const count = compression ? 600 : 1500;
        const payload = randomBytes(16 * 1024); // incompressible
        const progress = fast.map(() => 0);
        const received = fast.map((ws, k) => collect(ws, count, progress, k));
        let maxStalledBuffer = 0;
        const totals = { sent: 0, skipped: 0, closed: 0 };
        // The server-side peer of the stalled client is the one that ends up behind.
        const start = performance.now();
        for (let i = 0; i < count; i++) {
          payload.writeUInt32BE(i, 0);
          const result = broadcast(server.connections, payload, { maxBuffered, onSlow: policy, closeCode: 1013 });
          totals.sent += result.sent;
          totals.skipped += result.skipped;
          totals.closed += result.closed;
          assert.ok(result.skipped + result.closed <= 1, `message ${i}: a fast client was passed over: ${JSON.stringify(result)}`);
          for (const ws of server.connections) maxStalledBuffer = Math.max(maxStalledBuffer, ws.bufferedAmount);
          // Compression is paced by zlib: a producer faster than that would make every client
          // slow, so here the producer keeps pace with the fast clients (never the stalled one).
          if (compression) while (Math.min(...progress) < i - 8) await delay(1);
          else await tick();
        }
        const all = await within(Promise.all(received), 30_000, 'delivery to the fast clients');
        const elapsed = performance.now() - start;
        for (const got of all) {
          assert.equal(got.length, count);
          got.forEach((message, i) => assert.equal((message as Buffer).readUInt32BE(0), i));
        }
        console.log(
          `# stalled client, policy ${policy}, compression ${compression}: ${count} × 16 KiB to ${fastCount} fast clients in ${elapsed.toFixed(0)} ms; ` +
            `largest server buffer ${(maxStalledBuffer / 1024).toFixed(0)} KiB (bound ${maxBuffered / 1024} KiB); ${JSON.stringify(totals)}`,
        );
        assert.ok(maxStalledBuffer <= maxBuffered, `a server-side buffer reached ${maxStalledBuffer} bytes`);
        if (policy === 'skip') {
          assert.ok(totals.skipped > 0, 'the stalled client was skipped');
          assert.equal(totals.closed, 0);
        } else {
          assert.equal(totals.closed, 1, 'the stalled client was closed once');
          assert.equal(totals.skipped, 0);
          await within(
            (async () => {
              while (server.connections.size > fastCount) await delay(20);
            })(),
            5000,
            'the stalled connection to be dropped',
          );
        }
        assert.ok(fast.every((ws) => ws.readyState === State.OPEN));
      } finally {
        for (const ws of fast) ws.terminate();
        stalled.terminate();
        await server.close();
      }
    });
  }

  describe('onSlow: close with compression (issue 16 item 11)', () => {
    it('a closing connection is counted once, however many publishes follow', async () => {
      const server = await startServer(async (ws) => {
        ws.subscribe('t');
        await ws.closed;
      }, { pingInterval: null, closeTimeout: 500, broadcast: { onSlow: 'close', maxBuffered: 64 * 1024 } });
      // maxQueue 1 and never read: the server's socket to it fills up.
      const stalled = await connect(server.url, { pingInterval: null, maxQueue: 1 });
      try {
        while (server.subscribers('t') < 1) await delay(5);
        const payload = randomBytes(16 * 1024); // incompressible: through the compressor, then sent as is
        let closed = 0;
        await within(
          (async () => {
            for (let i = 0; server.subscribers('t') > 0; i++) {
              closed += server.publish('t', payload).closed;
              if (i % 8 === 0) await tick();
            }
          })(),
          10_000,
          'the stalled client closed and gone',
        );
        assert.equal(closed, 1);
      } finally {
        stalled.terminate();
        await server.close();
      }
    });

    it('a client reading as fast as it can is not closed when zlib lags behind the publisher', async () => {
      const server = await startServer(async (ws) => {
        ws.subscribe('t');
        await ws.closed;
      }, { pingInterval: null, broadcast: { onSlow: 'close', maxBuffered: 256 * 1024 } });
      const reader = await connect(server.url, { pingInterval: null });
      try {
        while (server.subscribers('t') < 1) await delay(5);
        const count = 3000;
        let received = 0;
        const reading = (async () => {
          for await (const _ of reader) received++;
        })().catch(() => undefined);
        const totals = { sent: 0, skipped: 0, closed: 0 };
        // 40 compressible 4 KiB messages per turn of the event loop (160 KiB, under the bound), not paced by the reader.
        for (let i = 0; i < count; i++) {
          const result = server.publish('t', JSON.stringify({ i, text: 'lorem ipsum '.repeat(340) }));
          totals.sent += result.sent;
          totals.skipped += result.skipped;
          totals.closed += result.closed;
          if (i % 40 === 39) await tick();
        }
        assert.equal(totals.closed, 0, `the reader was closed as slow: ${JSON.stringify(totals)}`);
        await until(() => received === totals.sent, 10_000, `delivery of the ${totals.sent} messages sent`);
        assert.equal(reader.readyState, State.OPEN);
        // zlib does about one message per turn of the event loop here, 40 times slower than the publisher: what it cannot
        // keep up with is skipped (load shedding, counted), never blamed on the reader.
        console.log(`# a fast reader, compression lagging: ${JSON.stringify(totals)}, all ${received} sent received`);
        reader.terminate();
        await reading;
      } finally {
        reader.terminate();
        await server.close();
      }
    });
  });
});
