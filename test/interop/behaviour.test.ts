/**
 * One behaviour suite, run against every peer (crossws style): wskit server ↔
 * wskit client, wskit server ↔ `ws` client, `ws` server ↔ wskit client, and
 * Python `websockets` as client of a wskit server and as server for a wskit
 * client. Real loopback sockets throughout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConnectionClosedError, ConnectionClosedOK, State, type Message } from '../../src/index.js';
import { within } from '../helpers.js';
import { pairings, type Session } from './peers.js';

const SIZES = [0, 125, 64 * 1024, 1024 * 1024];

/** A string of exactly `bytes` UTF-8 bytes, with 1- to 4-byte characters. */
function textOf(bytes: number): string {
  const pattern = 'aé€😀'; // 1 + 2 + 3 + 4 bytes
  let out = pattern.repeat(Math.floor(bytes / 10));
  out += 'x'.repeat(bytes - Buffer.byteLength(out));
  assert.equal(Buffer.byteLength(out), bytes);
  return out;
}

function bytesOf(length: number, seed: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buffer[i] = x & 0xff;
  }
  return buffer;
}

async function collect(session: Session): Promise<Message[]> {
  const messages: Message[] = [];
  for await (const message of session.ws) messages.push(message);
  return messages;
}

for (const pairing of pairings()) {
  describe(pairing.name, { skip: pairing.skip, timeout: 30_000 }, () => {
    before(() => pairing.setup());
    after(() => pairing.teardown());

    /** Opens a session, runs `body`, and makes sure the connection ends. */
    async function withSession(body: (session: Session) => Promise<void>): Promise<void> {
      const session = await within(pairing.open(), 5000, 'opening');
      try {
        await within(body(session), 10_000, 'the test body');
      } finally {
        if (session.ws.readyState !== State.CLOSED) {
          await within(session.ws.close(), 5000, 'closing').catch(() => session.ws.terminate());
        }
      }
    }

    for (const size of SIZES) {
      it(`round-trips a ${size} B text message byte for byte`, () =>
        withSession(async ({ ws }) => {
          const text = textOf(size);
          await ws.send(text);
          const echoed = await ws.recv();
          assert.equal(typeof echoed, 'string');
          assert.ok(echoed === text, `text of ${size} B differs`);
        }));

      it(`round-trips a ${size} B binary message byte for byte`, () =>
        withSession(async ({ ws }) => {
          const bytes = bytesOf(size, size + 7);
          await ws.send(bytes);
          const echoed = await ws.recv();
          assert.ok(Buffer.isBuffer(echoed), 'binary comes back as a Buffer');
          assert.ok(echoed.equals(bytes), `binary of ${size} B differs`);
        }));
    }

    it('keeps the order of pipelined messages of both types', () =>
      withSession(async ({ ws }) => {
        const sent: Message[] = [];
        for (let i = 0; i < 50; i++) sent.push(i % 2 === 0 ? `message ${i}` : bytesOf(i * 100, i));
        await Promise.all(sent.map((m) => ws.send(m)));
        for (const expected of sent) assert.deepEqual(await ws.recv(), expected);
      }));

    it('ping() resolves with the round-trip time', () =>
      withSession(async ({ ws }) => {
        const rtt = await ws.ping();
        assert.equal(typeof rtt, 'number');
        assert.ok(rtt >= 0 && rtt < 5000, `rtt ${rtt}`);
        const withPayload = await ws.ping('hello');
        assert.ok(withPayload >= 0);
        assert.ok(ws.latency > 0 || ws.latency === withPayload);
      }));

    it("answers the peer's pings", () =>
      withSession(async ({ ws }) => {
        await ws.send('__ping__');
        assert.equal(await ws.recv(), '__pong__');
      }));

    it('sends a fragmented text message from an iterable', () =>
      withSession(async ({ ws }) => {
        await ws.send(['ab', 'cd', '€😀', '']);
        assert.equal(await ws.recv(), 'abcd€😀');
      }));

    it('sends a fragmented binary message from an async iterable', () =>
      withSession(async ({ ws }) => {
        const parts = [bytesOf(100_000, 1), bytesOf(300_000, 2), bytesOf(1, 3), bytesOf(200_000, 4)];
        async function* chunks() {
          for (const part of parts) {
            await new Promise((resolve) => setImmediate(resolve));
            yield part;
          }
        }
        await ws.send(chunks());
        // A message sent while the fragmented one is in flight comes after it.
        await ws.send('after');
        const echoed = await ws.recv();
        assert.ok(Buffer.isBuffer(echoed) && echoed.equals(Buffer.concat(parts)));
        assert.equal(await ws.recv(), 'after');
      }));

    it('an iterable that fails after its first part closes with 1011, and no frame breaks the half-sent message', async () => {
      const session = await pairing.open();
      const failure = new Error('the source failed');
      async function* failing() {
        yield 'first part ';
        yield 'second part';
        throw failure;
      }
      await assert.rejects(session.ws.send(failing()), (e: unknown) => e === failure);
      // Nothing may follow half a message: a send now is refused, not written as a new message inside it.
      await assert.rejects(session.ws.send('after'));
      const seen = await within(session.peerClosed, 5000, 'peer close report');
      assert.equal(seen.code, 1011, `the peer saw ${seen.code} ${seen.reason}`);
      // Failing the connection sends 1011 and closes without waiting for an answer (RFC 6455 §7.1.7).
      const info = await within(session.ws.closed, 5000, 'closed');
      assert.equal(info.wasClean, false);
    });

    it('receives fragmented messages', () =>
      withSession(async ({ ws }) => {
        await ws.send('__frag__');
        assert.equal(await ws.recv(), 'fragmented text');
        await ws.send('__fragbin__');
        assert.deepEqual(await ws.recv(), Buffer.from(Array.from({ length: 30 }, (_, i) => i)));
      }));

    for (const [code, reason] of [
      [1000, ''],
      [1001, 'going away'],
      [4000, 'custom reason'],
    ] as const) {
      it(`close(${code}) is seen by the peer with its reason`, async () => {
        const session = await pairing.open();
        const info = await within(session.ws.close(code, reason), 5000, 'close');
        assert.equal(info.code, code, 'the peer echoes the close code');
        assert.equal(info.wasClean, true);
        const seen = await within(session.peerClosed, 5000, "peer close report");
        assert.deepEqual({ code: seen.code, reason: seen.reason }, { code, reason });
        assert.equal(session.ws.readyState, State.CLOSED);
        await assert.rejects(session.ws.send('late'), code === 4000 ? ConnectionClosedError : ConnectionClosedOK);
      });

      it(`a close(${code}) from the peer is seen with its reason; for await ${code === 4000 ? 'throws' : 'ends'}`, async () => {
        const session = await pairing.open();
        await session.ws.send('before');
        await session.ws.send(`__close__ ${code} ${reason}`);
        const iterating = collect(session);
        if (code === 4000) {
          const error = await within(iterating, 5000, 'for await').then(
            () => assert.fail('for await should throw on an error close'),
            (e: unknown) => e,
          );
          assert.ok(error instanceof ConnectionClosedError, String(error));
          assert.equal(error.closeCode, 4000);
          assert.equal(error.reason, reason);
        } else {
          assert.deepEqual(await within(iterating, 5000, 'for await'), ['before']);
        }
        const info = await within(session.ws.closed, 5000, 'closed');
        assert.equal(info.code, code);
        assert.equal(info.reason, reason);
        assert.equal(info.wasClean, true);
        assert.equal(session.ws.closeCode, code);
        // The peer sees our echo of its code and reason.
        const echoed = await within(session.peerClosed, 5000, 'peer close report');
        assert.deepEqual({ code: echoed.code, reason: echoed.reason }, { code, reason });
      });
    }

    it('recv() after a normal close rejects with ConnectionClosedOK', () =>
      withSession(async ({ ws }) => {
        await ws.close();
        await assert.rejects(ws.recv(), ConnectionClosedOK);
        await assert.rejects(ws.ping(), ConnectionClosedOK);
      }));
  });
}
