import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, inProcessBackplane, InvalidState, router, type Connection, type Server } from '../../src/index.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/pubsub/backplane.js';
import { delay, startServer, within } from '../helpers.js';

/** Each client connects to /topics/{a,b,...}, is subscribed to those topics, and may send "publish:topic:text". */
async function topicServer(options = {}): Promise<Server> {
  const routes = router({
    '/topics/{list}': async (ws) => {
      for (const topic of ws.params.list!.split(',')) ws.subscribe(topic);
      await ws.send('subscribed');
      for await (const message of ws) {
        const [verb, topic, text] = String(message).split(':');
        if (verb === 'publish') ws.publish(topic!, text!);
        else if (verb === 'leave') ws.unsubscribe(topic!);
      }
    },
  });
  return startServer(routes.handler, { route: routes, ...options });
}

async function join(server: Server, topics: string): Promise<Connection> {
  const ws = await connect(`${server.url}/topics/${topics}`);
  assert.equal(await ws.recv(), 'subscribed');
  return ws;
}

const next = (ws: Connection) => within(ws.recv(), 2000, 'a message');

describe('topics', () => {
  it('server.publish reaches every subscriber of the topic and only them', async () => {
    const server = await topicServer();
    try {
      const a = await join(server, 'room1');
      const b = await join(server, 'room1,room2');
      const c = await join(server, 'room2');
      assert.equal(server.subscribers('room1'), 2);
      assert.equal(server.subscribers('room2'), 2);
      assert.deepEqual(server.publish('room1', 'hello'), { sent: 2, skipped: 0, closed: 0 });
      server.publish('room2', Buffer.from([0, 1, 2]));
      assert.equal(await next(a), 'hello');
      assert.equal(await next(b), 'hello');
      assert.deepEqual(await next(b), Buffer.from([0, 1, 2]));
      assert.deepEqual(await next(c), Buffer.from([0, 1, 2]));
      assert.equal(server.publish('nobody', 'x').sent, 0);
      await Promise.all([a.close(), b.close(), c.close()]);
    } finally {
      await server.close();
    }
  });

  it('ws.publish excludes the publisher (Bun-style)', async () => {
    const server = await topicServer();
    try {
      const a = await join(server, 'chat');
      const b = await join(server, 'chat');
      await a.send('publish:chat:from a');
      assert.equal(await next(b), 'from a');
      server.publish('chat', 'from server');
      assert.equal(await next(a), 'from server', 'a never got its own message');
      assert.equal(await next(b), 'from server');
      await Promise.all([a.close(), b.close()]);
    } finally {
      await server.close();
    }
  });

  it('drops a topic when its last subscriber unsubscribes or disconnects', async () => {
    const server = await topicServer();
    try {
      const a = await join(server, 't1,t2');
      const b = await join(server, 't2');
      assert.deepEqual([...server.hub.topics()].sort(), ['t1', 't2']);
      await a.send('leave:t1');
      while (server.subscribers('t1') !== 0) await delay(5);
      assert.deepEqual([...server.hub.topics()], ['t2']);
      const [serverSideA] = [...server.connections].filter((ws) => ws.isSubscribed('t2') && ws.topics.length === 1);
      assert.ok(serverSideA);
      a.terminate();
      b.terminate();
      while (server.hub.size !== 0) await delay(5);
      assert.equal(server.subscribers('t2'), 0);
    } finally {
      await server.close();
    }
  });

  it('handles thousands of topics and subscriptions', async () => {
    const server = await startServer(async (ws) => {
      for (let i = 0; i < 5000; i++) ws.subscribe(`topic-${i}`);
      await ws.send('ready');
      await ws.closed;
    });
    try {
      const clients = await Promise.all(Array.from({ length: 10 }, () => connect(server.url)));
      for (const ws of clients) assert.equal(await ws.recv(), 'ready');
      assert.equal(server.hub.size, 5000);
      assert.equal(server.subscribers('topic-4999'), 10);
      const start = performance.now();
      for (let i = 0; i < 5000; i++) server.publish(`topic-${i}`, `m${i}`);
      const publishMs = performance.now() - start;
      for (const ws of clients) {
        for (let i = 0; i < 5000; i++) assert.equal(await ws.recv(), `m${i}`);
      }
      console.log(`# 5,000 topics × 10 subscribers: 5,000 publishes in ${publishMs.toFixed(0)} ms`);
      for (const ws of clients) ws.terminate();
      while (server.subscribers('topic-0') !== 0) await delay(5);
      assert.equal([...server.hub.topics()].length, 0);
    } finally {
      await server.close();
    }
  });

  it('client-side connections have no topics', async () => {
    const server = await startServer(async (ws) => void (await ws.closed));
    try {
      const ws = await connect(server.url);
      assert.throws(() => ws.subscribe('x'), InvalidState);
      assert.equal(ws.isSubscribed('x'), false);
      await ws.close();
    } finally {
      await server.close();
    }
  });
});

describe('in-process backplane', () => {
  it('a publish on one server reaches subscribers of another, exactly once, without echo', async () => {
    const channel = `test-${Math.random()}`;
    const one = await topicServer({ backplane: inProcessBackplane({ channel }) });
    const two = await topicServer({ backplane: inProcessBackplane({ channel }) });
    try {
      const a = await join(one, 'news');
      const b = await join(two, 'news');
      one.publish('news', 'first');
      await b.send('publish:news:second');
      const fromA = [await next(a), await next(a)];
      const fromB = [await next(b)];
      assert.deepEqual(fromA, ['first', 'second']);
      assert.deepEqual(fromB, ['first']);
      one.publish('news', Buffer.from([9, 9]));
      assert.deepEqual(await next(a), Buffer.from([9, 9]));
      assert.deepEqual(await next(b), Buffer.from([9, 9]));
      await delay(50);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('envelopes are binary-safe and carry the node id', () => {
    const bytes = Buffer.from([0, 255, 10, 13, 0x80]);
    const decoded = decodeEnvelope(encodeEnvelope('node-1', { topic: 'tópico', data: bytes }));
    assert.deepEqual(decoded, { nodeId: 'node-1', message: { topic: 'tópico', data: bytes } });
    assert.deepEqual(decodeEnvelope(encodeEnvelope('n', { topic: 't', data: 'héllo' }))?.message.data, 'héllo');
    assert.equal(decodeEnvelope(Buffer.from('garbage')), null);
  });
});
