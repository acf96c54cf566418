/**
 * Close codes as a metric label. A peer chooses its close code (any of 3000-4999, or junk that the protocol
 * layer turns into 1002), so codes are bucketed: the codes RFC 6455 and the IANA registry name (1000-1015) keep
 * their number, the library and application ranges become `3xxx` and `4xxx`, anything else `other`. That keeps the
 * label to at most 19 values however peers behave (bounded cardinality in Prometheus).
 */

/** The label value of a close code: `'1000'`…`'1015'`, `'3xxx'`, `'4xxx'` or `'other'`. */
export function closeCodeLabel(code: number): string {
  if (code >= 1000 && code <= 1015 && Number.isInteger(code)) return CODES[code - 1000]!;
  if (code >= 3000 && code <= 3999) return '3xxx';
  if (code >= 4000 && code <= 4999) return '4xxx';
  return 'other';
}

const CODES = Array.from({ length: 16 }, (_, i) => String(1000 + i));
