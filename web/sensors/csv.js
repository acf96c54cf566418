// CSV rows of sensor samples, shared by the dashboard page (download) and
// `wskit sensors --csv` (imported from Node): one copy of the quoting rule.

/** The header line of every sensor CSV. */
export const CSV_HEADER = 'received_ms,source,type,timestamp_ns,accuracy,action,v0,v1,v2,v3,v4,v5';

/**
 * One CSV field for text that came from the network, safe to open in a
 * spreadsheet: a leading = + - @ (or tab / CR) is neutralised with a leading
 * apostrophe (OWASP "CSV injection"), and the field is quoted per RFC 4180
 * when it holds a comma, a quote, CR or LF (quotes doubled).
 */
export function csvText(text) {
  let field = String(text);
  if (/^[=+\-@\t\r]/.test(field)) field = `'${field}`;
  return /[",\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

/** A number field: the number as JSON writes it, empty when missing or not finite. */
function csvNumber(value) {
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : '';
}

/** One CSV line (no newline) for a sample's fields; values beyond six are left out. */
export function csvLine(received, source, type, timestamp, accuracy, action, values) {
  const v = [];
  for (let i = 0; i < 6; i++) v.push(csvNumber(values[i]));
  return [csvNumber(received), csvNumber(source), csvText(type), csvNumber(timestamp), csvNumber(accuracy), action == null ? '' : csvText(action), ...v].join(',');
}
