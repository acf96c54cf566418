// Sharing a port with a plain Node http server: GET / is HTTP, upgrades on /ws are WebSocket.
//   node --import tsx examples/attach-http.ts
import http from 'node:http';
import { attach } from 'wskit';

const httpServer = http.createServer((request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/plain' });
  response.end('plain HTTP here; WebSocket on /ws\n');
});
attach(
  httpServer,
  async (ws) => {
    for await (const message of ws) await ws.send(`ws: ${message}`);
  },
  {
    processRequest: (request) => (request.path === '/ws' ? undefined : { status: 404, body: 'WebSocket lives on /ws\n' }),
  },
);
httpServer.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  const { port } = httpServer.address() as { port: number };
  console.log(`Listening on http://127.0.0.1:${port} (WebSocket: ws://127.0.0.1:${port}/ws)`);
});
