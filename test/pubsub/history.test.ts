import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { memoryHistory, redisHistory, type Publication, type TopicHistory } from '../../src/index.js';
import { delay, freePort, skipWithoutRedis, within } from '../helpers.js';
import { startRedis } from '../redis-server.js';

/** Polls `check` every 20 ms until it is true, failing after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await delay(20);
  }
}

const texts = (publications: Publication[]) => publications.map((p) => p.data);

type Deliver = (publication: Publication) => void;

/** The contract every store keeps, run against each; `make` returns a started store. */
function contract(name: string, make: (limits: { size?: number; ttl?: number }, deliver?: Deliver) => Promise<TopicHistory>): void {
  describe(`${name}: the history contract`, () => {
    it('offsets count 1, 2, 3 per topic under one epoch; a read gives what came after a position, in pages', async () => {
      const history = await make({});
      try {
        const empty = await history.read('a', null, 10);
        assert.deepEqual({ offset: empty.offset, recovered: empty.recovered }, { offset: 0, recovered: true });
        const appended = [];
        for (let i = 1; i <= 5; i++) appended.push(await history.append('a', `m${i}`));
        assert.deepEqual(
          appended.map((a) => a.offset),
          [1, 2, 3, 4, 5],
        );
        assert.ok(appended.every((a) => a.epoch === empty.epoch && !a.duplicate), 'the epoch given before the first publication');
        assert.equal((await history.append('b', 'other')).offset, 1, 'each topic counts on its own');
        const since = { offset: 2, epoch: empty.epoch };
        const page = await history.read('a', since, 2);
        assert.deepEqual({ offset: page.offset, recovered: page.recovered, data: texts(page.publications) }, { offset: 5, recovered: true, data: ['m3', 'm4'] });
        assert.deepEqual(
          page.publications.map((p) => [p.topic, p.offset, p.epoch]),
          [['a', 3, empty.epoch], ['a', 4, empty.epoch]],
        );
        assert.deepEqual(texts((await history.read('a', { offset: 4, epoch: empty.epoch }, 10)).publications), ['m5']);
        const caughtUp = await history.read('a', { offset: 5, epoch: empty.epoch }, 10);
        assert.deepEqual([caughtUp.recovered, caughtUp.publications.length], [true, 0]);
        const fromStart = await history.read('a', { offset: 0, epoch: empty.epoch }, 10);
        assert.deepEqual(texts(fromStart.publications), ['m1', 'm2', 'm3', 'm4', 'm5']);
      } finally {
        await history.close();
      }
    });

    it('a position of another epoch, or ahead of the topic, is not recovered', async () => {
      const history = await make({});
      try {
        const { epoch } = await history.append('t', 'x');
        for (const since of [{ offset: 1, epoch: 'elsewhere' }, { offset: 0, epoch: 'elsewhere' }, { offset: 2, epoch }]) {
          const read = await history.read('t', since, 10);
          assert.deepEqual({ recovered: read.recovered, n: read.publications.length, offset: read.offset, epoch: read.epoch }, { recovered: false, n: 0, offset: 1, epoch });
        }
      } finally {
        await history.close();
      }
    });

    it('keeps `size` publications: a position before them is not recovered, the one just before is', async () => {
      const history = await make({ size: 3 });
      try {
        let epoch = '';
        for (let i = 1; i <= 10; i++) epoch = (await history.append('t', `m${i}`)).epoch;
        assert.equal((await history.read('t', { offset: 6, epoch }, 10)).recovered, false);
        const kept = await history.read('t', { offset: 7, epoch }, 10);
        assert.deepEqual([kept.recovered, texts(kept.publications)], [true, ['m8', 'm9', 'm10']]);
      } finally {
        await history.close();
      }
    });

    it('drops publications older than `ttl`', async () => {
      const history = await make({ ttl: 150 });
      try {
        const { epoch } = await history.append('t', 'old');
        assert.deepEqual(texts((await history.read('t', { offset: 0, epoch }, 10)).publications), ['old']);
        await until(async () => !(await history.read('t', { offset: 0, epoch }, 10)).recovered, 5000, 'expiry');
        await history.append('t', 'new');
        const read = await history.read('t', { offset: 1, epoch }, 10);
        assert.deepEqual([read.recovered, texts(read.publications)], [true, ['new']], 'the topic goes on in the same epoch');
      } finally {
        await history.close();
      }
    });

    it('a publish key seen within the dedup window appends nothing and gives the first position', async () => {
      const history = await make({});
      try {
        const first = await history.append('t', 'once', 'client-1:1');
        const again = await history.append('t', 'once', 'client-1:1');
        const other = await history.append('t', 'twice', 'client-1:2');
        assert.deepEqual([first.offset, first.duplicate], [1, false]);
        assert.deepEqual([again.offset, again.epoch, again.duplicate], [1, first.epoch, true]);
        assert.deepEqual([other.offset, other.duplicate], [2, false]);
        assert.deepEqual(texts((await history.read('t', { offset: 0, epoch: first.epoch }, 10)).publications), ['once', 'twice']);
      } finally {
        await history.close();
      }
    });

    it('hands followed topics to the server in offset order, bytes as bytes', async () => {
      const got: Publication[] = [];
      const history = await make({}, (p) => got.push(p));
      try {
        await history.follow('live');
        const bytes = Buffer.from([0, 0x20, 255, 10, 0x31]);
        for (let i = 1; i <= 20; i++) await history.append('live', i === 7 ? bytes : `m${i}`);
        await until(() => got.length >= 20, 5000, 'delivery of 20 publications');
        assert.deepEqual(
          got.map((p) => p.offset),
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        assert.deepEqual(got[6]!.data, bytes);
        assert.equal(got[7]!.data, 'm8');
        const read = await history.read('live', { offset: 6, epoch: got[0]!.epoch }, 1);
        assert.deepEqual(read.publications[0]!.data, bytes, 'bytes come back from the history as bytes');
      } finally {
        await history.close();
      }
    });
  });
}

contract('memoryHistory', async (limits, deliver = () => undefined) => {
  const history = memoryHistory(limits);
  await history.start(deliver);
  return history;
});

describe('memoryHistory', () => {
  it('validates its options, naming the bad one', () => {
    assert.throws(() => memoryHistory({ size: 0 }), /memoryHistory\.size must be an integer ≥ 1, got 0/);
    assert.throws(() => memoryHistory({ ttl: Number.NaN }), RangeError);
    assert.throws(() => memoryHistory({ maxBytes: '1M' as never }), TypeError);
    assert.throws(() => memoryHistory({ maxTopics: 1.5 }), /maxTopics/);
  });

  it('a topic evicted beyond maxTopics comes back in a new epoch', async () => {
    const history = memoryHistory({ maxTopics: 2 });
    const a = await history.append('a', 'x');
    await history.append('b', 'x');
    await history.append('a', 'y'); // a used last: b goes first
    await history.append('c', 'x');
    assert.equal((await history.read('a', { offset: 2, epoch: a.epoch }, 10)).recovered, true);
    const b = await history.read('b', { offset: 1, epoch: a.epoch }, 10);
    assert.equal(b.recovered, false);
    assert.equal(b.offset, 0);
  });

  it('keeps at most maxBytes of payload per topic', async () => {
    const history = memoryHistory({ maxBytes: 10 });
    const { epoch } = await history.append('t', '12345');
    await history.append('t', '67890');
    await history.append('t', 'abcde');
    assert.equal((await history.read('t', { offset: 0, epoch }, 10)).recovered, false);
    assert.deepEqual(texts((await history.read('t', { offset: 1, epoch }, 10)).publications), ['67890', 'abcde']);
  });

  it('forgets publish keys after the window or beyond maxKeys', async () => {
    let now = 0;
    const history = memoryHistory({ dedupWindow: 1000, maxKeys: 2, now: () => now });
    await history.append('t', 'x', 'k1');
    now = 1500;
    assert.equal((await history.append('t', 'x', 'k1')).duplicate, false, 'past the window');
    await history.append('t', 'x', 'k2');
    await history.append('t', 'x', 'k3');
    assert.equal((await history.append('t', 'x', 'k1')).duplicate, false, 'beyond maxKeys');
    assert.equal((await history.append('t', 'x', 'k3')).duplicate, true);
  });
});

describe('redisHistory', { skip: skipWithoutRedis }, () => {
  const children = new Set<ChildProcess>();
  const track = (child: ChildProcess) => {
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  };
  let port = 0;
  let url = '';
  const aof = mkdtempSync(join(tmpdir(), 'wskit-history-'));
  let redis: ChildProcess;
  let prefixes = 0;
  const make = async (limits: { size?: number; ttl?: number }, prefix = `test${prefixes++}`, deliver: Deliver = () => undefined) => {
    const history = redisHistory({ url, prefix, logger: null, maxRetryDelay: 100, ...limits });
    await history.start(deliver);
    return history;
  };

  before(async () => {
    port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    redis = await startRedis(port, track, aof);
  });
  after(() => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(aof, { recursive: true, force: true });
  });

  contract('redisHistory', (limits, deliver) => make(limits, undefined, deliver));

  it('validates its options', () => {
    assert.throws(() => redisHistory({ size: -1 }), /redisHistory\.size/);
    assert.throws(() => redisHistory({ ttl: 60_000, metaTtl: 1000 }), /redisHistory\.metaTtl must be .*≥ 60000/);
  });

  it('start() rejects naming the URL when Redis is unreachable', async () => {
    const closed = await freePort();
    const history = redisHistory({ url: `redis://127.0.0.1:${closed}`, logger: null, connectTimeout: 1000 });
    await assert.rejects(history.start(() => undefined), new RegExp(`cannot connect to Redis at redis://127.0.0.1:${closed}: .*ECONNREFUSED`));
  });

  it('two nodes share topics: a publication on one is read and delivered live on the other', async () => {
    const a = await make({}, 'shared');
    const got: Publication[] = [];
    const b = redisHistory({ url, prefix: 'shared', logger: null });
    await b.start((p) => got.push(p));
    try {
      await b.follow('room');
      const first = await a.append('room', 'from a');
      await until(() => got.length === 1, 5000, 'live delivery on b');
      assert.deepEqual(got[0], { topic: 'room', offset: 1, epoch: first.epoch, data: 'from a' });
      const read = await b.read('room', { offset: 0, epoch: first.epoch }, 10);
      assert.deepEqual(texts(read.publications), ['from a']);
      assert.equal((await b.append('room', 'from b')).offset, 2);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('Redis killed with SIGKILL and restarted on its append-only file: offsets, epoch and history are kept', async () => {
    const resynced: string[] = [];
    const got: Publication[] = [];
    const node = redisHistory({ url, prefix: 'aof', logger: null, maxRetryDelay: 100 });
    await node.start((p) => got.push(p), (topic) => resynced.push(topic));
    try {
      await node.follow('kept');
      let epoch = '';
      for (let i = 1; i <= 5; i++) epoch = (await node.append('kept', `m${i}`)).epoch;
      redis.kill('SIGKILL');
      await new Promise((resolve) => redis.once('exit', resolve));
      redis = await startRedis(port, track, aof);
      await within(until(() => resynced.includes('kept'), 10_000, 'resync'), 15_000);
      const read = await node.read('kept', { offset: 2, epoch }, 10);
      assert.deepEqual([read.epoch, read.offset, read.recovered, texts(read.publications)], [epoch, 5, true, ['m3', 'm4', 'm5']]);
      const next = await node.append('kept', 'm6');
      assert.deepEqual([next.offset, next.epoch], [6, epoch]);
      await until(() => got.some((p) => p.offset === 6), 5000, 'live delivery after the restart');
    } finally {
      await node.close();
    }
  });

  it('history lost (Redis flushed, as a restart without persistence): a new epoch, and old positions are not recovered', async () => {
    const history = await make({}, 'flushed');
    const admin = new Redis(url, { lazyConnect: true });
    try {
      await admin.connect();
      const before = await history.append('t', 'x');
      await admin.flushall();
      const read = await history.read('t', { offset: before.offset, epoch: before.epoch }, 10);
      assert.equal(read.recovered, false);
      assert.notEqual(read.epoch, before.epoch);
      const after = await history.append('t', 'y');
      assert.deepEqual([after.offset, after.epoch], [1, read.epoch]);
    } finally {
      admin.disconnect();
      await history.close();
    }
  });
});
