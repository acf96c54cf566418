import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect, redisBackplane, serve, type Connection, type Message } from '../../src/index.js';
import { delay, freePort, skipWithoutRedis, within } from '../helpers.js';
import { startRedis as startRedisServer } from '../redis-server.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/redis-node.ts', import.meta.url));
const children = new Set<ChildProcess>();

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

after(async () => {
  await Promise.all([...children].map(kill));
});
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function startRedis(port: number): Promise<ChildProcess> {
  return startRedisServer(port, track);
}

async function startNode(redisUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
      env: { ...process.env, REDIS_URL: redisUrl },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const port = await within(
    new Promise<number>((resolve, reject) => {
      let buffered = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const line = buffered.split('\n')[0]!;
        if (buffered.includes('\n')) resolve((JSON.parse(line) as { port: number }).port);
      });
      child.once('exit', (code) => reject(new Error(`node exited with ${code}`)));
    }),
    20_000,
    'a server node to start',
  );
  return { child, url: `ws://127.0.0.1:${port}` };
}

interface Client {
  ws: Connection;
  node: number;
  received: Message[];
}

async function subscribe(url: string, node: number, topics: string): Promise<Client> {
  const ws = await connect(`${url}/topics/${topics}`, { compression: false });
  assert.equal(await ws.recv(), 'subscribed');
  const client: Client = { ws, node, received: [] };
  void (async () => {
    for await (const message of ws) client.received.push(message);
  })().catch(() => undefined);
  return client;
}

const texts = (client: Client, prefix: string) =>
  client.received.filter((m): m is string => typeof m === 'string' && m.startsWith(prefix));

/** Publishes probes from `publisher` until every client has seen one: the backplane is up everywhere. */
async function sync(clients: Client[], publisher: Client, tag: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; ; i++) {
    await publisher.ws.send(`publish:room:probe-${tag}-${i}`);
    await delay(100);
    if (clients.every((c) => texts(c, `probe-${tag}-`).length > 0)) return;
    if (Date.now() > deadline) throw new Error(`backplane did not come up (${tag})`);
  }
}

/** Publishes `count` messages from clients on every node in turn; checks exactly-once delivery, in order per node. */
async function publishRound(clients: Client[], publishers: Client[], tag: string, count: number): Promise<void> {
  const sent: string[] = [];
  for (let i = 0; i < count; i++) {
    const publisher = publishers[i % publishers.length]!;
    const text = `${tag}-n${publisher.node}-${i}`;
    sent.push(text);
    await publisher.ws.send(`publish:room:${text}`);
  }
  await within(
    (async () => {
      while (!clients.every((c) => texts(c, `${tag}-`).length >= count)) await delay(20);
    })(),
    10_000,
    `round ${tag} to reach every subscriber`,
  );
  await delay(300); // anything duplicated would have arrived by now
  for (const client of clients) {
    const got = texts(client, `${tag}-`);
    assert.deepEqual([...got].sort(), [...sent].sort(), `client on node ${client.node}: every message exactly once`);
    for (let node = 0; node < publishers.length; node++) {
      const fromNode = (list: string[]) => list.filter((t) => t.startsWith(`${tag}-n${node}-`));
      assert.deepEqual(fromNode(got), fromNode(sent), `client on node ${client.node}: node ${node}'s messages in order`);
    }
  }
}

describe('Redis backplane', { skip: skipWithoutRedis }, () => {
  it('three server processes: every publish reaches every subscriber once, binary-safe, and survives a Redis restart', async () => {
    const port = await freePort();
    const redisUrl = `redis://127.0.0.1:${port}`;
    let redis = await startRedis(port);
    const nodes = await Promise.all([0, 1, 2].map(() => startNode(redisUrl)));
    const clients: Client[] = [];
    try {
      for (const [index, node] of nodes.entries()) {
        clients.push(await subscribe(node.url, index, 'room'), await subscribe(node.url, index, 'room'));
      }
      const bystander = await subscribe(nodes[1]!.url, 1, 'elsewhere');
      const publishers = [clients[0]!, clients[2]!, clients[4]!];
      await sync(clients, publishers[0]!, 'start');
      await publishRound(clients, publishers, 'a', 60);

      const bytes = Buffer.from([0, 255, 13, 10, 0x80, 0x7f]);
      await publishers[1]!.ws.send(`binary:room:${bytes.toString('hex')}`);
      await within(
        (async () => {
          while (!clients.every((c) => c.received.some((m) => Buffer.isBuffer(m)))) await delay(20);
        })(),
        5000,
        'the binary message',
      );
      for (const client of clients) assert.deepEqual(client.received.filter(Buffer.isBuffer), [bytes]);
      assert.equal(bystander.received.length, 0, 'other topics are not delivered');

      // Kill Redis mid-test; publishes during the outage reach local subscribers only.
      const started = Date.now();
      redis.kill('SIGKILL');
      await new Promise((resolve) => redis.once('exit', resolve));
      await publishers[0]!.ws.send('publish:room:outage-1');
      await delay(300);
      redis = await startRedis(port);
      await sync(clients, publishers[2]!, 'restart');
      console.log(`# Redis restart: publishing resumed on all 3 nodes ${Date.now() - started} ms after the kill`);
      await publishRound(clients, publishers, 'b', 60);
      for (const client of clients) assert.ok(texts(client, 'outage-').length <= 1, 'never duplicated');
      assert.equal(texts(clients[1]!, 'outage-').length, 1, 'local subscribers still got the outage publish');
    } finally {
      for (const client of clients) client.ws.terminate();
      await Promise.all(nodes.map((node) => kill(node.child)));
      await kill(redis);
    }
  });

  it("a node subscribes in Redis to exactly its topics' channels, also to topics joined while Redis was down", async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    let redis = await startRedis(port);
    // Each client message is a command: `+topic` subscribes, `-topic` unsubscribes.
    const handler = async (ws: Connection): Promise<void> => {
      for await (const message of ws) {
        const text = String(message);
        if (text.startsWith('+')) ws.subscribe(text.slice(1));
        else if (text.startsWith('-')) ws.unsubscribe(text.slice(1));
        await ws.send(`ok ${text}`);
      }
    };
    const one = await serve(handler, { host: '127.0.0.1', port: 0, backplane: redisBackplane({ url, logger: null }) });
    const two = await serve(handler, { host: '127.0.0.1', port: 0, backplane: redisBackplane({ url, logger: null }) });
    const { Redis } = await import('ioredis');
    let admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const channels = async (): Promise<string[]> => ((await admin.pubsub('CHANNELS', 'wskit:*')) as string[]).sort();
    const until = async (expected: string[], what: string): Promise<void> => {
      const deadline = Date.now() + 10_000;
      let seen: string[] = [];
      while (JSON.stringify((seen = await channels().catch(() => []))) !== JSON.stringify(expected)) {
        if (Date.now() > deadline) assert.fail(`${what}: expected channels ${JSON.stringify(expected)}, Redis has ${JSON.stringify(seen)}`);
        await delay(50);
      }
    };
    const command = async (ws: Connection, text: string): Promise<void> => {
      await ws.send(text);
      assert.equal(await within(ws.recv(), 5000, text), `ok ${text}`);
    };
    try {
      await admin.connect();
      const a = await connect(one.url);
      await command(a, '+news');
      await command(a, '+sport');
      await until(['wskit:news', 'wskit:sport'], 'two topics');
      await command(a, '-news');
      await until(['wskit:sport'], 'after unsubscribing');
      await a.close();
      await until([], 'after the only subscriber left');

      redis.kill('SIGKILL');
      await new Promise((resolve) => redis.once('exit', resolve));
      admin.disconnect();
      const b = await connect(one.url);
      await command(b, '+weather'); // joined while Redis is down
      redis = await startRedis(port);
      admin = new Redis(url, { maxRetriesPerRequest: 1 });
      await until(['wskit:weather'], 'after the Redis restart');
      two.publish('weather', 'rain');
      assert.equal(await within(b.recv(), 5000, 'a publish from the other node'), 'rain');
      await b.close();
    } finally {
      admin.disconnect();
      await one.close();
      await two.close();
      await kill(redis);
    }
  });

  it('serve() rejects with a clear error when Redis is unreachable at start', async () => {
    const port = await freePort();
    await assert.rejects(
      serve(() => undefined, { host: '127.0.0.1', port: 0, backplane: redisBackplane({ url: `redis://127.0.0.1:${port}`, logger: null }) }),
      (error: Error) => {
        assert.match(error.message, new RegExp(`cannot connect to Redis at redis://127.0.0.1:${port}`));
        return true;
      },
    );
  });

  it('a server whose port is taken releases its Redis connections when listen() fails', async () => {
    const redisPort = await freePort();
    const redis = await startRedis(redisPort);
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const clientCount = async (): Promise<number> => {
      const reply = await new Promise<string>((resolve) => {
        const socket = net.connect(redisPort, '127.0.0.1');
        socket.once('data', (data) => (socket.destroy(), resolve(data.toString())));
        socket.write('CLIENT LIST\r\n');
      });
      return reply.split('\n').filter((line) => line.includes('addr=')).length - 1;
    };
    try {
      const url = `redis://127.0.0.1:${redisPort}`;
      await assert.rejects(
        serve(() => undefined, { host: '127.0.0.1', port: (blocker.address() as net.AddressInfo).port, backplane: redisBackplane({ url, logger: null }) }),
        /EADDRINUSE/,
      );
      await within(
        (async () => {
          while ((await clientCount()) > 0) await delay(50);
        })(),
        3000,
        'Redis connections to close',
      );
    } finally {
      blocker.close();
      await kill(redis);
    }
  });
});
