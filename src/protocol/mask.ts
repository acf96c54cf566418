/**
 * XOR masking (RFC 6455 §5.3), in place, without a native add-on.
 *
 * Short payloads (the common chat-sized message) go through a byte loop
 * unrolled by four with the key in locals: no allocation at all. Longer ones
 * are processed a 32-bit word at a time through an aligned Int32Array view,
 * eight words per iteration (about 7 GB/s, three times a plain word loop). The
 * key word is assembled in the platform's byte order, so it lines up with the
 * bytes the view reads. From {@link WASM_THRESHOLD} bytes on, where WebAssembly SIMD is available, the masking runs
 * in mask-wasm.ts instead (about three times faster on large payloads, copies included).
 */
import { wasmMask, wasmMasker } from './mask-wasm.js';

/** From this many bytes on, masking goes through a word view. */
const WORD_THRESHOLD = 512;
/** From this many bytes on, masking goes through WebAssembly SIMD where available (below, the copies in and out cost more than they save). */
const WASM_THRESHOLD = 2048;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Masks or unmasks `data` in place. `phase` is the index within the frame's
 * payload of `data[0]`, so a payload may be unmasked in parts as it arrives.
 */
export function applyMask(data: Uint8Array, mask: Uint8Array, phase = 0): void {
  const length = data.length;
  let i = 0;
  if (length < WORD_THRESHOLD) {
    const m0 = mask[phase & 3]!;
    const m1 = mask[(phase + 1) & 3]!;
    const m2 = mask[(phase + 2) & 3]!;
    const m3 = mask[(phase + 3) & 3]!;
    const end = length & ~3;
    for (; i < end; i += 4) {
      data[i] ^= m0;
      data[i + 1] ^= m1;
      data[i + 2] ^= m2;
      data[i + 3] ^= m3;
    }
    for (; i < length; i++) data[i] ^= mask[(phase + i) & 3]!;
    return;
  }
  if (length >= WASM_THRESHOLD) {
    const wasm = wasmMasker();
    if (wasm !== null) {
      wasmMask(wasm, data, mask, phase);
      return;
    }
  }
  const misalignment = data.byteOffset & 3;
  if (misalignment !== 0) {
    const head = 4 - misalignment;
    for (; i < head; i++) data[i] ^= mask[(phase + i) & 3]!;
  }
  const b0 = mask[(phase + i) & 3]!;
  const b1 = mask[(phase + i + 1) & 3]!;
  const b2 = mask[(phase + i + 2) & 3]!;
  const b3 = mask[(phase + i + 3) & 3]!;
  const key = LITTLE_ENDIAN ? b0 | (b1 << 8) | (b2 << 16) | (b3 << 24) : (b0 << 24) | (b1 << 16) | (b2 << 8) | b3;
  const words = (length - i) >>> 2;
  const view = new Int32Array(data.buffer, data.byteOffset + i, words);
  const unrolled = words & ~7;
  let w = 0;
  for (; w < unrolled; w += 8) {
    view[w] ^= key;
    view[w + 1] ^= key;
    view[w + 2] ^= key;
    view[w + 3] ^= key;
    view[w + 4] ^= key;
    view[w + 5] ^= key;
    view[w + 6] ^= key;
    view[w + 7] ^= key;
  }
  for (; w < words; w++) view[w] ^= key;
  i += words << 2;
  for (; i < length; i++) data[i] ^= mask[(phase + i) & 3]!;
}


/**
 * Unmasks `data[start, end)` in place with the key `maskWord` (its first byte in the top 8 bits; 0 leaves the bytes
 * as they are) and returns the OR of the bytes it leaves: under 0x80 means they are all ASCII. For short text, the
 * one pass that unmasks also shows whether the text is ASCII, which is valid UTF-8 (RFC 6455 §8.1) with no further
 * check; working on offsets into the received chunk, it makes no view of the payload either.
 */
export function unmaskRangeOr(data: Uint8Array, start: number, end: number, maskWord: number): number {
  const m0 = maskWord >>> 24;
  const m1 = (maskWord >>> 16) & 0xff;
  const m2 = (maskWord >>> 8) & 0xff;
  const m3 = maskWord & 0xff;
  let bits = 0;
  let i = start;
  const wordsEnd = start + ((end - start) & ~3);
  for (; i < wordsEnd; i += 4) {
    const b0 = data[i]! ^ m0;
    const b1 = data[i + 1]! ^ m1;
    const b2 = data[i + 2]! ^ m2;
    const b3 = data[i + 3]! ^ m3;
    data[i] = b0;
    data[i + 1] = b1;
    data[i + 2] = b2;
    data[i + 3] = b3;
    bits |= b0 | b1 | b2 | b3;
  }
  // At most three bytes are left, at key phases 0, 1 and 2.
  if (i < end) bits |= data[i] = data[i]! ^ m0;
  if (++i < end) bits |= data[i] = data[i]! ^ m1;
  if (++i < end) bits |= data[i] = data[i]! ^ m2;
  return bits;
}
