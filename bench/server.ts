/**
 * The benchmark's servers: `wskit` (the `for await` handler), `wskit-cb` (the callback handler, `sendNow()`),
 * `wskit-metrics` (wskit with `metrics: true`, to measure what counting costs), `ws` (8, no add-ons) or `ws-bufferutil` (8 with its native masking add-on), with the same endpoints;
 * and `node-floor`, a reference that is no WebSocket server (see floor-server.ts).
 * Echo on any path; on `/broadcast` every message from any client goes to all
 * `/broadcast` clients, the sender included.
 *
 *   node --import tsx bench/server.ts [wskit|wskit-cb|wskit-metrics|ws|ws-bufferutil|node-floor] [--deflate] [--ping-interval MS] [--http2]
 *
 * `--ping-interval MS` sets wskit's keepalive interval (its default is 20 s) and gives `ws` the keepalive its README
 * shows (a timer pinging every connection, terminating one whose last ping went unanswered); node-floor has none.
 *
 * Listens on $HOST:$PORT (default 127.0.0.1:8765) and prints `listening <port>`.
 * Runs in the foreground so its PID is the one measured (also by the neutral
 * harness in /work/shared/bench: `node --import tsx /path/to/bench/server.ts`).
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { broadcast, serve, type Connection, type ServerOptions } from '../src/index.js';
import { startFloor } from './floor-server.js';

const impl = process.argv[2] ?? 'wskit';
const deflate = process.argv.includes('--deflate');
const pingAt = process.argv.indexOf('--ping-interval');
const pingInterval = pingAt > 0 ? Number(process.argv[pingAt + 1]) : undefined;
// `--http2`: wskit also serves WebSockets over h2c (RFC 8441), for the http2 rows (bench/http2.ts).
const http2 = process.argv.includes('--http2');
const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 8765);

function ready(address: AddressInfo | string | null): void {
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  process.stdout.write(`listening ${bound}\n`);
}

function wskitOptions(metrics: boolean): ServerOptions {
  // `compression` is negotiated only where asked; the driver checks what was agreed.
  const options: ServerOptions = { host, port, logger: null, maxMessageSize: 64 * 1024 * 1024, metrics, compression: deflate };
  if (pingInterval !== undefined) options.pingInterval = pingInterval;
  if (http2) options.http2 = { maxStreamsPerSession: 100_000, maxStreams: 1_000_000 };
  return options;
}

async function startWskit(metrics: boolean): Promise<void> {
  const room = new Set<Connection>();
  const options = wskitOptions(metrics);
  const server = await serve(async (ws) => {
    if (ws.request?.path === '/broadcast') {
      room.add(ws);
      try {
        for await (const message of ws) broadcast(room, message);
      } finally {
        room.delete(ws);
      }
    } else {
      for await (const message of ws) await ws.send(message);
    }
  }, options);
  ready(server.address());
}

/** The callback handler: messages echoed from `message()` with `sendNow()`, no promise per message. */
async function startWskitCallbacks(): Promise<void> {
  const room = new Set<Connection>();
  const server = await serve(
    {
      open(ws) {
        if (ws.request?.path !== '/broadcast') return;
        room.add(ws);
        ws.data = room;
      },
      message(ws, data) {
        if (ws.data === room) broadcast(room, data);
        else ws.sendNow(data);
      },
      close(ws) {
        room.delete(ws);
      },
    },
    wskitOptions(false),
  );
  ready(server.address());
}

async function startWs(withBufferutil: boolean): Promise<void> {
  // ws picks bufferutil up by itself when it is installed; this variable, read when ws loads, is its switch.
  if (withBufferutil) createRequire(import.meta.url)('bufferutil');
  else process.env.WS_NO_BUFFER_UTIL = '1';
  const { WebSocketServer, WebSocket } = await import('ws');
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: deflate, maxPayload: 64 * 1024 * 1024, clientTracking: false });
  const room = new Set<InstanceType<typeof WebSocket>>();
  if (pingInterval !== undefined) keepWsAlive(wss, pingInterval);
  const http = createServer((_request, response) => {
    response.writeHead(426);
    response.end();
  });
  http.on('upgrade', (request, socket, head) => {
    wss.handleUpgrade(request, socket, head, (ws) => {
      ws.on('error', () => {});
      wss.emit('connection', ws, request);
      if (request.url === '/broadcast') {
        room.add(ws);
        ws.on('close', () => room.delete(ws));
        ws.on('message', (data, isBinary) => {
          for (const peer of room) if (peer.readyState === WebSocket.OPEN) peer.send(data, { binary: isBinary });
        });
      } else {
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      }
    });
  });
  http.listen(port, host, 1024, () => ready(http.address()));
}

/** ws's keepalive as its README shows it: every interval, terminate who did not answer the last ping, ping the rest. */
function keepWsAlive(wss: import('ws').WebSocketServer, interval: number): void {
  const alive = new Map<import('ws').WebSocket, boolean>();
  wss.on('connection', (ws) => {
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    ws.on('close', () => alive.delete(ws));
  });
  setInterval(() => {
    for (const [ws, answered] of alive) {
      if (!answered) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, interval).unref();
}

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
if (impl === 'ws') await startWs(false);
else if (impl === 'ws-bufferutil') await startWs(true);
else if (impl === 'wskit') await startWskit(false);
else if (impl === 'wskit-cb') await startWskitCallbacks();
else if (impl === 'wskit-metrics') await startWskit(true);
else if (impl === 'node-floor') ready((await startFloor(host, port)).address());
else {
  process.stderr.write(`unknown server ${impl}\n`);
  process.exit(2);
}
