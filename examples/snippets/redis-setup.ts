import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { connect, redisBackplane, serve, type Handler } from 'wskit';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const handler: Handler = async (ws) => {
  ws.subscribe('room:lobby');
  await ws.closed;
};
// Two nodes, as two processes would run them (PORT=8001 and PORT=8002); here in one program.
const [node1, node2] = await Promise.all([8001, 8002].map((port) => serve(handler, { port, backplane: redisBackplane({ url }) })));

const listener = await connect('ws://127.0.0.1:8002'); // subscribed on node 2
// Node 2's SUBSCRIBE reaches Redis a round trip after its first local subscriber: wait for it (PUBSUB NUMSUB).
const redis = new Redis(url);
for (let i = 0; i < 500 && (await redis.pubsub('NUMSUB', 'wskit:room:lobby'))[1] === 0; i++) await delay(10);
redis.disconnect();

// In any handler, on any process:
console.log(node1.publish('room:lobby', 'hello everyone')); // { sent: 0, skipped: 0, closed: 0 }: no local subscriber
console.log(await listener.recv()); // hello everyone: through Redis
await node1.close();
await node2.close();
