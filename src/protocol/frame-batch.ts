/**
 * Frames written back to back into one shared arena while a batch is open: the frames a server sends while it handles
 * one received chunk (the callback handler's replies) become one buffer, with no allocation per frame and no copy to
 * join them. Batches are synchronous and one at a time (one owner); a region handed out is never written again, and a
 * full arena is replaced, not reused, so a socket still holding a region keeps it intact (as Node's own Buffer pool).
 */
import { writeFrameHeader } from './frame.js';

/** The arena's size: Node's Buffer pool size, so a region held by a slow socket pins no more than a pooled Buffer. */
const ARENA_SIZE = 8 * 1024;
/** Frames with a payload above this many bytes (text: UTF-16 units) go out as their own buffers (after the batch so far, in order). */
const MAX_BATCHED_PAYLOAD = 1024;

let arena = Buffer.allocUnsafe(ARENA_SIZE);
/** Next free byte of the arena. */
let end = 0;
/** Start of the open batch's bytes not yet taken. */
let start = 0;
let owner: object | null = null;

type Utf8Writer = Buffer & { utf8Write(text: string, offset: number, length?: number): number };

/** Opens a batch for `who`; false (nothing to do) if another one is open. */
export function beginBatch(who: object): boolean {
  if (owner !== null) return false;
  owner = who;
  start = end;
  return true;
}

/** Bytes of `who`'s open batch not yet taken (0 if it has none). */
export function batchedBytes(who: object): number {
  return owner === who ? end - start : 0;
}

/**
 * Appends an unmasked frame to `who`'s open batch. False if it has no batch open, the payload is too large for one,
 * or the arena is full while the batch holds bytes: the caller then takes the batch ({@link takeBatch}) and writes
 * the frame itself or tries again, so the order of frames is kept.
 */
export function appendFrame(who: object, opcode: number, payload: string | Uint8Array, fin: boolean, rsv1: boolean): boolean {
  if (owner !== who) return false;
  if (typeof payload === 'string') {
    // A UTF-16 unit takes 1 to 3 bytes of UTF-8, so the text is encoded once, straight into place after the header
    // its length in units allows (RFC 6455 §5.2 wants the minimal length encoding), without measuring it first: up
    // to 125 units, after a 2-byte header, moved 2 bytes on in the rare case it came out over 125 bytes; above, it
    // is over 125 bytes whatever it holds and at most 3 KiB, after a 4-byte header.
    const units = payload.length;
    if (units > MAX_BATCHED_PAYLOAD || !room(4 + units * 3)) return false;
    const at = end + (units <= 125 ? 2 : 4);
    const length = (arena as Utf8Writer).utf8Write(payload, at);
    if (length > 125 && at === end + 2) arena.copyWithin(end + 4, at, at + length);
    end += writeFrameHeader(arena, opcode, fin, rsv1, length, null, end) + length;
    return true;
  }
  const length = payload.length;
  if (length > MAX_BATCHED_PAYLOAD || !room(4 + length)) return false;
  end += writeFrameHeader(arena, opcode, fin, rsv1, length, null, end);
  arena.set(payload, end);
  end += length;
  return true;
}

/** Whether `needed` bytes fit at the arena's end; a fresh arena replaces a full one the batch holds nothing of. */
function room(needed: number): boolean {
  if (ARENA_SIZE - end >= needed) return true;
  if (end !== start) return false;
  arena = Buffer.allocUnsafe(ARENA_SIZE);
  start = end = 0;
  return true;
}

/** Takes the bytes `who`'s batch holds so far (null if none); the batch stays open. */
export function takeBatch(who: object): Buffer | null {
  if (owner !== who || end === start) return null;
  const region = arena.subarray(start, end);
  start = end;
  return region;
}

/** Closes `who`'s batch and returns the bytes it holds (null if none). */
export function endBatch(who: object): Buffer | null {
  if (owner !== who) return null;
  const region = takeBatch(who);
  owner = null;
  return region;
}
