/**
 * Serving the pages shipped in the package's `web/` directory (with the browser
 * libraries `npm run build` copies into `web/vendor/`) over node:http, with
 * safe defaults: no directory listing, no path traversal, `nosniff` and a
 * Content-Security-Policy.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type http from 'node:http';
import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's `web/` directory (src/cli and dist/cli are both two levels below the package root). */
export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** Headers every page response carries; `connect` is the CSP `connect-src` list. */
export function securityHeaders(connect: string): Record<string, string> {
  return {
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy':
      `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; ` +
      `connect-src ${connect}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`,
  };
}

/**
 * Answers a GET for `urlPath` from `mounts` (URL prefix → directory); `/` and
 * paths ending in `/` serve `index.html`. Resolves false when nothing matched
 * (the caller answers 404).
 */
export async function serveStatic(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  mounts: Array<[prefix: string, directory: string]>,
  headers: Record<string, string>,
): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  let urlPath: string;
  try {
    urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    return false;
  }
  if (urlPath.includes('\0')) return false;
  for (const [prefix, directory] of mounts) {
    if (!urlPath.startsWith(prefix)) continue;
    let relative = urlPath.slice(prefix.length);
    if (relative === '' || relative.endsWith('/')) relative += 'index.html';
    const root = path.resolve(directory);
    const file = path.resolve(root, '.' + path.posix.normalize('/' + relative));
    if (!file.startsWith(root + path.sep)) return false;
    const info = await stat(file).catch(() => null);
    if (info === null || !info.isFile()) continue;
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Length': String(info.size),
      'Cache-Control': 'no-cache',
      ...headers,
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
    return true;
  }
  return false;
}

/**
 * The host name of a Host header (`[::1]:8767` → `::1`, `LocalHost.:80` →
 * `localhost`), or null when there is none or it is malformed.
 */
function hostName(header: string | undefined): string | null {
  if (header === undefined || header === '') return null;
  let name = header.trim().toLowerCase();
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    if (end < 0 || (end + 1 < name.length && !/^:\d*$/.test(name.slice(end + 1)))) return null;
    name = name.slice(1, end);
    return isIP(name) === 6 ? name : null;
  }
  const colon = name.indexOf(':');
  if (colon >= 0) {
    if (!/^\d*$/.test(name.slice(colon + 1))) return null;
    name = name.slice(0, colon);
  }
  if (name.endsWith('.')) name = name.slice(0, -1);
  return /^[a-z0-9.-]+$/.test(name) ? name : null;
}

/**
 * Whether a request's Host header names this machine as the local pages
 * expect: an IP address, `localhost` or a `*.localhost` name, or one of
 * `allowed` (the `--host` name and `--allow-host` names). DNS rebinding points
 * a name the attacker owns at 127.0.0.1, so the victim's browser sends that
 * name as Host (and the same as Origin): an allow-list of names is what tells
 * it apart, as the ecosystem's dev servers do (Vite's allowedHosts,
 * webpack-dev-server's allowedHosts 'auto').
 */
export function hostAllowed(header: string | undefined, allowed: ReadonlySet<string> = new Set()): boolean {
  const name = hostName(header);
  if (name === null) return false;
  return isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || allowed.has(name);
}

/** The names `hostAllowed` accepts beyond loopback and IP addresses: `--host` when it is a name, and `--allow-host` values. */
export function allowedHostNames(listenHost: string | undefined, extra: readonly string[] = []): Set<string> {
  const names = new Set(extra.map((h) => h.trim().toLowerCase().replace(/\.$/, '')));
  if (listenHost !== undefined && isIP(listenHost) === 0) names.add(listenHost.toLowerCase().replace(/\.$/, ''));
  return names;
}

/** The answer to a request whose Host is not allowed (403, saying how to allow it). */
export const HOST_REFUSED = 'host not allowed: open this page as http://localhost:PORT or http://127.0.0.1:PORT, or start wskit with --allow-host NAME\n';

/** Sends a small plain-text error. */
export function sendText(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(text);
}

/** Listens on `host:port` and resolves with the base http:// URL. */
export function listen(server: http.Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') return resolve(String(address));
      const shown = address.address === '0.0.0.0' || address.address === '::' ? 'localhost' : address.address.includes(':') ? `[${address.address}]` : address.address;
      resolve(`http://${shown}:${address.port}`);
    });
  });
}
