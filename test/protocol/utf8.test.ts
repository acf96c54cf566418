import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { encodeFrame } from '../../src/protocol/frame.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import type { Side } from '../../src/protocol/protocol.js';
import { isValidUtf8, Utf8Validator } from '../../src/protocol/utf8.js';
import { closeCodeWritten, failureCode, feed, frame, open, peerOf } from './recorder.js';

const SIDES: Side[] = ['server', 'client'];

/**
 * A reference: the index of the first byte at which `bytes` stops being a
 * prefix of some valid UTF-8 (Unicode Table 3-7), or -1; and whether it ends
 * on a character boundary.
 */
function scan(bytes: Uint8Array): { firstBad: number; complete: boolean } {
  let need = 0;
  let lower = 0x80;
  let upper = 0xbf;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (need === 0) {
      if (b < 0x80) continue;
      lower = 0x80;
      upper = 0xbf;
      if (b >= 0xc2 && b <= 0xdf) need = 1;
      else if (b === 0xe0) [need, lower] = [2, 0xa0];
      else if (b === 0xed) [need, upper] = [2, 0x9f];
      else if (b >= 0xe1 && b <= 0xef) need = 2;
      else if (b === 0xf0) [need, lower] = [3, 0x90];
      else if (b === 0xf4) [need, upper] = [3, 0x8f];
      else if (b >= 0xf1 && b <= 0xf3) need = 3;
      else return { firstBad: i, complete: false };
    } else {
      if (b < lower || b > upper) return { firstBad: i, complete: false };
      lower = 0x80;
      upper = 0xbf;
      need--;
    }
  }
  return { firstBad: -1, complete: need === 0 };
}

/** Whether `bytes` is valid UTF-8 by Node's decoder: decoding then encoding gives the same bytes. */
function roundTrips(bytes: Uint8Array): boolean {
  return Buffer.from(Buffer.from(bytes).toString('utf8'), 'utf8').equals(Buffer.from(bytes));
}

/** Bytes that matter to UTF-8: ASCII, continuations, every kind of lead, and the invalid ones. */
const interestingByte = fc.constantFrom(
  0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef,
  0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xfe, 0xff,
);
/** Mostly valid UTF-8 with occasional damage, so failures land at many depths. */
const utf8ishBytes = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.array(interestingByte, { maxLength: 24 }).map((a) => Uint8Array.from(a)),
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => new Uint8Array(Buffer.from(s))),
  fc
    .tuple(fc.string({ unit: 'binary', maxLength: 30 }), fc.array(interestingByte, { maxLength: 4 }), fc.string({ unit: 'binary', maxLength: 30 }))
    .map(([a, bad, b]) => new Uint8Array(Buffer.concat([Buffer.from(a), Buffer.from(bad), Buffer.from(b)]))),
);

function cutsFor(length: number, raw: number[]): number[] {
  return [...new Set(raw.map((c) => c % (length + 1)))].sort((a, b) => a - b);
}

describe('RFC 6455 §8.1 Handling Errors in UTF-8-Encoded Data: the validator', () => {
  it('agrees with the reference scanner, Node isUtf8 and a decode/encode round trip on whole inputs', () => {
    fc.assert(
      fc.property(utf8ishBytes, (bytes) => {
        const { firstBad, complete } = scan(bytes);
        const valid = firstBad === -1 && complete;
        assert.equal(isUtf8(bytes), valid);
        assert.equal(roundTrips(bytes), valid);
        assert.equal(isValidUtf8(bytes), valid);
        const validator = new Utf8Validator();
        const ok = validator.push(bytes) && validator.end();
        assert.equal(ok, valid);
      }),
      { numRuns: 5000 },
    );
  });

  it('fails on exactly the part where the input stops being a valid prefix, when split at random points', () => {
    fc.assert(
      fc.property(utf8ishBytes, fc.array(fc.nat(), { maxLength: 8 }), (bytes, rawCuts) => {
        const { firstBad, complete } = scan(bytes);
        const cuts = [...cutsFor(bytes.length, rawCuts), bytes.length];
        const validator = new Utf8Validator();
        let at = 0;
        for (const cut of cuts) {
          if (cut < at) continue;
          const result = validator.push(bytes.subarray(at, cut));
          const expectOk = firstBad === -1 || firstBad >= cut;
          assert.equal(result, expectOk, `part [${at}, ${cut}) of ${Buffer.from(bytes).toString('hex')}, first bad byte at ${firstBad}`);
          if (!result) return;
          at = cut;
        }
        assert.equal(validator.end(), complete);
      }),
      { numRuns: 5000 },
    );
  });

  it('validates every split of every valid character, byte by byte', () => {
    const samples = ['a', '\u007f', '\u0080', 'é', '\u07ff', '\u0800', '€', '\ud7ff', '\ue000', '\uffff', '😀', '\u{10000}', '\u{10ffff}'];
    for (const s of samples) {
      const bytes = Buffer.from('x' + s + s + 'y');
      for (let cut = 0; cut <= bytes.length; cut++) {
        const validator = new Utf8Validator();
        assert.ok(validator.push(bytes.subarray(0, cut)), `${JSON.stringify(s)} cut at ${cut}`);
        assert.ok(validator.push(bytes.subarray(cut)));
        assert.ok(validator.end());
      }
      const validator = new Utf8Validator();
      for (const byte of bytes) assert.ok(validator.push(Uint8Array.of(byte)));
      assert.ok(validator.end());
    }
  });

  it('rejects overlong forms, surrogates, code points above U+10FFFF and stray bytes as soon as they are visible', () => {
    const cases: Array<[string, number[], number]> = [
      // [what, bytes, bytes needed before the sequence is known bad]
      ['overlong 2-byte NUL', [0xc0, 0x80], 1],
      ['overlong 2-byte', [0xc1, 0xbf], 1],
      ['overlong 3-byte', [0xe0, 0x80, 0x80], 2],
      ['overlong 3-byte U+07FF', [0xe0, 0x9f, 0xbf], 2],
      ['overlong 4-byte', [0xf0, 0x80, 0x80, 0x80], 2],
      ['overlong 4-byte U+FFFF', [0xf0, 0x8f, 0xbf, 0xbf], 2],
      ['high surrogate U+D800', [0xed, 0xa0, 0x80], 2],
      ['low surrogate U+DFFF', [0xed, 0xbf, 0xbf], 2],
      ['U+110000', [0xf4, 0x90, 0x80, 0x80], 2],
      ['F5 lead', [0xf5, 0x80, 0x80, 0x80], 1],
      ['FF', [0xff], 1],
      ['lone continuation', [0x80], 1],
      ['lead then ASCII', [0xe2, 0x41], 2],
      ['4-byte lead then ASCII in third place', [0xf0, 0x90, 0x41], 3],
    ];
    for (const [what, bad, needed] of cases) {
      for (const prefix of [[], [0x61], [0x61, 0x62, 0x63], Array.from(Buffer.from('é€'))]) {
        const bytes = Uint8Array.from([...prefix, ...bad]);
        const validator = new Utf8Validator();
        const visible = prefix.length + needed;
        for (let i = 0; i < bytes.length; i++) {
          const result = validator.push(bytes.subarray(i, i + 1));
          assert.equal(result, i + 1 < visible, `${what} after ${JSON.stringify(prefix)}, byte ${i}`);
          if (!result) break;
        }
        assert.equal(new Utf8Validator().push(bytes), false, `${what} whole`);
      }
    }
  });

  it('reports a character truncated at the end, then starts afresh', () => {
    for (const truncated of [[0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98]]) {
      const validator = new Utf8Validator();
      assert.ok(validator.push(Uint8Array.from([0x61, ...truncated])));
      assert.equal(validator.end(), false);
      assert.ok(validator.push(Buffer.from('fresh')));
      assert.ok(validator.end());
    }
    const validator = new Utf8Validator();
    assert.ok(validator.push(Uint8Array.of(0xe2)));
    validator.reset();
    assert.ok(validator.push(Buffer.from('after reset')));
    assert.ok(validator.end());
  });
});

/** Valid text around every position where an invalid sequence is inserted. */
const TEXT = Buffer.from('aé€😀b');
const BAD_SEQUENCES: Array<[string, number[]]> = [
  ['overlong C0 80', [0xc0, 0x80]],
  ['overlong E0 80 80', [0xe0, 0x80, 0x80]],
  ['surrogate ED A0 80', [0xed, 0xa0, 0x80]],
  ['above U+10FFFF F4 90 80 80', [0xf4, 0x90, 0x80, 0x80]],
  ['lone continuation 80', [0x80]],
  ['FF', [0xff]],
];
/** Character boundaries of TEXT. */
const BOUNDARIES = [0, 1, 3, 6, 10, 11];

describe('RFC 6455 §8.1 Handling Errors in UTF-8-Encoded Data: the protocol fails fast with 1007', () => {
  for (const to of SIDES) {
    it(`a ${to} fails a single-frame text message with 1007 as soon as the invalid bytes arrive, before the frame ends`, () => {
      for (const [what, bad] of BAD_SEQUENCES) {
        for (const at of BOUNDARIES) {
          const payload = Buffer.concat([TEXT.subarray(0, at), Buffer.from(bad), TEXT.subarray(at), Buffer.from('tail')]);
          const firstBad = scan(payload).firstBad;
          const bytes = frame(peerOf(to), Opcode.TEXT, payload);
          const headerLength = bytes.length - payload.length;
          // Everything up to the byte that makes it invalid, but not the rest of the frame.
          const before = open(to);
          feed(before.protocol, bytes.subarray(0, headerLength + firstBad));
          assert.equal(before.protocol.failure, null, `${what} at ${at}`);
          const upTo = open(to);
          feed(upTo.protocol, bytes.subarray(0, headerLength + firstBad + 1));
          assert.equal(failureCode(upTo.protocol), 1007, `${what} at ${at}`);
          assert.equal(closeCodeWritten(to, upTo.recorder), 1007);
          assert.deepEqual(upTo.recorder.types(), ['end']);
          // Byte by byte too.
          const bytewise = open(to);
          for (let i = 0; i <= headerLength + firstBad; i++) feed(bytewise.protocol, bytes.subarray(i, i + 1));
          assert.equal(failureCode(bytewise.protocol), 1007, `${what} at ${at}, byte by byte`);
          // And whole.
          const whole = open(to);
          feed(whole.protocol, bytes);
          assert.equal(failureCode(whole.protocol), 1007);
          assert.deepEqual(whole.recorder.messages(), []);
        }
      }
    });

    it(`a ${to} fails a fragmented text message with 1007 when the bad bytes arrive, before FIN, wherever the fragments are cut`, () => {
      for (const [what, bad] of BAD_SEQUENCES) {
        for (const at of BOUNDARIES) {
          const payload = Buffer.concat([TEXT.subarray(0, at), Buffer.from(bad), TEXT.subarray(at)]);
          const firstBad = scan(payload).firstBad;
          for (let cut = 0; cut <= payload.length; cut++) {
            const label = `${what} at ${at}, fragments cut at ${cut}`;
            const first = frame(peerOf(to), Opcode.TEXT, payload.subarray(0, cut), { fin: false });
            const secondPayload = payload.subarray(cut);
            const second = frame(peerOf(to), Opcode.CONTINUATION, Buffer.concat([secondPayload, Buffer.from('more')]), { fin: false });
            const secondHeader = second.length - secondPayload.length - 4;
            const { protocol, recorder } = open(to);
            feed(protocol, first);
            if (firstBad < cut) {
              assert.equal(failureCode(protocol), 1007, label);
              continue;
            }
            assert.equal(protocol.failure, null, label);
            feed(protocol, second.subarray(0, secondHeader + firstBad - cut));
            assert.equal(protocol.failure, null, label);
            feed(protocol, second.subarray(secondHeader + firstBad - cut, secondHeader + firstBad - cut + 1));
            assert.equal(failureCode(protocol), 1007, label);
            assert.deepEqual(recorder.messages(), []);
          }
        }
      }
    });

    it(`a ${to} accepts characters split across fragments and across receiveData chunks`, () => {
      const text = Buffer.from('é€😀'.repeat(3));
      for (let cut1 = 0; cut1 <= text.length; cut1++) {
        for (const cut2 of [cut1, Math.min(text.length, cut1 + 1), Math.min(text.length, cut1 + 5)]) {
          const frames = Buffer.concat([
            frame(peerOf(to), Opcode.TEXT, text.subarray(0, cut1), { fin: false }),
            frame(peerOf(to), Opcode.CONTINUATION, text.subarray(cut1, cut2), { fin: false }),
            frame(peerOf(to), Opcode.CONTINUATION, text.subarray(cut2)),
          ]);
          for (const chunkCut of [1, 7, 9, 15, 20]) {
            const { protocol, recorder } = open(to);
            feed(protocol, frames, [chunkCut, chunkCut + 3]);
            assert.equal(protocol.failure, null, `${cut1}/${cut2}/${chunkCut}`);
            assert.deepEqual(recorder.messages()[0]?.data, text);
          }
        }
      }
    });

    it(`a ${to} fails a text message that ends inside a character with 1007`, () => {
      for (const truncated of [[0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98]]) {
        const payload = Buffer.from([0x61, ...truncated]);
        // One frame, whole or in pieces.
        for (const cuts of [[], [3], [2, 3, 4]]) {
          const { protocol, recorder } = open(to);
          feed(protocol, frame(peerOf(to), Opcode.TEXT, payload), cuts);
          assert.equal(failureCode(protocol), 1007);
          assert.equal(closeCodeWritten(to, recorder), 1007);
        }
        // Fragmented, with a final empty fragment.
        const { protocol } = open(to);
        feed(protocol, frame(peerOf(to), Opcode.TEXT, payload, { fin: false }));
        assert.equal(protocol.failure, null);
        feed(protocol, frame(peerOf(to), Opcode.CONTINUATION, ''));
        assert.equal(failureCode(protocol), 1007);
      }
    });

    it(`a ${to} does not UTF-8 check binary messages`, () => {
      const { protocol, recorder } = open(to);
      feed(protocol, frame(peerOf(to), Opcode.BINARY, Buffer.from([0xff, 0xc0, 0x80]), { fin: false }));
      feed(protocol, frame(peerOf(to), Opcode.CONTINUATION, Buffer.from([0xed, 0xa0, 0x80])), [3]);
      assert.equal(protocol.failure, null);
      assert.equal(recorder.messages().length, 1);
    });

    it(`a ${to} fed random text frames split at random points fails with 1007 exactly when the bytes are not UTF-8`, () => {
      fc.assert(
        fc.property(fc.array(utf8ishBytes, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), (pieces, rawCuts) => {
          const frames = Buffer.concat(
            pieces.map((p, k) => frame(peerOf(to), k === 0 ? Opcode.TEXT : Opcode.CONTINUATION, p, { fin: k === pieces.length - 1 })),
          );
          const all = Buffer.concat(pieces);
          const { protocol, recorder } = open(to);
          feed(protocol, frames, cutsFor(frames.length, rawCuts));
          if (isUtf8(all)) {
            assert.equal(protocol.failure, null);
            assert.deepEqual(recorder.messages(), [{ data: all, binary: false, compressed: false }]);
          } else {
            assert.equal(failureCode(protocol), 1007);
            assert.deepEqual(recorder.messages(), []);
          }
        }),
        { numRuns: 2000 },
      );
    });
  }

  it('a message encoded by the peer needs no extra copy to be checked', () => {
    // A sanity check that encodeFrame's string path and the validator agree on lone surrogates:
    // JavaScript replaces them with U+FFFD when encoding, so the frame is valid.
    const { protocol, recorder } = open('client');
    feed(protocol, encodeFrame(Opcode.TEXT, 'a\ud800b'));
    assert.equal(protocol.failure, null);
    assert.equal(recorder.messages()[0]?.data.toString(), 'a\ufffdb');
  });
});
