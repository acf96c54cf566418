import http from 'node:http';
import path from 'node:path';
import { parseOptions, parsePort, untilSignal } from './args.js';
import { allowedHostNames, HOST_REFUSED, hostAllowed, listen, securityHeaders, sendText, serveStatic, WEB_ROOT } from './static.js';

/** One line for `wskit --help`. */
export const summary = 'serve a WebSocket test console page (text, JSON, binary; log, saved messages)';

/** `wskit console --help`. */
export const help = `Usage: wskit console [--port P] [--host H] [--allow-host NAME] [--url WS_URL]

Serves a single-page WebSocket console over http:// and prints its address:
open it in a browser to connect to any ws:// or wss:// server, send text,
JSON (validated) or binary (hex), keep saved messages, and read a log with
time, direction, size and content (JSON pretty-printed and collapsible).

The page is plain http:// on purpose: a page served over https:// may not
open ws:// connections (mixed content), which the console explains if you
host it elsewhere.

Options:
  -p, --port P     port to listen on (default 8766; 0 picks a free port)
      --host H     interface to listen on (default 127.0.0.1)
      --allow-host NAME
                   also answer requests for this host name (repeatable);
                   IP addresses, localhost and *.localhost always work, any
                   other name is refused (403) against DNS rebinding
      --url URL    prefill the URL field (e.g. ws://127.0.0.1:8765)

Examples:
  wskit console
  wskit echo & wskit console --url ws://127.0.0.1:8765
`;

/** Creates the console's HTTP server (not yet listening); requests for host names other than `allowedHosts` (and IPs, localhost) get 403. */
export function createConsoleServer(allowedHosts: ReadonlySet<string> = new Set()): http.Server {
  const root = path.join(WEB_ROOT, 'console');
  const headers = securityHeaders("'self' ws: wss:");
  return http.createServer((req, res) => {
    if (!hostAllowed(req.headers.host, allowedHosts)) return sendText(res, 403, HOST_REFUSED);
    serveStatic(req, res, [['/', root]], headers)
      .then((served) => served || sendText(res, 404, 'not found\n'))
      .catch(() => sendText(res, 500, 'internal error\n'));
  });
}

/** Serves the console until a signal arrives. */
export async function run(args: string[]): Promise<number> {
  const { values } = parseOptions(args, {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    'allow-host': { type: 'string', multiple: true },
    url: { type: 'string' },
  });
  const server = createConsoleServer(allowedHostNames(values.host, values['allow-host']));
  const base = await listen(server, parsePort(values.port, 8766), values.host ?? '127.0.0.1');
  const page = values.url ? `${base}/?url=${encodeURIComponent(values.url)}` : `${base}/`;
  process.stdout.write(`Console at ${page}\n`);
  await untilSignal();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  return 0;
}
