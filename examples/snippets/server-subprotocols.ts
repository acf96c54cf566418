import { connect, serve } from 'wskit';

const server = await serve(async (ws) => {
  await ws.send(ws.subprotocol === 'chat.v2' ? 'v2 it is' : `v1 then (${ws.subprotocol})`);
}, { port: 8765, subprotocols: ['chat.v2', 'chat.v1'] });

// The server's preference wins among what the client offers.
const ws = await connect('ws://localhost:8765', { subprotocols: ['chat.v1', 'chat.v2'] });
console.log(ws.subprotocol, await ws.recv()); // chat.v2 v2 it is
const old = await connect('ws://localhost:8765', { subprotocols: ['chat.v1'] });
console.log(old.subprotocol, await old.recv()); // chat.v1 v1 then (chat.v1)
await server.close();
