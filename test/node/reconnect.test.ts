import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  backoffBound,
  backoffDelay,
  connect,
  InvalidHandshake,
  InvalidStatus,
  isRetryable,
  ReconnectingClient,
  ReconnectSchedule,
  SendQueue,
  SendQueueError,
  TimeoutError,
  type CloseInfo,
  type Connection,
} from '../../src/index.js';
import { delay, echo, freePort, startServer, within } from '../helpers.js';
import { ChildServer } from './child-server.js';

after(() => ChildServer.killAll());

const FAST = { initialDelay: 100, maxDelay: 300 };

/** A promise with its resolve function, for callbacks. */
function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Collects a client's events, with a way to wait for the next one of a kind. */
function recorder() {
  const events: Array<{ type: string; at: number; value?: unknown }> = [];
  const waiters: Array<{ type: string; count: number; resolve: () => void }> = [];
  const push = (type: string, value?: unknown) => {
    events.push({ type, at: performance.now(), value });
    for (const w of [...waiters]) {
      if (events.filter((e) => e.type === w.type).length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const count = (type: string) => events.filter((e) => e.type === type).length;
  const until = (type: string, n: number, ms = 10_000) => {
    const done = signal();
    if (count(type) >= n) done.resolve();
    else waiters.push({ type, count: n, resolve: done.resolve });
    return within(done.promise, ms, `${n} × ${type} (have ${count(type)})`);
  };
  const of = (type: string) => events.filter((e) => e.type === type);
  return { events, push, count, until, of };
}

function clientFor(url: string, rec: ReturnType<typeof recorder>, options: ConstructorParameters<typeof ReconnectingClient>[1] = {}) {
  return new ReconnectingClient(url, {
    reconnect: FAST,
    openTimeout: 1_000,
    ...options,
    onOpen: () => rec.push('open'),
    onMessage: (message) => rec.push('message', message),
    onClose: (info) => rec.push('close', info),
    onError: (error) => rec.push('error', error),
    onReconnect: (attempt, ms) => rec.push('reconnect', { attempt, delay: ms }),
  });
}

describe('backoff with full jitter', () => {
  test('the bound starts at initialDelay, grows by factor and stops at maxDelay', () => {
    assert.equal(backoffBound(0), 5_000);
    assert.equal(Math.round(backoffBound(1)), 8_090);
    assert.equal(backoffBound(20), 90_000);
    assert.equal(backoffBound(3, { initialDelay: 100, factor: 2, maxDelay: 500 }), 500);
  });

  test('a delay is uniform in [0, bound)', () => {
    assert.equal(backoffDelay(2, { random: () => 0 }), 0);
    assert.equal(backoffDelay(0, { random: () => 0.5 }), 2_500);
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(4);
      assert.ok(d >= 0 && d < backoffBound(4));
    }
  });

  test('failures raise the bound; maxAttempts gives up; success resets', () => {
    const bounds: number[] = [];
    const schedule = new ReconnectSchedule({ random: () => 0.999999, maxAttempts: 4, initialDelay: 100, factor: 2, maxDelay: 1_000 });
    const refused = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 3; i++) bounds.push(schedule.failed(refused)!);
    assert.deepEqual(bounds, [99, 199, 399]);
    assert.equal(schedule.failed(refused), null, 'the 4th failed attempt gives up');
    schedule.opened();
    assert.equal(schedule.failures, 0);
  });

  test('1012 Service Restart means now; a connection that lasted minUptime resets the bound', () => {
    let now = 0;
    const schedule = new ReconnectSchedule({ random: () => 0.999999, initialDelay: 100, factor: 2, minUptime: 1_000 }, () => now);
    const clean1012: CloseInfo = { code: 1012, reason: 'restart', wasClean: true };
    const dropped: CloseInfo = { code: 1006, reason: '', wasClean: false };
    schedule.opened();
    assert.equal(schedule.closed(clean1012, null), 0);
    schedule.opened();
    assert.equal(schedule.closed(dropped, null), 99, 'RFC 6455 §7.2.3: a random first delay');
    schedule.opened();
    assert.equal(schedule.closed(dropped, null), 199, 'a short-lived connection does not reset the bound');
    schedule.opened();
    now += 1_000;
    assert.equal(schedule.closed(dropped, null), 99, 'a long-lived one does');
  });

  test('isRetryable: network trouble and 5xx yes; 4xx, bad URLs, TLS verification and bugs no', () => {
    const status = (s: number) => new InvalidStatus({ status: s, statusText: '', headers: new Map(), body: Buffer.alloc(0) });
    const sys = (code: string) => Object.assign(new Error(code), { code });
    for (const e of [sys('ECONNREFUSED'), sys('ECONNRESET'), sys('ENOTFOUND'), sys('EAI_AGAIN'), new TimeoutError('t'), status(503), status(429)]) {
      assert.equal(isRetryable(e), true, String(e));
    }
    const badUrl = new InvalidHandshake('bad', 'WS_INVALID_URL');
    for (const e of [status(401), status(403), status(404), badUrl, sys('DEPTH_ZERO_SELF_SIGNED_CERT'), sys('ERR_TLS_CERT_ALTNAME_INVALID'), new TypeError('x'), 'x']) {
      assert.equal(isRetryable(e), false, String(e));
    }
  });
});

describe('send queue', () => {
  test('bounded by count and bytes (UTF-8), with three overflow policies', () => {
    const thrower = new SendQueue<string>({ maxMessages: 2 });
    thrower.push('a');
    thrower.push('b');
    assert.throws(() => thrower.push('c'), (e: unknown) => e instanceof SendQueueError && e.code === 'WS_QUEUE_FULL');
    const oldest = new SendQueue<string>({ maxBytes: 6, overflow: 'drop-oldest' });
    assert.deepEqual(oldest.push('é😀'), []); // 2 + 4 bytes
    assert.equal(oldest.bytes, 6);
    assert.deepEqual(oldest.push('x'), ['é😀']);
    const newest = new SendQueue<string>({ maxMessages: 1, overflow: 'drop-newest' });
    newest.push('keep');
    assert.deepEqual(newest.push('drop'), ['drop']);
    assert.deepEqual(newest.clear(), ['keep']);
  });
});

describe('connect() is awaitable and iterable', () => {
  test('await connect(url, { reconnect }) retries until the server comes up', async () => {
    const port = await freePort();
    const retries: number[] = [];
    const pending = connect(`ws://127.0.0.1:${port}`, { reconnect: { ...FAST, onRetry: (_a, ms) => retries.push(ms) } });
    await delay(400);
    const { server } = await ChildServer.start(port);
    try {
      const ws = await within(Promise.resolve(pending), 5_000, 'connect');
      await ws.send('up');
      assert.equal(await ws.recv(), 'up');
      assert.ok(retries.length >= 2, `retried ${retries.length} times`);
      assert.ok(retries.every((ms) => ms < 300));
      await ws.close();
    } finally {
      await server.kill();
    }
  });

  test('for await reconnects after the server is killed mid-stream and restarted on the same port', async (t) => {
    let { server, port } = await ChildServer.start(0, 'stream');
    const seen: string[] = [];
    const retries: number[] = [];
    let connections = 0;
    let downSince = 0;
    try {
      for await (const ws of connect(`ws://127.0.0.1:${port}`, { reconnect: { ...FAST, onRetry: (_a, ms) => retries.push(ms) } })) {
        connections++;
        if (connections === 2) t.diagnostic(`reconnected ${Math.round(performance.now() - downSince)} ms after the kill`);
        try {
          for await (const message of ws) {
            seen.push(`${connections}:${String(message)}`);
            if (connections === 1 && seen.length === 5) {
              downSince = performance.now();
              await server.kill();
              setTimeout(() => void ChildServer.start(port, 'stream').then((s) => (server = s.server)), 300);
            }
            if (connections === 2) break;
          }
        } catch (error) {
          assert.equal((error as { closeCode?: number }).closeCode, 1006);
        }
        if (connections === 2) break;
      }
      assert.equal(connections, 2);
      assert.deepEqual(seen.slice(0, 5), ['1:tick 0', '1:tick 1', '1:tick 2', '1:tick 3', '1:tick 4']);
      assert.equal(seen.at(-1), '2:tick 0');
      assert.ok(retries.length >= 1 && retries.every((ms) => ms < 300), `delays ${retries.join(', ')}`);
      t.diagnostic(`retry delays (ms): ${retries.join(', ')}`);
    } finally {
      await delay(350);
      await ChildServer.killAll();
    }
  });

  test('an invalid URL is not retried', async () => {
    const started = performance.now();
    await assert.rejects(
      (async () => {
        for await (const _ws of connect('ftp://127.0.0.1/', { reconnect: true })) assert.fail('no connection expected');
      })(),
      (e: unknown) => e instanceof InvalidHandshake && e.code === 'WS_INVALID_URL',
    );
    assert.ok(performance.now() - started < 2_000); // a retry would wait the first backoff (up to 5 s); a loaded machine can take 100 ms
  });
});

describe('handshake errors that retrying cannot fix', () => {
  async function countingServer() {
    let attempts = 0;
    const server = await startServer(echo, {
      processRequest: (request) => {
        attempts++;
        if (request.path === '/missing') return { status: 404 };
        if (request.path === '/private') return { status: 401 };
        return undefined;
      },
    });
    return { server, attempts: () => attempts };
  }

  test('404 and 401 are tried once, by the iterator and by the client: no retry storm', async () => {
    const { server, attempts } = await countingServer();
    try {
      await assert.rejects(
        (async () => {
          for await (const _ws of connect(`${server.url}/missing`, { reconnect: { initialDelay: 10 } })) assert.fail();
        })(),
        (e: unknown) => e instanceof InvalidStatus && e.response.status === 404,
      );
      const rec = recorder();
      const client = clientFor(`${server.url}/private`, rec, { reconnect: { initialDelay: 10 } });
      await within(client.closed, 2_000, 'client gives up');
      await delay(300);
      assert.equal(attempts(), 2, 'one attempt each');
      assert.equal(rec.count('error'), 1);
      assert.equal((client.error as InvalidStatus).response.status, 401);
      assert.equal(rec.count('reconnect'), 0);
    } finally {
      await server.close();
    }
  });

  test('shouldRetry can ask for retries anyway, bounded by maxAttempts', async () => {
    const { server, attempts } = await countingServer();
    try {
      await assert.rejects(connect(`${server.url}/missing`, { reconnect: { initialDelay: 10, maxAttempts: 3, shouldRetry: () => true } }), InvalidStatus);
      assert.equal(attempts(), 3);
    } finally {
      await server.close();
    }
  });
});

describe('ReconnectingClient against a server that dies and comes back', () => {
  test('messages queued while the server is down arrive in order, none lost, none duplicated', async () => {
    const first = await ChildServer.start(0);
    const url = `ws://127.0.0.1:${first.port}`;
    const rec = recorder();
    const client = clientFor(url, rec);
    try {
      await rec.until('open', 1);
      for (let i = 0; i < 10; i++) client.send(`m${i}`);
      await rec.until('message', 10);
      await first.server.kill();
      await rec.until('close', 1);
      for (let i = 10; i < 60; i++) client.send(`m${i}`);
      assert.equal(client.queued, 50);
      const second = await ChildServer.start(first.port);
      await rec.until('open', 2);
      await second.server.waitFor((lines) => lines.filter((l) => l.startsWith('recv ')).length >= 50, 5_000, '50 messages');
      await delay(100);
      const expected = Array.from({ length: 60 }, (_, i) => `m${i}`);
      assert.deepEqual([...first.server.received, ...second.server.received], expected);
      await rec.until('message', 60);
      assert.deepEqual(rec.of('message').map((e) => e.value), expected);
      assert.equal(client.queued, 0);
    } finally {
      await client.close();
      await ChildServer.killAll();
    }
  });

  test('sending without pause through a kill and restart: order kept, no duplicates, every queued message delivered', async () => {
    const first = await ChildServer.start(0);
    const rec = recorder();
    // A loaded machine may take seconds to restart the server: room for every message sent meanwhile.
    const client = clientFor(`ws://127.0.0.1:${first.port}`, rec, { queue: { maxMessages: 1_000_000, maxBytes: 64 * 1024 * 1024 } });
    const queuedWhileDown: string[] = [];
    let n = 0;
    const timer = setInterval(() => {
      const message = `n${n++}`;
      if (!client.connected) queuedWhileDown.push(message);
      client.send(message);
    }, 2);
    try {
      await rec.until('open', 1);
      await delay(200);
      await first.server.kill();
      await delay(200);
      const second = await ChildServer.start(first.port);
      await rec.until('open', 2);
      await delay(200);
      clearInterval(timer);
      await second.server.waitFor((lines) => lines.at(-1) === `recv n${n - 1}`, 5_000, 'the last message');
      const received = [...first.server.received, ...second.server.received].map((m) => Number(m.slice(1)));
      for (let i = 1; i < received.length; i++) assert.ok(received[i]! > received[i - 1]!, `order at ${i}`);
      const got = new Set(received.map((i) => `n${i}`));
      assert.ok(queuedWhileDown.length > 20, `queued ${queuedWhileDown.length}`);
      assert.deepEqual(queuedWhileDown.filter((m) => !got.has(m)), [], 'every queued message arrived');
    } finally {
      clearInterval(timer);
      await client.close();
      await ChildServer.killAll();
    }
  });

  test('a frozen server (SIGSTOP) is detected by keepalive within pingInterval + pingTimeout, then reconnected', async (t) => {
    const { server, port } = await ChildServer.start(0);
    const rec = recorder();
    const client = clientFor(`ws://127.0.0.1:${port}`, rec, { pingInterval: 300, pingTimeout: 300, openTimeout: 500 });
    try {
      await rec.until('open', 1);
      const stoppedAt = performance.now();
      server.signal('SIGSTOP');
      await rec.until('close', 1, 3_000);
      const detected = rec.of('close')[0]!.at - stoppedAt;
      t.diagnostic(`frozen server detected after ${Math.round(detected)} ms (pingInterval 300 + pingTimeout 300)`);
      assert.ok(detected >= 300 && detected < 300 + 300 + 300, `detected after ${detected} ms`);
      await rec.until('error', 1, 3_000); // handshakes against the frozen process time out
      assert.ok(rec.of('error')[0]!.value instanceof TimeoutError);
      const continuedAt = performance.now();
      server.signal('SIGCONT');
      await rec.until('open', 2, 3_000);
      t.diagnostic(`reconnected ${Math.round(rec.of('open')[1]!.at - continuedAt)} ms after SIGCONT`);
      client.send('alive');
      await rec.until('message', 1);
    } finally {
      await client.close();
      await server.kill();
    }
  });

  test('a graceful restart (1012) is retried at once; close() stops reconnecting and reports queued messages', async () => {
    const first = await ChildServer.start(0);
    const rec = recorder();
    const client = clientFor(`ws://127.0.0.1:${first.port}`, rec);
    try {
      await rec.until('open', 1);
      first.server.signal('SIGTERM');
      await rec.until('reconnect', 1);
      assert.equal((rec.of('close')[0]!.value as CloseInfo).code, 1012);
      assert.deepEqual(rec.of('reconnect')[0]!.value, { attempt: 1, delay: 0 });
      await first.server.exited;
      await rec.until('reconnect', 3);
      client.send('a');
      client.send('b');
      await client.close();
      const attempts = rec.count('reconnect');
      await delay(400);
      assert.equal(rec.count('reconnect'), attempts, 'no attempt after close()');
      const discarded = rec.of('error').map((e) => e.value).find((e) => e instanceof SendQueueError) as SendQueueError;
      assert.equal(discarded.code, 'WS_QUEUE_DISCARDED');
      assert.deepEqual(discarded.dropped, ['a', 'b']);
      assert.throws(() => client.send('c'), /client is closed/);
    } finally {
      await client.close();
      await ChildServer.killAll();
    }
  });
});

describe('examples/sensor-client.ts', () => {
  test('prints readings, the drop and the recovery when its server restarts', async () => {
    const first = await ChildServer.start(0, 'stream');
    const example = fileURLToPath(new URL('../../examples/sensor-client.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', example, `ws://127.0.0.1:${first.port}/`, '100'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8');
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const seen = (text: string) =>
      within(
        new Promise<void>((resolve) => {
          const check = () => (output.includes(text) ? resolve() : setTimeout(check, 20));
          check();
        }),
        15_000,
        `example output "${text}"`,
      );
    child.stdout.on('data', (chunk: string) => (output += chunk));
    try {
      await seen('connected to');
      await seen('reading tick 3');
      await first.server.kill();
      await seen('dropped after');
      await seen('retry #1 in');
      await ChildServer.start(first.port, 'stream');
      await seen('reconnected after');
      child.kill('SIGINT');
      assert.equal(await within(exited, 5_000, 'example exit'), 0);
      assert.match(output, /closed by the server \(1001 client stopping\)|dropped after/);
    } finally {
      child.kill('SIGKILL');
      await ChildServer.killAll();
    }
  });
});

export type { Connection };
