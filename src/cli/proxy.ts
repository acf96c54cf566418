/**
 * `wskit proxy --listen PORT --target URL`: a debugging proxy that relays
 * WebSocket traffic byte for byte and prints every frame on the way.
 *
 * Bytes are forwarded as they arrive, unmodified (control frames, close
 * codes, fragmentation and masking stay exactly as the peers sent them); a
 * {@link FrameScanner} per direction watches the same bytes and reports each
 * frame with a bounded preview, so large messages are never buffered.
 *
 * permessage-deflate: the proxy removes `Sec-WebSocket-Extensions` from the
 * client's request, so the server cannot negotiate compression and every
 * payload stays readable. Peers that require compression will fail the
 * handshake through the proxy; that is the price of seeing the bytes.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type * as http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { parseWebSocketUrl, type WebSocketUrl } from '../protocol/url.js';
import { HttpHeadReader, parseRequestHead, parseResponseHead, serializeResponse, statusText } from '../protocol/http11.js';
import { BYTES, SECONDS, UsageError, numberFlag, parseOptions, parsePort, untilSignal } from './args.js';
import { stdoutClosed } from './output.js';
import { checkUrl } from './client-flags.js';
import { clock, escapeControl, formatFrame, palette, prettyJson, type Palette } from './format.js';
import { FrameScanError, FrameScanner, recordFrame, type RecordEntry, type ScannedFrame, type Side } from './frame-log.js';
import { startsWithPreface } from '../node/http2-server.js';
import { Http2Back, Http2Front, http2Fields, streamIdOf, switchingProtocolsFor, upgradeRequestFor, type ProxiedRequest, type ProxiedResponse } from './proxy-http2.js';

/** After one side closed, the other gets this long to finish its own close before it is cut (ms). */
const CLOSE_GRACE_MS = 5000;

/** One line for `wskit --help`. */
export const summary = 'debugging proxy: relays WebSocket traffic and prints every frame';

/** `wskit proxy --help`. */
export const help = `Usage: wskit proxy --listen PORT --target URL [options]

Accepts WebSocket connections on PORT and relays each one to URL, printing
the handshake and every frame in both directions as it passes:

  12:00:00.004 #1 > TEXT FIN '{"a":1}' [7 bytes]
  12:00:00.005 #1 < TEXT FIN '{"a":1}' [7 bytes]
  12:00:00.006 #1 > CLOSE FIN 1000 (OK) [2 bytes]

'>' is client to server, '<' server to client; FIN, RSV1-3 are the header
bits ('---' when FIN is clear). Text is quoted with control characters
escaped, binary shown as hex, both truncated (--max-chars). Bytes are relayed
unchanged, as they arrive: control frames, fragmentation and close codes are
exactly what the peers sent, and a large message is never held in memory.

Compression: the proxy strips Sec-WebSocket-Extensions from the client's
request so that permessage-deflate is not negotiated and payloads stay
readable.

The request path is kept (ws://proxy/chat goes to URL's host at /chat)
unless URL has a path of its own. The Host header is rewritten to URL's.

HTTP/2 (RFC 8441): clients may also open their WebSockets as extended
CONNECT streams over cleartext HTTP/2 with prior knowledge (h2c) on PORT;
with --target-http2 every WebSocket goes to URL as a stream of one HTTP/2
connection. Either side may be HTTP/1.1 or HTTP/2: the proxy translates the
handshake (Upgrade and Sec-WebSocket-Accept on one side, :protocol and
:status 200 on the other) and relays the frames unchanged. Lines then name
the streams: '#3 [h2 5]' (the client's stream 5), '#3 [→h2 1]' (stream 1
to the target).

Options:
  -l, --listen PORT      port to listen on (required; 0 picks one)
      --host H           interface to listen on (default 127.0.0.1)
  -t, --target URL       the server to relay to, ws:// or wss:// (required)
  -r, --record FILE      also write a JSON Lines log (one object per frame,
                         head, end) that 'wskit replay FILE URL' plays back
      --record-limit N   keep whole payloads up to N bytes in the log (default
                         1048576); larger frames are logged truncated
      --max-chars N      payload characters shown per frame (default 80)
      --json             pretty-print complete JSON text frames below their line
  -v, --verbose          print every handshake header
  -q, --quiet            print nothing per frame (with --record)
  -k, --insecure         do not verify the target's TLS certificate
      --target-http2     reach URL over HTTP/2 (h2c for ws://, ALPN h2 for
                         wss://), every WebSocket a stream of one connection
      --handshake-timeout SECONDS
                         time a client has to send its request and get the
                         target's answer (default 10); then it is dropped
                         (504 if the target is the slow one)

A client leaving closes its connection to the target, and the other way
round (a side that only half-closed gets ${CLOSE_GRACE_MS / 1000} s to finish). Output to a
closed stdout (| head) stops; relaying goes on.

Exit status: 0 after Ctrl-C/SIGTERM, 1 if it cannot listen, 2 bad arguments.

Examples:
  wskit proxy --listen 9000 --target ws://127.0.0.1:8765
  wskit proxy -l 9000 -t wss://example.com/socket --record session.jsonl
  wskit proxy -l 9000 -t ws://127.0.0.1:8765 --target-http2
  wskit replay session.jsonl ws://127.0.0.1:8765
`;

interface ProxySettings {
  target: WebSocketUrl;
  targetUrl: string;
  keepPath: boolean;
  maxChars: number;
  recordLimit: number;
  json: boolean;
  verbose: boolean;
  quiet: boolean;
  insecure: boolean;
  /** Reach the target over HTTP/2 (extended CONNECT streams of one session). */
  targetHttp2: boolean;
  /** Time a client has from TCP accept to a relayed 101 (or other answer), in ms. */
  handshakeTimeout: number;
}


/** Runs the proxy until a signal arrives. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    listen: { type: 'string', short: 'l' },
    host: { type: 'string' },
    target: { type: 'string', short: 't' },
    record: { type: 'string', short: 'r' },
    'record-limit': { type: 'string' },
    'max-chars': { type: 'string' },
    json: { type: 'boolean' },
    verbose: { type: 'boolean', short: 'v' },
    quiet: { type: 'boolean', short: 'q' },
    insecure: { type: 'boolean', short: 'k' },
    'target-http2': { type: 'boolean' },
    'handshake-timeout': { type: 'string' },
  }, true);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.listen === undefined) throw new UsageError('missing --listen PORT');
  if (values.target === undefined) throw new UsageError('missing --target URL');
  const port = parsePort(values.listen, 0, '--listen');
  const targetUrl = checkUrl(values.target, 'proxy');
  const target = parseWebSocketUrl(targetUrl);
  const settings: ProxySettings = {
    target,
    targetUrl,
    keepPath: target.target === '/',
    maxChars: numberFlag('--max-chars', values['max-chars'], { integer: true, min: 8 }) ?? 80,
    recordLimit: numberFlag('--record-limit', values['record-limit'], BYTES) ?? 1 << 20,
    json: values.json === true,
    verbose: values.verbose === true,
    quiet: values.quiet === true,
    insecure: values.insecure === true,
    targetHttp2: values['target-http2'] === true,
    handshakeTimeout: (numberFlag('--handshake-timeout', values['handshake-timeout'], { ...SECONDS, positive: true }) ?? 10) * 1000,
  };
  let recorder: WriteStream | null = null;
  if (values.record !== undefined) {
    recorder = createWriteStream(values.record, { flags: 'w' });
    await new Promise<void>((resolve, reject) => {
      recorder!.once('open', () => resolve());
      recorder!.once('error', (error) => reject(new Error(`cannot write ${values.record}: ${error.message}`)));
    });
  }
  const proxy = new Proxy(settings, recorder);
  const server = net.createServer((socket) => proxy.accept(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(error.code === 'EADDRINUSE' ? `port ${port} is already in use` : `cannot listen: ${error.message}`)),
    );
    server.listen(port, values.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  process.stdout.write(`Proxying ws://${host}:${address.port} (HTTP/1.1 and h2c) → ${targetUrl}${settings.targetHttp2 ? ' over HTTP/2' : ''}\n`);
  await untilSignal();
  server.close();
  proxy.closeAll();
  if (recorder !== null) await new Promise<void>((resolve) => recorder!.end(resolve));
  return 0;
}

class Proxy {
  private nextId = 1;
  private readonly sockets = new Set<Duplex>();
  private readonly colors: Palette = palette(process.stdout);
  /** What names a connection in each line: `#3`, with the HTTP/2 streams that carry it (`#3 [h2 5 → h2 1]`). */
  private readonly labels = new Map<number, string>();
  private readonly front: Http2Front;
  private readonly back: Http2Back | null;

  constructor(
    private readonly settings: ProxySettings,
    private readonly recorder: WriteStream | null,
  ) {
    this.front = new Http2Front((stream, request, session) => this.acceptStream(stream, request, session), settings.handshakeTimeout);
    this.back = settings.targetHttp2 ? new Http2Back(settings.target, settings.insecure) : null;
  }

  closeAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.front.close();
    this.back?.close();
  }

  record(entry: RecordEntry): void {
    this.recorder?.write(JSON.stringify(entry) + '\n');
  }

  /** A red line about a failure; `detail` may come from the network and is escaped. */
  failure(conn: number, text: string, detail: string): void {
    this.line(conn, this.colors.red(`${text}: ${escapeControl(detail)}`));
  }

  line(conn: number, text: string): void {
    if (this.settings.quiet || stdoutClosed()) return;
    process.stdout.write(`${this.colors.dim(clock())} ${this.colors.dim(this.labels.get(conn) ?? '#' + conn)} ${text}\n`);
  }

  /** Names the HTTP/2 streams carrying connection `conn` in its lines from now on. */
  private nameStreams(conn: number, clientStream: number | undefined, targetStream: number | undefined): void {
    const parts = [clientStream !== undefined ? `h2 ${clientStream}` : '', targetStream !== undefined ? `→h2 ${targetStream}` : ''].filter((part) => part !== '');
    if (parts.length > 0) this.labels.set(conn, `#${conn} [${parts.join(' ')}]`);
  }

  track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  accept(client: net.Socket): void {
    const conn = this.nextId++;
    const peer = `${client.remoteAddress}:${client.remotePort}`;
    this.track(client);
    client.on('error', () => undefined);
    this.record({ type: 'open', conn, time: Date.now(), peer, target: this.settings.targetUrl });
    this.line(conn, this.colors.dim(`connection from ${peer}`));
    // Until the relay starts, the client has handshakeTimeout; a client that stays silent is dropped.
    const deadline = setTimeout(() => {
      this.line(conn, this.colors.red(`no handshake from the client within ${this.settings.handshakeTimeout / 1000} s: dropped`));
      client.destroy();
    }, this.settings.handshakeTimeout);
    client.once('close', () => clearTimeout(deadline));
    const reader = new HttpHeadReader(true);
    let first = true;
    const onData = (chunk: Buffer) => {
      // RFC 9113 §3.3: a cleartext HTTP/2 client with prior knowledge opens with the preface; its session takes the
      // socket (each WebSocket is then a stream, numbered like a connection of its own).
      if (first && startsWithPreface(chunk)) {
        client.off('data', onData);
        client.pause();
        clearTimeout(deadline);
        this.labels.set(conn, `#${conn} [h2]`);
        this.line(conn, this.colors.dim('HTTP/2 (h2c) connection: its WebSockets follow as streams'));
        this.front.accept(client, chunk);
        return;
      }
      first = false;
      let complete;
      try {
        complete = reader.push(chunk);
      } catch (error) {
        client.off('data', onData);
        this.failure(conn, 'bad request from client', (error as Error).message);
        client.end(serializeResponse(400, [['Connection', 'close']], `wskit proxy: ${(error as Error).message}\n`));
        return;
      }
      if (complete === null) return;
      client.off('data', onData);
      client.pause();
      let request;
      try {
        request = parseRequestHead(complete.head);
      } catch (error) {
        this.failure(conn, 'bad request from client', (error as Error).message);
        client.end(serializeResponse(400, [['Connection', 'close']], `wskit proxy: ${(error as Error).message}\n`));
        return;
      }
      const key = request.headers.get('sec-websocket-key');
      const answer: ClientAnswer = {
        respond: (response, rawHead) => {
          if (rawHead !== undefined) client.write(rawHead);
          else if (response.upgraded && key !== undefined) client.write(switchingProtocolsFor(key, response), 'latin1');
          else client.write(serializeHeadOnly(response), 'latin1');
        },
        fail: (status, body) => {
          client.end(serializeResponse(status, [['Content-Type', 'text/plain; charset=utf-8'], ['Connection', 'close']], body));
          if (status === 504) client.destroySoon();
        },
      };
      const proxied = { method: request.method, path: request.target, version: request.version, headers: request.headers.raw };
      this.forwardRequest(conn, client, proxied, complete.rest, deadline, answer);
    };
    client.on('data', onData);
  }

  /** A WebSocket opened as an extended CONNECT stream by a client on HTTP/2. */
  private acceptStream(stream: http2.ServerHttp2Stream, request: ProxiedRequest, session: http2.ServerHttp2Session): void {
    const conn = this.nextId++;
    const socket = session.socket;
    const peer = `${socket?.remoteAddress}:${socket?.remotePort}`;
    this.track(stream);
    this.nameStreams(conn, stream.id, undefined);
    this.record({ type: 'open', conn, time: Date.now(), peer, target: this.settings.targetUrl });
    this.line(conn, this.colors.dim(`WebSocket from ${peer} on HTTP/2 stream ${stream.id}`));
    const deadline = setTimeout(() => stream.close(), this.settings.handshakeTimeout);
    stream.once('close', () => clearTimeout(deadline));
    stream.pause();
    const answer: ClientAnswer = {
      respond: (response) => {
        // RFC 8441 §5: the WebSocket is open on :status 200, without Sec-WebSocket-Accept; a refusal keeps its status.
        if (!stream.destroyed) stream.respond({ ':status': response.upgraded ? 200 : response.status, ...http2Fields(response.headers) });
      },
      fail: (status, body) => {
        if (stream.destroyed) return;
        stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8' });
        stream.end(body);
      },
    };
    this.forwardRequest(conn, stream, request, Buffer.alloc(0), deadline, answer);
  }

  private forwardRequest(conn: number, client: Duplex, request: ProxiedRequest, rest: Buffer, deadline: NodeJS.Timeout, answer: ClientAnswer): void {
    const { settings, colors } = this;
    const path = settings.keepPath ? request.path : settings.target.target;
    const headers: Array<[string, string]> = [];
    const stripped: string[] = [];
    for (const [name, value] of request.headers) {
      const lower = name.toLowerCase();
      if (lower === 'sec-websocket-extensions') stripped.push(value);
      else if (lower === 'host') headers.push([name, settings.target.host]);
      else headers.push([name, value]);
    }
    this.record({
      type: 'request',
      conn,
      time: Date.now(),
      method: request.method,
      target: path,
      headers,
      ...(stripped.length > 0 ? { stripped } : {}),
    });
    let summary = `${colors.cyan('>')} ${request.method} ${escapeControl(path)} ${request.version}`;
    const protocol = headers.find(([name]) => name.toLowerCase() === 'sec-websocket-protocol')?.[1];
    if (protocol !== undefined) summary += colors.dim(` (subprotocols: ${escapeControl(protocol)})`);
    if (stripped.length > 0) summary += colors.dim(` (removed Sec-WebSocket-Extensions: ${escapeControl(stripped.join(', '))})`);
    this.line(conn, summary);
    if (settings.verbose) this.headerLines(conn, headers);
    const forwarded = { ...request, headers };
    if (this.back !== null) return void this.forwardOverHttp2(conn, client, forwarded, path, rest, deadline, answer);
    // An extended CONNECT becomes an Upgrade; an HTTP/1.1 request goes as it came.
    const out =
      request.version === 'HTTP/2'
        ? upgradeRequestFor(forwarded, settings.target, path).head
        : `${request.method} ${path} ${request.version}\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;

    const { target } = settings;
    const server: Duplex = target.secure
      ? tls.connect({
          host: target.hostname,
          port: target.port,
          servername: net.isIP(target.hostname) ? undefined : target.hostname,
          ALPNProtocols: ['http/1.1'],
          rejectUnauthorized: !settings.insecure,
        })
      : net.connect({ host: target.hostname, port: target.port });
    this.track(server);
    // Until the target answers, each side's leaving ends the other, and the deadline ends both.
    let answered = false;
    const clientLeft = () => {
      if (!answered) server.destroy();
    };
    client.once('close', clientLeft);
    server.once('close', () => {
      if (!answered && !client.writableEnded) client.destroy();
    });
    clearTimeout(deadline);
    const timer = setTimeout(() => {
      this.line(conn, colors.red(`no answer from ${settings.targetUrl} within ${settings.handshakeTimeout / 1000} s: 504 to the client`));
      server.destroy();
      answer.fail(504, `wskit proxy: no answer from ${settings.targetUrl}\n`);
    }, settings.handshakeTimeout);
    server.once('close', () => clearTimeout(timer));
    client.once('close', () => clearTimeout(timer));
    let connected = false;
    server.once(target.secure ? 'secureConnect' : 'connect', () => (connected = true));
    server.on('error', (error: NodeJS.ErrnoException) => {
      if (connected) return;
      this.failure(conn, `cannot reach ${settings.targetUrl}`, error.code ?? error.message);
      if (!client.destroyed) answer.fail(502, `wskit proxy: cannot reach ${settings.targetUrl}: ${error.code ?? error.message}\n`);
    });
    server.write(Buffer.from(out, 'latin1'));

    const reader = new HttpHeadReader(false);
    const onData = (chunk: Buffer) => {
      let complete;
      try {
        complete = reader.push(chunk);
      } catch (error) {
        server.off('data', onData);
        this.failure(conn, 'bad response from server', (error as Error).message);
        server.destroy();
        client.destroy();
        return;
      }
      if (complete === null) return;
      server.off('data', onData);
      server.pause();
      answered = true;
      clearTimeout(timer);
      client.off('close', clientLeft);
      let response;
      try {
        response = parseResponseHead(complete.head);
      } catch (error) {
        this.failure(conn, 'bad response from server', (error as Error).message);
        server.destroy();
        client.destroy();
        return;
      }
      const proxied: ProxiedResponse = { status: response.status, statusText: response.statusText, version: response.version, headers: response.headers.raw, upgraded: response.status === 101 };
      this.answered(conn, proxied);
      // An HTTP/1.1 client gets the target's head byte for byte.
      answer.respond(proxied, request.version === 'HTTP/2' ? undefined : complete.head);
      this.relay(conn, client, server, proxied.upgraded, rest, complete.rest);
    };
    server.on('data', onData);
  }

  /** Logs and records the target's answer. */
  private answered(conn: number, response: ProxiedResponse): void {
    const { colors } = this;
    this.record({ type: 'response', conn, time: Date.now(), status: response.status, statusText: response.statusText, headers: response.headers });
    const text = `${response.version} ${response.status}${response.statusText ? ' ' + escapeControl(response.statusText) : ''}`;
    let line = `${colors.green('<')} ${response.upgraded ? text : colors.yellow(text)}`;
    const chosen = response.headers.find(([name]) => name.toLowerCase() === 'sec-websocket-protocol')?.[1];
    if (chosen !== undefined) line += colors.dim(` (subprotocol: ${escapeControl(chosen)})`);
    this.line(conn, line);
    if (this.settings.verbose) this.headerLines(conn, response.headers);
  }

  /** Sends the handshake to the target as an extended CONNECT on the shared session (`--target-http2`). */
  private async forwardOverHttp2(conn: number, client: Duplex, request: ProxiedRequest, path: string, rest: Buffer, deadline: NodeJS.Timeout, answer: ClientAnswer): Promise<void> {
    const { settings } = this;
    clearTimeout(deadline);
    let opened: { stream: http2.ClientHttp2Stream; response: ProxiedResponse };
    const timer = setTimeout(() => client.destroy(), settings.handshakeTimeout);
    try {
      opened = await this.back!.request(request, path);
    } catch (error) {
      this.failure(conn, `cannot reach ${settings.targetUrl} over HTTP/2`, (error as Error).message);
      if (!client.destroyed) answer.fail(502, `wskit proxy: cannot reach ${settings.targetUrl} over HTTP/2: ${(error as Error).message}\n`);
      return;
    } finally {
      clearTimeout(timer);
    }
    const { stream, response } = opened;
    this.track(stream);
    if (client.destroyed) return void stream.close();
    this.nameStreams(conn, streamIdOf(client), stream.id);
    this.answered(conn, response);
    answer.respond(response);
    stream.pause();
    this.relay(conn, client, stream, response.upgraded, rest, Buffer.alloc(0));
  }

  private headerLines(conn: number, headers: Array<[string, string]>): void {
    for (const [name, value] of headers) this.line(conn, this.colors.dim(`    ${escapeControl(name)}: ${escapeControl(value)}`));
  }

  /** Pipes both ways; after a 101, frames are scanned and printed on the way. */
  private relay(conn: number, client: Duplex, server: Duplex, upgraded: boolean, fromClient: Buffer, fromServer: Buffer): void {
    const ended = { client: false, server: false };
    const pipe = (source: Duplex, sink: Duplex, from: Side, first: Buffer) => {
      const scanner = upgraded ? this.scanner(conn, from) : null;
      const recorder = this.recorder;
      // Reading waits while the other peer or the record file is behind: nothing queues in the proxy.
      let waiting = false;
      const resumeWhenClear = () => {
        if (sink.writableNeedDrain && !sink.destroyed) return void sink.once('drain', resumeWhenClear);
        if (recorder?.writableNeedDrain) return void recorder.once('drain', resumeWhenClear);
        waiting = false;
        source.resume();
      };
      const onChunk = (chunk: Buffer) => {
        if (chunk.length === 0) return;
        if (!sink.destroyed) sink.write(chunk);
        if (scanner !== null) {
          try {
            scanner.push(chunk);
          } catch (error) {
            if (error instanceof FrameScanError) this.line(conn, this.colors.red(`cannot parse frames from the ${from} any more: ${error.message}`));
            else throw error;
          }
        }
        if (!waiting && ((sink.writableNeedDrain && !sink.destroyed) || recorder?.writableNeedDrain)) {
          waiting = true;
          source.pause();
          resumeWhenClear();
        }
      };
      onChunk(first);
      source.on('data', onChunk);
      source.on('end', () => {
        ended[from] = true;
        this.record({ type: 'end', conn, time: Date.now(), from });
        if (upgraded) this.line(conn, this.colors.dim(`${from} closed its side of the ${streamIdOf(source) !== undefined ? 'HTTP/2 stream' : 'TCP connection'}`));
        sink.end();
      });
      source.on('close', () => {
        if (!ended[from]) return void sink.destroy();
        // It closed cleanly and sink.end() passed that on: a peer that never closes its side is cut after a grace period.
        const grace = setTimeout(() => sink.destroy(), CLOSE_GRACE_MS);
        sink.once('close', () => clearTimeout(grace));
      });
      source.on('error', (error: NodeJS.ErrnoException) => {
        this.failure(conn, `${from} connection error`, error.code ?? error.message);
      });
      if (!waiting) source.resume();
    };
    pipe(client, server, 'client', fromClient);
    pipe(server, client, 'server', fromServer);
    let closes = 0;
    const onClose = () => {
      if (++closes < 2) return;
      this.record({ type: 'closed', conn, time: Date.now() });
      this.line(conn, this.colors.dim('connection closed'));
    };
    client.once('close', onClose);
    server.once('close', onClose);
  }

  private scanner(conn: number, from: Side): FrameScanner {
    const { settings, colors } = this;
    const arrow = from === 'client' ? colors.cyan('>') : colors.green('<');
    const capture = this.recorder !== null ? settings.recordLimit : 0;
    return new FrameScanner(
      (frame: ScannedFrame) => {
        if (this.recorder !== null) this.record(recordFrame(conn, from, frame));
        if (settings.quiet) return;
        let text = formatFrame({ ...frame, preview: frame.payload }, settings.maxChars);
        if (frame.opcode >= 8) text = colors.yellow(text);
        this.line(conn, `${arrow} ${text}`);
        if (settings.json && frame.opcode === 1 && frame.fin && frame.payload.length === frame.length) {
          const pretty = prettyJson(frame.payload.toString('utf8'));
          if (pretty.includes('\n') && !stdoutClosed()) process.stdout.write(escapeControl(pretty, true).replace(/^/gm, '    ') + '\n');
        }
      },
      Math.max(256, settings.maxChars * 4),
      capture,
    );
  }
}

/** How the client of one WebSocket is answered: over HTTP/1.1 bytes on its socket, over h2 a response on its stream. */
interface ClientAnswer {
  /** Passes the target's answer on (`rawHead`: the target's HTTP/1.1 head, to be relayed as it is). */
  respond(response: ProxiedResponse, rawHead?: Buffer): void;
  /** Answers with an error of the proxy's own (502, 504) and ends the exchange. */
  fail(status: number, body: string): void;
}

/** An HTTP/1.1 head for a refusal that came over HTTP/2: its body follows until the connection closes. */
function serializeHeadOnly(response: ProxiedResponse): string {
  let head = `HTTP/1.1 ${response.status} ${statusText(response.status)}\r\n`;
  for (const [name, value] of response.headers) head += `${name}: ${value}\r\n`;
  return head + 'Connection: close\r\n\r\n';
}
