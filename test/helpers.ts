/** Shared test utilities: real servers on loopback, and external tools that may be missing. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { serve, type Handler, type Server, type ServerHandler, type ServerOptions } from '../src/index.js';

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

/** Skip reason when Python's h2 package (python3-h2) is missing, else false. */
export const skipWithoutPythonH2: string | false = probe(() => execFileSync(SYSTEM_PYTHON, ['-c', 'import h2'], { stdio: 'ignore' }))
  ? false
  : 'python3-h2 is not installed (apt-get install python3-h2)';

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

/** A self-signed certificate for `localhost` and 127.0.0.1, made by `openssl` in a temporary directory. */
export interface TestCertificate {
  /** The directory holding cert.pem and key.pem. */
  dir: string;
  cert: Buffer;
  key: Buffer;
  /** Removes the directory. */
  remove(): void;
}

/** Makes a {@link TestCertificate} (RSA 2048, valid one day). */
export function makeCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'wskit-tls-'));
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return {
    dir,
    cert: readFileSync(join(dir, 'cert.pem')),
    key: readFileSync(join(dir, 'key.pem')),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * A home directory whose NSS database (what Chromium on Linux trusts, `~/.pki/nssdb`) trusts `certificate` as a
 * CA, made with `certutil` (libnss3-tools): launch Chromium with `env: { HOME }` to trust the test server properly
 * instead of ignoring certificate errors. Removed with the certificate's directory.
 */
export function chromiumHomeTrusting(certificate: TestCertificate): string {
  const home = join(certificate.dir, 'home');
  const db = `sql:${join(home, '.pki', 'nssdb')}`;
  mkdirSync(join(home, '.pki', 'nssdb'), { recursive: true });
  execFileSync('certutil', ['-d', db, '-N', '--empty-password'], { stdio: 'ignore' });
  execFileSync('certutil', ['-d', db, '-A', '-t', 'C,,', '-n', 'wskit-test', '-i', join(certificate.dir, 'cert.pem')], { stdio: 'ignore' });
  return home;
}

/** Skip reason when certutil (libnss3-tools) is missing. */
export const skipWithoutCertutil: string | false = existsSync('/usr/bin/certutil')
  ? false
  : 'certutil is not installed (apt-get install libnss3-tools)';

/** Starts a wskit server on 127.0.0.1 with a free port. */
export function startServer(handler: ServerHandler, options: ServerOptions = {}): Promise<Server> {
  return serve(handler, { host: '127.0.0.1', port: 0, logger: null, ...options });
}

/** An echo handler. */
export const echo: Handler = async (ws) => {
  for await (const message of ws) await ws.send(message);
};

/**
 * A free TCP port on 127.0.0.1 for a server the test will (re)start on it. It is taken below the kernel's ephemeral
 * range: a port from that range can be handed to any outgoing connection (another test's, or a reconnecting client
 * connecting to itself) in the moment between a server's death and its restart, and the restart then fails with
 * EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between 10000 and ${low}`);
}

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (low > 11_000) return low;
  } catch {
    // not Linux: the IANA range starts at 49152
  }
  return 32_768;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
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

/** Polls `condition` every 10 ms until it holds; rejects with `what` after `ms` (a deadline, not a sleep). */
export async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await delay(10);
  }
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
