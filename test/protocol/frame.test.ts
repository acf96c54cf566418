import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFrame, frameHeaderLength, frameHeaderSize, framePayloadLength, MaskKeySource, readPayloadLength, writeFrameHeader } from '../../src/protocol/frame.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import type { Side } from '../../src/protocol/protocol.js';
import { closeCodeWritten, failureCode, feed, feedBytewise, header, MASK, maskedFor, open, peerOf } from './recorder.js';

const SIDES: Side[] = ['server', 'client'];

/** A reference decoder of the payload length field, written from §5.2 independently of the code under test. */
function decodeLength(bytes: Uint8Array): { length: number; headerLength: number } {
  const len7 = bytes[1]! & 0x7f;
  const masked = (bytes[1]! & 0x80) !== 0;
  if (len7 < 126) return { length: len7, headerLength: 2 + (masked ? 4 : 0) };
  if (len7 === 126) return { length: bytes[2]! * 256 + bytes[3]!, headerLength: 4 + (masked ? 4 : 0) };
  let length = 0;
  for (let i = 2; i < 10; i++) length = length * 256 + bytes[i]!;
  return { length, headerLength: 10 + (masked ? 4 : 0) };
}

/** The 8 big-endian bytes of a 64-bit length (exact for lengths below 2^53). */
function u64(length: number | bigint): number[] {
  const n = BigInt(length);
  const out: number[] = [];
  for (let shift = 56n; shift >= 0n; shift -= 8n) out.push(Number((n >> shift) & 0xffn));
  return out;
}

describe('RFC 6455 §5.2 Base Framing Protocol: payload length', () => {
  const boundaries = [
    { length: 0, len7: 0, headerLength: 2 },
    { length: 1, len7: 1, headerLength: 2 },
    { length: 125, len7: 125, headerLength: 2 },
    { length: 126, len7: 126, headerLength: 4 },
    { length: 127, len7: 126, headerLength: 4 },
    { length: 65535, len7: 126, headerLength: 4 },
    { length: 65536, len7: 127, headerLength: 10 },
    { length: 65537, len7: 127, headerLength: 10 },
  ];

  for (const { length, len7, headerLength } of boundaries) {
    it(`encodes a ${length}-byte payload with the minimal ${headerLength}-byte header, masked or not`, () => {
      const payload = Buffer.alloc(length, 0x61);
      const unmasked = encodeFrame(Opcode.BINARY, payload);
      assert.equal(unmasked.length, headerLength + length);
      assert.equal(unmasked[0], 0x82);
      assert.equal(unmasked[1], len7);
      assert.deepEqual(decodeLength(unmasked), { length, headerLength });
      assert.equal(frameHeaderLength(length, false), headerLength);
      const masked = encodeFrame(Opcode.BINARY, payload, true, false, MASK);
      assert.equal(masked.length, headerLength + 4 + length);
      assert.equal(masked[1], 0x80 | len7);
      assert.deepEqual(masked.subarray(headerLength, headerLength + 4), Buffer.from(MASK));
      assert.equal(frameHeaderLength(length, true), headerLength + 4);
    });

    for (const to of SIDES) {
      it(`a ${to} receives a ${length}-byte message whole, byte by byte, and split after the header`, () => {
        const payload = Buffer.alloc(length);
        for (let i = 0; i < length; i++) payload[i] = i & 0xff;
        const bytes = encodeFrame(Opcode.BINARY, payload, true, false, maskedFor(to) ? MASK : null);
        const splits: Array<(p: ReturnType<typeof open>['protocol']) => void> = [
          (p) => feed(p, bytes),
          (p) => feed(p, bytes, [headerLength + (maskedFor(to) ? 4 : 0)]),
          (p) => feed(p, bytes, [1, 3, 5, 9, 11, 13, 100]),
        ];
        if (length <= 1024) splits.push((p) => feedBytewise(p, bytes));
        for (const split of splits) {
          const { protocol, recorder } = open(to);
          split(protocol);
          assert.equal(protocol.failure, null);
          assert.deepEqual(recorder.messages(), [{ data: payload, binary: true, compressed: false }]);
        }
      });
    }
  }

  it('writes 64-bit lengths up to 2^53 - 1 in big-endian order', () => {
    const out = new Uint8Array(14);
    for (const length of [2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 2 ** 40 + 7, 2 ** 48 - 1, 2 ** 48, 2 ** 48 + 1, 2 ** 53 - 1]) {
      const at = writeFrameHeader(out, Opcode.BINARY, true, false, length, null);
      assert.equal(at, 10);
      assert.deepEqual([...out.subarray(2, 10)], u64(length), `length ${length}`);
      assert.equal(decodeLength(out).length, length);
    }
  });

  it('round-trips every length through writeFrameHeader and the reference decoder', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.boolean(), (length, masked) => {
        const out = new Uint8Array(14);
        const at = writeFrameHeader(out, Opcode.BINARY, true, false, length, masked ? MASK : null);
        assert.equal(at, frameHeaderLength(length, masked));
        assert.deepEqual(decodeLength(out), { length, headerLength: at });
      }),
      { numRuns: 2000 },
    );
  });

  it('the shared header reader (protocol and the CLI frame log) agrees with the reference decoder, at any offset', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.boolean(), fc.nat(8), (length, masked, offset) => {
        const out = new Uint8Array(offset + 14);
        writeFrameHeader(out.subarray(offset), Opcode.TEXT, false, false, length, masked ? MASK : null);
        const reference = decodeLength(out.subarray(offset));
        assert.equal(readPayloadLength(out, offset), reference.length);
        assert.equal(frameHeaderSize(out[offset + 1]!), reference.headerLength);
      }),
      { numRuns: 2000 },
    );
  });

  it('the shared header reader reports a 64-bit length with its most significant bit set as -1', () => {
    assert.equal(readPayloadLength(header(0x82, 127, [0x80, 0, 0, 0, 0, 0, 0, 1]), 0), -1);
    assert.equal(readPayloadLength(header(0x82, 127, [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 0), 0x7fffffffffffffff);
  });

  for (const to of SIDES) {
    const masked = maskedFor(to);

    it(`a ${to} parses a 2^32 + 5 length from the header alone and fails it with 1009 before any payload arrives`, () => {
      const bytes = header(0x82, 127, u64(2 ** 32 + 5), masked);
      const { protocol, recorder } = open(to);
      feed(protocol, bytes);
      assert.equal(protocol.failure?.closeCode, 1009);
      assert.equal(closeCodeWritten(to, recorder), 1009);
    });

    it(`a ${to} reads 64-bit lengths exactly: a limit one below fails with 1009, the length itself waits for the payload`, () => {
      for (const length of [65536, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 2 ** 47 + 3, 2 ** 53 - 1]) {
        const bytes = header(0x82, 127, u64(length), masked);
        const below = open(to, { maxMessageSize: length - 1 });
        feedBytewise(below.protocol, bytes);
        assert.equal(below.protocol.failure?.closeCode, 1009, `length ${length}`);
        const exact = open(to, { maxMessageSize: length });
        feedBytewise(exact.protocol, bytes);
        feed(exact.protocol, Buffer.alloc(3));
        assert.equal(exact.protocol.failure, null, `length ${length}`);
        assert.deepEqual(exact.recorder.events, []);
      }
    });

    it(`a ${to} fails a 64-bit length with the most significant bit set with 1002`, () => {
      for (const high of [0x80, 0xff]) {
        const { protocol, recorder } = open(to, { maxMessageSize: Number.MAX_SAFE_INTEGER });
        feed(protocol, header(0x82, 127, [high, 0, 0, 0, 0, 0, 0, 1], masked));
        assert.equal(protocol.failure?.closeCode, 1002);
        assert.equal(closeCodeWritten(to, recorder), 1002);
      }
    });

    it(`a ${to} fails non-minimal 16-bit lengths (0, 1, 125) with 1002`, () => {
      for (const length of [0, 1, 125]) {
        const { protocol, recorder } = open(to);
        feed(protocol, Buffer.concat([header(0x82, 126, [length >> 8, length & 0xff], masked), Buffer.alloc(length)]));
        assert.equal(protocol.failure?.closeCode, 1002, `length ${length}`);
        assert.equal(closeCodeWritten(to, recorder), 1002);
        assert.deepEqual(recorder.messages(), []);
      }
    });

    it(`a ${to} accepts the minimal 16-bit lengths 126 and 65535`, () => {
      for (const length of [126, 65535]) {
        const { protocol, recorder } = open(to);
        const body = Buffer.alloc(length, 1);
        const bytes = Buffer.concat([header(0x82, 126, [length >> 8, length & 0xff], masked), body]);
        if (masked) {
          // Mask the payload as a client would.
          for (let i = 0; i < length; i++) bytes[8 + i]! ^= MASK[i % 4]!;
        }
        feed(protocol, bytes);
        assert.equal(protocol.failure, null);
        assert.deepEqual(recorder.messages()[0]?.data, body);
      }
    });

    it(`a ${to} fails non-minimal 64-bit lengths (0, 125, 126, 65535) with 1002`, () => {
      for (const length of [0, 125, 126, 65535]) {
        const { protocol, recorder } = open(to);
        feed(protocol, header(0x82, 127, u64(length), masked));
        assert.equal(protocol.failure?.closeCode, 1002, `length ${length}`);
        assert.equal(closeCodeWritten(to, recorder), 1002);
      }
    });

    it(`a ${to} fails a message over maxMessageSize with 1009 from the header, for 7-, 16- and 64-bit lengths`, () => {
      for (const [limit, len7, ext] of [
        [99, 100, []],
        [999, 126, [0x03, 0xe8]],
        [65536, 127, u64(65537)],
      ] as Array<[number, number, number[]]>) {
        const { protocol, recorder } = open(to, { maxMessageSize: limit });
        feed(protocol, header(0x82, len7, ext, masked));
        assert.equal(protocol.failure?.closeCode, 1009, `limit ${limit}`);
        assert.equal(protocol.failure?.code, 'WS_PAYLOAD_TOO_BIG');
        assert.equal(closeCodeWritten(to, recorder), 1009);
        assert.deepEqual(recorder.types(), ['end']);
      }
    });

    it(`a ${to} accepts a message of exactly maxMessageSize bytes`, () => {
      const { protocol, recorder } = open(to, { maxMessageSize: 300 });
      feed(protocol, encodeFrame(Opcode.BINARY, Buffer.alloc(300, 7), true, false, masked ? MASK : null));
      assert.equal(protocol.failure, null);
      assert.equal(recorder.messages()[0]?.data.length, 300);
    });

    it(`a ${to} counts earlier fragments against maxMessageSize when a continuation header arrives`, () => {
      const { protocol, recorder } = open(to, { maxMessageSize: 100 });
      const from = peerOf(to);
      const key = masked ? MASK : null;
      feed(protocol, encodeFrame(Opcode.BINARY, Buffer.alloc(60), false, false, key));
      feed(protocol, encodeFrame(Opcode.CONTINUATION, Buffer.alloc(40), false, false, key));
      assert.equal(protocol.failure, null);
      // The next header alone announces 101 bytes in total.
      feed(protocol, header(0x80, 1, [], masked));
      assert.equal(failureCode(protocol), 1009);
      assert.equal(closeCodeWritten(to, recorder), 1009);
      assert.ok(from);
    });
  }
});

describe('RFC 6455 §5.2 Base Framing Protocol: encoding', () => {
  it('sets FIN, RSV1 and the opcode in the first byte', () => {
    assert.equal(encodeFrame(Opcode.TEXT, 'a')[0], 0x81);
    assert.equal(encodeFrame(Opcode.TEXT, 'a', false)[0], 0x01);
    assert.equal(encodeFrame(Opcode.CONTINUATION, 'a', true)[0], 0x80);
    assert.equal(encodeFrame(Opcode.BINARY, 'a', true, true)[0], 0xc2);
    assert.equal(encodeFrame(Opcode.PING, '')[0], 0x89);
    assert.equal(encodeFrame(Opcode.CLOSE, '')[0], 0x88);
  });

  it('encodes a string payload as UTF-8 and counts its bytes, not its characters', () => {
    const bytes = encodeFrame(Opcode.TEXT, 'é€😀');
    assert.equal(bytes[1], 2 + 3 + 4);
    assert.equal(bytes.subarray(2).toString('utf8'), 'é€😀');
  });

  it('matches the RFC §5.7 examples', () => {
    // A single-frame unmasked text message containing "Hello".
    assert.deepEqual(encodeFrame(Opcode.TEXT, 'Hello'), Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]));
    // A single-frame masked text message containing "Hello".
    assert.deepEqual(
      encodeFrame(Opcode.TEXT, 'Hello', true, false, Uint8Array.of(0x37, 0xfa, 0x21, 0x3d)),
      Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
    );
    // A fragmented unmasked text message.
    assert.deepEqual(encodeFrame(Opcode.TEXT, 'Hel', false), Buffer.from([0x01, 0x03, 0x48, 0x65, 0x6c]));
    assert.deepEqual(encodeFrame(Opcode.CONTINUATION, 'lo'), Buffer.from([0x80, 0x02, 0x6c, 0x6f]));
    // Unmasked Ping request and masked Ping response, both with body "Hello".
    assert.deepEqual(encodeFrame(Opcode.PING, 'Hello'), Buffer.from([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]));
    assert.deepEqual(
      encodeFrame(Opcode.PONG, 'Hello', true, false, Uint8Array.of(0x37, 0xfa, 0x21, 0x3d)),
      Buffer.from([0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
    );
    // 256 bytes and 64 KiB binary messages in a single unmasked frame.
    assert.deepEqual(encodeFrame(Opcode.BINARY, Buffer.alloc(256)).subarray(0, 4), Buffer.from([0x82, 0x7e, 0x01, 0x00]));
    assert.deepEqual(
      encodeFrame(Opcode.BINARY, Buffer.alloc(65536)).subarray(0, 10),
      Buffer.from([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]),
    );
  });

  it('does not modify the payload it masks', () => {
    const payload = Buffer.from('unchanged');
    encodeFrame(Opcode.BINARY, payload, true, false, MASK);
    assert.equal(payload.toString(), 'unchanged');
  });
});

describe('RFC 6455 §10.3 Attacks on Infrastructure (Masking)', () => {
  it('hands out fresh 4-byte mask keys that differ from one another', () => {
    const source = new MaskKeySource();
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const key = source.next();
      assert.equal(key.length, 4);
      seen.add(Buffer.from(key).toString('hex'));
    }
    // 3000 random 32-bit keys collide with probability about 0.1%; allow a couple.
    assert.ok(seen.size >= 2995, `only ${seen.size} distinct keys`);
  });
});

describe('framePayloadLength', () => {
  it('inverts frameHeaderLength for every payload size, masked or not (the 7-, 16- and 64-bit length forms)', () => {
    for (const length of [0, 1, 125, 126, 127, 65535, 65536, 65537, 2 ** 32 + 5]) {
      for (const masked of [false, true]) assert.equal(framePayloadLength(frameHeaderLength(length, masked) + length, masked), length);
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.boolean(), (length, masked) => {
        assert.equal(framePayloadLength(frameHeaderLength(length, masked) + length, masked), length);
      }),
    );
  });
});
