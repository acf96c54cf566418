import { redisBackplane, router, serve } from 'wskit';

const routes = router({
  '/ws/rooms/{room}': async (ws) => {
    const room = `room:${ws.params.room}`;
    ws.subscribe(room);
    for await (const message of ws) ws.publish(room, message); // reaches the room on every process
  },
});
const server = await serve(routes.handler, {
  host: '127.0.0.1',
  port: Number(process.env.PORT ?? 8001),
  route: routes,
  backplane: redisBackplane({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }),
});
process.once('SIGTERM', () => void server.close(1012, 'restarting').then(() => process.exit(0)));
