import { connect, serve, type Handler } from 'wskit';

const echo: Handler = async (ws) => {
  for await (const message of ws) await ws.send(message);
};
const server = await serve(echo, { port: 8765 });                     // on by default
const ws = await connect('ws://127.0.0.1:8765');                      // offered by default
console.log(ws.extensions); // permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12
const plain = await connect('ws://127.0.0.1:8765', { compression: false }); // don't offer it
console.log(JSON.stringify(plain.extensions)); // ""
await server.close();

const refusing = await serve(echo, { port: 8765, compression: false }); // refuse the extension
const offered = await connect('ws://127.0.0.1:8765');
console.log(JSON.stringify(offered.extensions)); // "": declined, the connection goes on uncompressed
await refusing.close();
