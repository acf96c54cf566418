/**
 * `wskit top URL`: a live view of a wskit server's metrics (`serve(handler, { metrics: true })`,
 * `wskit serve --metrics`): connections, message and byte rates, close codes, handshake refusals, keepalive
 * round trips, the slowest clients. On a terminal it redraws in place (alternate screen); otherwise it prints
 * the same lines as plain text at each refresh. Everything read from the network is escaped before display.
 */
import { closeCodeName } from '../protocol/opcodes.js';
import { COUNT, SECONDS, UsageError, numberFlag, parseOptions, untilSignal } from './args.js';
import { escapeControl, formatNumber, palette, type Palette } from './format.js';
import { parseExposition, type Exposition, type Sample } from './exposition.js';
import { onStdoutClosed } from './output.js';

/** One line for `wskit --help`. */
export const summary = "live view of a wskit server's /metrics: connections, rates, close codes, slowest clients";

/** `wskit top --help`. */
export const help = `Usage: wskit top URL [options]

Shows what a running wskit server is doing, refreshed every second, from its
Prometheus metrics (a server started with { metrics: true }, 'wskit serve
--metrics' or 'wskit echo --metrics'): open connections, messages and bytes
per second, close codes, refused handshakes by reason, keepalive round-trip
times, compression, backplane state and the clients with the largest send
backlog. URL is the metrics URL; a ws:// or http:// URL without a path gets
/metrics. On a terminal the view redraws in place (q or Ctrl-C quits); when
stdout is not a terminal each refresh is printed as plain lines.

Options:
  -i, --interval S     time between refreshes (default 1 s; 500ms, 2s accepted)
  -n, --count N        stop after N refreshes
  -t, --timeout S      time allowed for each request (default 5 s)

Exit status: 0 after Ctrl-C/q or --count refreshes, 1 if the first request
fails (unreachable, not a metrics page), 2 bad arguments.

Examples:
  wskit top ws://127.0.0.1:8765
  wskit top http://10.0.0.5:9100/metrics --interval 2
  wskit top ws://127.0.0.1:8765 --count 3 > snapshot.txt
`;

/** Largest metrics page read: a hostile endpoint cannot make the view use more memory than this. */
const MAX_BODY = 8 * 1024 * 1024;

/** Runs the view until a signal, `q`, or `--count` refreshes. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    args,
    {
      interval: { type: 'string', short: 'i' },
      count: { type: 'string', short: 'n' },
      timeout: { type: 'string', short: 't' },
    },
    true,
  );
  if (positionals.length === 0) throw new UsageError('missing URL (e.g. wskit top ws://127.0.0.1:8765)');
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  const url = metricsUrl(positionals[0]!);
  const interval = (numberFlag('--interval', values.interval, { ...SECONDS, min: 0.1 }) ?? 1) * 1000;
  const count = numberFlag('--count', values.count, COUNT) ?? Infinity;
  const timeout = (numberFlag('--timeout', values.timeout, { ...SECONDS, min: 0.1 }) ?? 5) * 1000;

  const first = await scrape(url, timeout);
  if (first.error !== null) throw new Error(first.error);
  if (![...first.exposition.metrics.keys()].some((name) => name.startsWith('wskit_'))) {
    throw new Error(`${escapeControl(url)} has no wskit metrics (is the server started with metrics: true?)`);
  }
  const screen = new Screen(process.stdout);
  const stopping = new AbortController();
  void untilSignal().then(() => stopping.abort());
  screen.onQuit(() => stopping.abort());
  // `wskit top URL | head`: the reader left, nothing more to show.
  onStdoutClosed(() => stopping.abort());
  let previous: Reading | null = null;
  let current: Reading = { at: first.at, exposition: first.exposition, error: null };
  try {
    for (let shown = 1; ; shown++) {
      screen.show(renderView(url, interval, current, previous, screen.colors, screen.width));
      if (shown >= count) break;
      if (!(await sleep(interval, stopping.signal))) break;
      const next = await scrape(url, timeout);
      if (next.error === null) {
        previous = current.error === null ? current : previous;
        current = next;
      } else {
        current = { ...current, error: next.error };
      }
    }
  } finally {
    screen.close();
  }
  return 0;
}

/** The metrics URL for what the user typed: ws:// becomes http://, no path becomes /metrics. */
export function metricsUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input.includes('://') ? input : `http://${input}`);
  } catch {
    throw new UsageError(`invalid URL '${escapeControl(input)}'`);
  }
  if (url.protocol === 'ws:') url.protocol = 'http:';
  else if (url.protocol === 'wss:') url.protocol = 'https:';
  else if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`unsupported URL scheme '${escapeControl(url.protocol)}' (use http://, https://, ws:// or wss://)`);
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/metrics';
  return url.toString();
}

/** One scrape: when, what, or why it failed. */
interface Reading {
  at: number;
  exposition: Exposition;
  error: string | null;
}

const EMPTY: Exposition = { metrics: new Map(), malformed: 0 };

async function scrape(url: string, timeout: number): Promise<Reading> {
  const at = performance.now();
  const failed = (why: string): Reading => ({ at, exposition: EMPTY, error: `cannot read ${escapeControl(url)}: ${why}` });
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeout), headers: { Accept: 'text/plain;version=0.0.4' }, redirect: 'error' });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code === 'ECONNREFUSED') return failed('connection refused');
    if ((error as Error).name === 'TimeoutError') return failed(`no answer within ${timeout / 1000} s`);
    return failed(escapeControl(cause?.message ?? (error as Error).message));
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    return failed(`HTTP ${response.status}`);
  }
  const text = await readBounded(response, MAX_BODY);
  if (text === null) return failed(`page larger than ${MAX_BODY / (1024 * 1024)} MiB`);
  return { at: performance.now(), exposition: parseExposition(text), error: null };
}

async function readBounded(response: Response, max: number): Promise<string | null> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > max) {
        await reader.cancel().catch(() => undefined);
        return null;
      }
      chunks.push(value);
    }
  } catch {
    return null;
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

// ---------------------------------------------------------------- the view

/** Sums the samples of `name` whose labels include `match`. */
function sum(e: Exposition, name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const sample of e.metrics.get(name) ?? []) if (matches(sample, match)) total += sample.value;
  return total;
}

function matches(sample: Sample, match: Record<string, string>): boolean {
  for (const key in match) if (sample.labels[key] !== match[key]) return false;
  return true;
}

/** Sums by the value of `label`. */
function byLabel(e: Exposition, name: string, label: string, match: Record<string, string> = {}): Map<string, number> {
  const out = new Map<string, number>();
  for (const sample of e.metrics.get(name) ?? []) {
    if (!matches(sample, match)) continue;
    const key = sample.labels[label] ?? '';
    out.set(key, (out.get(key) ?? 0) + sample.value);
  }
  return out;
}

/** The quantile `q` of a Prometheus histogram (buckets summed over all label sets), interpolated as histogram_quantile does. */
export function histogramQuantile(e: Exposition, name: string, q: number): number | null {
  const buckets = [...byLabel(e, `${name}_bucket`, 'le')]
    .map(([le, count]) => ({ le: le === '+Inf' ? Infinity : Number(le), count }))
    .filter((b) => !Number.isNaN(b.le))
    .sort((a, b) => a.le - b.le);
  const total = buckets[buckets.length - 1]?.count ?? 0;
  if (buckets.length === 0 || !(total > 0)) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return lowerBound;
      const inBucket = bucket.count - lowerCount;
      return inBucket <= 0 ? bucket.le : lowerBound + ((bucket.le - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = bucket.le;
    lowerCount = bucket.count;
  }
  return lowerBound;
}

/** Per-second rate of a counter between two readings (a reset counts from zero). */
function perSecond(now: number, before: number | null, seconds: number): number | null {
  if (before === null || seconds <= 0) return null;
  return (now >= before ? now - before : now) / seconds;
}

function bytes(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function count(n: number | null, digits = 0): string {
  return n === null || !Number.isFinite(n) ? '-' : formatNumber(n, digits);
}

function ms(seconds: number | null): string {
  return seconds === null ? '-' : `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`;
}

/** The lines of one refresh. */
export function renderView(url: string, interval: number, current: Reading, previous: Reading | null, c: Palette, width = 100): string[] {
  const e = current.exposition;
  const p = previous?.exposition ?? null;
  const seconds = previous === null ? 0 : (current.at - previous.at) / 1000;
  const rate = (name: string, match: Record<string, string> = {}): number | null =>
    perSecond(sum(e, name, match), p === null ? null : sum(p, name, match), seconds);
  const lines: string[] = [];
  const time = new Date().toTimeString().slice(0, 8);
  lines.push(`${c.bold('wskit top')}  ${escapeControl(url)}  every ${interval / 1000} s  ${time}`);
  if (current.error !== null) lines.push(c.red(`! ${current.error} (showing the last reading)`));
  if (e.malformed > 0) lines.push(c.yellow(`! ${e.malformed} unreadable lines in the metrics page`));
  lines.push('');

  const open = sum(e, 'wskit_connections');
  lines.push(
    `${label('connections', c)}${c.bold(count(open))} open   ${count(rate('wskit_connections_opened_total'), 1)}/s opened   ` +
      `${count(rate('wskit_connections_closed_total'), 1)}/s closed   ${count(sum(e, 'wskit_handshakes_pending'))} handshakes pending`,
  );
  const inText = rate('wskit_messages_received_total', { opcode: 'text' });
  const inBinary = rate('wskit_messages_received_total', { opcode: 'binary' });
  const outText = rate('wskit_messages_sent_total', { opcode: 'text' });
  const outBinary = rate('wskit_messages_sent_total', { opcode: 'binary' });
  lines.push(
    `${label('messages/s', c)}in ${c.bold(count(add(inText, inBinary)))} (text ${count(inText)}, binary ${count(inBinary)})   ` +
      `out ${c.bold(count(add(outText, outBinary)))} (text ${count(outText)}, binary ${count(outBinary)})`,
  );
  const bytesIn = rate('wskit_received_bytes_total');
  const bytesOut = rate('wskit_sent_bytes_total');
  lines.push(`${label('bytes/s', c)}in ${bytesIn === null ? '-' : bytes(bytesIn)}   out ${bytesOut === null ? '-' : bytes(bytesOut)}`);
  lines.push(
    `${label('totals', c)}${count(sum(e, 'wskit_messages_received_total'))} messages in, ${count(sum(e, 'wskit_messages_sent_total'))} out; ` +
      `${bytes(sum(e, 'wskit_received_bytes_total'))} in, ${bytes(sum(e, 'wskit_sent_bytes_total'))} out`,
  );
  const pongs = sum(e, 'wskit_keepalive_rtt_seconds_count');
  lines.push(
    `${label('keepalive', c)}rtt p50 ${ms(histogramQuantile(e, 'wskit_keepalive_rtt_seconds', 0.5))}  p99 ${ms(histogramQuantile(e, 'wskit_keepalive_rtt_seconds', 0.99))}  (${count(pongs)} pongs)`,
  );
  const accepted = sum(e, 'wskit_handshakes_total', { result: 'accepted' });
  const refused = [...byLabel(e, 'wskit_handshakes_total', 'reason', { result: 'refused' })].filter(([, n]) => n > 0);
  const refusedText = refused.length === 0 ? 'none refused' : `refused ${refused.map(([reason, n]) => `${escapeControl(reason)} ${count(n)}`).join(', ')}`;
  lines.push(`${label('handshakes', c)}${count(accepted)} accepted   ${refused.length === 0 ? refusedText : c.yellow(refusedText)}`);
  const skipped = sum(e, 'wskit_slow_clients_total', { action: 'skipped' });
  const closedSlow = sum(e, 'wskit_slow_clients_total', { action: 'closed' });
  lines.push(`${label('slow clients', c)}${count(skipped)} skipped (${count(rate('wskit_slow_clients_total', { action: 'skipped' }), 1)}/s)   ${count(closedSlow)} closed`);
  const deflateIn = sum(e, 'wskit_compression_input_bytes_total', { direction: 'sent' });
  const inflateIn = sum(e, 'wskit_compression_input_bytes_total', { direction: 'received' });
  if (e.metrics.has('wskit_compression_queue') || deflateIn > 0 || inflateIn > 0) {
    const sentRatio = deflateIn > 0 ? sum(e, 'wskit_compression_output_bytes_total', { direction: 'sent' }) / deflateIn : null;
    const inflateOut = sum(e, 'wskit_compression_output_bytes_total', { direction: 'received' });
    const receivedRatio = inflateOut > 0 ? inflateIn / inflateOut : null;
    const pct = (r: number | null): string => (r === null ? '-' : `${(r * 100).toFixed(0)}%`);
    lines.push(
      `${label('compression', c)}sent ${pct(sentRatio)} of original, received ${pct(receivedRatio)}   zlib queue ${count(sum(e, 'wskit_compression_queue'))}, active ${count(sum(e, 'wskit_compression_active'))}`,
    );
  }
  if (e.metrics.has('wskit_backplane_up')) {
    const up = sum(e, 'wskit_backplane_up') > 0;
    lines.push(
      `${label('backplane', c)}${up ? c.green('up') : c.red('DOWN')}   published ${count(rate('wskit_backplane_published_total'), 1)}/s   ` +
        `received ${count(rate('wskit_backplane_received_total'), 1)}/s   dropped ${count(sum(e, 'wskit_backplane_dropped_total'))}   ` +
        `publish p99 ${ms(histogramQuantile(e, 'wskit_backplane_publish_duration_seconds', 0.99))}`,
    );
  }
  const topics = e.metrics.get('wskit_topics');
  if (topics !== undefined) lines.push(`${label('topics', c)}${count(sum(e, 'wskit_topics'))}`);

  lines.push('', c.bold(`${'close codes'.padEnd(36)} ${'total'.padStart(8)} ${'/s'.padStart(7)}`));
  const codes = [...byLabel(e, 'wskit_connections_closed_total', 'code')].sort((a, b) => b[1] - a[1]);
  if (codes.length === 0) lines.push(c.dim('  none yet'));
  for (const [code, n] of codes.slice(0, 8)) {
    const name = /^\d+$/.test(code) ? `${code} ${closeCodeName(Number(code))}` : escapeControl(code);
    const r = rate('wskit_connections_closed_total', { code });
    const row = `  ${clip(name, 34).padEnd(34)} ${count(n).padStart(8)} ${count(r, 1).padStart(7)}`;
    lines.push(code === '1006' && r !== null && r > 0 ? c.yellow(row) : row);
  }

  const routes = [...byLabel(e, 'wskit_connections', 'route')].filter(([route]) => route !== '');
  if (routes.length > 0) {
    lines.push('', c.bold(`${'routes'.padEnd(28)} ${'open'.padStart(8)} ${'in/s'.padStart(9)} ${'out/s'.padStart(9)} ${'closed/s'.padStart(9)}`));
    routes.sort((a, b) => b[1] - a[1]);
    for (const [route, n] of routes.slice(0, 10)) {
      const match = { route };
      lines.push(
        `  ${clip(escapeControl(route), 26).padEnd(26)} ${count(n).padStart(8)} ${count(rate('wskit_messages_received_total', match)).padStart(9)} ` +
          `${count(rate('wskit_messages_sent_total', match)).padStart(9)} ${count(rate('wskit_connections_closed_total', match), 1).padStart(9)}`,
      );
    }
    if (routes.length > 10) lines.push(c.dim(`  … ${routes.length - 10} more routes`));
  }

  const slowest = [...byLabel(e, 'wskit_slowest_client_buffered_bytes', 'rank')]
    .map(([rank, n]) => [Number(rank), n] as const)
    .filter(([rank, n]) => Number.isInteger(rank) && n > 0)
    .sort((a, b) => a[0] - b[0]);
  lines.push('', c.bold('slowest clients (bytes waiting to be sent)'));
  lines.push(slowest.length === 0 ? c.dim('  no client has a backlog') : `  ${slowest.map(([rank, n]) => `#${rank} ${bytes(n)}`).join('   ')}`);
  return lines.map((line) => clipVisible(line, width));
}

function add(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : a + b;
}

function label(text: string, c: Palette): string {
  return c.dim(text.padEnd(13));
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Cuts a line to `width` visible characters, not counting the palette's escape sequences. */
function clipVisible(line: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      const end = line.indexOf('m', i);
      if (end !== -1) {
        out += line.slice(i, end + 1);
        i = end;
        continue;
      }
    }
    if (visible >= width) continue;
    out += line[i];
    visible++;
  }
  return out;
}

// ---------------------------------------------------------------- output

/** Where the view goes: redrawn in place on a terminal, appended as plain lines otherwise. */
class Screen {
  readonly colors: Palette;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private last: string[] = [];
  private quit: (() => void) | null = null;
  private readonly onKey = (key: Buffer): void => {
    // q, Q, Ctrl-C (raw mode turns it into a byte) and Ctrl-D.
    if (key.includes(0x71) || key.includes(0x51) || key.includes(0x03) || key.includes(0x04)) this.quit?.();
  };

  constructor(stream: NodeJS.WriteStream) {
    this.stream = stream;
    this.tty = stream.isTTY === true;
    this.colors = palette(stream);
    if (this.tty) {
      // Alternate screen, cursor hidden: the terminal's contents come back when the view ends.
      stream.write('\x1b[?1049h\x1b[?25l');
      if (process.stdin.isTTY) {
        process.stdin.setRawMode(true);
        process.stdin.on('data', this.onKey);
        process.stdin.resume();
      }
    }
  }

  get width(): number {
    return this.tty ? Math.max(40, this.stream.columns ?? 100) : 200;
  }

  onQuit(quit: () => void): void {
    this.quit = quit;
  }

  show(lines: string[]): void {
    this.last = lines;
    if (!this.tty) {
      this.stream.write(`${lines.join('\n')}\n\n`);
      return;
    }
    const height = Math.max(5, this.stream.rows ?? 40);
    const shown = lines.slice(0, height - 1);
    this.stream.write(`\x1b[H${shown.map((line) => `${line}\x1b[K`).join('\n')}\n\x1b[J`);
  }

  close(): void {
    if (!this.tty) return;
    this.stream.write('\x1b[?25h\x1b[?1049l');
    if (process.stdin.isTTY) {
      process.stdin.off('data', this.onKey);
      process.stdin.setRawMode(false);
      process.stdin.pause();
    }
    // The last view stays on the normal screen.
    if (this.last.length > 0) this.stream.write(`${this.last.join('\n')}\n`);
  }
}
