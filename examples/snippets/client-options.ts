import { connect, serve } from 'wskit';

// A server that tells what it saw of the handshake.
const server = await serve(async (ws) => {
  const { headers, path, query } = ws.request!;
  await ws.send(`${path} symbol=${query.get('symbol')} ${headers.get('authorization')} origin=${headers.get('origin')}`);
}, { port: 8765, subprotocols: ['v2.stream'] });

const ws = await connect('ws://127.0.0.1:8765/stream?symbol=ABC', {
  headers: { Authorization: `Bearer ${process.env.API_TOKEN}` },
  subprotocols: ['v2.stream', 'v1.stream'],
  origin: 'https://app.example.com',
  openTimeout: 5_000,
});
console.log(ws.subprotocol, ws.extensions); // v2.stream permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12
console.log(await ws.recv()); // /stream symbol=ABC Bearer ... origin=https://app.example.com
await server.close();
