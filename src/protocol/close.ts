import { isValidWireCloseCode } from './opcodes.js';
import { isValidUtf8 } from './utf8.js';
import { ProtocolError } from '../errors.js';

/** A parsed close frame payload. */
export interface ClosePayload {
  /** The status code, or 1005 when the frame carried none. */
  code: number;
  /** The reason, possibly empty. */
  reason: string;
}

/** Parses a received close payload (RFC 6455 §5.5.1); throws ProtocolError on an invalid one. */
export function parseClosePayload(payload: Buffer): ClosePayload {
  if (payload.length === 0) return { code: 1005, reason: '' };
  if (payload.length === 1) throw new ProtocolError('close frame with a 1-byte payload', 1002);
  const code = payload.readUInt16BE(0);
  if (!isValidWireCloseCode(code)) throw new ProtocolError(`invalid close code ${code}`, 1002);
  const reasonBytes = payload.subarray(2);
  if (!isValidUtf8(reasonBytes)) throw new ProtocolError('invalid UTF-8 in close reason', 1007);
  return { code, reason: reasonBytes.toString('utf8') };
}

/**
 * Checks a close code and reason before anything is sent (RFC 6455 §5.5.1, §7.4): throws a TypeError or RangeError
 * for a reason that is not a string, a reason with 1005 (no status), a code not allowed on the wire, or a reason over
 * 123 bytes of UTF-8. Returns the reason's UTF-8 length.
 */
export function checkClose(code: number, reason: string): number {
  // Checked before any allocation: bytes of a typed array passed as the reason must never reach the wire
  // (ws's CVE-2026-45736 sent uninitialised memory that way).
  if (typeof reason !== 'string') throw new TypeError(`close reason must be a string, not ${reason === null ? 'null' : typeof reason}`);
  if (code === 1005) {
    if (reason !== '') throw new TypeError('a close without a status code cannot carry a reason');
    return 0;
  }
  if (!isValidWireCloseCode(code)) throw new RangeError(`invalid close code ${code}`);
  const reasonLength = Buffer.byteLength(reason);
  if (reasonLength > 123) throw new RangeError('close reason must be at most 123 bytes of UTF-8');
  return reasonLength;
}

/** Serializes a close payload; 1005 means "no status" and gives an empty payload. */
export function serializeClosePayload(code: number, reason: string): Buffer {
  const reasonLength = checkClose(code, reason);
  if (code === 1005) return Buffer.alloc(0);
  const payload = Buffer.allocUnsafe(2 + reasonLength);
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2, 'utf8');
  return payload;
}
