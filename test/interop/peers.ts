/**
 * The peers the shared behaviour suite runs against. Each pairing gives the
 * suite a wskit {@link Connection} (client or server side) whose other end is
 * an echo peer: wskit itself, the `ws` npm package, or Python `websockets`.
 *
 * Every peer echoes messages with their type and obeys the same text commands
 * (see py_echo_peer.py): `__close__ CODE REASON`, `__ping__`, `__frag__`,
 * `__fragbin__`. Each reports the close code and reason it received.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { connect, type Connection, type Server, type ServerOptions } from '../../src/index.js';
import { SYSTEM_PYTHON, skipWithoutPythonWebsockets, startServer } from '../helpers.js';

/** What the peer saw when the connection ended. */
export interface PeerClose {
  code: number;
  reason: string;
}

/** One connection under test. */
export interface Session {
  /** The wskit end. */
  ws: Connection;
  /** The close code and reason the peer received. */
  peerClosed: Promise<PeerClose>;
}

/** A wskit end paired with one kind of peer. */
export interface Pairing {
  name: string;
  skip: string | false;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  open(): Promise<Session>;
}

const here = fileURLToPath(new URL('.', import.meta.url));

// ---- command handling of the Node peers --------------------------------------

function wsLibPeer(socket: WebSocket): Promise<PeerClose> {
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      const text = data.toString('utf8');
      if (text.startsWith('__close__ ')) {
        const [, code, ...reason] = text.split(' ');
        socket.close(Number(code), reason.join(' '));
        return;
      }
      if (text === '__ping__') {
        socket.once('pong', () => socket.send('__pong__'));
        socket.ping();
        return;
      }
      if (text === '__frag__') {
        socket.send('frag', { fin: false });
        socket.send('mented', { fin: false });
        socket.send(' text', { fin: true });
        return;
      }
      if (text === '__fragbin__') {
        const bytes = Buffer.from(Array.from({ length: 30 }, (_, i) => i));
        socket.send(bytes.subarray(0, 10), { binary: true, fin: false });
        socket.send(bytes.subarray(10, 20), { binary: true, fin: false });
        socket.send(bytes.subarray(20), { binary: true, fin: true });
        return;
      }
    }
    socket.send(data, { binary: isBinary });
  });
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

async function wskitPeer(ws: Connection): Promise<PeerClose> {
  try {
    for await (const message of ws) {
      if (typeof message === 'string' && message.startsWith('__')) {
        if (message.startsWith('__close__ ')) {
          const [, code, ...reason] = message.split(' ');
          await ws.close(Number(code), reason.join(' '));
          continue;
        }
        if (message === '__ping__') {
          await ws.ping();
          await ws.send('__pong__');
          continue;
        }
        if (message === '__frag__') {
          await ws.send(['frag', 'mented', ' text']);
          continue;
        }
        if (message === '__fragbin__') {
          const bytes = Buffer.from(Array.from({ length: 30 }, (_, i) => i));
          await ws.send([bytes.subarray(0, 10), bytes.subarray(10, 20), bytes.subarray(20)]);
          continue;
        }
      }
      await ws.send(message);
    }
  } catch {
    // closed with an error code: reported below
  }
  const info = await ws.closed;
  return { code: info.code, reason: info.reason };
}

// ---- wskit server side ---------------------------------------------------------

/** A wskit server that hands each connection to the test, kept open until the test closes it. */
class ConnectionInbox {
  private readonly arrived: Connection[] = [];
  private readonly waiters: Array<(ws: Connection) => void> = [];
  server!: Server;

  async start(options: ServerOptions = {}): Promise<void> {
    this.server = await startServer(async (ws) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter(ws);
      else this.arrived.push(ws);
      await ws.closed;
    }, options);
  }

  next(): Promise<Connection> {
    const ws = this.arrived.shift();
    if (ws) return Promise.resolve(ws);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  get url(): string {
    return this.server.url;
  }
}

function wskitServerWith(
  name: string,
  skip: string | false,
  client: (url: string) => Promise<PeerClose>,
  options: ServerOptions = {},
): Pairing {
  const inbox = new ConnectionInbox();
  let count = 0;
  return {
    name,
    skip,
    setup: () => inbox.start(options),
    teardown: () => inbox.server.close(),
    async open() {
      const serverSide = inbox.next();
      const peerClosed = client(`${inbox.url}/s${++count}`);
      peerClosed.catch(() => undefined);
      return { ws: await serverSide, peerClosed };
    },
  };
}

// ---- Python processes ----------------------------------------------------------

function jsonLines(child: ChildProcessWithoutNullStreams, onLine: (value: Record<string, unknown>) => void): void {
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim() !== '') onLine(JSON.parse(line) as Record<string, unknown>);
    }
  });
}

/** Runs the Python echo client against `url`; resolves with what it reports at the end. */
export function pythonClient(url: string, subprotocols: string[] = []): Promise<PeerClose & { subprotocol?: string | null }> {
  const child = spawn(SYSTEM_PYTHON, [`${here}py_echo_client.py`, url, subprotocols.join(',')]);
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`python client timed out; stderr: ${stderr}`));
    }, 20_000);
    jsonLines(child, (value) => {
      clearTimeout(timer);
      if (value.error !== undefined) reject(new Error(`python client failed: ${String(value.error)}`));
      else resolve(value as unknown as PeerClose & { subprotocol?: string | null });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`python client exited with ${code}; stderr: ${stderr}`));
    });
  });
}

/** The Python echo server, running until {@link stop}. */
export class PythonServer {
  port = 0;
  private child: ChildProcessWithoutNullStreams | null = null;
  private readonly closes = new Map<string, (close: PeerClose) => void>();
  private readonly reports = new Map<string, Record<string, unknown>>();

  async start(subprotocols: string[] = []): Promise<void> {
    const child = spawn(SYSTEM_PYTHON, [`${here}py_echo_server.py`, subprotocols.join(',')]);
    this.child = child;
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const ready = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`python server did not start; stderr: ${stderr}`)), 10_000);
      child.on('exit', (code) => reject(new Error(`python server exited with ${code}; stderr: ${stderr}`)));
      jsonLines(child, (value) => {
        if (typeof value.port === 'number') {
          clearTimeout(timer);
          resolve(value.port);
        } else if (value.event === 'closed') {
          const path = String(value.path);
          this.reports.set(path, value);
          this.closes.get(path)?.({ code: Number(value.code), reason: String(value.reason) });
        }
      });
    });
    this.port = await ready;
  }

  /** Resolves with the close the server saw on the connection to `path`. */
  closedAt(path: string): Promise<PeerClose> {
    return new Promise((resolve) => this.closes.set(path, resolve));
  }

  /** The full report of the connection to `path`, once closed. */
  report(path: string): Record<string, unknown> | undefined {
    return this.reports.get(path);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === null || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
}

// ---- the pairings --------------------------------------------------------------

export function pairings(): Pairing[] {
  const wsServer: { server: WebSocketServer | null; closes: Promise<PeerClose>[] } = { server: null, closes: [] };
  const python = new PythonServer();
  let pythonCount = 0;

  return [
    wskitServerWith('wskit server ↔ wskit client', false, async (url) => wskitPeer(await connect(url))),
    // Without permessage-deflate: the uncompressed send and receive paths.
    wskitServerWith(
      'wskit server ↔ wskit client, no compression',
      false,
      async (url) => wskitPeer(await connect(url, { compression: false })),
      { compression: false },
    ),
    wskitServerWith('wskit server ↔ ws client, no compression', false, async (url) =>
      wsLibPeer(new WebSocket(url, { perMessageDeflate: false })),
    ),
    wskitServerWith('wskit server ↔ ws client', false, async (url) => {
      const socket = new WebSocket(url);
      const closed = wsLibPeer(socket);
      return closed;
    }),
    wskitServerWith('wskit server ↔ Python websockets client', skipWithoutPythonWebsockets, (url) => pythonClient(url)),
    {
      name: 'ws server ↔ wskit client',
      skip: false,
      async setup() {
        const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
        await once(server, 'listening');
        server.on('connection', (socket) => wsServer.closes.push(wsLibPeer(socket)));
        wsServer.server = server;
      },
      async teardown() {
        const server = wsServer.server!;
        for (const client of server.clients) client.terminate();
        await new Promise((resolve) => server.close(resolve));
      },
      async open() {
        const { port } = wsServer.server!.address() as { port: number };
        const before = wsServer.closes.length;
        const ws = await connect(`ws://127.0.0.1:${port}/`);
        // The server's 'connection' event fires before it writes the 101, so the peer is known by now.
        const peerClosed = wsServer.closes[before]!;
        return { ws, peerClosed };
      },
    },
    {
      name: 'Python websockets server ↔ wskit client',
      skip: skipWithoutPythonWebsockets,
      setup: () => python.start(),
      teardown: () => python.stop(),
      async open() {
        const path = `/s${++pythonCount}`;
        const peerClosed = python.closedAt(path);
        const ws = await connect(`ws://127.0.0.1:${python.port}${path}`);
        return { ws, peerClosed };
      },
    },
  ];
}
