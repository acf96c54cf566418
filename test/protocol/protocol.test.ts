import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFrame } from '../../src/protocol/frame.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { DEFAULT_MAX_FRAGMENTS, FRAGMENT_BYTES, Protocol, State, type Side } from '../../src/protocol/protocol.js';
import {
  closeCodeWritten,
  decodeWrites,
  failureCode,
  feed,
  feedBytewise,
  frame,
  header,
  isFailureCode,
  MASK,
  maskedFor,
  open,
  peerOf,
  Recorder,
} from './recorder.js';

const SIDES: Side[] = ['server', 'client'];

/** A frame as the peer of `to` sends it (masked towards a server). */
function frameTo(to: Side, opcode: number, payload: Uint8Array | string = '', options: { fin?: boolean; rsv1?: boolean } = {}) {
  return frame(peerOf(to), opcode, payload, options);
}

function assertFailed(protocol: Protocol, recorder: Recorder, code: number): void {
  assert.equal(failureCode(protocol), code, protocol.failure?.message);
  assert.equal(protocol.state, State.CLOSED);
  assert.equal(closeCodeWritten(protocol.side, recorder), code);
  assert.equal(recorder.events.at(-1)?.type, 'end');
}

describe('RFC 6455 §5.1 Overview: masking', () => {
  it('a server fails an unmasked frame from a client with 1002', () => {
    const { protocol, recorder } = open('server');
    feed(protocol, encodeFrame(Opcode.TEXT, 'hello'));
    assertFailed(protocol, recorder, 1002);
    assert.deepEqual(recorder.messages(), []);
  });

  it('a client fails a masked frame from a server with 1002', () => {
    const { protocol, recorder } = open('client');
    feed(protocol, encodeFrame(Opcode.TEXT, 'hello', true, false, MASK));
    assertFailed(protocol, recorder, 1002);
  });

  it('an unmasked or masked control frame is held to the same rule', () => {
    for (const [to, key] of [['server', null], ['client', MASK]] as Array<[Side, Uint8Array | null]>) {
      const { protocol, recorder } = open(to);
      feed(protocol, encodeFrame(Opcode.PING, 'x', true, false, key));
      assertFailed(protocol, recorder, 1002);
    }
  });

  it('a client masks every frame it sends with a fresh key and a server masks none', () => {
    const client = open('client');
    client.protocol.sendText('hello');
    client.protocol.sendBinary(Buffer.alloc(2000, 1));
    client.protocol.sendPing(Buffer.from('p'));
    const written = client.recorder.written();
    assert.equal(written[1]! & 0x80, 0x80);
    const keys = new Set<string>();
    for (const w of client.recorder.writes) keys.add(w.subarray(2, 6).toString('hex'));
    assert.equal(client.recorder.writes.length, 3);
    const server = open('server');
    server.protocol.sendText('hello');
    server.protocol.sendBinary(Buffer.alloc(2000, 1));
    server.protocol.sendPing(Buffer.from('p'));
    const serverWritten = server.recorder.written();
    assert.equal(serverWritten[1]! & 0x80, 0);
    // Each side's output is what the other side decodes.
    const fromClient = decodeWrites('client', written);
    const fromServer = decodeWrites('server', serverWritten);
    assert.deepEqual(fromClient, fromServer);
    assert.equal(fromClient.length, 3);
  });
});

describe('RFC 6455 §5.2 Base Framing Protocol: reserved bits and opcodes', () => {
  for (const to of SIDES) {
    it(`a ${to} fails RSV1, RSV2 or RSV3 set without a negotiated extension with 1002`, () => {
      for (const rsv of [0x40, 0x20, 0x10, 0x70]) {
        const bytes = frameTo(to, Opcode.TEXT, 'x');
        bytes[0]! |= rsv;
        const { protocol, recorder } = open(to);
        feed(protocol, bytes);
        assertFailed(protocol, recorder, 1002);
      }
    });

    it(`a ${to} fails every reserved opcode (3-7, 11-15) with 1002`, () => {
      for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
        const { protocol, recorder } = open(to);
        feed(protocol, frameTo(to, opcode, 'x'));
        assertFailed(protocol, recorder, 1002);
        assert.deepEqual(recorder.types(), ['end'], `opcode ${opcode}`);
      }
    });

    it(`a ${to} with rsv1Allowed takes RSV1 on the first data frame and reports the message as compressed`, () => {
      const { protocol, recorder } = open(to, { rsv1Allowed: true });
      feed(protocol, frameTo(to, Opcode.TEXT, Buffer.from([0xff, 0xfe]), { rsv1: true }));
      feed(protocol, frameTo(to, Opcode.BINARY, 'ab', { fin: false, rsv1: true }));
      feed(protocol, frameTo(to, Opcode.CONTINUATION, 'cd'));
      feed(protocol, frameTo(to, Opcode.BINARY, 'plain'));
      assert.equal(protocol.failure, null);
      assert.deepEqual(recorder.messages(), [
        // Compressed text is not UTF-8 checked here: the inflating layer does that.
        { data: Buffer.from([0xff, 0xfe]), binary: false, compressed: true },
        { data: Buffer.from('abcd'), binary: true, compressed: true },
        { data: Buffer.from('plain'), binary: true, compressed: false },
      ]);
    });

    it(`a ${to} with rsv1Allowed still fails RSV1 on a continuation frame or a control frame, and RSV2/RSV3 anywhere`, () => {
      const cases: Buffer[][] = [
        [frameTo(to, Opcode.TEXT, 'a', { fin: false, rsv1: true }), frameTo(to, Opcode.CONTINUATION, 'b', { rsv1: true })],
        [frameTo(to, Opcode.TEXT, 'a', { fin: false }), frameTo(to, Opcode.CONTINUATION, 'b', { rsv1: true })],
        [frameTo(to, Opcode.PING, 'a', { rsv1: true })],
      ];
      for (const rsv of [0x20, 0x10]) {
        const bytes = frameTo(to, Opcode.TEXT, 'x', { rsv1: true });
        bytes[0]! |= rsv;
        cases.push([bytes]);
      }
      for (const frames of cases) {
        const { protocol, recorder } = open(to, { rsv1Allowed: true });
        for (const f of frames) feed(protocol, f);
        assertFailed(protocol, recorder, 1002);
        assert.deepEqual(recorder.messages(), []);
      }
    });
  }
});

describe('RFC 6455 §5.4 Fragmentation', () => {
  for (const to of SIDES) {
    it(`a ${to} joins a text or binary message split in N frames, including empty ones`, () => {
      for (const opcode of [Opcode.TEXT, Opcode.BINARY]) {
        for (const n of [1, 2, 3, 10, 100]) {
          const text = 'fragment-é-'.repeat(n);
          const bytes = Buffer.from(text);
          const frames: Buffer[] = [];
          const size = Math.ceil(bytes.length / n);
          for (let k = 0; k < n; k++) {
            frames.push(frameTo(to, k === 0 ? opcode : Opcode.CONTINUATION, bytes.subarray(k * size, (k + 1) * size), { fin: k === n - 1 }));
          }
          // Empty fragments are legal anywhere in the sequence.
          if (n > 1) frames.splice(1, 0, frameTo(to, Opcode.CONTINUATION, '', { fin: false }));
          const { protocol, recorder } = open(to);
          feed(protocol, Buffer.concat(frames));
          assert.equal(protocol.failure, null);
          assert.deepEqual(recorder.messages(), [{ data: bytes, binary: opcode === Opcode.BINARY, compressed: false }]);
        }
      }
    });

    it(`a ${to} handles ping, pong and close frames between the fragments of a message`, () => {
      const { protocol, recorder } = open(to);
      feed(protocol, frameTo(to, Opcode.TEXT, 'Hel', { fin: false }));
      feed(protocol, frameTo(to, Opcode.PING, 'p1'));
      feed(protocol, frameTo(to, Opcode.CONTINUATION, 'lo', { fin: false }));
      feed(protocol, frameTo(to, Opcode.PONG, 'p2'));
      feed(protocol, frameTo(to, Opcode.CONTINUATION, ' world'));
      assert.equal(protocol.failure, null);
      assert.deepEqual(recorder.types(), ['ping', 'pong', 'message']);
      assert.equal(recorder.messages()[0]!.data.toString(), 'Hello world');
      // The ping was answered at once.
      const answers = decodeWrites(to, recorder.written());
      assert.deepEqual(answers, [{ type: 'pong', payload: Buffer.from('p1') }]);
      // A close in the middle of a message ends the connection cleanly; the message is never delivered.
      const second = open(to);
      feed(second.protocol, frameTo(to, Opcode.TEXT, 'Hel', { fin: false }));
      feed(second.protocol, frameTo(to, Opcode.CLOSE, Buffer.from([0x03, 0xe8])));
      assert.equal(second.protocol.failure, null);
      assert.deepEqual(second.recorder.messages(), []);
      assert.equal(second.protocol.closeReceived?.code, 1000);
    });

    it(`a ${to} handles a control frame arriving in pieces between the fragments of a text message`, () => {
      // The first fragment ends inside a 3-byte character; the ping payload is not UTF-8.
      const euro = Buffer.from('€');
      const ping = frameTo(to, Opcode.PING, Buffer.from([0xff, 0x80, 0xfe]));
      for (let cut = 1; cut < ping.length; cut++) {
        const { protocol, recorder } = open(to);
        feed(protocol, frameTo(to, Opcode.TEXT, Buffer.concat([Buffer.from('a'), euro.subarray(0, 2)]), { fin: false }));
        feed(protocol, ping, [cut]);
        feed(protocol, frameTo(to, Opcode.CONTINUATION, euro.subarray(2)));
        assert.equal(protocol.failure, null, `ping cut at ${cut}: ${protocol.failure?.message}`);
        assert.deepEqual(recorder.types(), ['ping', 'message']);
        assert.equal(recorder.messages()[0]!.data.toString(), 'a€');
      }
    });

    it(`a ${to} receives a ping whose payload is not UTF-8 in pieces after a text message`, () => {
      const { protocol, recorder } = open(to);
      feed(protocol, frameTo(to, Opcode.TEXT, 'text first'));
      feedBytewise(protocol, frameTo(to, Opcode.PING, Buffer.from([0xc3, 0x28, 0xff])));
      feedBytewise(protocol, frameTo(to, Opcode.PONG, Buffer.from([0xe2, 0x82])));
      assert.equal(protocol.failure, null, protocol.failure?.message);
      assert.deepEqual(recorder.types(), ['message', 'ping', 'pong']);
    });

    it(`a ${to} fails a continuation frame with no message to continue with 1002`, () => {
      for (const fin of [true, false]) {
        const { protocol, recorder } = open(to);
        feed(protocol, frameTo(to, Opcode.CONTINUATION, 'x', { fin }));
        assertFailed(protocol, recorder, 1002);
      }
      // Also right after a complete fragmented message.
      const { protocol, recorder } = open(to);
      feed(protocol, frameTo(to, Opcode.TEXT, 'a', { fin: false }));
      feed(protocol, frameTo(to, Opcode.CONTINUATION, 'b'));
      feed(protocol, frameTo(to, Opcode.CONTINUATION, 'c'));
      assertFailed(protocol, recorder, 1002);
      assert.equal(recorder.messages().length, 1);
    });

    it(`a ${to} fails a new text or binary message inside a fragmented one with 1002`, () => {
      for (const [first, second] of [
        [Opcode.TEXT, Opcode.TEXT],
        [Opcode.TEXT, Opcode.BINARY],
        [Opcode.BINARY, Opcode.TEXT],
        [Opcode.BINARY, Opcode.BINARY],
      ]) {
        const { protocol, recorder } = open(to);
        feed(protocol, frameTo(to, first!, 'a', { fin: false }));
        feed(protocol, frameTo(to, second!, 'b'));
        assertFailed(protocol, recorder, 1002);
        assert.deepEqual(recorder.messages(), []);
      }
    });

    it(`a ${to} fails a fragmented control frame with 1002`, () => {
      for (const opcode of [Opcode.PING, Opcode.PONG, Opcode.CLOSE]) {
        const { protocol, recorder } = open(to);
        feed(protocol, frameTo(to, opcode, '', { fin: false }));
        assertFailed(protocol, recorder, 1002);
      }
    });

    it(`a ${to} accepts a 125-byte control frame and fails a longer one with 1002 from its header`, () => {
      const ok = open(to);
      feed(ok.protocol, frameTo(to, Opcode.PING, Buffer.alloc(125, 0x70)));
      assert.equal(ok.protocol.failure, null);
      assert.equal(ok.recorder.types()[0], 'ping');
      for (const opcode of [Opcode.PING, Opcode.PONG, Opcode.CLOSE]) {
        for (const [len7, ext] of [[126, [0, 126]], [127, [0, 0, 0, 0, 0, 1, 0, 0]]] as Array<[number, number[]]>) {
          const { protocol, recorder } = open(to);
          feed(protocol, header(0x80 | opcode, len7, ext, maskedFor(to)));
          assertFailed(protocol, recorder, 1002);
        }
      }
    });

    /** A binary message of `n` frames of `payload` each. */
    const fragmented = (n: number, payload: string | Buffer) => {
      const out: Buffer[] = [frameTo(to, Opcode.BINARY, payload, { fin: n === 1 })];
      for (let k = 1; k < n; k++) out.push(frameTo(to, Opcode.CONTINUATION, payload, { fin: k === n - 1 }));
      return Buffer.concat(out);
    };

    it(`a ${to} enforces maxFragments, counting every frame of the message`, () => {
      const ok = open(to, { maxFragments: 5 });
      feed(ok.protocol, fragmented(5, 'x'));
      feed(ok.protocol, fragmented(5, 'x'));
      assert.equal(ok.protocol.failure, null);
      assert.deepEqual(ok.recorder.messages().map((m) => m.data.toString()), ['xxxxx', 'xxxxx']);
      const tooMany = open(to, { maxFragments: 5 });
      feed(tooMany.protocol, fragmented(6, 'x'));
      // §7.4.1: 1008, a policy violation; the message's size is within limits.
      assertFailed(tooMany.protocol, tooMany.recorder, 1008);
      assert.deepEqual(tooMany.recorder.messages(), []);
    });

    it(`a ${to}'s fragment budget grows by one frame per ${FRAGMENT_BYTES} bytes received`, () => {
      // 100 frames of 16 bytes: frame k+1 arrives after 16k bytes, within 5 + k.
      const ok = open(to, { maxFragments: 5 });
      feed(ok.protocol, fragmented(100, Buffer.alloc(FRAGMENT_BYTES, 7)));
      assert.equal(ok.protocol.failure, null);
      assert.equal(ok.recorder.messages()[0]!.data.length, 100 * FRAGMENT_BYTES);
      // 15-byte frames fall behind: frame k+1 after 15k bytes has a budget of 5 + floor(15k / 16).
      const behind = open(to, { maxFragments: 5 });
      feed(behind.protocol, fragmented(100, Buffer.alloc(FRAGMENT_BYTES - 1, 7)));
      assertFailed(behind.protocol, behind.recorder, 1008);
    });

    it(`a ${to} accepts 4 MiB in 65,536 fragments by default (Autobahn 9.3.1, 9.4.1) and refuses empty ones after ${DEFAULT_MAX_FRAGMENTS}`, () => {
      const big = open(to, { maxMessageSize: 4 << 20 });
      feed(big.protocol, fragmented(65_536, Buffer.alloc(64, 1)));
      assert.equal(big.protocol.failure, null);
      assert.equal(big.recorder.messages()[0]!.data.length, 4 << 20);
      const empty = open(to);
      feed(empty.protocol, fragmented(DEFAULT_MAX_FRAGMENTS, ''));
      assert.equal(empty.protocol.failure, null);
      const flood = open(to);
      feed(flood.protocol, fragmented(DEFAULT_MAX_FRAGMENTS + 1, ''));
      assertFailed(flood.protocol, flood.recorder, 1008);
    });

    it(`a ${to} keeps a million-byte message sent one byte per frame within about twice its size`, () => {
      const n = 20000;
      const { protocol, recorder } = open(to, { maxFragments: n });
      const parts: Buffer[] = [frameTo(to, Opcode.BINARY, 'a', { fin: false })];
      for (let k = 1; k < n; k++) parts.push(frameTo(to, Opcode.CONTINUATION, 'a', { fin: k === n - 1 }));
      feed(protocol, Buffer.concat(parts));
      assert.equal(protocol.failure, null);
      const [message] = recorder.messages();
      assert.equal(message!.data.length, n);
    });
  }
});

describe('RFC 6455 §5.5.2 Ping and §5.5.3 Pong', () => {
  for (const to of SIDES) {
    it(`a ${to} answers a ping with a pong carrying the same payload and reports both`, () => {
      const { protocol, recorder } = open(to);
      feed(protocol, frameTo(to, Opcode.PING, 'are you there?'));
      feed(protocol, frameTo(to, Opcode.PING));
      feed(protocol, frameTo(to, Opcode.PONG, 'unsolicited'));
      assert.deepEqual(recorder.events, [
        { type: 'ping', payload: Buffer.from('are you there?') },
        { type: 'ping', payload: Buffer.alloc(0) },
        { type: 'pong', payload: Buffer.from('unsolicited') },
      ]);
      assert.deepEqual(decodeWrites(to, recorder.written()), [
        { type: 'pong', payload: Buffer.from('are you there?') },
        { type: 'pong', payload: Buffer.alloc(0) },
      ]);
    });

    it(`a ${to} refuses to send a ping or pong payload over 125 bytes`, () => {
      const { protocol } = open(to);
      assert.throws(() => protocol.sendPing(Buffer.alloc(126)), RangeError);
      assert.throws(() => protocol.sendPong(Buffer.alloc(126)), RangeError);
      protocol.sendPing(Buffer.alloc(125));
    });
  }
});

describe('RFC 6455 §6 Sending and Receiving Data', () => {
  for (const from of SIDES) {
    it(`what a ${from} sends, its peer receives: text, binary, fragments, large payloads`, () => {
      const { protocol, recorder } = open(from);
      protocol.sendText('hello');
      protocol.sendText(Buffer.from('bytes as text'));
      protocol.sendBinary(Buffer.alloc(70000, 3));
      protocol.sendBinary(new Uint8Array(2000).fill(9));
      protocol.sendFrame(Opcode.TEXT, 'frag', false);
      protocol.sendFrame(Opcode.CONTINUATION, 'ment', true);
      const events = decodeWrites(from, recorder.written());
      assert.deepEqual(events, [
        { type: 'message', data: Buffer.from('hello'), binary: false, compressed: false },
        { type: 'message', data: Buffer.from('bytes as text'), binary: false, compressed: false },
        { type: 'message', data: Buffer.alloc(70000, 3), binary: true, compressed: false },
        { type: 'message', data: Buffer.alloc(2000, 9), binary: true, compressed: false },
        { type: 'message', data: Buffer.from('fragment'), binary: false, compressed: false },
      ]);
    });

    it(`a ${from} writes a pre-encoded frame only on the server side`, () => {
      const { protocol, recorder } = open(from);
      const bytes = encodeFrame(Opcode.TEXT, 'broadcast');
      if (from === 'server') {
        protocol.sendEncoded(bytes);
        assert.deepEqual(recorder.written(), bytes);
      } else {
        assert.throws(() => protocol.sendEncoded(bytes), { code: 'WS_INVALID_STATE' });
      }
    });
  }
});

describe('RFC 6455 §7.1.7 Fail the WebSocket Connection', () => {
  for (const to of SIDES) {
    it(`a ${to} produces no event after a failure, whatever arrives next`, () => {
      const { protocol, recorder } = open(to);
      feed(protocol, Buffer.concat([frameTo(to, 5, 'bad'), frameTo(to, Opcode.TEXT, 'after'), frameTo(to, Opcode.PING, 'p')]));
      feed(protocol, frameTo(to, Opcode.TEXT, 'later'));
      protocol.receiveData(Buffer.from([0xff, 0xff, 0xff]));
      assert.deepEqual(recorder.types(), ['end']);
      assert.equal(recorder.writes.length, 1);
      assert.throws(() => protocol.sendText('x'), { code: 'WS_INVALID_STATE' });
    });

    it(`a ${to} that failed after sending a close frame writes no second one`, () => {
      const { protocol, recorder } = open(to);
      protocol.sendClose(1000, 'bye');
      feed(protocol, frameTo(to, 5, 'bad'));
      assert.equal(failureCode(protocol), 1002);
      assert.equal(closeCodeWritten(to, recorder), 1000);
      assert.equal(protocol.state, State.CLOSED);
    });

    it(`a ${to} keeps the first failure when failed again`, () => {
      const { protocol, recorder } = open(to);
      protocol.fail(1009, 'too big');
      protocol.fail(1002, 'second');
      assert.equal(failureCode(protocol), 1009);
      assert.equal(protocol.failure?.code, 'WS_PAYLOAD_TOO_BIG');
      assert.deepEqual(recorder.types(), ['end']);
    });

    it(`a ${to} truncates a long failure reason to 123 bytes at a character boundary`, () => {
      const { protocol, recorder } = open(to);
      protocol.fail(1011, 'é'.repeat(100));
      const events = decodeWrites(to, recorder.written());
      const close = events.find((e) => e.type === 'close');
      assert.ok(close && close.type === 'close');
      assert.equal(close.close.reason, 'é'.repeat(61));
    });

    it(`a ${to} stops reading at EOF and sends nothing when failed afterwards`, () => {
      const { protocol, recorder } = open(to);
      protocol.receiveEof();
      assert.equal(protocol.state, State.CLOSED);
      feed(protocol, frameTo(to, Opcode.TEXT, 'ignored'));
      protocol.fail(1002, 'late');
      assert.deepEqual(recorder.writes, []);
      assert.deepEqual(recorder.messages(), []);
    });

    it(`a ${to} with deferFailure stops reading at an error and fails only at failPending()`, () => {
      const { protocol, recorder } = open(to, { deferFailure: true });
      feed(protocol, Buffer.concat([frameTo(to, Opcode.TEXT, 'before'), frameTo(to, 5, 'bad'), frameTo(to, Opcode.TEXT, 'after')]));
      assert.deepEqual(recorder.types(), ['message']);
      assert.deepEqual(recorder.writes, []);
      assert.equal(protocol.state, State.OPEN);
      assert.equal(protocol.pendingFailure?.code, 1002);
      protocol.sendText('answer');
      feed(protocol, frameTo(to, Opcode.TEXT, 'later'));
      protocol.failPending();
      assert.equal(protocol.pendingFailure, null);
      assertFailed(protocol, recorder, 1002);
      const written = decodeWrites(to, recorder.written()).filter((e) => e.type !== 'end');
      assert.deepEqual(written.map((e) => e.type), ['message', 'close']);
    });

    it(`a ${to} with deferFailure whose transport closes first keeps the pending error as its failure`, () => {
      const { protocol, recorder } = open(to, { deferFailure: true });
      feed(protocol, frameTo(to, Opcode.CONTINUATION, 'x'));
      protocol.receiveEof();
      assert.equal(failureCode(protocol), 1002);
      assert.equal(protocol.pendingFailure, null);
      protocol.failPending();
      assert.deepEqual(recorder.writes, []);
    });
  }
});

// ---- properties ---------------------------------------------------------------------------------

const dataOpcode = fc.constantFrom(Opcode.TEXT, Opcode.BINARY);

/** A random message: either text (valid UTF-8) or binary, split into 1..5 frames, with control frames mixed in. */
const messageArb = fc
  .record({
    binary: fc.boolean(),
    text: fc.string({ unit: 'grapheme', maxLength: 200 }),
    bytes: fc.uint8Array({ maxLength: 300 }),
    cuts: fc.array(fc.nat(), { maxLength: 4 }),
    pings: fc.array(fc.record({ at: fc.nat(), opcode: fc.constantFrom(Opcode.PING, Opcode.PONG), payload: fc.uint8Array({ maxLength: 125 }) }), {
      maxLength: 2,
    }),
  })
  .map(({ binary, text, bytes, cuts, pings }) => {
    const payload = binary ? Buffer.from(bytes) : Buffer.from(text);
    const points = [...new Set(cuts.map((c) => c % (payload.length + 1)))].sort((a, b) => a - b);
    const pieces: Buffer[] = [];
    let at = 0;
    for (const p of points) {
      pieces.push(payload.subarray(at, p));
      at = p;
    }
    pieces.push(payload.subarray(at));
    return { binary, payload, pieces, pings };
  });

function chunkCuts(length: number, raw: number[]): number[] {
  return raw.map((c) => c % (length + 1));
}

describe('RFC 6455 §5 properties: frames round-trip through receiveData', () => {
  for (const to of SIDES) {
    it(`a ${to} receives every encoded frame sequence exactly, however the bytes are chunked`, () => {
      fc.assert(
        fc.property(fc.array(messageArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 20 }), (messages, rawCuts) => {
          const frames: Buffer[] = [];
          const expected: unknown[] = [];
          for (const m of messages) {
            m.pieces.forEach((piece, k) => {
              const opcode = k === 0 ? (m.binary ? Opcode.BINARY : Opcode.TEXT) : Opcode.CONTINUATION;
              frames.push(frameTo(to, opcode, piece, { fin: k === m.pieces.length - 1 }));
              for (const ping of m.pings) {
                if (ping.at % m.pieces.length === k && k < m.pieces.length - 1) {
                  frames.push(frameTo(to, ping.opcode, ping.payload));
                  expected.push({ type: ping.opcode === Opcode.PING ? 'ping' : 'pong', payload: Buffer.from(ping.payload) });
                }
              }
            });
            expected.push({ type: 'message', data: m.payload, binary: m.binary, compressed: false });
          }
          const bytes = Buffer.concat(frames);
          const { protocol, recorder } = open(to);
          feed(protocol, bytes, chunkCuts(bytes.length, rawCuts));
          assert.equal(protocol.failure, null, protocol.failure?.message);
          assert.deepEqual(recorder.events, expected);
        }),
        { numRuns: 300 },
      );
    });

    it(`a ${to} receives one random frame the same when split at every single position`, () => {
      fc.assert(
        fc.property(
          dataOpcode,
          fc.oneof(fc.uint8Array({ maxLength: 130 }), fc.uint8Array({ minLength: 65530, maxLength: 65540 })),
          (opcode, raw) => {
            const payload = opcode === Opcode.TEXT ? Buffer.from(Buffer.from(raw).toString('latin1'), 'utf8') : Buffer.from(raw);
            const bytes = frameTo(to, opcode, payload);
            const step = bytes.length > 1000 ? 997 : 1;
            for (let cut = 0; cut <= bytes.length; cut += step) {
              const { protocol, recorder } = open(to);
              feed(protocol, bytes, [cut]);
              assert.equal(protocol.failure, null);
              assert.deepEqual(recorder.messages(), [{ data: payload, binary: opcode === Opcode.BINARY, compressed: false }]);
            }
          },
        ),
        { numRuns: 40 },
      );
    });
  }
});

describe('RFC 6455 §7.1.7 properties: random input never throws', () => {
  for (const to of SIDES) {
    it(`a ${to} fed random bytes only produces events or a failure with a valid close code, then nothing`, () => {
      const limits = fc.record({ maxMessageSize: fc.integer({ min: 0, max: 2000 }), maxFragments: fc.integer({ min: 1, max: 8 }), rsv1Allowed: fc.boolean() });
      // Random bytes, sometimes prefixed by a valid frame header so the parser gets deeper.
      const input = fc.oneof(
        fc.uint8Array({ maxLength: 400 }),
        fc.tuple(dataOpcode, fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 })).map(([op, payload, tail]) =>
          Buffer.concat([frameTo(to, op, payload, { fin: false }), tail]),
        ),
      );
      fc.assert(
        fc.property(limits, input, fc.array(fc.nat(), { maxLength: 10 }), (options, bytes, rawCuts) => {
          const { protocol, recorder } = open(to, options);
          let failedAt = -1;
          const copy = Buffer.from(bytes);
          const cuts = [...new Set(chunkCuts(copy.length, rawCuts))].sort((a, b) => a - b);
          let at = 0;
          for (const cut of [...cuts, copy.length]) {
            if (cut < at) continue;
            protocol.receiveData(copy.subarray(at, cut));
            at = cut;
            if (protocol.failure !== null && failedAt === -1) failedAt = recorder.events.length;
          }
          if (protocol.failure !== null) {
            assert.ok(isFailureCode(protocol.failure.closeCode), `close code ${protocol.failure.closeCode}`);
            assert.equal(protocol.state, State.CLOSED);
            // Nothing after the failure's own 'end'.
            assert.equal(recorder.events.length, failedAt);
            assert.equal(recorder.events.at(-1)?.type, 'end');
            const code = closeCodeWritten(to, recorder);
            if (protocol.closeReceived === null) assert.equal(code, protocol.failure.closeCode);
          }
          for (const e of recorder.events) {
            if (e.type === 'message' && !e.binary && !e.compressed) assert.ok(Buffer.from(e.data.toString()).equals(e.data));
            if (e.type === 'message') assert.ok(e.data.length <= options.maxMessageSize);
          }
        }),
        { numRuns: 2000 },
      );
    });
  }
});
