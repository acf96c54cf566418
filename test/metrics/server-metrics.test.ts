/**
 * A server's metrics over real loopback sockets: every figure checked against what the test did, exactly
 * (messages and bytes by opcode, close codes, handshake refusals by reason, slow clients, compression,
 * keepalive round trips, the slowest clients), the HTTP endpoint on the server's port, on a separate port and
 * as middleware, the logger's connection hooks, and the backplane figures.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import {
  attach,
  connect,
  inProcessBackplane,
  InvalidState,
  InvalidStatus,
  recordResume,
  redisBackplane,
  router,
  type Connection,
  type ConnectionLogEvent,
  type HistogramSample,
  type Server,
} from '../../src/index.js';
import { echo, freePort, rawExchange, skipWithoutRedis, startServer } from '../helpers.js';
import { startRedis } from '../redis-server.js';
import { value, waitUntil } from './metrics-helpers.js';

const servers: Server[] = [];
async function metered(...args: Parameters<typeof startServer>): Promise<Server> {
  const server = await startServer(args[0], { metrics: true, ...args[1] });
  servers.push(server);
  return server;
}
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

function portOf(server: Server): number {
  return server.address()!.port;
}

describe('messages, bytes and connections', () => {
  test('counted by opcode and by route pattern (never the raw path), payload bytes exact', async () => {
    const routes = router({
      '/chat/{room}': echo,
      '/feed': async (ws) => {
        await ws.send(Buffer.alloc(7));
        await ws.send(['a', 'bc']); // one fragmented text message of 3 bytes
        for await (const _ of ws);
      },
    });
    const server = await metered(routes.handler, { route: routes, compression: false });
    const a = await connect(`${server.url}/chat/x1`);
    const b = await connect(`${server.url}/chat/x2`);
    for (const ws of [a, b]) {
      for (let i = 0; i < 3; i++) {
        await ws.send('héllo'); // 6 bytes of UTF-8
        assert.equal(await ws.recv(), 'héllo');
      }
      await ws.send(Buffer.alloc(10));
      await ws.recv();
    }
    const feed = await connect(`${server.url}/feed`);
    assert.equal((await feed.recv()).length, 7);
    assert.equal(await feed.recv(), 'abc');
    const m = server.metrics();
    const chat = { route: '/chat/{room}' };
    assert.equal(value(m, 'wskit_connections', chat), 2);
    assert.equal(value(m, 'wskit_connections', { route: '/feed' }), 1);
    assert.equal(value(m, 'wskit_messages_received_total', { ...chat, opcode: 'text' }), 6);
    assert.equal(value(m, 'wskit_received_bytes_total', { ...chat, opcode: 'text' }), 36);
    assert.equal(value(m, 'wskit_messages_received_total', { ...chat, opcode: 'binary' }), 2);
    assert.equal(value(m, 'wskit_received_bytes_total', { ...chat, opcode: 'binary' }), 20);
    assert.equal(value(m, 'wskit_messages_sent_total', { ...chat, opcode: 'text' }), 6);
    assert.equal(value(m, 'wskit_sent_bytes_total', { ...chat, opcode: 'text' }), 36);
    assert.equal(value(m, 'wskit_sent_bytes_total', { ...chat, opcode: 'binary' }), 20);
    assert.equal(value(m, 'wskit_messages_sent_total', { route: '/feed', opcode: 'binary' }), 1);
    assert.equal(value(m, 'wskit_sent_bytes_total', { route: '/feed', opcode: 'binary' }), 7);
    assert.equal(value(m, 'wskit_messages_sent_total', { route: '/feed', opcode: 'text' }), 1);
    assert.equal(value(m, 'wskit_sent_bytes_total', { route: '/feed', opcode: 'text' }), 3);
    assert.equal(value(m, 'wskit_handshakes_total', { ...chat, result: 'accepted' }), 2);
    const routesSeen = new Set(Object.values(m).flatMap((family) => family.samples.map((s) => s.labels.route)).filter((r) => r !== undefined));
    assert.deepEqual([...routesSeen].sort(), ['/chat/{room}', '/feed']);
    await Promise.all([a.close(), b.close(), feed.close()]);
  });

  test('text sizes across the frame length forms (125, 126, 65,535, 65,536 bytes) are counted exactly, with and without compression', async () => {
    for (const compression of [false, true]) {
      const server = await metered(echo, { compression, maxMessageSize: 1 << 20 });
      const ws = await connect(server.url, { compression });
      const sizes = [125, 126, 65535, 65536];
      for (const size of sizes) {
        await ws.send('é'.repeat(size >> 1) + 'a'.repeat(size & 1)); // 2-byte characters: UTF-8 size, not string length
        await ws.recv();
      }
      const total = sizes.reduce((a, b) => a + b, 0);
      const m = server.metrics();
      assert.equal(value(m, 'wskit_sent_bytes_total', { opcode: 'text' }), total, `compression ${compression}`);
      assert.equal(value(m, 'wskit_received_bytes_total', { opcode: 'text' }), total, `compression ${compression}`);
      await ws.close();
    }
  });

  test('close codes by bucket: registered codes as is, 3xxx, 4xxx, 1006 for a dropped connection', async () => {
    const server = await metered(echo, { compression: false });
    const codes = [1000, 1001, 4001, 4999, 3002];
    const clients = await Promise.all([...codes, 0].map(() => connect(server.url)));
    await Promise.all(codes.map((code, i) => clients[i]!.close(code)));
    clients[codes.length]!.terminate();
    const m = await waitUntil(() => server.metrics(), (s) => value(s, 'wskit_connections_closed_total') === 6, 5000, 'six closes');
    const closed = (code: string) => value(m, 'wskit_connections_closed_total', { code });
    assert.deepEqual([closed('1000'), closed('1001'), closed('4xxx'), closed('3xxx'), closed('1006')], [1, 1, 2, 1, 1]);
    assert.equal(value(m, 'wskit_connections'), 0);
    assert.equal(value(m, 'wskit_connections_opened_total'), 6);
    assert.ok(!m.wskit_connections_closed_total!.samples.some((s) => s.labels.code === '4001'), 'raw application codes are bucketed');
  });

  test('a server without a router has no route label', async () => {
    const server = await metered(echo);
    const ws = await connect(server.url);
    await ws.close();
    for (const family of Object.values(server.metrics())) {
      for (const sample of family.samples) assert.equal(sample.labels.route, undefined, family.name);
    }
  });
});

test('with a router, a route appears with its first connection (no empty route label before)', async () => {
  const routes = router({ '/r': echo });
  const server = await metered(routes.handler, { route: routes });
  assert.deepEqual(server.metrics().wskit_connections!.samples, []);
  const text = await (await fetch(`http://127.0.0.1:${portOf(server)}/metrics`)).text();
  assert.doesNotMatch(text, /route=""/);
  const ws = await connect(`${server.url}/r`);
  assert.deepEqual(server.metrics().wskit_connections!.samples, [{ labels: { route: '/r' }, value: 1 }]);
  await ws.close();
});

describe('handshakes', () => {
  test('refusals are counted by reason; a scrape is neither a handshake nor pending', async () => {
    const routes = router({ '/a': echo });
    const server = await metered(routes.handler, {
      route: routes,
      origins: ['http://good.example', null],
      handshakeTimeout: 300,
      processRequest: (request) => (request.path === '/secret' ? { status: 401, body: 'no' } : undefined),
    });
    const port = portOf(server);
    await assert.rejects(connect(`${server.url}/a`, { origin: 'http://evil.example' }), InvalidStatus);
    await assert.rejects(connect(`${server.url}/nowhere`), InvalidStatus);
    await assert.rejects(connect(`${server.url}/secret`), InvalidStatus);
    assert.match((await rawExchange(port, 'NOT HTTP\r\n\r\n')).toString(), /^HTTP\/1\.1 400/);
    assert.match((await rawExchange(port, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n')).toString(), /^HTTP\/1\.1 426/);
    // A client that leaves in the middle of its request head, and one that never finishes it.
    const leaver = net.connect(port, '127.0.0.1');
    await once(leaver, 'connect');
    leaver.write('GET /a HTTP/1.1\r\n');
    await waitUntil(() => value(server.metrics(), 'wskit_handshakes_pending'), (n) => n === 1, 5000, 'the half head pending');
    leaver.destroy();
    const slow = net.connect(port, '127.0.0.1');
    slow.on('error', () => undefined);
    await once(slow, 'connect');
    slow.write('GET /a HTTP/1.1\r\n');
    const ok = await connect(`${server.url}/a`, { origin: 'http://good.example' });
    const m = await waitUntil(
      () => server.metrics(),
      (s) => value(s, 'wskit_handshakes_total', { reason: 'timeout' }) === 1 && value(s, 'wskit_handshakes_total', { reason: 'aborted' }) === 1,
      5000,
      'the timeout and the abort',
    );
    const refused = (reason: string) => value(m, 'wskit_handshakes_total', { result: 'refused', reason });
    assert.deepEqual(
      Object.fromEntries(['origin', 'no_route', 'process_request', 'bad_request', 'aborted', 'timeout', 'shutting_down'].map((r) => [r, refused(r)])),
      { origin: 1, no_route: 1, process_request: 1, bad_request: 2, aborted: 1, timeout: 1, shutting_down: 0 },
    );
    assert.equal(value(m, 'wskit_handshakes_total', { result: 'accepted' }), 1);
    const scrape = await fetch(`http://127.0.0.1:${port}/metrics`);
    const text = await scrape.text();
    assert.match(text, /^wskit_handshakes_pending 0$/m);
    assert.match(text, /^wskit_handshakes_total\{route="\/a",result="accepted"\} 1$/m);
    assert.equal(value(server.metrics(), 'wskit_handshakes_total'), 8, 'scrapes are not counted');
    await ok.close();
  });

  test('admission refusals appear under their reason', async () => {
    const server = await metered(echo, { maxConnections: 1 });
    const first = await connect(server.url);
    await assert.rejects(connect(server.url), InvalidStatus);
    assert.equal(value(server.metrics(), 'wskit_handshakes_total', { reason: 'connection_limit' }), 1);
    await first.close();
  });
});

describe('broadcast, compression, keepalive', () => {
  for (const onSlow of ['skip', 'close'] as const) {
    test(`slow clients ${onSlow === 'skip' ? 'skipped' : 'closed'} by publish are counted`, async () => {
      let subscribed = 0;
      const server = await metered(
        async (ws) => {
          ws.subscribe('news');
          subscribed++;
          for await (const _ of ws);
        },
        { broadcast: { maxBuffered: 50, onSlow } },
      );
      const clients = await Promise.all([1, 2, 3].map(() => connect(server.url)));
      await waitUntil(() => subscribed, (n) => n === 3, 5000, 'three subscribers');
      assert.deepEqual(server.publish('news', 'small'), { sent: 3, skipped: 0, closed: 0 });
      const result = server.publish('news', 'x'.repeat(100)); // a frame over maxBuffered: every client is "slow"
      const m = server.metrics();
      assert.equal(value(m, 'wskit_slow_clients_total', { action: 'skipped' }), result.skipped);
      assert.equal(value(m, 'wskit_slow_clients_total', { action: 'closed' }), result.closed);
      assert.equal(result.skipped + result.closed, 3);
      assert.equal(value(m, 'wskit_messages_sent_total', { opcode: 'text' }), 3, 'each delivery of the small message');
      assert.equal(value(m, 'wskit_sent_bytes_total', { opcode: 'text' }), 15);
      if (onSlow === 'close') {
        const closed = await waitUntil(() => server.metrics(), (s) => value(s, 'wskit_connections_closed_total', { code: '1013' }) === 3);
        assert.equal(value(closed, 'wskit_connections'), 0);
      }
      await Promise.all(clients.map((ws) => ws.close()));
    });
  }

  test('compression: bytes into and out of deflate both ways; payload bytes are the uncompressed sizes', async () => {
    const server = await metered(echo);
    const ws = await connect(server.url);
    assert.match(ws.extensions, /permessage-deflate/);
    const text = 'compress me '.repeat(100); // 1,200 bytes, far above the 128-byte threshold
    await ws.send(text);
    assert.equal(await ws.recv(), text);
    await ws.send('tiny'); // below the threshold: not compressed either way
    await ws.recv();
    const m = server.metrics();
    assert.equal(value(m, 'wskit_received_bytes_total'), 1204);
    assert.equal(value(m, 'wskit_sent_bytes_total'), 1204);
    assert.equal(value(m, 'wskit_compression_output_bytes_total', { direction: 'received' }), 1200);
    assert.equal(value(m, 'wskit_compression_input_bytes_total', { direction: 'sent' }), 1200);
    const inflated = value(m, 'wskit_compression_input_bytes_total', { direction: 'received' });
    const deflated = value(m, 'wskit_compression_output_bytes_total', { direction: 'sent' });
    assert.ok(inflated > 0 && inflated < 200, `received compressed ${inflated}`);
    assert.ok(deflated > 0 && deflated < 200, `sent compressed ${deflated}`);
    assert.equal(value(m, 'wskit_compression_queue'), 0);
    assert.equal(value(m, 'wskit_compression_active'), 0);
    await ws.close();
  });

  test('keepalive round trips go into the histogram, in seconds', async () => {
    const server = await metered(echo, { pingInterval: 30 });
    const ws = await connect(server.url);
    const m = await waitUntil(() => server.metrics(), (s) => value(s, 'wskit_keepalive_rtt_seconds') >= 3, 5000, 'three pongs');
    const family = m.wskit_keepalive_rtt_seconds!;
    assert.equal(family.type, 'histogram');
    const { histogram } = family.samples[0] as HistogramSample;
    assert.equal(histogram.counts.reduce((a, b) => a + b, 0), histogram.count);
    assert.ok(histogram.sum > 0 && histogram.sum / histogram.count < 1, `mean ${histogram.sum / histogram.count} s`);
    await ws.close();
  });

  test('the slowest clients: the largest send backlogs, by rank', async () => {
    let sender: Connection | null = null;
    const server = await metered(async (ws) => {
      if (ws.request?.path === '/flood') {
        sender = ws;
        // Far more than the socket buffers take: the rest waits in the connection for a client that doesn't read.
        for (let i = 0; i < 64; i++) void ws.send(Buffer.alloc(256 * 1024)).catch(() => undefined);
      }
      for await (const _ of ws);
    }, { compression: false });
    const idle = await connect(server.url);
    // maxQueue 1 and no recv(): the client stops reading its socket after the first message.
    const stuck = await connect(`${server.url}/flood`, { maxQueue: 1, compression: false });
    const m = await waitUntil(() => server.metrics(), (s) => value(s, 'wskit_slowest_client_buffered_bytes', { rank: '1' }) > 4 * 1024 * 1024, 5000, 'a backlog');
    const ranks = m.wskit_slowest_client_buffered_bytes!.samples.map((s) => ('value' in s ? s.value : NaN));
    assert.equal(ranks.length, 5);
    assert.equal(ranks[0], sender!.bufferedAmount);
    assert.deepEqual(ranks.slice(1), [0, 0, 0, 0]);
    stuck.terminate();
    await idle.close();
  });
});

describe('serving the metrics', () => {
  test('GET and HEAD on the server port in the text format; other methods 405; a custom path', async () => {
    const server = await metered(echo, { metrics: { path: '/stats' } });
    const base = `http://127.0.0.1:${portOf(server)}`;
    const get = await fetch(`${base}/stats?x=1`);
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const body = await get.text();
    assert.match(body, /^# TYPE wskit_connections gauge$/m);
    const head = await fetch(`${base}/stats`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get('content-length')), Buffer.byteLength(body));
    assert.equal((await fetch(`${base}/stats`, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`${base}/metrics`)).status, 426, 'only the configured path');
    // A WebSocket client asking for the metrics path gets a WebSocket connection, not the page.
    const ws = await connect(`${server.url}/stats`);
    await ws.send('still a socket');
    assert.equal(await ws.recv(), 'still a socket');
    await ws.close();
  });

  test('a separate port: served there only, closed with the server', async () => {
    const server = await startServer(echo, { metrics: { port: 0, host: '127.0.0.1' } });
    const port = server.metricsPort!;
    assert.ok(port > 0 && port !== portOf(server));
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /^wskit_connections 0$/m);
    assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${portOf(server)}/metrics`)).status, 426);
    await server.close();
    await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`));
  });

  test('a taken metrics port fails serve() with a clear error', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const taken = (blocker.address() as AddressInfo).port;
    await assert.rejects(startServer(echo, { metrics: { port: taken, host: '127.0.0.1' } }), new RegExp(`metrics port ${taken} is already in use`));
    blocker.close();
  });

  test('attach(): metricsHandler as middleware next to the app on the shared port', async () => {
    const app = http.createServer((request, response) => {
      // A header set before the handler runs (as Express sets X-Powered-By) is kept beside the metrics' own.
      response.setHeader('X-App', '1');
      server.metricsHandler(request, response, () => response.end('app'));
    });
    const server = attach(app, echo, { metrics: true, logger: null });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    const port = (app.address() as AddressInfo).port;
    const ws = await connect(`ws://127.0.0.1:${port}/`);
    await ws.send('x');
    await ws.recv();
    const scrape = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(scrape.headers.get('x-app'), '1');
    assert.equal(scrape.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(await scrape.text(), /^wskit_connections 1$/m);
    // The path is read as the handshake reads a request target: the query string is not part of it.
    assert.match(await (await fetch(`http://127.0.0.1:${port}/metrics?name[]=wskit_connections`)).text(), /^wskit_connections 1$/m);
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'app');
    await ws.close();
    await server.close();
    app.closeAllConnections();
    await new Promise((resolve) => app.close(resolve));
  });

  test('metrics off: nothing counted, no endpoint, a clear error from server.metrics()', async () => {
    let connection: Connection | null = null;
    const server = await startServer(async (ws) => {
      connection = ws;
      await echo(ws);
    });
    servers.push(server);
    const ws = await connect(server.url);
    await ws.send('x');
    await ws.recv();
    assert.equal(connection!.meter, null);
    assert.throws(() => server.metrics(), InvalidState);
    assert.throws(() => server.metricsHandler, InvalidState);
    assert.equal((await fetch(`http://127.0.0.1:${portOf(server)}/metrics`)).status, 426);
    await ws.close();
  });
});

describe('logger hooks and the resume hook', () => {
  test('connection open and close events carry the route label and the close code; a failing hook is reported', async () => {
    const events: ConnectionLogEvent[] = [];
    const errors: unknown[][] = [];
    const routes = router({ '/rooms/{room}': echo });
    const server = await startServer(routes.handler, {
      route: routes,
      logger: {
        error: (...data: unknown[]) => void errors.push(data),
        connectionOpened: (event) => void events.push(event),
        connectionClosed: (event) => {
          events.push(event);
          throw new Error('hook broke');
        },
      },
    });
    servers.push(server);
    const ws = await connect(`${server.url}/rooms/kitchen`, { subprotocols: [] });
    await ws.send('hi');
    await ws.recv();
    await ws.close(4004, 'bye');
    await waitUntil(() => events.length, (n) => n === 2, 5000, 'two events');
    const [opened, closed] = events;
    assert.equal(opened!.event, 'open');
    assert.equal(opened!.route, '/rooms/{room}');
    assert.equal(opened!.path, '/rooms/kitchen');
    assert.equal(opened!.remoteAddress, '127.0.0.1');
    assert.equal(closed!.event, 'close');
    assert.equal(closed!.code, 4004);
    assert.equal(closed!.codeLabel, '4xxx');
    assert.equal(closed!.reason, 'bye');
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]![0]), /logger\.connectionClosed failed/);
    // Hooks without the metrics option count nothing that can be read.
    assert.throws(() => server.metrics(), InvalidState);
  });

  test('recordResume counts recovered and missed resumes on the connection route', async () => {
    const server = await metered(async (ws) => {
      recordResume(ws, true);
      recordResume(ws, true);
      recordResume(ws, false);
      await echo(ws);
    });
    const ws = await connect(server.url);
    await ws.send('x');
    await ws.recv();
    const m = server.metrics();
    assert.equal(value(m, 'wskit_resumes_total', { result: 'recovered' }), 2);
    assert.equal(value(m, 'wskit_resumes_total', { result: 'missed' }), 1);
    await ws.close();
  });
});

describe('backplane', () => {
  test('in-process: publishes out and in, state up', async () => {
    const channel = `metrics-${process.pid}-${Date.now()}`;
    const subscriber = async (ws: Connection) => {
      ws.subscribe('t');
      await ws.send('ready');
      for await (const _ of ws);
    };
    const a = await metered(subscriber, { backplane: inProcessBackplane({ channel }) });
    const b = await metered(subscriber, { backplane: inProcessBackplane({ channel }) });
    const client = await connect(b.url);
    await client.recv();
    for (let i = 0; i < 3; i++) a.publish('t', `m${i}`);
    for (let i = 0; i < 3; i++) assert.equal(await client.recv(), `m${i}`);
    assert.equal(value(a.metrics(), 'wskit_backplane_published_total'), 3);
    assert.equal(value(b.metrics(), 'wskit_backplane_received_total'), 3);
    assert.equal(value(b.metrics(), 'wskit_backplane_up'), 1);
    assert.equal(value(b.metrics(), 'wskit_topics'), 1);
    assert.equal(b.metrics().wskit_backplane_dropped_total, undefined, 'the in-process backplane drops nothing');
    await client.close();
  });

  test('Redis: the PUBLISH round trip of each publish in the histogram, up, nothing dropped', { skip: skipWithoutRedis }, async () => {
    const port = await freePort();
    const redis = await startRedis(port);
    try {
      const server = await metered(echo, { backplane: redisBackplane({ url: `redis://127.0.0.1:${port}`, logger: null }) });
      for (let i = 0; i < 5; i++) server.publish('t', `m${i}`);
      const m = await waitUntil(() => server.metrics(), (s) => value(s, 'wskit_backplane_publish_duration_seconds') === 5, 5000, 'five publishes acknowledged');
      assert.equal(value(m, 'wskit_backplane_up'), 1);
      assert.equal(value(m, 'wskit_backplane_published_total'), 5);
      assert.equal(value(m, 'wskit_backplane_dropped_total'), 0);
      await server.close();
    } finally {
      redis.kill('SIGKILL');
      await once(redis, 'exit');
    }
  });
});
