import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  memoryHistory,
  ReconnectingClient,
  serve,
  topicServer,
  TOPICS_PROTOCOL,
  type PublicationInfo,
  type Server,
  type SubscribedInfo,
  type TopicServer,
  type TopicServerOptions,
} from '../../src/index.js';
import { delay, freePort, within } from '../helpers.js';

const FAST = { initialDelay: 20, maxDelay: 100 } as const;

/** A topic server on a fixed port, which the test can stop and start again (same history). */
class Node {
  server: Server | null = null;
  readonly topics: TopicServer;
  private constructor(
    readonly port: number,
    options: TopicServerOptions,
  ) {
    this.topics = topicServer({ logger: null, ...options });
  }

  static async start(options: TopicServerOptions = {}): Promise<Node> {
    const node = new Node(await freePort(), options);
    await node.up();
    return node;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    this.server = await serve(this.topics.handler, { host: '127.0.0.1', port: this.port, logger: null, subprotocols: [TOPICS_PROTOCOL] });
  }

  async down(): Promise<void> {
    await this.server?.close();
    this.server = null;
  }

  async stop(): Promise<void> {
    await this.down();
    await this.topics.close();
  }
}

/** Polls `check` until true, failing after `ms`. */
async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  await within(
    (async () => {
      while (!check()) await delay(10);
    })(),
    ms,
    what,
  );
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('ReconnectingClient topics', () => {
  it('subscribes, and after the server restarts resumes from its position: every publication once, in order', async () => {
    const node = await Node.start();
    const got: PublicationInfo[] = [];
    const answers: SubscribedInfo[] = [];
    const client = new ReconnectingClient(node.url, { topics: true, reconnect: FAST });
    try {
      const subscription = client.subscribe('room', (_data, info) => got.push(info), { onSubscribed: (info) => answers.push(info) });
      await until(() => answers.length === 1, 'the subscription');
      for (let i = 1; i <= 10; i++) await node.topics.publish('room', i);
      await until(() => got.length === 10, 'ten publications');
      await node.down();
      for (let i = 11; i <= 20; i++) await node.topics.publish('room', i); // while the client is away
      await node.up();
      await until(() => got.length === 20, 'the replay after the restart');
      for (let i = 21; i <= 25; i++) await node.topics.publish('room', i);
      await until(() => got.length === 25, 'live again');
      assert.deepEqual(
        got.map((p) => p.offset),
        range(1, 25),
      );
      assert.deepEqual(
        answers.map((a) => [a.recovered, a.resumed]),
        [[true, false], [true, true]],
      );
      assert.deepEqual(subscription.position, { offset: 25, epoch: answers[0]!.epoch });
    } finally {
      await client.close();
      await node.stop();
    }
  });

  it('tells onSubscribed recovered: false when the gap is beyond the history, and goes on from the present', async () => {
    const node = await Node.start({ history: memoryHistory({ size: 3 }) });
    const got: number[] = [];
    const answers: SubscribedInfo[] = [];
    const client = new ReconnectingClient(node.url, { topics: true, reconnect: FAST });
    try {
      client.subscribe('t', (data) => got.push(data as number), { onSubscribed: (info) => answers.push(info) });
      await until(() => answers.length === 1, 'the subscription');
      await node.topics.publish('t', 1);
      await until(() => got.length === 1, 'one publication');
      await node.down();
      for (let i = 2; i <= 10; i++) await node.topics.publish('t', i);
      await node.up();
      await until(() => answers.length === 2, 'the resume');
      assert.deepEqual([answers[1]!.recovered, answers[1]!.offset], [false, 10]);
      await node.topics.publish('t', 11);
      await until(() => got.length === 2, 'live');
      assert.deepEqual(got, [1, 11]);
    } finally {
      await client.close();
      await node.stop();
    }
  });

  it('resumes from a `since` given by the application (a saved position)', async () => {
    const node = await Node.start();
    try {
      let epoch = '';
      for (let i = 1; i <= 6; i++) epoch = (await node.topics.publish('saved', `m${i}`)).epoch;
      const got: unknown[] = [];
      const client = new ReconnectingClient(node.url, { topics: true, reconnect: FAST });
      client.subscribe('saved', (data) => got.push(data), { since: { offset: 4, epoch } });
      await until(() => got.length === 2, 'the replay');
      assert.deepEqual(got, ['m5', 'm6']);
      await client.close();
    } finally {
      await node.stop();
    }
  });

  it('publishes with acknowledgements; offline publishes are sent on reconnection; a lost ack is resent and kept once', async () => {
    let dropNext = false;
    const node = await Node.start({
      publish: (_topic, ws) => {
        if (dropNext) {
          dropNext = false;
          ws.terminate(); // appended, but the ack never reaches the client
        }
        return true;
      },
    });
    const seen: unknown[] = [];
    const reader = new ReconnectingClient(node.url, { topics: true, reconnect: FAST });
    const writer = new ReconnectingClient(node.url, { topics: true, reconnect: FAST });
    try {
      let subscribed = false;
      reader.subscribe('chat', (data) => seen.push(data), { onSubscribed: () => (subscribed = true) });
      await until(() => subscribed, 'the subscription');
      const first = await writer.publish('chat', { n: 1 });
      assert.deepEqual([first.offset, first.duplicate], [1, false]);

      dropNext = true;
      const lost = await within(writer.publish('chat', { n: 2 }), 5000, 'the resent publish');
      assert.deepEqual([lost.offset, lost.duplicate], [2, true], 'appended once, acknowledged after the reconnection');

      await node.down();
      const offline = writer.publish('chat', { n: 3 });
      assert.equal(writer.pendingPublishes, 1);
      await node.up();
      assert.equal((await within(offline, 5000, 'the offline publish')).offset, 3);
      await until(() => seen.length === 3, 'three publications');
      assert.deepEqual(seen, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    } finally {
      await Promise.all([reader.close(), writer.close()]);
      await node.stop();
    }
  });

  it('rejects what the server refuses, bounds pending publishes, and needs the topics option', async () => {
    const node = await Node.start({ subscribe: (topic) => topic !== 'secret' });
    const errors: unknown[] = [];
    const client = new ReconnectingClient(node.url, { topics: { maxPendingPublishes: 1, publishTimeout: 5000 }, reconnect: FAST, onError: (e) => errors.push(e) });
    try {
      await assert.rejects(client.publish('t', 1), { name: 'TopicError', code: 'forbidden', topic: 't' });
      client.subscribe('secret', () => undefined);
      await until(() => errors.length === 1, 'the refusal');
      assert.match(String(errors[0]), /not allowed to subscribe to secret/);
      const first = client.publish('t', 1);
      await assert.rejects(client.publish('t', 2), { code: 'WS_QUEUE_FULL' });
      await assert.rejects(first, { code: 'forbidden' });
      assert.throws(() => client.subscribe('', () => undefined), TypeError);
      assert.throws(() => new ReconnectingClient(node.url, { topics: { publishTimeout: 0 } }), /topics\.publishTimeout/);
      const plain = new ReconnectingClient(node.url, { reconnect: FAST });
      assert.throws(() => plain.subscribe('t', () => undefined), /need the topics option/);
      await plain.close();
      const pending = client.publish('t', 3);
      await client.close();
      await assert.rejects(pending, /the client is closed/);
    } finally {
      await client.close();
      await node.stop();
    }
  });
});
