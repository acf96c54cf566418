import { connect, PreparedMessage, serve, ZlibLimiter, type Connection } from 'wskit';

const limiter = new ZlibLimiter();
const players = new Set<Connection>();
const server = await serve(async (ws) => {
  players.add(ws);
  await ws.closed;
  players.delete(ws);
}, { port: 8765, compression: { limiter } });
const clients = await Promise.all([1, 2, 3].map(() => connect('ws://127.0.0.1:8765')));
while (players.size < 3) await new Promise((resolve) => setTimeout(resolve, 10));

const state = { tick: 1, board: 'x'.repeat(1000) };
const message = new PreparedMessage(JSON.stringify(state)); // one frame; one compression per shared compressor
for (const ws of players) if (ws.bufferedAmount < 256 * 1024) void ws.sendPrepared(message);

for (const client of clients) console.log(JSON.parse(String(await client.recv())).tick, client.extensions.split(';')[1]?.trim());
console.log('zlib calls:', limiter.completed); // 1 for the 3 connections (clients send nothing)
for (const client of clients) await client.close();
await server.close();
