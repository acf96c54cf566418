import { ReconnectingClient, serve } from 'wskit';

const server = await serve(async (ws) => {
  for await (const message of ws) await ws.send(`echo: ${message}`);
}, { port: 8765 });

const client = new ReconnectingClient('ws://127.0.0.1:8765', {
  onOpen: (ws) => console.log('connected', ws.subprotocol),
  onMessage: (message) => {
    console.log(message);
    if (message === 'echo: hello') void client.close(); // stops reconnecting
  },
  onClose: (info) => console.log(`closed ${info.code}`),
  onError: (error) => console.error(error),
  onReconnect: (attempt, delay) => console.log(`reconnect #${attempt} in ${delay} ms`),
  reconnect: { maxDelay: 30_000 },
  queue: { maxMessages: 100, overflow: 'drop-oldest' },
});
client.send('hello'); // sent now, or queued and flushed in order after (re)connecting
await client.closed; // resolves once the client stopped; close() discards what is still queued
await server.close();
