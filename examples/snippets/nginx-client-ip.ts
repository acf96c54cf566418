import { connect, serve, type RequestInfo } from 'wskit';

const PROXIES = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const clientIp = (request: RequestInfo): string | undefined =>
  request.remoteAddress !== undefined && PROXIES.has(request.remoteAddress)
    ? (request.headers.get('x-real-ip') ?? request.remoteAddress)
    : request.remoteAddress;

const server = await serve(async (ws) => {
  const ip = ws.request ? clientIp(ws.request) : undefined;
  console.log(`connection from ${ip}`);
  for await (const message of ws) await ws.send(message);
}, { host: '127.0.0.1', port: Number(process.env.PORT ?? 8001) });

// What nginx sends for a client at 203.0.113.7 (from 127.0.0.1, with X-Real-IP: $remote_addr):
const ws = await connect('ws://127.0.0.1:8001/ws/', { headers: { 'X-Real-IP': '203.0.113.7' } }); // connection from 203.0.113.7
await ws.close();
await server.close();
