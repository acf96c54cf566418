/**
 * Collects the parts of a frame or message. A single part is kept as a view
 * (no copy: the common case of a frame that arrived in one chunk); from the
 * second part on, bytes are copied into one buffer that grows geometrically,
 * so a million one-byte parts cost at most twice the bytes received, never a
 * million small objects (the lesson of ws's CVE-2026-48779).
 */
export class ByteAccumulator {
  private single: Buffer | null = null;
  private buffer: Buffer | null = null;
  /** Number of bytes collected. */
  length = 0;

  /**
   * Adds `part`; `limit` is the most bytes this accumulation can reach, to size growth.
   * `exact`: `limit` is the final length (a frame's declared payload length), so the first
   * buffer may be sized up to 8 times the bytes received so far, capped by `limit`: a large
   * frame arriving in socket-sized chunks is then copied once instead of about twice
   * (each geometric regrowth copies everything so far), while a peer that declares a large
   * frame and sends little still makes us hold at most 8 times what it sent.
   */
  append(part: Buffer, limit: number, exact = false): void {
    if (this.length === 0) {
      this.single = part;
      this.length = part.length;
      return;
    }
    const needed = this.length + part.length;
    let buffer = this.buffer;
    if (buffer === null || buffer.length < needed) {
      const first = buffer === null && exact ? 8 * needed : needed;
      const grown = Math.min(limit, Math.max(first, 2 * (buffer?.length ?? 0), 4096));
      const next = Buffer.allocUnsafe(Math.max(grown, needed));
      if (buffer !== null) buffer.copy(next, 0, 0, this.length);
      else if (this.single !== null) this.single.copy(next, 0);
      this.single = null;
      this.buffer = buffer = next;
    }
    part.copy(buffer, this.length);
    this.length = needed;
  }

  /** Returns everything collected and empties the accumulator. */
  take(): Buffer {
    let out: Buffer;
    if (this.buffer !== null) out = this.buffer.subarray(0, this.length);
    else out = this.single ?? Buffer.alloc(0);
    this.single = null;
    this.buffer = null;
    this.length = 0;
    return out;
  }
}
