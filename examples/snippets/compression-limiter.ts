import { connect, serve, ZlibLimiter, type Handler } from 'wskit';

const chat: Handler = async (ws) => {
  for await (const message of ws) await ws.send(`chat: ${message}`);
};
const feed: Handler = async (ws) => {
  await ws.send('x'.repeat(10_000)); // compressed: over the 128-byte default threshold
};
const limiter = new ZlibLimiter(16);
const chatServer = await serve(chat, { port: 8001, compression: { limiter } });
const feedServer = await serve(feed, { port: 8002, compression: { limiter } });
console.log(limiter.running, limiter.pending); // operations in flight and waiting: 0 0

const clients = await Promise.all([connect('ws://127.0.0.1:8001'), connect('ws://127.0.0.1:8002')]);
await clients[0].send('hello '.repeat(100));
console.log((await clients[0].recv()).length, (await clients[1].recv()).length); // 606 10000
await chatServer.close();
await feedServer.close();
