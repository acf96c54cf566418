/**
 * A light switch by path: ws://127.0.0.1:8765/light/on or /light/off answer
 * "light is on"/"light is off"; any other /light/{status} answers
 * "invalid params"; any other path is refused with HTTP 404 during the handshake.
 *
 *   node --import tsx examples/light-router.ts   (PORT=0 picks a free port)
 */
import { router, serve } from 'wskit';

let light: 'on' | 'off' = 'off';

const routes = router({
  '/light/{status}': async (ws) => {
    const status = ws.params.status;
    if (status !== 'on' && status !== 'off') {
      await ws.send('invalid params');
      await ws.close(1008, 'invalid params');
      return;
    }
    light = status;
    await ws.send(`light is ${light}`);
  },
});

const server = await serve(routes.handler, {
  host: process.env.HOST ?? '127.0.0.1',
  port: Number(process.env.PORT ?? 8765),
  route: routes,
});
console.log(`light router on ${server.url}/light/{on|off}`);
process.on('SIGINT', () => void server.close().then(() => process.exit(0)));
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
