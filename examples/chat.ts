/**
 * A chat room per path: connect to ws://127.0.0.1:8765/rooms/lobby?name=alice.
 * Everyone in the room sees "alice: hello" and the join/leave notices.
 *
 *   node --import tsx examples/chat.ts        (PORT=0 picks a free port)
 */
import { router, serve, type Connection } from 'wskit';

const chat = async (ws: Connection): Promise<void> => {
  const room = `room:${ws.params.room}`;
  const name = ws.query.get('name') || `guest-${Math.floor(Math.random() * 1000)}`;
  ws.subscribe(room);
  await ws.send(`* welcome to ${ws.params.room}, ${name} (${server.subscribers(room)} here)`);
  ws.publish(room, `* ${name} joined`);
  try {
    for await (const message of ws) {
      if (typeof message === 'string') server.publish(room, `${name}: ${message}`);
    }
  } finally {
    ws.unsubscribe(room);
    server.publish(room, `* ${name} left`);
  }
};

const routes = router({ '/rooms/{room}': chat });
const server = await serve(routes.handler, {
  host: process.env.HOST ?? '127.0.0.1',
  port: Number(process.env.PORT ?? 8765),
  route: routes,
});
console.log(`chat on ${server.url}/rooms/{room}?name=you`);
process.on('SIGINT', () => void server.close().then(() => process.exit(0)));
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
