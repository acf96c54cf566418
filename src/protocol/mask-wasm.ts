/**
 * XOR masking of large payloads (RFC 6455 §5.3) with WebAssembly SIMD: 16 bytes per `v128.xor`, about three times
 * the JavaScript word loop of mask.ts even with the copies into and out of the module's memory (a Node and browser
 * built-in, so the core keeps zero dependencies). Where WebAssembly or its SIMD proposal is missing (the module does
 * not compile), {@link wasmMasker} is null and callers use the JavaScript loop.
 */

/** Bytes masked per call into the module: its scratch memory (two 64 KiB pages hold one slice and its rounding). */
export const WASM_SLICE = 64 * 1024;

/** Masks `length` bytes of the module's memory from 0 (rounded up to 64; the bytes past `length` are scratch). */
type XorFunction = (start: number, length: number, key: number) => void;

/** The compiled module: its memory and its XOR function. */
export interface WasmMasker {
  /** The module's memory, as bytes. */
  readonly memory: Uint8Array;
  /** XORs the memory from `start` for `length` bytes (a multiple of 64) with the key word repeated. */
  readonly xor: XorFunction;
}

/**
 * The module, assembled by hand (no toolchain in the build):
 * ```wat
 * (module
 *   (memory (export "m") 2)
 *   (func (export "x") (param $p i32) (param $n i32) (param $k i32) (local $v v128) (local $end i32)
 *     (local.set $v (i32x4.splat (local.get $k)))
 *     (local.set $end (i32.add (local.get $p) (local.get $n)))
 *     (block (loop
 *       (br_if 1 (i32.ge_u (local.get $p) (local.get $end)))
 *       ;; four times, at offsets 0, 16, 32, 48:
 *       (v128.store offset=0 (local.get $p) (v128.xor (v128.load offset=0 (local.get $p)) (local.get $v)))
 *       (local.set $p (i32.add (local.get $p) (i32.const 64)))
 *       (br 0)))))
 * ```
 */
function moduleBytes(): Uint8Array {
  const body = [
    0x02, 0x01, 0x7b, 0x01, 0x7f, // locals: one v128 ($v, 3), one i32 ($end, 4)
    0x20, 0x02, 0xfd, 0x11, 0x21, 0x03, // $v = i32x4.splat($k)
    0x20, 0x00, 0x20, 0x01, 0x6a, 0x21, 0x04, // $end = $p + $n
    0x02, 0x40, 0x03, 0x40, // block, loop
    0x20, 0x00, 0x20, 0x04, 0x4f, 0x0d, 0x01, // br_if 1 ($p >= $end)
  ];
  for (const offset of [0, 16, 32, 48]) {
    // local.get $p; local.get $p; v128.load offset; local.get $v; v128.xor; v128.store offset
    body.push(0x20, 0x00, 0x20, 0x00, 0xfd, 0x00, 0x04, offset, 0x20, 0x03, 0xfd, 0x51, 0xfd, 0x0b, 0x04, offset);
  }
  body.push(0x20, 0x00, 0x41, 0xc0, 0x00, 0x6a, 0x21, 0x00, 0x0c, 0x00, 0x0b, 0x0b, 0x0b); // $p += 64; br 0; end end end
  const code = [0x01, body.length, ...body]; // one body and its size (106 bytes: one LEB128 byte)
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    0x01, 0x07, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00, // types: (i32 i32 i32) -> ()
    0x03, 0x02, 0x01, 0x00, // functions: one of type 0
    0x05, 0x03, 0x01, 0x00, 0x02, // memory: min 2 pages
    0x07, 0x09, 0x02, 0x01, 0x6d, 0x02, 0x00, 0x01, 0x78, 0x00, 0x00, // exports: "m" memory 0, "x" function 0
    0x0a, code.length, ...code, // code section (108 bytes: one LEB128 byte)
  ]);
}

interface WasmGlobal {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: { m: { buffer: ArrayBuffer }; x: XorFunction } };
}

let masker: WasmMasker | null | undefined;

/** The SIMD masker, compiled on first use; null where WebAssembly or SIMD is unavailable. */
export function wasmMasker(): WasmMasker | null {
  if (masker !== undefined) return masker;
  masker = null;
  const wasm = (globalThis as unknown as { WebAssembly?: WasmGlobal }).WebAssembly;
  if (wasm === undefined) return masker;
  try {
    const instance = new wasm.Instance(new wasm.Module(moduleBytes()));
    // Two pages, never grown: the view stays attached.
    masker = { memory: new Uint8Array(instance.exports.m.buffer), xor: instance.exports.x };
  } catch {
    // No SIMD (an engine before 2021, or one with it disabled): the JavaScript loop serves.
  }
  return masker;
}

/** Turns the masker off (tests of the JavaScript fallback) or back on (`undefined`: compiled again on next use). */
export function setWasmMasker(value: null | undefined): void {
  masker = value;
}

/** The mask as the module's key word from payload index `phase` on: WebAssembly memory is little-endian everywhere. */
function wasmKey(mask: Uint8Array, phase: number): number {
  return mask[phase & 3]! | (mask[(phase + 1) & 3]! << 8) | (mask[(phase + 2) & 3]! << 16) | (mask[(phase + 3) & 3]! << 24);
}

/**
 * XORs `data` in place with the mask, `phase` being the payload index of `data[0]`, through the module's memory in
 * slices of {@link WASM_SLICE} bytes (a multiple of 4: every slice starts at the same phase).
 */
export function wasmMask(wasm: WasmMasker, data: Uint8Array, mask: Uint8Array, phase: number): void {
  const key = wasmKey(mask, phase);
  const memory = wasm.memory;
  const length = data.length;
  for (let at = 0; at < length; at += WASM_SLICE) {
    const end = at + WASM_SLICE < length ? at + WASM_SLICE : length;
    const slice = data.subarray(at, end);
    memory.set(slice, 0);
    wasm.xor(0, (end - at + 63) & ~63, key);
    slice.set(memory.subarray(0, end - at));
  }
}
