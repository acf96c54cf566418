import { broadcast, connect, router, serve } from 'wskit';

const routes = router({
  '/light/{status}': (ws) => ws.send(`light is ${ws.params.status}`),
  '/rooms/{room}/chat': async (ws) => {
    ws.subscribe(ws.params.room);                       // left automatically on close
    for await (const msg of ws) ws.publish(ws.params.room, msg); // everyone in the room but the sender
  },
  '/items/{id:int}': (ws) => ws.send(`item ${ws.params.id}, format ${ws.query.get('format')}`),
});
// An unmatched path gets HTTP 404 in the handshake.
const server = await serve(routes.handler, { route: routes, host: '127.0.0.1', port: 8765 });

const light = await connect('ws://127.0.0.1:8765/light/on');
console.log(await light.recv());         // light is on
const alice = await connect('ws://127.0.0.1:8765/rooms/lobby/chat');
const bob = await connect('ws://127.0.0.1:8765/rooms/lobby/chat');
await alice.send('hi all');
console.log(await bob.recv());           // hi all (alice, the sender, does not get it)
console.log(server.publish('lobby', 'hello')); // every subscriber: { sent: 2, skipped: 0, closed: 0 }
console.log(server.subscribers('lobby')); // 2: local subscribers; a topic disappears with its last subscriber
broadcast(server.connections, 'tick');   // one frame encoded once, written to every open connection
console.log(await alice.recv(), await alice.recv(), await bob.recv(), await bob.recv()); // hello tick hello tick
await server.close();
