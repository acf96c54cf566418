import { connect, serve } from 'wskit';

const server = await serve(async (ws) => {
  ws.data = { joinedAt: Date.now() };  // a slot for your own per-connection state
  await ws.send('hello');
  const info = await ws.closed;        // { code, reason, wasClean }
  console.log(`closed with ${info.code}`);
}, { port: 8765 });

const ws = await connect('ws://localhost:8765');
console.log(await ws.recv()); // hello
await ws.close(4000, 'done'); // the handler prints: closed with 4000
await server.close();
