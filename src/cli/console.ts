import http from 'node:http';
import path from 'node:path';
import { parseOptions, parsePort, untilSignal } from './args.js';
import { listen, securityHeaders, sendText, serveStatic, WEB_ROOT } from './static.js';

/** One line for `wskit --help`. */
export const summary = 'serve a WebSocket test console page (text, JSON, binary; log, saved messages)';

/** `wskit console --help`. */
export const help = `Usage: wskit console [--port P] [--host H] [--url WS_URL]

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
      --url URL    prefill the URL field (e.g. ws://127.0.0.1:8765)

Examples:
  wskit console
  wskit echo & wskit console --url ws://127.0.0.1:8765
`;

/** Creates the console's HTTP server (not yet listening). */
export function createConsoleServer(): http.Server {
  const root = path.join(WEB_ROOT, 'console');
  const headers = securityHeaders("'self' ws: wss:");
  return http.createServer((req, res) => {
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
    url: { type: 'string' },
  });
  const server = createConsoleServer();
  const base = await listen(server, parsePort(values.port, 8766), values.host ?? '127.0.0.1');
  const page = values.url ? `${base}/?url=${encodeURIComponent(values.url)}` : `${base}/`;
  process.stdout.write(`Console at ${page}\n`);
  await untilSignal();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  return 0;
}
