// Echo server: every message comes back unchanged.
//   node --import tsx examples/echo-server.ts        (PORT=8765 by default)
import { serve } from 'wskit';

const server = await serve(
  async (ws) => {
    for await (const message of ws) await ws.send(message);
  },
  { host: '127.0.0.1', port: Number(process.env.PORT ?? 8765) },
);
console.log(`Listening on ${server.url}`);
process.on('SIGINT', () => void server.close().then(() => process.exit(0)));
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
