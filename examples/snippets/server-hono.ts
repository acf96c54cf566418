// Hono on Node: @hono/node-server's serve() returns the Node server.
import { once } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import { serve as serveHttp } from '@hono/node-server';
import { Hono } from 'hono';
import { attach, connect } from 'wskit';

const app = new Hono();
app.get('/health', (c) => c.json({ ok: true }));
const httpServer = serveHttp({ fetch: app.fetch, port: 3000, hostname: '127.0.0.1' }) as HttpServer;
await once(httpServer, 'listening');
const server = attach(httpServer, async (ws) => {
  for await (const message of ws) await ws.send(message);
});

console.log(await (await fetch('http://127.0.0.1:3000/health')).text()); // {"ok":true}
const ws = await connect('ws://127.0.0.1:3000/');
await ws.send('hello hono');
console.log(await ws.recv()); // hello hono
await server.close();
httpServer.close();
