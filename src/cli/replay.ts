/**
 * `wskit replay FILE URL`: plays back what a client sent in a `wskit proxy
 * --record` log against a server, with the original timing.
 */
import { readFile } from 'node:fs/promises';
import type { Message } from '../node/types.js';
import { SECONDS, UsageError, numberFlag, parseOptions } from './args.js';
import { CLIENT_OPTIONS, checkUrl, clientOptions, open } from './client-flags.js';
import { describeClose, escapeControl, palette, toHex } from './format.js';
import { buildUpgradeRequest } from '../protocol/handshake.js';
import { serializeClosePayload } from '../protocol/close.js';
import { isNormalCloseCode } from '../protocol/opcodes.js';
import { parseRecordEntry, recordedPayload, type RecordEntry, type RecordedFrame } from './frame-log.js';

/** One line for `wskit --help`. */
export const summary = "play back a 'wskit proxy --record' log against a server";

/** `wskit replay --help`. */
export const help = `Usage: wskit replay FILE URL [options]

Reads a JSON Lines log written by 'wskit proxy --record FILE' and replays
what the client sent on one recorded connection against URL: the same
messages (fragmented the same way), pings and close code, at the recorded
pace. Prints what is sent ('> ') and received ('< '), then a summary on stderr.
The recorded subprotocol offer, Origin and other non-WebSocket request
headers are sent again. Pongs are not replayed (the library answers pings).

Options:
      --conn N            which recorded connection to replay (default: the first)
      --speed X           play X times faster (default 1)
      --fast              no delays between frames
  -w, --wait SECONDS      when the log has no client close: how long to wait
                          for replies after the last frame (default 2; ends
                          early once as many messages came as were recorded)
  -q, --quiet             print only the summary
  plus the connection flags of 'wskit connect': -H, -s, -o, --auth,
  -k/--insecure/--no-check, --ca, --cert/--key/--passphrase, --ping-interval

Exit status: 0 replayed and closed normally, 1 connection failed or closed
with an error code, 2 bad arguments or unreadable log.

Examples:
  wskit proxy -l 9000 -t ws://127.0.0.1:8765 --record session.jsonl
  wskit replay session.jsonl ws://127.0.0.1:8765
  wskit replay session.jsonl ws://staging:8765 --conn 2 --fast
`;

type Action =
  | { at: number; kind: 'message'; chunks: Array<string | Buffer>; size: number }
  | { at: number; kind: 'ping'; payload: Buffer }
  | { at: number; kind: 'close'; code: number; reason: string };

const SKIPPED_HEADERS = new Set([
  'host', 'connection', 'upgrade', 'content-length', 'sec-websocket-key', 'sec-websocket-version',
  'sec-websocket-extensions', 'sec-websocket-protocol', 'origin',
]);

/** Runs a replay; resolves with the exit status. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    args,
    {
      ...CLIENT_OPTIONS,
      conn: { type: 'string' },
      speed: { type: 'string' },
      fast: { type: 'boolean' },
      wait: { type: 'string', short: 'w' },
      quiet: { type: 'boolean', short: 'q' },
    },
    true,
  );
  if (positionals.length === 0) throw new UsageError('missing FILE (a log written by wskit proxy --record)');
  if (positionals.length > 2) throw new UsageError(`unexpected argument '${positionals[2]}'`);
  const file = positionals[0]!;
  const url = checkUrl(positionals[1], 'replay');
  const options = clientOptions(values);
  const speed = numberFlag('--speed', values.speed, { positive: true }) ?? 1;
  const wait = numberFlag('--wait', values.wait, SECONDS) ?? 2;
  const wanted = numberFlag('--conn', values.conn, { integer: true, min: 1 });

  const { entries, lines } = await readLog(file);
  const conn = wanted ?? entries.find((e) => e.type === 'frame' && e.from === 'client')?.conn ?? entries[0]?.conn;
  if (conn === undefined) throw new UsageError(`${file} holds no recorded connection`);
  const mine = entries.filter((e) => e.conn === conn);
  if (mine.length === 0) throw new UsageError(`${file} has no connection #${conn}`);
  checkReplayable(mine, (entry, problem) => new UsageError(`${file}:${lines.get(entry)}: ${problem}`));
  const warnings: string[] = [];
  const actions = buildActions(mine, warnings);
  const recordedReplies = countMessages(mine.filter((e): e is RecordedFrame => e.type === 'frame' && e.from === 'server'));

  const request = mine.find((e) => e.type === 'request');
  if (request && request.type === 'request') {
    const recorded = request.headers;
    const find = (name: string) => recorded.find(([n]) => n.toLowerCase() === name)?.[1];
    const protocols = find('sec-websocket-protocol');
    if (options.subprotocols === undefined && protocols !== undefined) {
      options.subprotocols = recordedSubprotocols(protocols);
    }
    if (options.origin === undefined && find('origin') !== undefined) options.origin = find('origin');
    const given = new Set((options.headers as Array<[string, string]>).map(([n]) => n.toLowerCase()));
    for (const [name, value] of recorded) {
      const lower = name.toLowerCase();
      if (!SKIPPED_HEADERS.has(lower) && !given.has(lower)) (options.headers as Array<[string, string]>).push([name, value]);
    }
  }

  const quiet = values.quiet === true;
  const colors = palette(process.stdout);
  const err = palette(process.stderr);
  for (const warning of warnings) process.stderr.write(err.yellow(`wskit replay: ${escapeControl(warning)}`) + '\n');
  const ws = await open(url, options);
  if (!quiet) process.stdout.write(colors.dim(`Connected to ${url}; replaying connection #${conn} of ${file}.`) + '\n');

  let received = 0;
  const wake: { replies: (() => void) | null } = { replies: null };
  const show = (marker: string, message: Message) => {
    if (quiet) return;
    const text = typeof message === 'string' ? escapeControl(message.length > 200 ? message.slice(0, 200) + '…' : message) : colors.dim('(binary) ') + toHex(message, 64);
    process.stdout.write(`${marker} ${text}\n`);
  };
  const receiving = (async () => {
    try {
      for await (const message of ws) {
        received++;
        show(colors.green('<'), message);
        if (received >= recordedReplies) wake.replies?.();
      }
    } catch {
      // reported below from ws.closed
    }
  })();

  let sent = 0;
  let pings = 0;
  let closedByLog = false;
  let loggedCode = 0;
  const startedAt = performance.now();
  for (const action of actions) {
    if (ws.readyState !== 1) break;
    const delay = values.fast ? 0 : action.at / speed - (performance.now() - startedAt);
    if (delay > 0) await sleep(delay);
    if (ws.readyState !== 1) break;
    if (action.kind === 'message') {
      const data = action.chunks.length === 1 ? action.chunks[0]! : action.chunks;
      await ws.send(data as string).catch(() => undefined);
      sent++;
      if (!quiet) show(colors.cyan('>'), typeof action.chunks[0] === 'string' ? action.chunks.join('') : Buffer.concat(action.chunks as Buffer[]));
    } else if (action.kind === 'ping') {
      ws.ping(action.payload).catch(() => undefined);
      pings++;
      if (!quiet) process.stdout.write(`${colors.cyan('>')} ${colors.yellow('(ping)')}\n`);
    } else {
      // Let replies to the last messages arrive before closing, as in the recording.
      if (received < recordedReplies) {
        await Promise.race([sleep(wait * 1000), new Promise<void>((resolve) => (wake.replies = resolve)), ws.closed]);
      }
      closedByLog = true;
      loggedCode = action.code;
      ws.close(action.code, action.reason).catch((error: Error) => {
        // Checked up front (checkReplayable); should the API still refuse, end rather than wait for a close never sent.
        process.stderr.write(err.red(`wskit replay: cannot close with ${action.code}: ${escapeControl(error.message)}`) + '\n');
        ws.terminate();
      });
    }
  }
  if (!closedByLog && ws.readyState === 1) {
    if (received < recordedReplies) {
      await Promise.race([sleep(wait * 1000), new Promise<void>((resolve) => (wake.replies = resolve)), ws.closed]);
    }
    ws.close(1000).catch(() => undefined);
  }
  const info = await ws.closed;
  await receiving;
  process.stderr.write(
    err.dim(
      `Replayed ${sent} message${sent === 1 ? '' : 's'}${pings ? ` and ${pings} ping${pings === 1 ? '' : 's'}` : ''}; ` +
        `received ${received} (the recording has ${recordedReplies}). Connection closed: ${describeClose(info.code, info.reason)}.`,
    ) + '\n',
  );
  const expected = isNormalCloseCode(info.code) || (closedByLog && info.code === loggedCode);
  return expected ? 0 : 1;
}

/** A log's entries and the line number of each. */
interface Log {
  entries: RecordEntry[];
  lines: Map<RecordEntry, number>;
}

async function readLog(file: string): Promise<Log> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const entries: RecordEntry[] = [];
  const numbers = new Map<RecordEntry, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    try {
      const entry = parseRecordEntry(line);
      entries.push(entry);
      numbers.set(entry, i + 1);
    } catch (error) {
      throw new UsageError(`${file}:${i + 1}: not a wskit proxy log line (${(error as Error).message})`);
    }
  }
  return { entries, lines: numbers };
}

/**
 * Checks up front that what will be sent is something the API sends: close
 * codes and reasons (by the rule close() itself applies: no 999, no 1005 with
 * a reason, no reason over 123 bytes), ping payloads within 125 bytes, request
 * headers that are valid header lines. A log that fails is refused before
 * connecting, instead of hanging on a close() that was refused.
 */
function checkReplayable(entries: RecordEntry[], fail: (entry: RecordEntry, problem: string) => Error): void {
  for (const entry of entries) {
    if (entry.type === 'request') {
      try {
        const find = (name: string) => entry.headers.find(([n]) => n.toLowerCase() === name)?.[1];
        buildUpgradeRequest({
          target: '/',
          host: 'replay',
          key: 'replay',
          protocols: recordedSubprotocols(find('sec-websocket-protocol')),
          origin: find('origin'),
          headers: entry.headers.filter(([name]) => !SKIPPED_HEADERS.has(name.toLowerCase())),
        });
      } catch (error) {
        throw fail(entry, `recorded request header cannot be sent again: ${(error as Error).message}`);
      }
    }
    if (entry.type !== 'frame' || entry.from !== 'client') continue;
    if (entry.opcode === 8) {
      try {
        serializeClosePayload(entry.code ?? 1005, entry.reason ?? '');
      } catch (error) {
        throw fail(entry, `the client's close frame cannot be replayed: ${(error as Error).message}`);
      }
    } else if (entry.opcode === 9 && entry.length > 125) {
      throw fail(entry, `a ping payload is at most 125 bytes, this one has ${entry.length}`);
    }
  }
}

/** Turns the client's recorded frames into send actions, timed from the end of the handshake. */
function buildActions(entries: RecordEntry[], warnings: string[]): Action[] {
  const response = entries.find((e) => e.type === 'response');
  const frames = entries.filter((e): e is RecordedFrame => e.type === 'frame' && e.from === 'client');
  const origin = response?.time ?? frames[0]?.time ?? 0;
  const actions: Action[] = [];
  let pending: { at: number; frames: RecordedFrame[] } | null = null;
  for (const frame of frames) {
    const at = Math.max(0, frame.time - origin);
    if (frame.truncated) {
      warnings.push(`a ${frame.length}-byte ${frame.op} frame was truncated in the recording; its message is skipped`);
    }
    if (frame.rsv & 4 && (frame.opcode === 1 || frame.opcode === 2)) {
      warnings.push('a compressed frame cannot be replayed; skipped');
      continue;
    }
    if (frame.opcode === 1 || frame.opcode === 2 || frame.opcode === 0) {
      if (frame.opcode !== 0) pending = { at, frames: [] };
      if (pending === null) continue;
      pending.frames.push(frame);
      if (frame.fin) {
        const message = toMessage(pending.at, pending.frames);
        if (message !== null) actions.push(message);
        pending = null;
      }
    } else if (frame.opcode === 9) {
      actions.push({ at, kind: 'ping', payload: recordedPayload(frame) });
    } else if (frame.opcode === 8) {
      actions.push({ at, kind: 'close', code: frame.code ?? 1005, reason: frame.reason ?? '' });
    }
  }
  return actions;
}

function toMessage(at: number, frames: RecordedFrame[]): Action | null {
  if (frames.some((f) => f.truncated)) return null;
  const binary = frames[0]!.opcode === 2;
  const parts = frames.map(recordedPayload);
  const size = parts.reduce((n, p) => n + p.length, 0);
  if (binary) return { at, kind: 'message', chunks: parts, size };
  // Text fragments are replayed as sent unless a fragment splits a UTF-8 character.
  if (frames.every((f) => f.text !== undefined)) return { at, kind: 'message', chunks: frames.map((f) => f.text!), size };
  return { at, kind: 'message', chunks: [Buffer.concat(parts).toString('utf8')], size };
}

/** The subprotocols of a recorded Sec-WebSocket-Protocol value. */
function recordedSubprotocols(value: string | undefined): string[] | undefined {
  return value?.split(',').map((p) => p.trim()).filter((p) => p !== '');
}

function countMessages(frames: RecordedFrame[]): number {
  return frames.filter((f) => (f.opcode === 1 || f.opcode === 2 || f.opcode === 0) && f.fin).length;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
