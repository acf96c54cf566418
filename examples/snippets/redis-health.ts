import { redisBackplane, serve } from 'wskit';

const backplane = redisBackplane({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
const server = await serve(async (ws) => {
  for await (const message of ws) ws.publish('chat', message);
}, {
  port: 8765,
  backplane,
  processRequest: (request) =>
    request.path === '/healthz' ? { status: backplane.ready ? 200 : 503, body: `dropped ${backplane.dropped}\n` } : undefined,
});
const response = await fetch('http://127.0.0.1:8765/healthz');
console.log(response.status, (await response.text()).trim()); // 200 dropped 0
await server.close();
