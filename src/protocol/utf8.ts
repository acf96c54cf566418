import { isUtf8 } from 'node:buffer';

/**
 * Incremental, fail-fast UTF-8 validation (RFC 6455 §8.1). Whole parts are
 * checked with Node's native `isUtf8`; only a character split across parts
 * (at most 3 bytes) is carried over, and that carried prefix is itself
 * checked, so an invalid sequence is reported on the part where it starts.
 */
export class Utf8Validator {
  private readonly carry = new Uint8Array(4);
  private carryLength = 0;
  private carryNeeded = 0;

  /** Feeds the next bytes; returns false as soon as they cannot be valid UTF-8. */
  push(part: Uint8Array): boolean {
    let start = 0;
    if (this.carryLength > 0) {
      while (this.carryLength < this.carryNeeded && start < part.length) {
        this.carry[this.carryLength++] = part[start++]!;
      }
      if (!isValidPrefix(this.carry, this.carryLength)) return false;
      if (this.carryLength < this.carryNeeded) return true;
      this.carryLength = 0;
    }
    const end = part.length;
    if (start === end) return true;
    // Find where the last character starts; if it is incomplete, carry it.
    let lead = end - 1;
    const floor = Math.max(start, end - 4);
    while (lead > floor && (part[lead]! & 0xc0) === 0x80) lead--;
    const needed = sequenceLength(part[lead]!);
    let bodyEnd = end;
    if (needed > end - lead) bodyEnd = lead;
    if (bodyEnd > start && !isUtf8(part.subarray(start, bodyEnd))) return false;
    if (bodyEnd < end) {
      this.carryNeeded = needed;
      this.carryLength = end - bodyEnd;
      this.carry.set(part.subarray(bodyEnd, end));
      return isValidPrefix(this.carry, this.carryLength);
    }
    return true;
  }

  /** Whether everything fed so far ends on a character boundary; then resets. */
  end(): boolean {
    const complete = this.carryLength === 0;
    this.carryLength = 0;
    return complete;
  }

  /** Forgets any carried bytes. */
  reset(): void {
    this.carryLength = 0;
  }
}

/** Whether `data` is entirely valid UTF-8. */
export function isValidUtf8(data: Uint8Array): boolean {
  return isUtf8(data);
}

/** Node's Buffer methods that decode a range with no argument handling (what `toString` itself calls). */
type RangeDecoder = Buffer & { utf8Slice(start: number, end: number): string; latin1Slice(start: number, end: number): string };

/** Decodes `data[start, end)`, already known to be valid UTF-8, to a string. */
export function decodeUtf8(data: Buffer, start: number, end: number): string {
  return (data as RangeDecoder).utf8Slice(start, end);
}

/** Decodes `data[start, end)`, known to be ASCII, to a string: one byte per character, no UTF-8 decoder. */
export function decodeAscii(data: Buffer, start: number, end: number): string {
  return (data as RangeDecoder).latin1Slice(start, end);
}

/** Length of the sequence a lead byte starts; 1 for bytes that cannot start one (isUtf8 rejects them). */
function sequenceLength(lead: number): number {
  if (lead < 0xc2) return 1;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  if (lead < 0xf5) return 4;
  return 1;
}

/** Whether the first `length` bytes can begin a valid sequence (Unicode Table 3-7). */
function isValidPrefix(bytes: Uint8Array, length: number): boolean {
  if (length < 2) return true;
  const lead = bytes[0]!;
  const second = bytes[1]!;
  let low = 0x80;
  let high = 0xbf;
  if (lead === 0xe0) low = 0xa0;
  else if (lead === 0xed) high = 0x9f;
  else if (lead === 0xf0) low = 0x90;
  else if (lead === 0xf4) high = 0x8f;
  if (second < low || second > high) return false;
  for (let i = 2; i < length; i++) if ((bytes[i]! & 0xc0) !== 0x80) return false;
  return true;
}
