/**
 * A parser of the Prometheus text exposition format (0.0.4) for `wskit top`: sample lines
 * `name{label="value",…} value [timestamp]`; comments, HELP and TYPE lines are skipped. The input comes from
 * the network, so nothing in it is trusted: a malformed line is counted and skipped, never thrown on, and the
 * number of samples kept is bounded. (The one npm parser of this format is unmaintained since 2019 and would
 * bring a dependency into the command for a grammar of one line kind.)
 */

/** One sample. */
export interface Sample {
  /** Label names and values (values unescaped: may hold any character, escape before display). */
  readonly labels: Readonly<Record<string, string>>;
  /** The value (may be NaN or ±Infinity). */
  readonly value: number;
}

/** A parsed exposition: samples by metric name, and how many lines could not be read. */
export interface Exposition {
  /** Samples by metric name (`wskit_keepalive_rtt_seconds_bucket` is its own name). */
  readonly metrics: Map<string, Sample[]>;
  /** Lines that were neither samples, comments nor blank. */
  readonly malformed: number;
}

/** Most samples kept from one exposition: a hostile endpoint cannot grow the view's memory without bound. */
export const MAX_SAMPLES = 100_000;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Parses `text`; never throws. */
export function parseExposition(text: string): Exposition {
  const metrics = new Map<string, Sample[]>();
  let malformed = 0;
  let kept = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sample = parseLine(line);
    if (sample === null) {
      malformed++;
      continue;
    }
    if (kept >= MAX_SAMPLES) break;
    kept++;
    let list = metrics.get(sample.name);
    if (list === undefined) metrics.set(sample.name, (list = []));
    list.push({ labels: sample.labels, value: sample.value });
  }
  return { metrics, malformed };
}

function parseLine(line: string): { name: string; labels: Record<string, string>; value: number } | null {
  const name = NAME.exec(line)?.[0];
  if (name === undefined) return null;
  let at = name.length;
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  if (line[at] === '{') {
    at++;
    for (;;) {
      while (line[at] === ' ') at++;
      if (line[at] === '}') {
        at++;
        break;
      }
      const labelName = LABEL_NAME.exec(line.slice(at))?.[0];
      if (labelName === undefined) return null;
      at += labelName.length;
      while (line[at] === ' ') at++;
      if (line[at] !== '=') return null;
      at++;
      while (line[at] === ' ') at++;
      if (line[at] !== '"') return null;
      at++;
      let value = '';
      for (;;) {
        const c = line[at];
        if (c === undefined) return null;
        at++;
        if (c === '"') break;
        if (c !== '\\') {
          value += c;
          continue;
        }
        const escaped = line[at++];
        if (escaped === 'n') value += '\n';
        else if (escaped === '\\' || escaped === '"') value += escaped;
        else return null;
      }
      labels[labelName] = value;
      while (line[at] === ' ') at++;
      if (line[at] === ',') at++;
      else if (line[at] !== '}') return null;
    }
  }
  const fields = line.slice(at).trim().split(/\s+/);
  if (fields.length < 1 || fields.length > 2 || fields[0] === '') return null;
  const value = parseValue(fields[0]!);
  if (value === null) return null;
  return { name, labels, value };
}

function parseValue(text: string): number | null {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const value = Number(text);
  return text.trim() !== '' && !Number.isNaN(value) ? value : null;
}
