import { once } from 'node:events';
import http from 'node:http';
import { connect, InvalidHandshake, Server } from 'wskit';

const chatServer = new Server(async (ws) => {
  for await (const message of ws) await ws.send(`chat: ${message}`);
});
const feedServer = new Server(async (ws) => {
  await ws.send('feed item 1');
}, { compression: false });
const httpServer = http.createServer();
httpServer.on('upgrade', (request, socket, head) => {
  if (request.url?.startsWith('/chat')) chatServer.handleUpgrade(request, socket, head);
  else if (request.url?.startsWith('/feed')) feedServer.handleUpgrade(request, socket, head);
  else socket.destroy();
});
httpServer.listen(8080, '127.0.0.1');
await once(httpServer, 'listening');

const chat = await connect('ws://127.0.0.1:8080/chat');
await chat.send('hi');
console.log(await chat.recv(), chat.extensions); // chat: hi permessage-deflate; ...
const feed = await connect('ws://127.0.0.1:8080/feed');
console.log(await feed.recv(), feed.extensions || '(no extension)'); // feed item 1 (no extension)
await connect('ws://127.0.0.1:8080/other').catch((error) => console.log(error instanceof InvalidHandshake ? error.code : error)); // WS_HANDSHAKE_EOF
await chatServer.close();
await feedServer.close();
httpServer.close();
