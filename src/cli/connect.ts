/**
 * `wskit connect URL`: an interactive WebSocket client on a terminal, a
 * line-per-message filter in a pipeline.
 */
import { readFileSync } from 'node:fs';
import readline from 'node:readline';
import type { CloseInfo } from '../errors.js';
import type { Connection } from '../node/connection.js';
import { connect, parseWebSocketUrl, type ConnectOptions } from '../node/client.js';
import type { Message } from '../node/types.js';
import { isValidWireCloseCode } from '../protocol/opcodes.js';
import { UsageError, parseOptions } from './args.js';
import { describeClose, escapeControl, explainConnectError, palette, parseHex, parseNumber, prettyJson, toHex } from './format.js';

/** One line for `wskit --help`. */
export const summary = 'interactive client; a line-per-message filter when stdin is not a terminal';

/** `wskit connect --help`. */
export const help = `Usage: wskit connect URL [options]

Opens a WebSocket connection to URL (ws:// or wss://).

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

Options:
  -H, --header 'Name: value'  add a request header (repeatable)
  -s, --subprotocol NAME      offer a subprotocol (repeatable)
  -o, --origin ORIGIN         send an Origin header
      --auth USER:PASS        HTTP Basic authentication
      --proxy URL             connect through an HTTP proxy (CONNECT)
      --insecure              do not verify the server's TLS certificate
      --ca FILE               trust the CA certificate(s) in FILE (PEM)
  -x, --execute MESSAGE       send MESSAGE after connecting (repeatable)
  -w, --wait SECONDS          close after SECONDS (after -x, or after end of input)
  -n, --count N               close after receiving N messages
  -t, --timeout SECONDS       give up after SECONDS (exit 1 if --count was not reached)
  -b, --binary                send input lines as binary messages
      --json                  pretty-print JSON messages (compact, one line, in a pipeline)
      --ping-interval SECONDS keepalive ping interval (default 20; 0 disables)
      --reconnect             reconnect when the connection drops
  -q, --quiet                 no status lines (Connected / Connection closed)

Control characters in received text are always escaped (\\e, \\r, \\x07...),
so a hostile server cannot drive your terminal.

Exit status: 0 closed normally (1000, 1001 or no status), 1 connection failed
or closed with an error code, 2 bad arguments.

Examples:
  wskit connect ws://localhost:8765
  wskit connect wss://example.com/chat -H 'Authorization: Bearer t0k3n' -s chat.v1
  echo '{"op":"subscribe"}' | wskit connect ws://localhost:8765 --count 3
  wskit connect ws://localhost:8765 -x hello -x world -w 1
  seq 100 | wskit connect ws://localhost:8765 | sort -n | tail -1
`;

const OK_CODES = new Set([1000, 1001, 1005]);

/** The option definitions of the connection flags (headers, TLS...), for `parseOptions`. */
export const CLIENT_OPTIONS = {
  header: { type: 'string', short: 'H', multiple: true },
  subprotocol: { type: 'string', short: 's', multiple: true },
  origin: { type: 'string', short: 'o' },
  auth: { type: 'string' },
  proxy: { type: 'string' },
  insecure: { type: 'boolean', short: 'k' },
  ca: { type: 'string' },
  'ping-interval': { type: 'string' },
} as const;

/** Builds `connect()` options from the parsed connection flags; throws UsageError on a bad value. */
export function clientOptions(values: {
  header?: string[];
  subprotocol?: string[];
  origin?: string;
  auth?: string;
  proxy?: string;
  insecure?: boolean;
  ca?: string;
  'ping-interval'?: string;
}): ConnectOptions {
  const headers: Array<[string, string]> = [];
  for (const header of values.header ?? []) {
    const colon = header.indexOf(':');
    const name = colon > 0 ? header.slice(0, colon).trim() : '';
    if (name === '' || /[^!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(name) || /[\r\n]/.test(header)) {
      throw new UsageError(`invalid header '${header}' (expected 'Name: value')`);
    }
    headers.push([name, header.slice(colon + 1).trim()]);
  }
  if (values.auth !== undefined) {
    if (!values.auth.includes(':')) throw new UsageError(`invalid --auth '${values.auth}' (expected user:password)`);
    headers.push(['Authorization', `Basic ${Buffer.from(values.auth).toString('base64')}`]);
  }
  const options: ConnectOptions = { headers };
  if (values.subprotocol) options.subprotocols = values.subprotocol;
  if (values.origin !== undefined) options.origin = values.origin;
  if (values.insecure) options.rejectUnauthorized = false;
  if (values.ca !== undefined) {
    try {
      options.ca = readFileSync(values.ca);
    } catch (error) {
      throw new UsageError(`cannot read --ca file ${values.ca}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const ping = parseNumber('--ping-interval', values['ping-interval']);
  if (ping !== undefined) options.pingInterval = ping === 0 ? null : ping * 1000;
  if (values.proxy !== undefined) {
    try {
      const proxy = new URL(values.proxy);
      if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') throw new Error();
    } catch {
      throw new UsageError(`invalid --proxy '${values.proxy}' (expected http://host:port or https://host:port)`);
    }
    options.proxy = values.proxy;
  }
  return options;
}

/** Checks a URL argument; a malformed one is a usage error. */
export function checkUrl(url: string | undefined, command: string): string {
  if (url === undefined) throw new UsageError(`missing URL (e.g. wskit ${command} ws://localhost:8765)`);
  try {
    parseWebSocketUrl(url);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return url;
}

/** A connection attempt that failed, already explained in one line. */
export class ConnectFailed extends Error {}

/** Connects, turning any failure into a one-line {@link ConnectFailed} (exit status 1). */
export async function open(url: string, options: ConnectOptions): Promise<Connection> {
  try {
    return await connect(url, options);
  } catch (error) {
    throw new ConnectFailed(explainConnectError(error, url));
  }
}

/** Runs the client; resolves with the exit status. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    args,
    {
      ...CLIENT_OPTIONS,
      execute: { type: 'string', short: 'x', multiple: true },
      wait: { type: 'string', short: 'w' },
      count: { type: 'string', short: 'n' },
      timeout: { type: 'string', short: 't' },
      binary: { type: 'boolean', short: 'b' },
      json: { type: 'boolean' },
      reconnect: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
    },
    true,
  );
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  const url = checkUrl(positionals[0], 'connect');
  const options = clientOptions(values);
  const wait = parseNumber('--wait', values.wait);
  const count = parseNumber('--count', values.count, { integer: true, min: 1 });
  const timeout = parseNumber('--timeout', values.timeout);
  options.maxMessageSize = 64 * 1024 * 1024;
  const session = new Session(url, options, {
    interactive: process.stdin.isTTY === true,
    execute: values.execute ?? [],
    wait,
    count,
    timeout,
    binary: values.binary === true,
    json: values.json === true,
    quiet: values.quiet === true,
    reconnect: values.reconnect === true,
  });
  return session.run();
}

interface SessionSettings {
  interactive: boolean;
  execute: string[];
  wait: number | undefined;
  count: number | undefined;
  timeout: number | undefined;
  binary: boolean;
  json: boolean;
  quiet: boolean;
  reconnect: boolean;
}

const SLASH_HELP = `/ping [data]            send a ping and print the round-trip time
/close [code] [reason]  close the connection
/binary HEX             send a binary message
/help                   this list
//text                  send a message starting with '/'`;

class Session {
  private ws: Connection | undefined;
  private stop: AbortController | null = null;
  private stopping = false;
  private rl: readline.Interface | null = null;
  private received = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private inputEnded = false;
  private timedOut = false;
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
    if (!settings.interactive) process.on('SIGINT', onSignal);
    const cleanup = () => {
      for (const timer of timers) clearTimeout(timer);
      if (this.idleTimer) clearTimeout(this.idleTimer);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      this.rl?.close();
      if (!settings.interactive) process.stdin.destroy();
    };
    this.stop = stop;
    let info: CloseInfo = { code: 1006, reason: '', wasClean: false };
    try {
      if (settings.reconnect) {
        const connector = connect(this.url, {
          ...this.options,
          signal: stop.signal,
          reconnect: {
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
      throw error instanceof ConnectFailed ? error : new ConnectFailed(explainConnectError(error, this.url));
    }
    cleanup();
    if (this.timedOut && settings.count !== undefined && this.received < settings.count) {
      process.stderr.write(`wskit connect: timed out after ${settings.timeout} s with ${this.received} of ${settings.count} messages\n`);
      return 1;
    }
    // Reaching --count is success, whoever closed first.
    if (settings.count !== undefined && this.received >= settings.count) return 0;
    return OK_CODES.has(info.code) ? 0 : 1;
  }

  /** Runs one connection: starts input on the first one, waits until it closes. */
  private async session(ws: Connection, timers: NodeJS.Timeout[]): Promise<CloseInfo> {
    const { settings } = this;
    this.ws = ws;
    this.status(`Connected to ${this.url}.`);
    const receiving = this.receive(ws);
    if (this.rl === null) {
      for (const message of settings.execute) this.send(message);
      if (settings.interactive) {
        this.startInteractive();
        if (settings.wait !== undefined) timers.push(setTimeout(() => this.closeSoon(), settings.wait * 1000));
      } else {
        this.startPipeline();
      }
    }
    const info = await ws.closed;
    await receiving;
    if (settings.interactive && this.rl !== null && (!settings.reconnect || this.stopping)) {
      // Done: remove the prompt so the last line is the close status.
      const rl = this.rl;
      this.rl = null;
      const { rows } = rl.getCursorPos();
      readline.cursorTo(this.out, 0);
      if (rows > 0) readline.moveCursor(this.out, 0, -rows);
      readline.clearScreenDown(this.out);
      rl.close();
    }
    this.status(`Connection closed: ${describeClose(info.code, info.reason)}.`);
    return info;
  }

  private closeSoon(code = 1000, reason = ''): void {
    this.stopping = true;
    this.stop?.abort();
    this.ws?.close(code, reason).catch(() => undefined);
  }

  /** Status lines go to stdout on a terminal, to stderr in a pipeline (stdout carries only messages). */
  private status(line: string): void {
    if (this.settings.quiet) return;
    if (this.settings.interactive) this.print(this.colors.dim(line));
    else process.stderr.write(this.errColors.dim(line) + '\n');
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
    if (this.settings.interactive) this.print(this.colors.red(message));
    else process.stderr.write(this.errColors.red(message) + '\n');
  }

  private async receive(ws: Connection): Promise<void> {
    try {
      for await (const message of ws) {
        this.received++;
        this.display(message);
        if (this.settings.count !== undefined && this.received >= this.settings.count) this.closeSoon();
        else if (this.inputEnded && this.idleTimer !== null) this.idleTimer.refresh();
      }
    } catch {
      // The close code is reported from ws.closed.
    }
  }

  private display(message: Message): void {
    const { json, interactive } = this.settings;
    if (!interactive) {
      let line: string;
      if (typeof message === 'string') line = escapeControl(json ? prettyJson(message, '') : message);
      else line = toHex(message);
      this.out.write(line + '\n');
      return;
    }
    const marker = this.colors.green('< ');
    if (typeof message === 'string') {
      const text = escapeControl(json ? prettyJson(message) : message, true);
      this.print(marker + text.replace(/\n/g, '\n  '));
    } else {
      this.print(marker + this.colors.dim('(binary) ') + toHex(message));
    }
  }

  private send(text: string): void {
    const data = this.settings.binary ? Buffer.from(text) : text;
    if (this.ws === undefined || this.ws.readyState !== 1) {
      this.error('not connected: message dropped');
      return;
    }
    this.ws.send(data).catch((error: Error) => this.error(`cannot send: ${error.message}`));
  }

  private startPipeline(): void {
    const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
    this.rl = rl;
    rl.on('line', (line) => {
      const ws = this.ws;
      if (ws === undefined || ws.readyState !== 1) return;
      const data = this.settings.binary ? Buffer.from(line) : line;
      const sent = ws.send(data);
      if (ws.bufferedAmount > 1 << 20) {
        rl.pause();
        sent.finally(() => rl.resume()).catch(() => undefined);
      }
      sent.catch((error: Error) => this.error(`cannot send: ${error.message}`));
    });
    rl.on('close', () => {
      this.inputEnded = true;
      const { wait, count } = this.settings;
      if (wait !== undefined) this.idleTimer = setTimeout(() => this.closeSoon(), wait * 1000);
      else if (count === undefined) this.idleTimer = setTimeout(() => this.closeSoon(), 1000);
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
    const ws = this.ws;
    if (ws === undefined || ws.readyState !== 1) {
      if (name !== 'help') {
        this.error('not connected');
        return;
      }
    }
    switch (name) {
      case 'ping':
        ws!.ping(argument === '' ? undefined : argument).then(
          (rtt) => this.print(this.colors.yellow(`< pong`) + ` (round trip ${rtt.toFixed(2)} ms)`),
          (error: Error) => this.error(`ping failed: ${error.message}`),
        );
        return;
      case 'close': {
        const code = rest[0] === undefined || rest[0] === '' ? 1000 : Number(rest[0]);
        const reason = rest.slice(1).join(' ');
        if (!Number.isInteger(code) || !isValidWireCloseCode(code)) this.error(`invalid close code '${rest[0]}'`);
        else if (Buffer.byteLength(reason) > 123) this.error('close reason must be at most 123 bytes');
        else this.closeSoon(code, reason);
        return;
      }
      case 'binary':
        try {
          const bytes = parseHex(argument);
          ws!.send(bytes).catch((error: Error) => this.error(`cannot send: ${error.message}`));
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
