import express from 'express';
import { attach, connect } from 'wskit';

const app = express();
const httpServer = app.listen(8765);
const server = attach(httpServer, async (ws) => {
  for await (const message of ws) await ws.send(message);
}, { metrics: true });
app.use(server.metricsHandler); // GET /metrics; other paths go on to the next middleware
app.get('/', (_request, response) => void response.send('the app'));

const ws = await connect('ws://localhost:8765/');
const text = await (await fetch('http://localhost:8765/metrics')).text();
console.log(text.match(/^wskit_connections .*$/m)?.[0]); // wskit_connections 1
console.log(await (await fetch('http://localhost:8765/')).text()); // the app
await ws.close();
await server.close();
httpServer.close();
