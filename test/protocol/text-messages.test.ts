/**
 * Text messages are decoded by the core (`onText`): short single-frame text is unmasked and found to be ASCII in one
 * pass over the received chunk (`unmaskRangeOr`), other text goes through the UTF-8 check (RFC 6455 §8.1). Whatever
 * path a message takes, the handler gets the same string and its size in bytes, and invalid UTF-8 fails with 1007.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFrame } from '../../src/protocol/frame.js';
import { unmaskRangeOr } from '../../src/protocol/mask.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { failureCode, feed, open } from './recorder.js';

/** A message as a client sends it: one frame, or `parts` fragments, masked with `mask`. */
function clientMessage(payload: Uint8Array, mask: Uint8Array, parts: number, opcode: number = Opcode.TEXT): Buffer {
  if (parts <= 1) return encodeFrame(opcode, payload, true, false, mask);
  const frames: Buffer[] = [];
  const step = Math.ceil(payload.length / parts) || 1;
  for (let at = 0, i = 0; i < parts; i++, at += step) {
    const piece = payload.subarray(Math.min(at, payload.length), Math.min(at + step, payload.length));
    frames.push(encodeFrame(i === 0 ? opcode : Opcode.CONTINUATION, piece, i === parts - 1, false, mask));
  }
  return Buffer.concat(frames);
}

const text = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 120 }),
);

describe('text messages decoded by the core', () => {
  it('unmaskRangeOr unmasks a range in place as the byte definition (§5.3) and returns the OR of the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(80), fc.nat(80), fc.integer(), (bytes, a, b, word) => {
        const start = Math.min(a, b, bytes.length);
        const end = Math.min(Math.max(a, b), bytes.length);
        const key = [word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff];
        const expected = Uint8Array.from(bytes);
        let bits = 0;
        for (let i = start; i < end; i++) bits |= expected[i]! ^= key[(i - start) % 4]!;
        const actual = Uint8Array.from(bytes);
        assert.equal(unmaskRangeOr(actual, start, end, word), bits);
        assert.deepEqual(actual, expected);
      }),
    );
  });

  it('every text arrives as the string sent, with its size in bytes: any characters, masks, fragments and chunk cuts', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(text, fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 1, max: 3 })), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(4000), { maxLength: 4 }),
        (messages, cuts) => {
          const { protocol, recorder } = open('server');
          const wire = Buffer.concat(messages.map(([t, mask, parts]) => clientMessage(Buffer.from(t, 'utf8'), mask, parts)));
          feed(protocol, wire, cuts);
          assert.equal(failureCode(protocol), null);
          assert.deepEqual(
            recorder.texts,
            messages.map(([t]) => ({ text: t, size: Buffer.byteLength(t) })),
          );
        },
      ),
    );
  });

  it('short text with one byte that is not UTF-8 fails with 1007 wherever the byte is, masked or not', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' '), minLength: 1, maxLength: 200 }),
        fc.nat(),
        fc.constantFrom(0x80, 0xbf, 0xc0, 0xc1, 0xf5, 0xff),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (ascii, at, bad, mask) => {
          const payload = Buffer.from(ascii, 'latin1');
          payload[at % payload.length] = bad;
          const { protocol, recorder } = open('server');
          feed(protocol, clientMessage(payload, mask, 1));
          assert.equal(failureCode(protocol), 1007);
          assert.equal(recorder.texts.length, 0);
        },
      ),
    );
  });

  it('a binary message of ASCII bytes stays binary; text a server sends a client (unmasked) is decoded too', () => {
    const server = open('server');
    feed(server.protocol, clientMessage(Buffer.from('plain ascii'), Uint8Array.of(1, 2, 3, 4), 1, Opcode.BINARY));
    assert.deepEqual(server.recorder.texts, []);
    assert.deepEqual(server.recorder.messages(), [{ data: Buffer.from('plain ascii'), binary: true, compressed: false }]);
    const client = open('client');
    feed(client.protocol, Buffer.concat([encodeFrame(Opcode.TEXT, 'hello', true, false, null), encodeFrame(Opcode.TEXT, 'héllo ✓', true, false, null)]));
    assert.deepEqual(client.recorder.texts, [
      { text: 'hello', size: 5 },
      { text: 'héllo ✓', size: 10 },
    ]);
  });
});
