// One-to-one push: each line typed on this terminal is sent to the connected client.
//   node --import tsx examples/push-server.ts      then run print-client.ts and type lines here
import { createInterface } from 'node:readline';
import { serve, type Connection } from 'wskit';

let client = null as Connection | null;
const server = await serve(
  async (ws) => {
    client?.close(1000, 'another client connected').catch(() => undefined);
    client = ws;
    console.log(`client connected from ${ws.remoteAddress}`);
    await ws.closed;
    if (client === ws) client = null;
    console.log('client disconnected');
  },
  { host: '127.0.0.1', port: Number(process.env.PORT ?? 8765) },
);
console.log(`Listening on ${server.url}; type lines to push them`);

for await (const line of createInterface({ input: process.stdin })) {
  if (client === null) console.log('(no client connected)');
  else await client.send(line);
}
await server.close();
