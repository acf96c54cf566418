// Express and wskit on one port: Express answers HTTP routes, wskit takes the upgrades.
//   node --import tsx examples/attach-express.ts
import express from 'express';
import { attach } from 'wskit';

const app = express();
app.get('/health', (_request, response) => void response.json({ ok: true }));

const httpServer = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = httpServer.address() as { port: number };
  console.log(`Listening on http://127.0.0.1:${port} (WebSocket: ws://127.0.0.1:${port}/chat)`);
});
attach(httpServer, async (ws) => {
  for await (const message of ws) await ws.send(`express+wskit: ${message}`);
});
