import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyMask } from '../../src/protocol/mask.js';

/** The byte-at-a-time definition of RFC 6455 §5.3: j = i MOD 4, transformed-octet-i = original-octet-i XOR masking-key-octet-j. */
function referenceMask(data: Uint8Array, mask: Uint8Array, phase: number): Uint8Array {
  const out = Uint8Array.from(data);
  for (let i = 0; i < out.length; i++) out[i]! ^= mask[(phase + i) % 4]!;
  return out;
}

const KEY = Uint8Array.of(0x12, 0x34, 0x56, 0x78);

describe('RFC 6455 §5.3 Client-to-Server Masking', () => {
  it('masks like the byte-at-a-time definition for every length from 0 to 100, every phase and every alignment', () => {
    // One backing buffer, so subarrays at offsets 0..3 exercise every byteOffset & 3.
    const backing = new Uint8Array(4 + 100 + 8);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 31 + 7) & 0xff;
    for (let length = 0; length <= 100; length++) {
      for (let offset = 0; offset < 4; offset++) {
        for (let phase = 0; phase < 8; phase++) {
          const view = backing.subarray(offset, offset + length);
          const before = Uint8Array.from(view);
          applyMask(view, KEY, phase);
          assert.deepEqual(view, referenceMask(before, KEY, phase), `length ${length}, offset ${offset}, phase ${phase}`);
          applyMask(view, KEY, phase);
          assert.deepEqual(view, before, 'unmasking restores the data');
        }
      }
    }
  });

  it('leaves the bytes around an unaligned subarray untouched', () => {
    for (let offset = 0; offset < 4; offset++) {
      const backing = new Uint8Array(200).fill(0xaa);
      applyMask(backing.subarray(offset + 1, offset + 1 + 150), KEY, 3);
      for (let i = 0; i <= offset; i++) assert.equal(backing[i], 0xaa);
      for (let i = offset + 151; i < 200; i++) assert.equal(backing[i], 0xaa);
    }
  });

  it('masks a large payload (1 MiB + 3 bytes) like the reference, in one call or in parts with running phases', () => {
    const data = new Uint8Array(1024 * 1024 + 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131) & 0xff;
    const expected = referenceMask(data, KEY, 0);
    const whole = Uint8Array.from(data);
    applyMask(whole, KEY, 0);
    assert.ok(Buffer.from(whole).equals(Buffer.from(expected)));
    // In parts: the phase of each part is its index within the payload.
    const parts = Uint8Array.from(data);
    const cuts = [0, 1, 7, 40, 4099, 65537, 500001, parts.length];
    for (let k = 0; k + 1 < cuts.length; k++) applyMask(parts.subarray(cuts[k], cuts[k + 1]), KEY, cuts[k]);
    assert.ok(Buffer.from(parts).equals(Buffer.from(expected)));
  });

  it('treats phases beyond 2^32 like their value modulo 4', () => {
    const data = new Uint8Array(64).fill(0x5c);
    for (const phase of [2 ** 32, 2 ** 32 + 1, 2 ** 40 + 3, 2 ** 52 + 2]) {
      const view = Uint8Array.from(data);
      applyMask(view, KEY, phase);
      assert.deepEqual(view, referenceMask(data, KEY, phase % 4));
    }
  });

  it('round-trips random data split at random points, at random offsets in a shared buffer', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat(3),
        fc.array(fc.nat(600), { maxLength: 6 }),
        (data, mask, offset, rawCuts) => {
          const backing = new Uint8Array(offset + data.length);
          backing.set(data, offset);
          const view = backing.subarray(offset);
          const cuts = [0, ...rawCuts.map((c) => c % (data.length + 1)).sort((a, b) => a - b), data.length];
          for (let k = 0; k + 1 < cuts.length; k++) applyMask(view.subarray(cuts[k], cuts[k + 1]), mask, cuts[k]);
          assert.deepEqual(view, referenceMask(data, mask, 0));
          applyMask(view, mask, 0);
          assert.deepEqual(view, data);
        },
      ),
      { numRuns: 500 },
    );
  });
});
