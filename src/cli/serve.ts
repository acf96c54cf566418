/**
 * `wskit serve`: a configurable WebSocket server for testing: echo,
 * broadcast (optionally across nodes through Redis), a child process per
 * connection (like websocketd), static files on the same port, TLS.
 */
import { spawn } from 'node:child_process';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import type { Connection } from '../node/connection.js';
import type { MetricsRequestHandler } from '../metrics/http.js';
import { attach, serve, type Handler, type Server } from '../node/server.js';
import { Hub } from '../node/hub.js';
import { redisBackplane } from '../pubsub/redis-backplane.js';
import { LIMIT_FLAGS, UsageError, limitOptions, parseOptions, parsePort, redisUrlFlag, untilSignal } from './args.js';
import { clock, describeClose, escapeControl, palette } from './format.js';
import { TOPIC_SERVE_FLAGS, TOPIC_SERVE_HELP, TOPIC_SUBPROTOCOLS, checkTopicFlags, expandBareAllowPublish, startTopicMode, type TopicMode } from './serve-topics.js';

/** One line for `wskit --help`. */
export const summary = 'test server: echo, --broadcast (--redis), --topics with history and resume, --exec, --static files';

/** `wskit serve --help`. */
export const help = `Usage: wskit serve [options]

Runs a WebSocket server on one port, any path. Without a mode it echoes
every message back.

Modes:
      --broadcast        every message from any client goes to all clients
                         (the sender included)
      --redis URL        broadcast across every 'wskit serve --redis' node
                         sharing this Redis (implies --broadcast, unless
                         --topics: then the topic history is kept there)
${TOPIC_SERVE_HELP}
  -e, --exec 'COMMAND'   run COMMAND (through /bin/sh) for each connection:
                         messages are written to its stdin one per line, each
                         line it prints is sent back; the connection closes
                         when it exits (like websocketd); it must flush each
                         line (python3 -u, stdbuf -oL). It gets REMOTE_ADDR,
                         WSKIT_PATH and QUERY_STRING in its environment.

Options:
  -p, --port P           port (default 8765; 0 picks a free one)
      --host H           interface (default 127.0.0.1)
      --static DIR       also serve DIR over plain HTTP on the same port
                         (index.html for directories)
      --tls-cert FILE    serve wss:// (and https://) with this certificate (PEM)
      --tls-key FILE     ... and this private key (PEM)
      --http2            also accept WebSockets over HTTP/2 (RFC 8441 extended
                         CONNECT) on the same port: with TLS, ALPN offers h2
                         beside http/1.1 (browsers then open WebSockets on the
                         page's connection); without, cleartext h2c with prior
                         knowledge (wskit connect --http2, proxies) beside
                         HTTP/1.1 (no --static then: browsers speak h2 over TLS
                         only)
      --log              print connections and closes (time, peer, path, code)
      --max-size N       largest message in bytes (default 1M; 64k, 1M... accepted)
      --max-fragments N  frames a message may be split into, plus one per 16
                         bytes of its payload (default 16384; 1008 beyond)
      --metrics          answer GET /metrics on the same port (Prometheus
                         text format; watch it live with 'wskit top URL')

Exit status: 0 after Ctrl-C/SIGTERM (connections closed with 1001), 1 if it
cannot start (port in use, Redis unreachable), 2 bad arguments.

Examples:
  wskit serve --broadcast --log
  wskit serve --static ./public --port 8080
  wskit serve --exec 'stdbuf -oL tr a-z A-Z'
  wskit serve --exec 'python3 -u bot.py' --tls-cert cert.pem --tls-key key.pem
  wskit serve --http2 --static ./public --tls-cert cert.pem --tls-key key.pem
  wskit serve --redis redis://127.0.0.1:6379 --port 8001
  wskit serve --topics --allow-publish 'chat/*' --history-size 10k
  wskit serve --topics --redis redis://127.0.0.1:6379 --allow-publish --port 8001
`;

/** Runs the server until a signal arrives. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(expandBareAllowPublish(args), {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    broadcast: { type: 'boolean' },
    redis: { type: 'string' },
    exec: { type: 'string', short: 'e' },
    static: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    http2: { type: 'boolean' },
    log: { type: 'boolean' },
    ...LIMIT_FLAGS,
    metrics: { type: 'boolean' },
    ...TOPIC_SERVE_FLAGS,
  }, true);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const port = parsePort(values.port, 8765);
  const host = values.host ?? '127.0.0.1';
  checkTopicFlags(values);
  const topicsMode = values.topics === true;
  if (topicsMode && (values.broadcast === true || values.exec !== undefined)) throw new UsageError('--topics cannot be combined with --broadcast or --exec');
  const broadcasting = !topicsMode && (values.broadcast === true || values.redis !== undefined);
  if (broadcasting && values.exec !== undefined) throw new UsageError('--exec cannot be combined with --broadcast or --redis');
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  const limits = limitOptions(values);
  const overHttp2 = values.http2 === true;
  if (overHttp2 && values['tls-cert'] === undefined && values.static !== undefined) {
    throw new UsageError('--static with --http2 needs --tls-cert and --tls-key (browsers speak HTTP/2 over TLS only; cleartext h2c serves WebSockets only)');
  }
  let staticRoot: string | null = null;
  if (values.static !== undefined) {
    staticRoot = path.resolve(values.static);
    let isDirectory = false;
    try {
      isDirectory = statSync(staticRoot).isDirectory();
    } catch {
      // reported below
    }
    if (!isDirectory) throw new UsageError(`--static ${values.static} is not a directory`);
  }
  let tlsOptions: { cert: Buffer; key: Buffer } | null = null;
  if (values['tls-cert'] !== undefined && values['tls-key'] !== undefined) {
    try {
      tlsOptions = { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']) };
    } catch (error) {
      throw new UsageError(`cannot read TLS files: ${(error as Error).message}`);
    }
  }
  if (values.redis !== undefined) redisUrlFlag(values.redis);

  const log = values.log === true;
  const colors = palette(process.stdout);
  const logLine = (text: string) => {
    if (log) process.stdout.write(`${colors.dim(clock())} ${text}\n`);
  };

  // A Redis outage silently splits the nodes' audiences (or stalls the topics): the operator must see it, in one line.
  const stderrLine = { error: (...parts: unknown[]) => process.stderr.write(`${parts.map(oneLine).join(' ')}\n`) };
  const topics: TopicMode | null = topicsMode ? await startTopicMode(values, values.redis, stderrLine) : null;
  let hub: Hub | null = null;
  if (broadcasting) {
    hub = new Hub({
      backplane: values.redis !== undefined ? redisBackplane({ url: values.redis, logger: stderrLine }) : null,
      logger: stderrLine,
    });
    try {
      await hub.start();
    } catch (error) {
      throw new Error((error as Error).message.replace(/^wskit: /, ''));
    }
  }

  let mode: Handler;
  if (topics !== null) {
    mode = topics.handler;
  } else if (hub !== null) {
    const room = hub;
    mode = async (ws) => {
      room.subscribe(ws, 'all');
      for await (const message of ws) room.publish('all', message);
    };
  } else if (values.exec !== undefined) {
    const command = values.exec;
    mode = (ws) => execHandler(ws, command, logLine);
  } else {
    mode = async (ws) => {
      for await (const message of ws) await ws.send(message);
    };
  }
  const handler: Handler = async (ws) => {
    const peer = ws.remoteAddress ?? '?';
    // Over HTTP/2 the stream is named: one TCP connection (one peer address and port) carries many WebSockets.
    const stream = ws.request?.streamId;
    const target = escapeControl(ws.request?.target ?? '/') + (stream !== undefined ? ` [h2 stream ${stream}]` : '');
    logLine(`${colors.green('+')} ${peer} ${target}${ws.subprotocol ? ` (${ws.subprotocol})` : ''}`);
    void ws.closed.then((info) => logLine(`${colors.yellow('-')} ${peer} ${target} ${describeClose(info.code, info.reason)}`));
    await mode(ws);
  };

  const root = staticRoot;
  let metrics: MetricsRequestHandler | null = null;
  const onRequest = (request: http.IncomingMessage, response: http.ServerResponse) => {
    if (metrics !== null) return metrics(request, response, () => answer(request, response));
    answer(request, response);
  };
  const answer = (request: http.IncomingMessage, response: http.ServerResponse) => {
    if (root === null) {
      // RFC 9113 §8.2.2: no connection-specific fields (Upgrade, Connection) in an HTTP/2 response.
      const upgrade = request.httpVersionMajor === 2 ? {} : { Upgrade: 'websocket', Connection: 'Upgrade' };
      response.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', ...upgrade });
      response.end('This is a WebSocket server: connect with ws:// (wskit connect URL).\n');
      return;
    }
    serveFile(root, request, response, logLine);
  };
  const serverOptions = {
    ...limits,
    logger: null,
    metrics: values.metrics === true,
    ...(topics !== null ? { subprotocols: TOPIC_SUBPROTOCOLS } : {}),
  };
  let listening: Listening;
  try {
    listening =
      overHttp2 && tlsOptions === null
        ? await listenH2c(handler, { ...serverOptions, host, port })
        : await listenHttp(handler, serverOptions, onRequest, tlsOptions, overHttp2, host, port);
  } catch (error) {
    // The Redis connections would keep the process alive after the error line.
    await Promise.all([hub?.close(), topics?.server.close()]).catch(() => undefined);
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code === 'EADDRINUSE' ? `port ${port} is already in use` : `cannot listen: ${(error as Error).message}`);
  }
  const { server, address } = listening;
  if (values.metrics) metrics = server.metricsHandler;
  const shownHost = address.address.includes(':') ? `[${address.address}]` : address.address;
  const scheme = tlsOptions ? 'wss' : 'ws';
  const what = topics !== null ? topics.description : hub !== null ? (values.redis ? `broadcast via ${values.redis}` : 'broadcast') : values.exec !== undefined ? `exec '${values.exec}'` : 'echo';
  const versions = overHttp2 ? (tlsOptions ? ', HTTP/2 and HTTP/1.1' : ', h2c and HTTP/1.1') : '';
  process.stdout.write(`Listening on ${scheme}://${shownHost}:${address.port} (${what}${versions})\n`);
  if (root !== null) process.stdout.write(`Serving ${root} on ${tlsOptions ? 'https' : 'http'}://${shownHost}:${address.port}/\n`);
  if (values.metrics) process.stdout.write(`Metrics on ${tlsOptions ? 'https' : 'http'}://${shownHost}:${address.port}/metrics\n`);
  await untilSignal();
  await listening.close();
  await hub?.close();
  await topics?.server.close();
  return 0;
}

/** A listening server and how to stop it (WebSockets closed with 1001). */
interface Listening {
  server: Server;
  address: AddressInfo;
  close(): Promise<void>;
}

type ServeOptions = NonNullable<Parameters<typeof attach>[2]>;

/** WebSockets (and static files, metrics, the 426 page) on an http, https or (with `http2`) TLS HTTP/2 server. */
async function listenHttp(
  handler: Handler,
  options: ServeOptions,
  onRequest: (request: http.IncomingMessage, response: http.ServerResponse) => void,
  tlsOptions: { cert: Buffer; key: Buffer } | null,
  overHttp2: boolean,
  host: string,
  port: number,
): Promise<Listening> {
  // allowHTTP1: one port for browsers on h2 and clients on HTTP/1.1; the compatibility API gives both the same
  // request and response objects, so the static files and the metrics page are served over either.
  const httpServer =
    overHttp2 && tlsOptions !== null
      ? http2.createSecureServer({ ...tlsOptions, allowHTTP1: true }, onRequest as unknown as (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => void)
      : tlsOptions !== null
        ? https.createServer(tlsOptions, onRequest)
        : http.createServer(onRequest);
  const server = attach(httpServer, handler, options);
  // An http2 server's close() waits for its sessions, and browsers keep theirs open: they are closed with it.
  const sessions = new Set<http2.ServerHttp2Session>();
  httpServer.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(port, host, () => resolve());
    });
  } catch (error) {
    await server.close();
    throw error;
  }
  return {
    server,
    address: httpServer.address() as AddressInfo,
    close: async () => {
      httpServer.close();
      await server.close(1001, 'server shutting down');
      (httpServer as http.Server).closeAllConnections?.();
      for (const session of sessions) session.destroy();
    },
  };
}

/** Cleartext HTTP/2 with prior knowledge beside HTTP/1.1 on one port: the library's own listener tells them apart. */
async function listenH2c(handler: Handler, options: ServeOptions & { host: string; port: number }): Promise<Listening> {
  const server = await serve(handler, { ...options, http2: true });
  return { server, address: server.address()!, close: () => server.close(1001, 'server shutting down') };
}

/** Connects a connection to a child process: messages to its stdin, its stdout lines back as messages. */
async function execHandler(ws: Connection, command: string, logLine: (text: string) => void): Promise<void> {
  const child = spawn('/bin/sh', ['-c', command], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      ...process.env,
      REMOTE_ADDR: ws.remoteAddress ?? '',
      WSKIT_PATH: ws.request?.path ?? '/',
      QUERY_STRING: ws.request?.query.toString() ?? '',
    },
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (error) => {
      logLine(`cannot run '${command}': ${error.message}`);
      resolve(null);
    });
  });
  child.stdin.on('error', () => undefined);
  const lines = readline.createInterface({ input: child.stdout, crlfDelay: Infinity });
  const output = (async () => {
    for await (const line of lines) {
      if (ws.readyState !== 1) break;
      await ws.send(line).catch(() => undefined);
    }
  })();
  const input = (async () => {
    try {
      for await (const message of ws) {
        const text = typeof message === 'string' ? message : message.toString('utf8');
        if (!child.stdin.write(text + '\n')) await new Promise((resolve) => child.stdin.once('drain', resolve));
      }
    } catch {
      // closed with an error code: stop the child below
    }
    child.stdin.end();
  })();
  const first = await Promise.race([exited.then(() => 'exit' as const), input.then(() => 'closed' as const)]);
  if (first === 'closed') {
    // The client went away: give the child a moment to finish, then stop it.
    const timer = setTimeout(() => child.kill('SIGTERM'), 1000);
    await exited;
    clearTimeout(timer);
  }
  await output;
  const code = await exited;
  if (ws.readyState === 1) await ws.close(code === 0 ? 1000 : 1011, code === 0 ? '' : `command exited with ${code}`);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.htm': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.ico': 'image/x-icon', '.wasm': 'application/wasm', '.map': 'application/json',
};

/** Serves one file from `root`; never outside it. */
function serveFile(root: string, request: http.IncomingMessage, response: http.ServerResponse, logLine: (text: string) => void): void {
  const fail = (status: number, text: string) => {
    response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
    response.end(text + '\n');
    logLine(`${request.method} ${escapeControl(request.url ?? '')} ${status}`);
  };
  if (request.method !== 'GET' && request.method !== 'HEAD') return fail(405, 'Method Not Allowed');
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
  } catch {
    return fail(400, 'Bad Request');
  }
  if (pathname.includes('\0')) return fail(400, 'Bad Request');
  let file = path.join(root, path.normalize(pathname));
  if (file !== root && !file.startsWith(root + path.sep)) return fail(403, 'Forbidden');
  let stats;
  try {
    stats = statSync(file);
    if (stats.isDirectory()) {
      file = path.join(file, 'index.html');
      stats = statSync(file);
    }
  } catch {
    return fail(404, 'Not Found');
  }
  if (!stats.isFile()) return fail(404, 'Not Found');
  response.writeHead(200, {
    'Content-Type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': stats.size,
    'Cache-Control': 'no-cache',
  });
  logLine(`${request.method} ${escapeControl(request.url ?? '')} 200`);
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  createReadStream(file).on('error', () => response.destroy()).pipe(response);
}

function oneLine(part: unknown): string {
  return escapeControl(part instanceof Error ? part.message : String(part));
}
