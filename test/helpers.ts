/** Shared test utilities: real servers on loopback, and external tools that may be missing. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { serve, type Handler, type Server, type ServerOptions } from '../src/index.js';

/** Debian's python3 (python3-websockets lives in its dist-packages, not in pyenv's). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

function probe(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

/** Skip reason when Python websockets is missing, else false (use as `{ skip: ... }`). */
export const skipWithoutPythonWebsockets: string | false = probe(() =>
  execFileSync(SYSTEM_PYTHON, ['-c', 'import websockets'], { stdio: 'ignore' }),
)
  ? false
  : 'python3-websockets is not installed (apt-get install python3-websockets)';

/** Skip reason when redis-server is missing. */
export const skipWithoutRedis: string | false = existsSync('/usr/bin/redis-server')
  ? false
  : 'redis-server is not installed (apt-get install redis-server)';

/** Path of Debian's Chromium. */
export const CHROMIUM = '/usr/bin/chromium';
/** Skip reason when Chromium is missing. */
export const skipWithoutChromium: string | false = existsSync(CHROMIUM)
  ? false
  : 'chromium is not installed (apt-get install chromium)';

/** Chromium flags for tests (see DEVELOPERS.md). */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/** Skip reason when openssl is missing. */
export const skipWithoutOpenssl: string | false = probe(() => execFileSync('openssl', ['version'], { stdio: 'ignore' }))
  ? false
  : 'openssl is not installed';

/** Starts a wskit server on 127.0.0.1 with a free port. */
export function startServer(handler: Handler, options: ServerOptions = {}): Promise<Server> {
  return serve(handler, { host: '127.0.0.1', port: 0, logger: null, ...options });
}

/** An echo handler. */
export const echo: Handler = async (ws) => {
  for await (const message of ws) await ws.send(message);
};

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves after `ms` milliseconds. */
export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects if `promise` does not settle within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

/** Opens a raw TCP connection and resolves with everything received until the peer closes. */
export function rawExchange(port: number, data: Buffer | string, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('raw exchange timed out'));
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.write(data);
  });
}
