/**
 * `wskit connect URL --subscribe T --publish T`: a client of the `wskit.topics.v1` subprotocol
 * (docs/topics-protocol.md) on a terminal or in a pipeline. Each publication of a subscribed topic is printed as one
 * line, `topic<TAB>offset<TAB>payload`, once and in order across reconnections (the client resumes from its
 * position); a gap the server cannot fill is said on stderr, never skipped silently. Input lines are published to
 * the --publish topic, resent after a reconnection until acknowledged (the server keeps each once).
 */
import readline from 'node:readline';
import type { ConnectOptions } from '../node/client.js';
import { ReconnectingClient } from '../node/reconnecting-client.js';
import { TopicError, type PublicationInfo, type SubscribedInfo, type TopicData, type TopicPosition } from '../client/topics-client.js';
import { TOPICS_PROTOCOL } from '../client/topics-wire.js';
import { describeClose, escapeControl, explainConnectError, palette, toHex } from './format.js';
import { onStdoutClosed, stdoutDrained } from './output.js';

/** The flags of the topics mode of `wskit connect`, for `parseOptions`. */
export const TOPIC_CONNECT_FLAGS = {
  subscribe: { type: 'string', multiple: true },
  publish: { type: 'string' },
} as const;

/** The help lines of the topics mode. */
export const TOPIC_CONNECT_HELP = `      --subscribe TOPIC       speak ${TOPICS_PROTOCOL} (wskit serve --topics) and
                              print each publication of TOPIC (repeatable) as
                              one line: topic, offset, payload (JSON; bytes as
                              0x<hex>, or base64:<...> with --base64), separated
                              by tabs; it reconnects after a drop and resumes
                              from its position: nothing lost, nothing twice.
                              A gap the server cannot fill is said on stderr
      --publish TOPIC         publish each input line (and -x MESSAGE) to TOPIC:
                              as a string, a JSON value with --json, bytes with
                              --binary; resent until acknowledged, kept once`;

/** What the topics mode needs of the command line. */
export interface TopicConnectSettings {
  subscribe: string[];
  publish: string | undefined;
  execute: string[];
  /** Close after this many publications printed. */
  count: number | undefined;
  /** Give up after this many seconds. */
  timeout: number | undefined;
  /** After the end of input, go on receiving this many seconds. */
  wait: number | undefined;
  /** Input lines are JSON values. */
  json: boolean;
  /** Input lines are published as bytes. */
  binary: boolean;
  base64: boolean;
  quiet: boolean;
  /** Upper bound of the first reconnection delay, in ms. */
  reconnectDelay: number | undefined;
}

/** Input lines published and not yet acknowledged beyond which reading input pauses. */
const MAX_UNACKNOWLEDGED = 500;

/** Runs the topics client until a signal, --count, --timeout, or the end of input (when only publishing). */
export async function runTopics(url: string, options: ConnectOptions, settings: TopicConnectSettings): Promise<number> {
  const dim = palette(process.stderr).dim;
  let finished = false;
  const status = (line: string) => {
    if (!settings.quiet && !finished) process.stderr.write(dim(escapeControl(line)) + '\n');
  };
  // Errors and unrecoverable gaps are said even with --quiet: they are what the application must know.
  const warn = (line: string) => process.stderr.write(`wskit connect: ${escapeControl(line)}\n`);
  const last = new Map<string, TopicPosition>();
  let opened = false;
  let failed = false;
  let printed = 0;
  let timedOut = false;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = () => {
    finished = true;
    resolve();
  }));

  const client = new ReconnectingClient(url, {
    ...options,
    topics: true,
    reconnect: settings.reconnectDelay === undefined ? {} : { initialDelay: settings.reconnectDelay },
    onOpen: () => {
      opened = true;
      status(`Connected to ${url}.`);
    },
    onClose: (info) => status(`Connection closed: ${describeClose(info.code, info.reason)}.`),
    onReconnect: (attempt, delay) => status(`Reconnecting in ${(delay / 1000).toFixed(1)} s (attempt ${attempt})...`),
    onError: (error) => {
      if (error instanceof TopicError && error.code === 'WS_NO_TOPICS') {
        warn(`the server does not speak ${TOPICS_PROTOCOL} (start it with: wskit serve --topics)`);
      } else if (error instanceof TopicError) {
        warn(`${error.topic}: ${error.code}: ${error.message}`);
        failed = true;
        if (error.code !== 'forbidden' && error.code !== 'too-many-topics') return;
        if (settings.subscribe.includes(error.topic)) subscribed.delete(error.topic);
        if (subscribed.size > 0 || settings.publish !== undefined) return;
      } else if (opened) {
        status(explainConnectError(error, url)); // a failed reconnection attempt: it retries
        return;
      } else warn(explainConnectError(error, url));
      failed = true;
      finish();
    },
  });

  const subscribed = new Set(settings.subscribe);
  for (const topic of settings.subscribe) {
    client.subscribe(topic, (data, info) => print(data, info), { onSubscribed: (info) => onSubscribed(info) });
  }

  const print = (data: TopicData, info: PublicationInfo) => {
    if (settings.count !== undefined && printed >= settings.count) return;
    last.set(info.topic, { offset: info.offset, epoch: info.epoch });
    printed++;
    const flowing = process.stdout.write(`${field(info.topic)}\t${info.offset}\t${payloadText(data, settings.base64)}\n`);
    if (settings.count !== undefined && printed >= settings.count) finish();
    // A slow reader of stdout holds the reading of the connection (the server closes a subscriber too far behind
    // with 1013, and it resumes from here): memory stays bounded, nothing is lost.
    return flowing ? undefined : stdoutDrained();
  };

  const onSubscribed = (info: SubscribedInfo) => {
    const seen = last.get(info.topic);
    const at = `offset ${info.offset} of epoch ${info.epoch}`;
    if (!info.recovered) {
      const lost = seen === undefined ? 'the publications before' : `the publications after offset ${seen.offset} of epoch ${seen.epoch} are gone (trimmed from the history, or the history was lost); going on after`;
      warn(`${info.topic}: not recovered: ${lost} ${at}`);
      last.set(info.topic, { offset: info.offset, epoch: info.epoch });
    } else if (seen === undefined) {
      status(`Subscribed to ${info.topic} at ${at}.`);
      last.set(info.topic, { offset: info.offset, epoch: info.epoch });
    } else {
      status(`Resumed ${info.topic} after offset ${seen.offset}: ${info.offset - seen.offset} missed publication(s) follow.`);
    }
  };

  const timers: NodeJS.Timeout[] = [];
  if (settings.timeout !== undefined) {
    timers.push(setTimeout(() => {
      timedOut = true;
      finish();
    }, settings.timeout * 1000));
  }
  const onSignal = () => finish();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const forgetStdout = onStdoutClosed(() => finish());

  let rl: readline.Interface | null = null;
  const publishing = settings.publish === undefined ? Promise.resolve() : publishInput(client, settings.publish, settings, warn, (lines) => (rl = lines)).then(
    (ok) => {
      if (!ok) failed = true;
      if (settings.subscribe.length === 0 || subscribed.size === 0) finish();
      else if (settings.wait !== undefined) timers.push(setTimeout(finish, settings.wait * 1000));
    },
  );
  void publishing;

  await Promise.race([done, client.closed]);
  for (const timer of timers) clearTimeout(timer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  forgetStdout();
  (rl as readline.Interface | null)?.close();
  if (!process.stdin.isTTY) process.stdin.destroy();
  await client.close();
  if (timedOut && settings.count !== undefined && printed < settings.count) {
    warn(`timed out after ${settings.timeout} s with ${printed} of ${settings.count} publications`);
    return 1;
  }
  return failed ? 1 : 0;
}

/**
 * Publishes -x messages and each input line, in order, pausing the input while too many wait for their
 * acknowledgement; resolves once every one is acknowledged or refused: true when all were acknowledged.
 */
async function publishInput(
  client: ReconnectingClient,
  topic: string,
  settings: TopicConnectSettings,
  warn: (line: string) => void,
  keep: (rl: readline.Interface) => void,
): Promise<boolean> {
  let ok = true;
  const acks: Array<Promise<unknown>> = [];
  let rl: readline.Interface | null = null;
  const publish = (line: string) => {
    let data: TopicData = line;
    if (settings.json) {
      try {
        data = JSON.parse(line);
      } catch {
        warn(`not a JSON value, not published: ${line.length > 80 ? `${line.slice(0, 80)}…` : line}`);
        ok = false;
        return;
      }
    } else if (settings.binary) data = Buffer.from(line);
    const ack = client.publish(topic, data).then(
      () => {
        if (rl !== null && client.pendingPublishes < MAX_UNACKNOWLEDGED / 2) rl.resume();
      },
      (error: Error) => {
        warn(`publish to ${topic} failed: ${error instanceof TopicError ? `${error.code}: ` : ''}${error.message}`);
        ok = false;
      },
    );
    acks.push(ack);
    if (rl !== null && client.pendingPublishes >= MAX_UNACKNOWLEDGED) rl.pause();
  };
  for (const message of settings.execute) publish(message);
  if (settings.execute.length === 0 || !process.stdin.isTTY) {
    rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
    keep(rl);
    rl.on('line', publish);
    await new Promise<void>((resolve) => rl!.once('close', resolve));
  }
  await Promise.all(acks);
  return ok;
}

/** A topic as one tab-free, control-free field. */
function field(text: string): string {
  return escapeControl(text).replace(/\t/g, '\\t');
}

/** A payload as text: its JSON (compact, control characters escaped), bytes as 0x<hex> or base64:<...>. */
function payloadText(data: TopicData, base64: boolean): string {
  if (data instanceof Uint8Array) return base64 ? `base64:${Buffer.from(data).toString('base64')}` : `0x${toHex(data)}`;
  return field(JSON.stringify(data) ?? 'null');
}
