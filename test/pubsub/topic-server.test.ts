import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, memoryHistory, serve, topicServer, TOPICS_PROTOCOL, type Server, type TopicServerOptions } from '../../src/index.js';
import { WireClient, type Received } from './topic-wire-client.js';

async function withTopics(options: TopicServerOptions, body: (url: string, topics: ReturnType<typeof topicServer>, server: Server) => Promise<void>): Promise<void> {
  const topics = topicServer({ logger: null, ...options });
  await topics.start();
  const server = await serve(topics.handler, { host: '127.0.0.1', port: 0, logger: null, subprotocols: [TOPICS_PROTOCOL] });
  try {
    await body(server.url, topics, server);
  } finally {
    await server.close();
    await topics.close();
  }
}

const offsets = (list: Received[]) => list.map((m) => m.offset);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('topic server (wskit.topics.v1)', () => {
  it('subscribes, then delivers publications tagged with topic, offset and epoch', async () => {
    await withTopics({}, async (url, topics) => {
      const client = await WireClient.open(url);
      await client.send({ type: 'subscribe', id: 1, topic: 'news' });
      const subscribed = await client.next({ type: 'subscribed' });
      assert.deepEqual({ ...subscribed, epoch: typeof subscribed.epoch }, { type: 'subscribed', id: 1, topic: 'news', epoch: 'string', offset: 0, recovered: true });
      const first = await topics.publish('news', { headline: 'a' });
      await topics.publish('news', 'text is JSON too');
      await topics.publish('other', 1);
      await client.until((r) => client.pubs('news').length === 2, 'two publications');
      assert.deepEqual(client.pubs('news'), [
        { type: 'pub', topic: 'news', offset: 1, epoch: subscribed.epoch, data: { headline: 'a' } },
        { type: 'pub', topic: 'news', offset: 2, epoch: subscribed.epoch, data: 'text is JSON too' },
      ]);
      assert.deepEqual([first.offset, first.epoch], [1, subscribed.epoch]);
      assert.equal(client.pubs('other').length, 0, 'topics not subscribed to are not sent');
      await client.ws.close();
    });
  });

  it('resumes: replays after the position given, then goes live, each offset exactly once', async () => {
    await withTopics({}, async (url, topics) => {
      let epoch = '';
      for (let i = 1; i <= 5; i++) epoch = (await topics.publish('t', i)).epoch;
      const client = await WireClient.open(url);
      await client.send({ type: 'subscribe', id: 'r', topic: 't', since: { offset: 2, epoch } });
      const subscribed = await client.next({ type: 'subscribed' });
      assert.deepEqual([subscribed.recovered, subscribed.offset], [true, 5]);
      await topics.publish('t', 6);
      await client.until(() => client.pubs('t').length >= 4, 'replay and live');
      assert.deepEqual(offsets(client.pubs('t')), [3, 4, 5, 6]);
      assert.deepEqual(
        client.pubs('t').map((m) => m.data),
        [3, 4, 5, 6],
      );
      const order = client.received.map((m) => m.type);
      assert.equal(order[0], 'subscribed', 'the answer comes before the replay');
      await client.ws.close();
    });
  });

  it('no gap and no duplicate at the seam while publications pour in during a paged replay', async () => {
    await withTopics({ replayBatch: 7, maxPending: 50 }, async (url, topics) => {
      let epoch = '';
      for (let i = 1; i <= 300; i++) epoch = (await topics.publish('hot', i)).epoch;
      let publishing = true;
      let published = 300;
      const pump = (async () => {
        while (publishing) {
          await topics.publish('hot', ++published);
          if (published % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      const clients = await Promise.all([10, 150, 290].map(() => WireClient.open(url)));
      await Promise.all(clients.map((c, i) => c.send({ type: 'subscribe', topic: 'hot', since: { offset: [10, 150, 290][i], epoch } })));
      await Promise.all(clients.map((c) => c.until(() => c.pubs('hot').length > 600, 'a long stream', 15_000)));
      publishing = false;
      await pump;
      await Promise.all(clients.map((c, i) => c.until(() => c.pubs('hot').at(-1)?.offset === published, `client ${i} to catch up`, 15_000)));
      for (const [i, client] of clients.entries()) {
        const since = [10, 150, 290][i]!;
        assert.deepEqual(offsets(client.pubs('hot')), range(since + 1, published), `client ${i}: every offset once, in order`);
        await client.ws.close();
      }
    });
  });

  it('says recovered: false when the gap cannot be filled (trimmed, another epoch), and goes on from the present', async () => {
    await withTopics({ history: memoryHistory({ size: 5 }) }, async (url, topics) => {
      let epoch = '';
      for (let i = 1; i <= 20; i++) epoch = (await topics.publish('t', i)).epoch;
      const trimmed = await WireClient.open(url);
      await trimmed.send({ type: 'subscribe', id: 1, topic: 't', since: { offset: 3, epoch } });
      const other = await WireClient.open(url);
      await other.send({ type: 'subscribe', id: 1, topic: 't', since: { offset: 3, epoch: 'another' } });
      for (const client of [trimmed, other]) {
        const subscribed = await client.next({ type: 'subscribed' });
        assert.deepEqual([subscribed.recovered, subscribed.offset, subscribed.epoch], [false, 20, epoch]);
      }
      await topics.publish('t', 21);
      for (const client of [trimmed, other]) {
        await client.next({ type: 'pub', offset: 21 });
        assert.deepEqual(offsets(client.pubs('t')), [21], 'nothing from before, nothing silently skipped');
        await client.ws.close();
      }
    });
  });

  it('publishes by policy: denied by default; allowed per topic by the hook, acknowledged with the position, deduplicated by key', async () => {
    await withTopics({}, async (url) => {
      const client = await WireClient.open(url);
      await client.send({ type: 'publish', id: 1, topic: 'chat', data: 'hi' });
      assert.deepEqual(await client.next({ type: 'error' }), { type: 'error', id: 1, topic: 'chat', code: 'forbidden', message: 'not allowed to publish to chat' });
      await client.ws.close();
    });
    const seen: unknown[] = [];
    const publish = (topic: string, _ws: unknown, data: unknown) => {
      seen.push(data);
      return topic.startsWith('chat/');
    };
    await withTopics({ publish }, async (url) => {
      const reader = await WireClient.open(url);
      await reader.send({ type: 'subscribe', topic: 'chat/1' });
      await reader.next({ type: 'subscribed' });
      const writer = await WireClient.open(url);
      await writer.send({ type: 'publish', id: 1, topic: 'chat/1', key: 'w:1', data: { text: 'hello' } });
      await writer.send({ type: 'publish', id: 2, topic: 'chat/1', key: 'w:1', data: { text: 'hello' } });
      await writer.send({ type: 'publish', id: 3, topic: 'news', data: 'no' });
      await writer.send({ type: 'publish', id: 4, topic: 'chat/1', data: { text: 'again' } });
      const acks = await Promise.all([1, 2, 4].map((id) => writer.next({ type: 'ack', id })));
      assert.deepEqual(
        acks.map((a) => [a.offset, a.duplicate]),
        [[1, false], [1, true], [2, false]],
      );
      assert.equal((await writer.next({ type: 'error', id: 3 })).code, 'forbidden');
      await reader.until(() => reader.pubs('chat/1').length === 2, 'two publications');
      assert.deepEqual(
        reader.pubs('chat/1').map((m) => m.data),
        [{ text: 'hello' }, { text: 'again' }],
      );
      assert.deepEqual(seen.slice(0, 2), [{ text: 'hello' }, { text: 'hello' }]);
      await Promise.all([reader.ws.close(), writer.ws.close()]);
    });
  });

  it('carries bytes in binary frames both ways', async () => {
    await withTopics({ publish: true }, async (url, topics) => {
      const client = await WireClient.open(url);
      await client.send({ type: 'subscribe', topic: 'bin' });
      await client.next({ type: 'subscribed' });
      const bytes = new Uint8Array([0, 1, 0x7b, 255, 10]);
      await client.send({ type: 'publish', id: 1, topic: 'bin' }, bytes);
      await client.next({ type: 'ack', id: 1 });
      await topics.publish('bin', new Uint8Array([9, 8]));
      await client.until(() => client.pubs('bin').length === 2, 'two binary publications');
      assert.deepEqual(
        client.pubs('bin').map((m) => [m.offset, [...(m.bytes ?? [])], 'data' in m]),
        [[1, [...bytes], false], [2, [9, 8], false]],
      );
      await client.ws.close();
    });
  });

  it('answers malformed requests with bad-request and keeps serving; unsubscribes; bounds topics per connection', async () => {
    await withTopics({ maxTopics: 2 }, async (url, topics) => {
      const client = await WireClient.open(url);
      await client.ws.send('not json');
      await client.ws.send('[1]');
      await client.ws.send(new Uint8Array([0, 0, 0, 9, 1]));
      await client.send({ type: 'dance', topic: 't' });
      await client.send({ type: 'subscribe', id: 5, topic: 't', since: { offset: -1, epoch: 'x' } });
      await client.send({ type: 'subscribe', id: 6, topic: '' });
      await client.send({ type: 'subscribe', id: 7, topic: 'x'.repeat(2000) });
      await client.until((r) => r.filter((m) => m.type === 'error').length === 7, 'seven errors');
      const errors = client.received.filter((m) => m.type === 'error');
      assert.ok(errors.every((e) => e.code === 'bad-request'), JSON.stringify(errors));
      assert.deepEqual(
        errors.map((e) => e.message),
        [
          'not JSON',
          'not a JSON object',
          'the header length runs past the end of the frame',
          '"type" must be subscribe, unsubscribe or publish',
          '"since.offset" must be an integer ≥ 0',
          'a topic must be a non-empty string',
          'a topic must be at most 1024 bytes',
        ],
      );
      await client.send({ type: 'subscribe', id: 'a', topic: 'a' });
      await client.send({ type: 'subscribe', id: 'a2', topic: 'a' });
      await client.send({ type: 'subscribe', id: 'b', topic: 'b' });
      await client.send({ type: 'subscribe', id: 'c', topic: 'c' });
      assert.equal((await client.next({ id: 'a2' })).code, 'already-subscribed');
      assert.equal((await client.next({ id: 'c' })).code, 'too-many-topics');
      await client.next({ type: 'subscribed', id: 'b' });
      await client.send({ type: 'unsubscribe', id: 'u', topic: 'a' });
      assert.deepEqual(await client.next({ id: 'u' }), { type: 'unsubscribed', id: 'u', topic: 'a' });
      await client.send({ type: 'unsubscribe', id: 'u2', topic: 'a' });
      assert.equal((await client.next({ id: 'u2' })).code, 'not-subscribed');
      assert.equal(topics.subscriberCount('a'), 0);
      await topics.publish('a', 'gone');
      await topics.publish('b', 'here');
      await client.next({ type: 'pub', topic: 'b' });
      assert.equal(client.pubs('a').length, 0);
      await client.ws.close();
      const deadline = Date.now() + 5000;
      while (topics.subscriberCount('b') > 0) {
        assert.ok(Date.now() < deadline, 'a closed connection leaves its topics');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    });
  });

  it('refuses a connection that did not negotiate the subprotocol, and a subscription the hook denies', async () => {
    await withTopics({ subscribe: async (topic) => topic !== 'secret' }, async (url) => {
      const plain = await connect(url, { compression: false });
      const info = await plain.closed;
      assert.deepEqual([info.code, info.reason], [1002, 'this endpoint speaks the wskit.topics.v1 subprotocol only']);
      const client = await WireClient.open(url);
      await client.send({ type: 'subscribe', id: 1, topic: 'secret' });
      assert.equal((await client.next({ id: 1 })).code, 'forbidden');
      await client.ws.close();
    });
  });

  it('validates its options', () => {
    assert.throws(() => topicServer({ maxTopics: 0 }), /topicServer\.maxTopics must be an integer ≥ 1, got 0/);
    assert.throws(() => topicServer({ replayBatch: 1.5 }), /replayBatch/);
    assert.throws(() => topicServer({ maxPending: Number.NaN }), /maxPending/);
    assert.throws(() => topicServer({ maxBuffered: -1 }), /maxBuffered/);
  });
});
