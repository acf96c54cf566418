/** WebSocket frame opcodes (RFC 6455 §5.2). */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** One of the opcodes RFC 6455 defines. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Close status codes (RFC 6455 §7.4.1 and the IANA registry). */
export const CloseCode = {
  NORMAL_CLOSURE: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  NO_STATUS_RCVD: 1005,
  ABNORMAL_CLOSURE: 1006,
  INVALID_DATA: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  TLS_HANDSHAKE: 1015,
} as const;

const CLOSE_CODE_NAMES: Record<number, string> = {
  1000: 'OK',
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status received',
  1006: 'connection closed abnormally',
  1007: 'invalid data',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'mandatory extension',
  1011: 'internal error',
  1012: 'service restart',
  1013: 'try again later',
  1014: 'bad gateway',
  1015: 'TLS handshake failure',
};

/** A readable name for a close code, e.g. `1000` → `OK`, `4001` → `private use`. */
export function closeCodeName(code: number): string {
  const known = CLOSE_CODE_NAMES[code];
  if (known !== undefined) return known;
  if (code >= 3000 && code < 4000) return 'registered';
  if (code >= 4000 && code < 5000) return 'private use';
  return 'unknown';
}

/**
 * Whether `code` may appear in a close frame on the wire (RFC 6455 §7.4).
 * 1004, 1005, 1006 and 1015 are reserved for local reporting; 1016–2999 are
 * unassigned; 3000–4999 belong to libraries and applications.
 */
export function isValidWireCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

/**
 * Whether a close code ends a connection normally: 1000 (normal closure), 1001 (going away) or 1005 (no status,
 * a close frame without a code; RFC 6455 §7.4.1). Everything else is an error, what Python websockets also says.
 */
export function isNormalCloseCode(code: number): boolean {
  return code === 1000 || code === 1001 || code === 1005;
}
