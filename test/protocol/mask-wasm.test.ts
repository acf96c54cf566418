import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyMask } from '../../src/protocol/mask.js';
import { setWasmMasker, WASM_SLICE, wasmMasker } from '../../src/protocol/mask-wasm.js';

/** The byte-at-a-time definition of RFC 6455 §5.3: transformed-octet-i = original-octet-i XOR masking-key-octet-(i MOD 4). */
function referenceMask(data: Uint8Array, mask: Uint8Array, phase: number): Uint8Array {
  const out = Uint8Array.from(data);
  for (let i = 0; i < out.length; i++) out[i]! ^= mask[(phase + i) % 4]!;
  return out;
}

/** `applyMask` with the WebAssembly masker turned off: the JavaScript loops. */
function applyMaskJs(data: Uint8Array, mask: Uint8Array, phase: number): void {
  setWasmMasker(null);
  try {
    applyMask(data, mask, phase);
  } finally {
    setWasmMasker(undefined);
  }
}

describe('RFC 6455 §5.3 masking with WebAssembly SIMD', () => {
  afterEach(() => setWasmMasker(undefined));

  it('is available on Node 20 and later', () => {
    assert.notEqual(wasmMasker(), null);
  });

  it('masks like the JavaScript loops and the definition: random data, odd offsets and lengths, any phase, in parts', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2040, max: 3 * WASM_SLICE + 70 }),
        fc.integer({ min: 0, max: 15 }),
        fc.nat(7),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.array(fc.nat(3 * WASM_SLICE + 70), { maxLength: 3 }),
        fc.integer(),
        (length, offset, phase, mask, rawCuts, seed) => {
          const backing = new Uint8Array(offset + length + 16);
          let x = seed | 1;
          for (let i = 0; i < backing.length; i++) backing[i] = (x = (x * 1103515245 + 12345) | 0) >>> 24;
          const around = Uint8Array.from(backing);
          const data = backing.subarray(offset, offset + length);
          const before = Uint8Array.from(data);
          const expected = referenceMask(before, mask, phase);
          const cuts = [0, ...rawCuts.map((c) => c % (length + 1)).sort((a, b) => a - b), length];
          for (let k = 0; k + 1 < cuts.length; k++) applyMask(data.subarray(cuts[k], cuts[k + 1]), mask, phase + cuts[k]!);
          assert.ok(Buffer.from(data).equals(Buffer.from(expected)), `length ${length}, offset ${offset}, phase ${phase}, cuts ${cuts}`);
          // Nothing outside the view is written (the module masks whole 64-byte blocks of its own memory only).
          assert.ok(Buffer.from(backing.subarray(0, offset)).equals(Buffer.from(around.subarray(0, offset))));
          assert.ok(Buffer.from(backing.subarray(offset + length)).equals(Buffer.from(around.subarray(offset + length))));
          const js = Uint8Array.from(before);
          applyMaskJs(js, mask, phase);
          assert.ok(Buffer.from(js).equals(Buffer.from(expected)));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('masks the lengths around its threshold and its slice size exactly, and unmasks back', () => {
    const mask = Uint8Array.of(0x9e, 0x01, 0xff, 0x42);
    for (const length of [2047, 2048, 2049, 2051, WASM_SLICE - 1, WASM_SLICE, WASM_SLICE + 1, 2 * WASM_SLICE + 3, 1024 * 1024 + 3]) {
      for (const phase of [0, 1, 2, 3, 2 ** 40 + 1]) {
        const data = new Uint8Array(length);
        for (let i = 0; i < length; i++) data[i] = (i * 131 + 7) & 0xff;
        const masked = Uint8Array.from(data);
        applyMask(masked, mask, phase);
        assert.ok(Buffer.from(masked).equals(Buffer.from(referenceMask(data, mask, phase % 4))), `length ${length}, phase ${phase}`);
        applyMask(masked, mask, phase);
        assert.ok(Buffer.from(masked).equals(Buffer.from(data)));
      }
    }
  });

  it('falls back to the JavaScript loops where WebAssembly is missing or has no SIMD', () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'WebAssembly')!;
    const mask = Uint8Array.of(1, 2, 3, 4);
    const data = new Uint8Array(100_003).fill(0x5a);
    const check = (): void => {
      const view = Uint8Array.from(data);
      applyMask(view, mask, 1);
      assert.ok(Buffer.from(view).equals(Buffer.from(referenceMask(data, mask, 1))));
    };
    try {
      // @ts-expect-error -- an engine without WebAssembly
      delete globalThis.WebAssembly;
      setWasmMasker(undefined);
      assert.equal(wasmMasker(), null);
      check();
      // An engine whose WebAssembly refuses the module (no SIMD): the compile error is caught.
      Object.defineProperty(globalThis, 'WebAssembly', {
        configurable: true,
        value: {
          Module: class {
            constructor() {
              throw new Error('SIMD unsupported');
            }
          },
        },
      });
      setWasmMasker(undefined);
      assert.equal(wasmMasker(), null);
      check();
    } finally {
      Object.defineProperty(globalThis, 'WebAssembly', saved);
      setWasmMasker(undefined);
    }
    assert.notEqual(wasmMasker(), null);
  });
});
