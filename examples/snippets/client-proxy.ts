import { connect, InvalidProxyStatus, serve } from 'wskit';

const server = await serve(async (ws) => {
  for await (const message of ws) await ws.send(message);
}, { port: 8765 });
const proxy = process.env.PROXY_URL ?? 'http://user:secret@proxy.internal:3128';

const ws = await connect('ws://127.0.0.1:8765', { proxy }); // CONNECT, with Basic auth from the URL
await ws.send('through the tunnel');
console.log(await ws.recv()); // through the tunnel
const fromEnvironment = await connect('ws://127.0.0.1:8765', { proxy: true }); // http_proxy for ws://
console.log(fromEnvironment.readyState); // 1 (open)
await connect('ws://127.0.0.1:8765', { proxy: proxy.replace(/:[^:@]*@/, ':wrong@') }).catch((error) => {
  if (error instanceof InvalidProxyStatus) console.log(error.response.status); // 407 from most proxies, 401 from tinyproxy
});
await server.close();
