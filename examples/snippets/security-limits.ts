import { connect, serve } from 'wskit';

const server = await serve(async (ws) => {
  await ws.closed;
}, {
  port: 8765,
  maxConnections: 50_000,
  maxConnectionsPerIp: 20,
  connectionRate: { perIp: 10, intervalMs: 60_000 }, // new connections per address per minute
  maxMessageSize: 64 * 1024, // the smallest your protocol allows
  maxPendingHandshakes: 256,
});

// Ten new connections from one address within a minute are admitted, the eleventh gets HTTP 429.
const results = await Promise.allSettled(Array.from({ length: 11 }, () => connect('ws://127.0.0.1:8765')));
console.log(results.filter((r) => r.status === 'fulfilled').length, String(results.find((r) => r.status === 'rejected')?.reason));
// 10 InvalidStatus: server rejected WebSocket connection: HTTP 429
console.log(server.refused); // { pending: 0, pendingPerIp: 0, total: 0, perIp: 0, rate: 1 }
await server.close();
