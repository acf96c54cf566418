import { serve, connect } from 'wskit';

// A server: the handler runs once per connection; when it returns, the connection closes.
const server = await serve(async (ws) => {
  for await (const message of ws) await ws.send(`echo: ${message}`);
}, { port: 8765 });

// A client.
const ws = await connect('ws://localhost:8765');
await ws.send('hello');
console.log(await ws.recv()); // echo: hello
await ws.close();
await server.close();
