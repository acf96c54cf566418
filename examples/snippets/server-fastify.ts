// Fastify: app.server is its http.Server.
import Fastify from 'fastify';
import { attach, connect } from 'wskit';

const app = Fastify();
app.get('/health', async () => ({ ok: true }));
const server = attach(app.server, async (ws) => {
  for await (const message of ws) await ws.send(message);
});
await app.listen({ port: 3000, host: '127.0.0.1' });

console.log(await (await fetch('http://127.0.0.1:3000/health')).text()); // {"ok":true}
const ws = await connect('ws://127.0.0.1:3000/');
await ws.send('hello fastify');
console.log(await ws.recv()); // hello fastify
await server.close();
await app.close();
