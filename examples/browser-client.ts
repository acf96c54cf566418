/**
 * Serves browser-client.html, the browser build of wskit (`wskit/browser`,
 * plain ES modules, no bundler) and an echo WebSocket, all on one port.
 * Open http://127.0.0.1:8765/, then send messages and watch the connection
 * state change.
 *
 *   npx tsx examples/browser-client.ts      (PORT=0 picks a free port; run `npm run build` first)
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { attach } from 'wskit';

const page = readFileSync(new URL('./browser-client.html', import.meta.url));
// The directory holding browser/index.js and the modules it imports (../client/*.js, ../errors.js),
// wherever wskit is installed.
const built = dirname(dirname(fileURLToPath(import.meta.resolve('wskit/browser'))));

const http = createServer((request, response) => {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (path === '/') {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page);
    return;
  }
  const file = join(built, path.slice('/wskit/'.length));
  // Only the built modules: nothing outside that directory, and no other kind of file.
  if (!path.startsWith('/wskit/') || !file.startsWith(built + sep) || !file.endsWith('.js')) {
    response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    return;
  }
  readFile(file).then(
    (body) => response.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' }).end(body),
    () => response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n'),
  );
});

const server = attach(
  http,
  async (ws) => {
    for await (const message of ws) await ws.send(typeof message === 'string' ? `echo: ${message}` : message);
  },
  { processRequest: (request) => (request.path === '/echo' ? undefined : { status: 404, body: 'the WebSocket is on /echo\n' }) },
);

const host = process.env.HOST ?? '127.0.0.1';
http.listen(Number(process.env.PORT ?? 8765), host, () => {
  const { port } = http.address() as { port: number };
  console.log(`browser client on http://${host}:${port}/ (WebSocket: ws://${host}:${port}/echo)`);
});
const stop = (): void => {
  http.close();
  void server.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
