import { connect, ConnectionClosedError, ReconnectingClient, serve } from 'wskit';

// A server that greets each connection; it sends the first one away with 1012 (Service Restart), then echoes.
let visits = 0;
const server = await serve(async (ws) => {
  visits++;
  await ws.send(`welcome #${visits}`);
  if (visits === 1) {
    await ws.close(1012, 'restarting');
    return;
  }
  for await (const message of ws) await ws.send(`echo: ${message}`);
}, { port: 8765 });

// Python websockets style: a fresh connection after each drop.
reconnecting: for await (const ws of connect('ws://127.0.0.1:8765', { reconnect: true })) {
  try {
    for await (const message of ws) {
      console.log(message);
      if (message === 'welcome #2') break reconnecting; // leaving the loop closes the connection
    }
  } catch (error) {
    // The loop reconnects with backoff (at once after a 1012).
    console.log('dropped:', error instanceof ConnectionClosedError ? error.closeCode : error);
  }
}

// Callback style (websocket-client's WebSocketApp, partysocket): sends made while offline are queued.
const client = new ReconnectingClient('ws://127.0.0.1:8765', {
  onMessage: (message) => {
    console.log(message);
    if (message === 'echo: hello') void client.close(); // stops reconnecting
  },
  onReconnect: (attempt, delay) => console.log(`reconnect #${attempt} in ${delay} ms`),
});
client.send('hello'); // still connecting: queued, and sent in order once connected
await client.closed; // close() discards what is still queued (reported to onError): close once answered, as here
await server.close();
