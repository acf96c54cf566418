import { connect, serve } from 'wskit';

const server = await serve({
  open: (ws) => ws.sendNow('hello'),
  message: (ws, data) => ws.sendNow(data), // text as a string, binary as a Buffer
  close: (_ws, code, reason) => console.log(`closed ${code} ${reason}`),
}, { port: 8765 });

const ws = await connect('ws://localhost:8765');
console.log(await ws.recv()); // hello
await ws.send('echo me');
console.log(await ws.recv()); // echo me
await ws.close(4000, 'done');
await server.close();
