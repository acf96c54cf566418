import { applyMask } from './mask.js';

/** Length of a frame header for a payload of `length` bytes. */
export function frameHeaderLength(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

/** Payload length of a whole frame of `frameLength` bytes: the inverse of {@link frameHeaderLength}. */
export function framePayloadLength(frameLength: number, masked: boolean): number {
  const length = frameLength - (masked ? 4 : 0);
  return length - 2 < 126 ? length - 2 : length - 4 < 65536 ? length - 4 : length - 10;
}

/** Header size implied by a frame's second byte (RFC 6455 §5.2): 2, 4 or 10 bytes, plus 4 if masked. */
export function frameHeaderSize(b1: number): number {
  const length = b1 & 0x7f;
  return (length < 126 ? 2 : length === 126 ? 4 : 10) + (b1 & 0x80 ? 4 : 0);
}

/**
 * The payload length declared by the complete frame header at `at` (RFC 6455 §5.2: 7 bits; 126 then 16 bits; 127
 * then 64 bits), or -1 when the 64-bit length has its most significant bit set ("the most significant bit MUST be
 * 0"). Above 2^53 the value is not exact: no reader accepts a frame that large.
 */
export function readPayloadLength(header: Uint8Array, at: number): number {
  const length = header[at + 1]! & 0x7f;
  if (length < 126) return length;
  if (length === 126) return (header[at + 2]! << 8) | header[at + 3]!;
  const high = ((header[at + 2]! << 24) | (header[at + 3]! << 16) | (header[at + 4]! << 8) | header[at + 5]!) >>> 0;
  if (high >= 0x80000000) return -1;
  const low = ((header[at + 6]! << 24) | (header[at + 7]! << 16) | (header[at + 8]! << 8) | header[at + 9]!) >>> 0;
  return high * 0x100000000 + low;
}

/**
 * Writes a frame header (RFC 6455 §5.2) at `offset` of `out` (default its start); returns its
 * length. With a `maskKey`, the key is written last, as the RFC orders it.
 */
export function writeFrameHeader(
  out: Uint8Array,
  opcode: number,
  fin: boolean,
  rsv1: boolean,
  length: number,
  maskKey: Uint8Array | null,
  offset = 0,
): number {
  out[offset] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = maskKey === null ? 0 : 0x80;
  let at: number;
  if (length < 126) {
    out[offset + 1] = maskBit | length;
    at = offset + 2;
  } else if (length < 65536) {
    out[offset + 1] = maskBit | 126;
    out[offset + 2] = length >>> 8;
    out[offset + 3] = length & 0xff;
    at = offset + 4;
  } else {
    out[offset + 1] = maskBit | 127;
    const high = Math.floor(length / 0x100000000);
    const low = length >>> 0;
    out[offset + 2] = (high >>> 24) & 0xff;
    out[offset + 3] = (high >>> 16) & 0xff;
    out[offset + 4] = (high >>> 8) & 0xff;
    out[offset + 5] = high & 0xff;
    out[offset + 6] = low >>> 24;
    out[offset + 7] = (low >>> 16) & 0xff;
    out[offset + 8] = (low >>> 8) & 0xff;
    out[offset + 9] = low & 0xff;
    at = offset + 10;
  }
  if (maskKey !== null) {
    out[at] = maskKey[0]!;
    out[at + 1] = maskKey[1]!;
    out[at + 2] = maskKey[2]!;
    out[at + 3] = maskKey[3]!;
    at += 4;
  }
  return at - offset;
}

/**
 * Encodes one whole frame into a single buffer. Server frames are unmasked,
 * so the same bytes can be written to many connections (broadcast).
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array | string,
  fin = true,
  rsv1 = false,
  maskKey: Uint8Array | null = null,
): Buffer {
  const isString = typeof payload === 'string';
  const length = isString ? Buffer.byteLength(payload) : payload.length;
  const out = Buffer.allocUnsafe(frameHeaderLength(length, maskKey !== null) + length);
  const at = writeFrameHeader(out, opcode, fin, rsv1, length, maskKey);
  if (isString) out.write(payload, at, 'utf8');
  else out.set(payload, at);
  if (maskKey !== null) applyMask(out.subarray(at), maskKey, 0);
  return out;
}

/** Fills 4-byte mask keys from a pooled CSPRNG (RFC 6455 §10.3: keys must be unpredictable). */
export class MaskKeySource {
  private readonly pool = new Uint8Array(4096);
  private offset = 4096;
  /** Returns a fresh 4-byte key (a view into the pool, valid until the next call). */
  next(): Uint8Array {
    if (this.offset === this.pool.length) {
      globalThis.crypto.getRandomValues(this.pool);
      this.offset = 0;
    }
    const key = this.pool.subarray(this.offset, this.offset + 4);
    this.offset += 4;
    return key;
  }
}
