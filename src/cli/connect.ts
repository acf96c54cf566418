/**
 * `wskit connect URL`: an interactive WebSocket client on a terminal, a
 * message-per-line filter in a pipeline; with `-l PORT`, the same thing as a
 * server that clients connect to (wscat's listen mode).
 */
import readline from 'node:readline';
import type { CloseInfo } from '../errors.js';
import type { Connection } from '../node/connection.js';
import { connect, type ConnectOptions } from '../node/client.js';
import { serve, type Server } from '../node/server.js';
import type { Message } from '../node/types.js';
import { isNormalCloseCode, isValidWireCloseCode } from '../protocol/opcodes.js';
import { COUNT, MAX_SIZE, SECONDS, UsageError, numberFlag, parseOptions, parsePort } from './args.js';
import { CLIENT_OPTIONS, CLIENT_OPTIONS_HELP, ConnectFailed, checkUrl, clientOptions, open, subprotocolWarning } from './client-flags.js';
import { describeClose, escapeControl, explainConnectError, palette, parseHex, prettyJson, quote, toHex } from './format.js';
import { onStdoutClosed, stdoutDrained } from './output.js';
import { TOPIC_CONNECT_FLAGS, TOPIC_CONNECT_HELP, runTopics } from './connect-topics.js';

/** One line for `wskit --help`. */
export const summary = 'interactive client (or -l PORT: a server you type into); a message-per-line filter in a pipeline';

/** `wskit connect --help`. */
export const help = `Usage: wskit connect URL [options]
       wskit connect -l PORT [options]

Opens a WebSocket connection to URL (ws:// or wss://; 'localhost:8765'
without a scheme means ws://). With -l PORT it listens instead and talks to
the clients that connect (what you type goes to all of them).

On a terminal it is interactive: lines you type are sent as text messages,
received messages are printed after '< ' without disturbing the line being
typed, arrow keys recall history, Ctrl-D or Ctrl-C closes the connection.
Slash commands:
  /ping [data]            send a ping and print the round-trip time
  /close [code] [reason]  close the connection (default 1000)
  /binary HEX             send a binary message, e.g. /binary 01 02 ff
  /help                   list the slash commands
  //text                  send a message starting with '/'

When stdin is not a terminal, each input line is sent as one message and
each received message is printed as one line (control characters escaped,
binary as hex) on stdout; status lines go to stderr. At the end of input it
waits -w seconds (default: until no message came for 1 s), then closes.
A closed stdout (| head) closes the connection quietly.

Options:
  -c, --connect URL           the URL (as wscat -c); same as the argument
  -l, --listen PORT           be the server: listen on PORT (0 picks one)
      --host H                with -l: interface (default 127.0.0.1)
${CLIENT_OPTIONS_HELP}
  -x, --execute MESSAGE       send MESSAGE after connecting (repeatable)
  -w, --wait SECONDS          close after SECONDS (after -x, or after end of input)
  -n, --count N               close after receiving N messages
  -1, --one-message           send one message (the first line or -x), close
                              after receiving one
  -u, --send-only             only send: received messages are not printed,
                              and the end of input closes at once (websocat -u)
  -U, --receive-only          only receive: stdin is not read (websocat -U)
  -t, --timeout SECONDS       give up after SECONDS (exit 1 if --count was not reached)
  -b, --binary                send input lines as binary messages
  -0, --null                  messages are separated by NUL instead of newline,
                              on stdin and stdout (newlines inside kept)
      --base64                print binary messages as base64 (default hex)
      --raw                   print messages as they are: no escaping, binary
                              as bytes (not to a terminal: use > file or |)
      --json                  pretty-print JSON messages (compact, one line, in a pipeline)
      --max-size N            largest message accepted (default 64M; 1009 beyond)
  -P, --show-ping-pong        print the pings and pongs the peer sends
      --reconnect             reconnect when the connection drops
      --reconnect-delay SECONDS  upper bound of the first random delay before
                              reconnecting (default 5; it grows at each failure)
${TOPIC_CONNECT_HELP}
  -q, --quiet                 no status lines (Connected / Connection closed)

Units: SECONDS take 500ms, 2s, 1m; N takes 10k.
Control characters in received text are escaped (\\e, \\r, \\x07...) unless
--raw, so a hostile server cannot drive your terminal.

Exit status: 0 closed normally (1000, 1001, no status, the code you gave to
/close, or --count reached), 1 connection failed or closed with an error
code, 2 bad arguments.

Examples:
  wskit connect ws://localhost:8765
  wskit connect -c localhost:8765
  wskit connect wss://example.com/chat -H 'Authorization: Bearer t0k3n' -s chat.v1
  echo '{"op":"subscribe"}' | wskit connect ws://localhost:8765 --count 3
  wskit connect ws://localhost:8765 -x hello -x world -w 1
  seq 100 | wskit connect ws://localhost:8765 | sort -n | tail -1
  wskit connect -l 9000
  wskit connect ws://localhost:8765 -U --raw > capture.bin
  wskit connect ws://localhost:8765 --subscribe chat/lobby --subscribe sensors/t1
  seq 100 | wskit connect ws://localhost:8765 --publish chat/lobby --json
`;


/** How received messages are written in a pipeline. */
type OutputFormat = 'text' | 'base64' | 'raw';

/** Runs the client; resolves with the exit status. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    args,
    {
      ...CLIENT_OPTIONS,
      connect: { type: 'string', short: 'c' },
      listen: { type: 'string', short: 'l' },
      host: { type: 'string' },
      execute: { type: 'string', short: 'x', multiple: true },
      wait: { type: 'string', short: 'w' },
      count: { type: 'string', short: 'n' },
      'one-message': { type: 'boolean', short: '1' },
      'send-only': { type: 'boolean', short: 'u' },
      'receive-only': { type: 'boolean', short: 'U' },
      timeout: { type: 'string', short: 't' },
      binary: { type: 'boolean', short: 'b' },
      null: { type: 'boolean', short: '0' },
      base64: { type: 'boolean' },
      raw: { type: 'boolean' },
      json: { type: 'boolean' },
      'max-size': { type: 'string' },
      'show-ping-pong': { type: 'boolean', short: 'P' },
      reconnect: { type: 'boolean' },
      'reconnect-delay': { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      ...TOPIC_CONNECT_FLAGS,
    },
    true,
  );
  const interactive = process.stdin.isTTY === true;
  const listen = values.listen === undefined ? undefined : parsePort(values.listen, 0, '--listen');
  const given = [...positionals, ...(values.connect === undefined ? [] : [values.connect])];
  if (listen !== undefined && given.length > 0) throw new UsageError('give a URL to connect to, or -l PORT to listen, not both');
  if (given.length > 1) throw new UsageError(`unexpected argument '${positionals.at(-1)}'`);
  const url = listen === undefined ? checkUrl(given[0], 'connect') : `ws://${values.host ?? '127.0.0.1'}:${listen}`;
  if (values.host !== undefined && listen === undefined) throw new UsageError('--host goes with -l PORT');
  if (values.reconnect && listen !== undefined) throw new UsageError('--reconnect is for a client, not with -l');
  if (values['send-only'] && values['receive-only']) throw new UsageError('--send-only and --receive-only exclude each other');
  if (values.raw && values.base64) throw new UsageError('--raw and --base64 exclude each other');
  if (values.raw && (interactive || process.stdout.isTTY === true)) {
    throw new UsageError('--raw writes received bytes unescaped: redirect stdout to a file or a pipe, and give input from one');
  }
  const options = clientOptions(values);
  const reconnectDelay = numberFlag('--reconnect-delay', values['reconnect-delay'], SECONDS);
  if (values.subscribe !== undefined || values.publish !== undefined) {
    if (listen !== undefined) throw new UsageError('--subscribe and --publish are for a client, not with -l');
    for (const flag of ['one-message', 'send-only', 'receive-only', 'raw', 'null', 'show-ping-pong'] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} does not go with --subscribe or --publish`);
    }
    if (values.json && values.binary) throw new UsageError('--json and --binary exclude each other');
    options.maxMessageSize = numberFlag('--max-size', values['max-size'], MAX_SIZE) ?? 64 * 1024 * 1024;
    return runTopics(url, options, {
      subscribe: values.subscribe ?? [],
      publish: values.publish,
      execute: values.execute ?? [],
      count: numberFlag('--count', values.count, COUNT),
      timeout: numberFlag('--timeout', values.timeout, { ...SECONDS, positive: true }),
      wait: numberFlag('--wait', values.wait, SECONDS),
      json: values.json === true,
      binary: values.binary === true,
      base64: values.base64 === true,
      quiet: values.quiet === true,
      reconnectDelay: reconnectDelay === undefined ? undefined : reconnectDelay * 1000,
    });
  }
  if (reconnectDelay !== undefined && !values.reconnect) throw new UsageError('--reconnect-delay goes with --reconnect (or --subscribe/--publish)');
  const count = values['one-message'] ? 1 : numberFlag('--count', values.count, COUNT);
  if (values['one-message'] && values.count !== undefined) throw new UsageError('-1 is --count 1 and one message sent: give one of them');
  // What one connection can hold: maxQueue unread messages of at most maxMessageSize (stdout is written with backpressure).
  options.maxMessageSize = numberFlag('--max-size', values['max-size'], MAX_SIZE) ?? 64 * 1024 * 1024;
  options.maxQueue = 4;
  const session = new Session(url, options, {
    interactive,
    listen,
    host: values.host ?? '127.0.0.1',
    execute: values.execute ?? [],
    wait: numberFlag('--wait', values.wait, SECONDS),
    count,
    timeout: numberFlag('--timeout', values.timeout, { ...SECONDS, positive: true }),
    binary: values.binary === true,
    json: values.json === true,
    quiet: values.quiet === true,
    reconnect: values.reconnect === true,
    reconnectDelay: reconnectDelay === undefined ? undefined : reconnectDelay * 1000,
    output: values.raw ? 'raw' : values.base64 ? 'base64' : 'text',
    separator: values.null ? '\0' : '\n',
    oneMessage: values['one-message'] === true,
    sendOnly: values['send-only'] === true,
    receiveOnly: values['receive-only'] === true,
    showPings: values['show-ping-pong'] === true,
  });
  return session.run();
}

interface SessionSettings {
  interactive: boolean;
  /** Listen on this port instead of connecting. */
  listen: number | undefined;
  host: string;
  execute: string[];
  wait: number | undefined;
  count: number | undefined;
  timeout: number | undefined;
  binary: boolean;
  json: boolean;
  quiet: boolean;
  reconnect: boolean;
  /** Upper bound of the first reconnection delay, in ms (default the library's). */
  reconnectDelay: number | undefined;
  output: OutputFormat;
  separator: '\n' | '\0';
  oneMessage: boolean;
  sendOnly: boolean;
  receiveOnly: boolean;
  showPings: boolean;
}

const SLASH_HELP = `/ping [data]            send a ping and print the round-trip time
/close [code] [reason]  close the connection
/binary HEX             send a binary message
/help                   this list
//text                  send a message starting with '/'`;

class Session {
  /** Open connections: the one server, or the clients of -l. */
  private readonly peers = new Set<Connection>();
  private readonly numbers = new Map<Connection, number>();
  private server: Server | null = null;
  private stop: AbortController | null = null;
  private stopping = false;
  private inputStarted = false;
  private executed = false;
  private rl: readline.Interface | null = null;
  private received = 0;
  private sent = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private inputEnded = false;
  private timedOut = false;
  /** The code the user asked for with /close: its echo is a normal end. */
  private userCode: number | null = null;
  /** stdout's reader left: stop quietly. */
  private outputGone = false;
  private readonly out = process.stdout;
  private readonly colors = palette(process.stdout);
  private readonly errColors = palette(process.stderr);

  constructor(
    private readonly url: string,
    private readonly options: ConnectOptions,
    private readonly settings: SessionSettings,
  ) {}

  async run(): Promise<number> {
    const { settings } = this;
    const timers: NodeJS.Timeout[] = [];
    const stop = new AbortController();
    if (settings.timeout !== undefined) {
      // The deadline covers the opening handshake too.
      this.options.openTimeout = Math.min(this.options.openTimeout ?? 10_000, Math.max(1, settings.timeout * 1000));
      timers.push(setTimeout(() => {
        this.timedOut = true;
        this.closeSoon();
        stop.abort(new Error(`timed out after ${settings.timeout} s`));
      }, settings.timeout * 1000));
    }
    const onSignal = () => this.closeSoon();
    process.on('SIGTERM', onSignal);
    if (!settings.interactive || settings.receiveOnly) process.on('SIGINT', onSignal);
    const forgetStdout = onStdoutClosed(() => {
      this.outputGone = true;
      this.closeSoon();
    });
    const cleanup = () => {
      for (const timer of timers) clearTimeout(timer);
      if (this.idleTimer) clearTimeout(this.idleTimer);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      forgetStdout();
      this.rl?.close();
      if (!settings.interactive) process.stdin.destroy();
    };
    this.stop = stop;
    let info: CloseInfo = { code: 1006, reason: '', wasClean: false };
    try {
      if (settings.listen !== undefined) {
        await this.listen(timers);
        info = { code: 1000, reason: '', wasClean: true };
      } else if (settings.reconnect) {
        const connector = connect(this.url, {
          ...this.options,
          signal: stop.signal,
          reconnect: {
            ...(settings.reconnectDelay === undefined ? {} : { initialDelay: settings.reconnectDelay }),
            onRetry: (attempt, delay) => this.status(`Reconnecting in ${(delay / 1000).toFixed(1)} s (attempt ${attempt})...`),
          },
        });
        for await (const ws of connector) {
          info = await this.session(ws, timers);
          if (this.stopping) break;
        }
      } else {
        info = await this.session(await open(this.url, this.options), timers);
      }
    } catch (error) {
      cleanup();
      if (this.timedOut) {
        process.stderr.write(`wskit connect: timed out after ${settings.timeout} s\n`);
        return 1;
      }
      if (settings.listen !== undefined) throw error;
      throw error instanceof ConnectFailed ? error : new ConnectFailed(explainConnectError(error, this.url));
    }
    cleanup();
    if (this.outputGone) return 0;
    if (this.timedOut && settings.count !== undefined && this.received < settings.count) {
      process.stderr.write(`wskit connect: timed out after ${settings.timeout} s with ${this.received} of ${settings.count} messages\n`);
      return 1;
    }
    // Reaching --count is success, whoever closed first; so is the close the user asked for.
    if (settings.count !== undefined && this.received >= settings.count) return 0;
    return isNormalCloseCode(info.code) || info.code === this.userCode ? 0 : 1;
  }

  /** Runs one client connection: starts input on the first one, waits until it closes. */
  private async session(ws: Connection, timers: NodeJS.Timeout[]): Promise<CloseInfo> {
    this.status(`Connected to ${this.url}${this.options.http2 === true ? ' (HTTP/2 stream)' : ''}.`);
    const warning = subprotocolWarning(ws, this.options.subprotocols);
    if (warning !== null) this.status(warning);
    const info = await this.attachPeer(ws, timers);
    this.endInteractive();
    this.status(`Connection closed: ${describeClose(info.code, info.reason)}.`);
    return info;
  }

  /** -l: serves until the input ends, a signal, --count or --timeout; each client is a peer. */
  private async listen(timers: NodeJS.Timeout[]): Promise<void> {
    const { settings } = this;
    let next = 1;
    let stopped!: () => void;
    const done = new Promise<void>((resolve) => (stopped = resolve));
    this.onStop = stopped;
    let server: Server;
    try {
      server = await serve(
        async (ws) => {
          const n = next++;
          this.numbers.set(ws, n);
          this.status(`Client #${n} connected from ${ws.remoteAddress ?? '?'}.`);
          const info = await this.attachPeer(ws, timers);
          this.status(`Client #${n} closed: ${describeClose(info.code, info.reason)}.`);
        },
        { host: settings.host, port: settings.listen, logger: null, maxMessageSize: this.options.maxMessageSize, pingInterval: this.options.pingInterval },
      );
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      throw new Error(e.code === 'EADDRINUSE' ? `port ${settings.listen} is already in use` : `cannot listen: ${e.message}`);
    }
    this.server = server;
    this.status(`Listening on ${server.url}; waiting for clients (Ctrl-D or Ctrl-C stops).`);
    // A terminal gets its prompt at once; a pipeline is read once a client is there to send to.
    if (settings.interactive && !settings.receiveOnly) this.startInput(timers);
    if (this.stopping) stopped();
    await done;
    this.endInteractive();
    await server.close(1001, 'wskit connect stopped');
  }

  /** Called when the session should end (set by listen mode). */
  private onStop: (() => void) | null = null;

  /** Receives from `ws` until it closes; starts the input on the first peer. */
  private async attachPeer(ws: Connection, timers: NodeJS.Timeout[]): Promise<CloseInfo> {
    this.peers.add(ws);
    if (this.settings.showPings) this.watchControlFrames(ws);
    const receiving = this.receive(ws);
    if (!this.executed) {
      this.executed = true;
      for (const message of this.settings.execute) this.send(message);
    }
    if (!this.inputStarted) this.startInput(timers);
    const info = await ws.closed;
    await receiving;
    this.peers.delete(ws);
    return info;
  }

  /** Starts reading stdin (once: on the first connection, or at once for a terminal in listen mode). */
  private startInput(timers: NodeJS.Timeout[]): void {
    if (this.inputStarted) return;
    this.inputStarted = true;
    const { settings } = this;
    if (settings.interactive && !settings.receiveOnly) this.startInteractive();
    else if (!settings.receiveOnly && !(settings.oneMessage && this.sent > 0)) this.startPipeline();
    else this.endOfInput();
    if (settings.wait !== undefined && (settings.interactive || settings.receiveOnly)) timers.push(setTimeout(() => this.closeSoon(), settings.wait * 1000));
  }

  /** Shows pings and pongs from the peer (-P). */
  private watchControlFrames(ws: Connection): void {
    // The connection reports control frames through these hooks (no public event yet); the originals still run.
    const show = (kind: string, payload: Buffer) => {
      const text = `< ${kind}${payload.length > 0 ? ' ' + quote(payload.toString('utf8')) : ''}`;
      if (this.settings.interactive) this.print(this.colors.yellow(text));
      else if (!this.settings.quiet) process.stderr.write(this.errColors.yellow(text) + '\n');
    };
    const onPing = ws.onPing.bind(ws);
    const onPong = ws.onPong.bind(ws);
    ws.onPing = (payload: Buffer) => {
      show('ping', payload);
      onPing(payload);
    };
    ws.onPong = (payload: Buffer) => {
      show('pong', payload);
      onPong(payload);
    };
  }

  /** Removes the prompt so that the last line is the close status. */
  private endInteractive(): void {
    const { settings } = this;
    if (!settings.interactive || this.rl === null || (settings.reconnect && !this.stopping)) return;
    const rl = this.rl;
    this.rl = null;
    const { rows } = rl.getCursorPos();
    readline.cursorTo(this.out, 0);
    if (rows > 0) readline.moveCursor(this.out, 0, -rows);
    readline.clearScreenDown(this.out);
    rl.close();
  }

  private closeSoon(code = 1000, reason = ''): void {
    this.stopping = true;
    this.stop?.abort();
    for (const ws of this.peers) ws.close(code, reason).catch(() => undefined);
    this.onStop?.();
  }

  /** Status lines go to stdout on a terminal, to stderr in a pipeline (stdout carries only messages). */
  private status(line: string): void {
    if (this.settings.quiet || this.outputGone) return;
    const text = escapeControl(line);
    if (this.settings.interactive) this.print(this.colors.dim(text));
    else process.stderr.write(this.errColors.dim(text) + '\n');
  }

  /** Prints a line above the prompt, then redraws the prompt and what was being typed. */
  private print(line: string): void {
    const rl = this.rl;
    if (rl === null || !this.out.isTTY || !this.settings.interactive) {
      this.out.write(line + '\n');
      return;
    }
    const { rows } = rl.getCursorPos();
    readline.cursorTo(this.out, 0);
    if (rows > 0) readline.moveCursor(this.out, 0, -rows);
    readline.clearScreenDown(this.out);
    this.out.write(line + '\n');
    rl.prompt(true);
  }

  private error(message: string): void {
    if (this.outputGone) return;
    const text = escapeControl(message);
    if (this.settings.interactive) this.print(this.colors.red(text));
    else process.stderr.write(this.errColors.red(text) + '\n');
  }

  private async receive(ws: Connection): Promise<void> {
    const { count } = this.settings;
    try {
      for await (const message of ws) {
        // Past --count, or nobody reads stdout: drain until the close completes, show nothing more.
        if (this.outputGone || (count !== undefined && this.received >= count)) continue;
        this.received++;
        if (!this.settings.sendOnly) this.display(message, ws);
        // A slow reader of stdout slows the reading from the socket instead of filling memory.
        if (this.out.writableNeedDrain) await stdoutDrained();
        if (count !== undefined && this.received >= count) this.closeSoon();
        else if (this.inputEnded && this.idleTimer !== null) this.idleTimer.refresh();
      }
    } catch {
      // The close code is reported from ws.closed.
    }
  }

  private display(message: Message, from: Connection): void {
    const { json, interactive, output, separator } = this.settings;
    if (!interactive) {
      if (output === 'raw') {
        this.out.write(message);
        this.out.write(separator);
        return;
      }
      let line: string;
      if (typeof message === 'string') line = escapeControl(json ? prettyJson(message, '') : message, separator === '\0');
      else line = output === 'base64' ? message.toString('base64') : toHex(message);
      this.out.write(line + separator);
      return;
    }
    const who = this.peers.size > 1 ? this.colors.dim(`#${this.numbers.get(from)} `) : '';
    const marker = who + this.colors.green('< ');
    if (typeof message === 'string') {
      const text = escapeControl(json ? prettyJson(message) : message, true);
      this.print(marker + text.replace(/\n/g, '\n  '));
    } else {
      this.print(marker + this.colors.dim('(binary) ') + (output === 'base64' ? message.toString('base64') : toHex(message)));
    }
  }

  /** Sends to every peer; false when there was nobody to send to. */
  private send(text: string | Buffer): Promise<void> | null {
    const data = typeof text === 'string' && this.settings.binary ? Buffer.from(text) : text;
    const open = [...this.peers].filter((ws) => ws.readyState === 1);
    if (open.length === 0) {
      this.error(this.settings.listen === undefined ? 'not connected: message dropped' : 'no client connected: message dropped');
      return null;
    }
    this.sent++;
    const sending = Promise.all(open.map((ws) => ws.send(data))).then(() => undefined);
    sending.catch((error: Error) => this.error(`cannot send: ${error.message}`));
    if (this.settings.oneMessage && this.settings.sendOnly) void sending.finally(() => this.closeSoon()).catch(() => undefined);
    return sending;
  }

  /** Whether the peers have more than 1 MiB unsent (reading input waits). */
  private get congested(): boolean {
    for (const ws of this.peers) if (ws.bufferedAmount > 1 << 20) return true;
    return false;
  }

  /** Input is over: close now (--send-only), after --wait, or once no message came for 1 s. */
  private endOfInput(): void {
    this.inputEnded = true;
    const { wait, count, sendOnly, interactive, receiveOnly } = this.settings;
    if (interactive && !receiveOnly) return;
    if (wait !== undefined) {
      if (!receiveOnly) this.idleTimer = setTimeout(() => this.closeSoon(), wait * 1000);
    } else if (sendOnly) {
      // The close frame goes out after every message already sent.
      this.closeSoon();
    } else if (count === undefined && !receiveOnly) this.idleTimer = setTimeout(() => this.closeSoon(), 1000);
  }

  private startPipeline(): void {
    const { separator, oneMessage } = this.settings;
    const onMessage = (data: string | Buffer, pause: () => void, resume: () => void, stopReading: () => void) => {
      const sending = this.send(data);
      if (oneMessage) stopReading();
      if (sending !== null && this.congested) {
        pause();
        sending.finally(resume).catch(() => undefined);
      }
    };
    if (separator === '\n') {
      const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
      this.rl = rl;
      let reading = true;
      rl.on('line', (line) => {
        if (reading) onMessage(line, () => rl.pause(), () => rl.resume(), () => {
          reading = false;
          rl.close();
        });
      });
      rl.on('close', () => this.endOfInput());
      return;
    }
    // -0: each message ends with a NUL byte (the last one may not); bytes are kept as they are for --binary.
    const stdin = process.stdin;
    const message = (bytes: Buffer) => (this.settings.binary ? bytes : bytes.toString('utf8'));
    let pending: Buffer[] = [];
    let reading = true;
    const stopReading = () => {
      reading = false;
      stdin.off('data', onData);
      stdin.pause();
      this.endOfInput();
    };
    const onData = (chunk: Buffer) => {
      let start = 0;
      for (let end = chunk.indexOf(0); end >= 0 && reading; end = chunk.indexOf(0, start)) {
        const bytes = Buffer.concat([...pending, chunk.subarray(start, end)]);
        pending = [];
        start = end + 1;
        onMessage(message(bytes), () => stdin.pause(), () => stdin.resume(), stopReading);
      }
      if (reading && start < chunk.length) pending.push(chunk.subarray(start));
    };
    stdin.on('data', onData);
    stdin.once('end', () => {
      if (!reading) return;
      if (pending.length > 0) this.send(message(Buffer.concat(pending)));
      pending = [];
      stopReading();
    });
  }

  private startInteractive(): void {
    const rl = readline.createInterface({
      input: process.stdin,
      output: this.out,
      prompt: '> ',
      terminal: true,
      historySize: 1000,
    });
    this.rl = rl;
    rl.on('line', (line) => {
      if (line.startsWith('/') && !line.startsWith('//')) this.command(line);
      else if (line !== '') this.send(line.startsWith('//') ? line.slice(1) : line);
      rl.prompt();
    });
    rl.on('SIGINT', () => this.closeSoon());
    rl.on('close', () => this.closeSoon());
    rl.prompt();
  }

  private command(line: string): void {
    const [name, ...rest] = line.slice(1).split(' ');
    const argument = rest.join(' ');
    const open = [...this.peers].filter((ws) => ws.readyState === 1);
    if (open.length === 0 && name !== 'help' && name !== 'close') {
      this.error(this.settings.listen === undefined ? 'not connected' : 'no client connected');
      return;
    }
    switch (name) {
      case 'ping':
        for (const ws of open) {
          ws.ping(argument === '' ? undefined : argument).then(
            (rtt) => this.print(this.colors.yellow(`< pong`) + ` (round trip ${rtt.toFixed(2)} ms)`),
            (error: Error) => this.error(`ping failed: ${error.message}`),
          );
        }
        return;
      case 'close': {
        const code = rest[0] === undefined || rest[0] === '' ? 1000 : Number(rest[0]);
        const reason = rest.slice(1).join(' ');
        if (!Number.isInteger(code) || !isValidWireCloseCode(code)) this.error(`invalid close code '${rest[0]}'`);
        else if (Buffer.byteLength(reason) > 123) this.error('close reason must be at most 123 bytes');
        else {
          this.userCode = code;
          this.closeSoon(code, reason);
        }
        return;
      }
      case 'binary':
        try {
          this.send(parseHex(argument));
        } catch (error) {
          this.error((error as Error).message);
        }
        return;
      case 'help':
        this.print(SLASH_HELP);
        return;
      default:
        this.error(`unknown command /${name}: /help lists them; start a message with // to send a leading /`);
    }
  }
}
