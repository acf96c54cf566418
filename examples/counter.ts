/**
 * A counter shared by every browser: open http://127.0.0.1:8765/ in two
 * windows, press + or −, and both show the same value and "N users online".
 * The page (counter.html) and the WebSocket share one port (`attach`).
 *
 * Events, as JSON: server → client `{type:'state', value}` and
 * `{type:'users', count}`; client → server `{action:'plus'}` or `{action:'minus'}`.
 *
 *   node --import tsx examples/counter.ts     (PORT=0 picks a free port)
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { attach } from 'wskit';

const page = readFileSync(new URL('./counter.html', import.meta.url));
let value = 0;
let users = 0;

const http = createServer((request, response) => {
  if (request.url === '/' || request.url === '/counter.html') {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page);
  } else {
    response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  }
});

const server = attach(http, async (ws) => {
  ws.subscribe('counter');
  users++;
  await ws.send(JSON.stringify({ type: 'state', value }));
  server.publish('counter', JSON.stringify({ type: 'users', count: users }));
  try {
    for await (const message of ws) {
      let event: { action?: unknown };
      try {
        event = JSON.parse(String(message)) as { action?: unknown };
      } catch {
        continue;
      }
      if (event.action === 'plus') value++;
      else if (event.action === 'minus') value--;
      else continue;
      server.publish('counter', JSON.stringify({ type: 'state', value }));
    }
  } finally {
    users--;
    ws.unsubscribe('counter');
    server.publish('counter', JSON.stringify({ type: 'users', count: users }));
  }
});

const host = process.env.HOST ?? '127.0.0.1';
http.listen(Number(process.env.PORT ?? 8765), host, () => {
  const { port } = http.address() as { port: number };
  console.log(`counter on http://${host}:${port}/`);
});
const stop = (): void => {
  http.close();
  void server.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
