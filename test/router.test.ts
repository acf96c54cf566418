import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, InvalidStatus, router, type Handler } from '../src/index.js';
import { startServer } from './helpers.js';

const noop: Handler = () => undefined;
const named = (name: string): Handler => Object.defineProperty(() => undefined, 'name', { value: name });

describe('router: matching', () => {
  const a = named('a');
  const b = named('b');
  const c = named('c');
  const d = named('d');
  const e = named('e');
  const routes = router({
    '/light/{status}': a,
    '/light/other': b,
    '/rooms/{room}/chat': c,
    '/items/{id:int}': d,
    '/files/{rest:path}': e,
  });

  it('captures named parameters', () => {
    assert.deepEqual(routes.match('/light/on'), { handler: a, params: { status: 'on' }, pattern: '/light/{status}' });
    assert.deepEqual(routes.match('/rooms/42/chat'), { handler: c, params: { room: '42' }, pattern: '/rooms/{room}/chat' });
  });

  it('prefers a literal segment over a parameter', () => {
    assert.equal(routes.match('/light/other')?.handler, b);
  });

  it('typed {id:int} matches digits only', () => {
    assert.deepEqual(routes.match('/items/123')?.params, { id: '123' });
    assert.equal(routes.match('/items/12a'), null);
    assert.equal(routes.match('/items/-1'), null);
  });

  it('{rest:path} matches the remaining segments, possibly none', () => {
    assert.deepEqual(routes.match('/files/a/b/c.txt')?.params, { rest: 'a/b/c.txt' });
    assert.deepEqual(routes.match('/files/')?.params, { rest: '' });
    assert.deepEqual(routes.match('/files')?.params, { rest: '' });
  });

  it('percent-decodes each segment after splitting on /', () => {
    assert.deepEqual(routes.match('/rooms/a%2Fb%20c/chat')?.params, { room: 'a/b c' });
    assert.deepEqual(routes.match('/light/%6Fn')?.params, { status: 'on' });
    assert.equal(routes.match('/light/%E0%A4%A'), null, 'malformed escapes match nothing');
  });

  it('treats trailing slashes and empty segments strictly', () => {
    assert.equal(routes.match('/light/on/'), null);
    assert.equal(routes.match('/light/'), null);
    assert.equal(routes.match('/rooms//chat'), null);
    assert.equal(routes.match('/nowhere'), null);
  });

  it('backtracks from a dead-end literal branch to a parameter', () => {
    const r = router([
      ['/a/b/c', named('abc')],
      ['/a/{x}/d', named('axd')],
    ]);
    assert.deepEqual(r.match('/a/b/d')?.params, { x: 'b' });
    assert.equal((r.match('/a/b/c')?.handler as Handler).name, 'abc');
  });

  it('rejects malformed and conflicting patterns', () => {
    assert.throws(() => router({ 'light/{s}': noop }), SyntaxError);
    assert.throws(() => router({ '/x/{a:float}': noop }), SyntaxError);
    assert.throws(() => router({ '/x/{a}/{a}': noop }), SyntaxError);
    assert.throws(() => router({ '/x/{a:path}/y': noop }), SyntaxError);
    assert.throws(() => router({ '/x/{a}': noop, '/x/{b}': noop }), /conflicts/);
  });

  it('looks up 1,000 routes in bounded time (a trie, not a scan)', () => {
    const big = router();
    for (let i = 0; i < 1000; i++) big.add(`/service${i}/{id:int}/item/{name}`, noop);
    big.add('/light/{status}', noop);
    assert.equal(big.patterns.length, 1001);
    const small = router({ '/service999/{id:int}/item/{name}': noop });
    const time = (r: typeof big, n: number): number => {
      const start = performance.now();
      for (let i = 0; i < n; i++) {
        if (r.match(`/service999/${i}/item/x`) === null) throw new Error('miss');
      }
      return performance.now() - start;
    };
    time(big, 20_000);
    time(small, 20_000); // warm up
    const n = 100_000;
    const bigMs = time(big, n);
    const smallMs = time(small, n);
    const perLookupUs = (bigMs / n) * 1000;
    console.log(`# 1,001 routes: ${perLookupUs.toFixed(2)} µs/lookup; 1 route: ${((smallMs / n) * 1000).toFixed(2)} µs/lookup`);
    // Generous: an absolute bound only catches a pathological (e.g. linear-scan) regression on a loaded machine.
    assert.ok(perLookupUs < 200, `lookup took ${perLookupUs} µs`);
    assert.ok(bigMs < smallMs * 4 + 50, `1,001 routes ${bigMs} ms vs 1 route ${smallMs} ms`);
  });
});

describe('router: with a real server', () => {
  it('runs the matched handler with ws.params and ws.query, and refuses an unknown path with 404', async () => {
    const routes = router({
      '/light/{status}': async (ws) => {
        await ws.send(JSON.stringify({ params: ws.params, query: Object.fromEntries(ws.query) }));
      },
      '/sensor/connect': async (ws) => {
        await ws.send(`sensor ${ws.query.get('type')}`);
      },
    });
    const server = await startServer(routes.handler, { route: routes });
    try {
      const ws = await connect(`${server.url}/light/on?x=1`);
      assert.deepEqual(JSON.parse((await ws.recv()) as string), { params: { status: 'on' }, query: { x: '1' } });
      await ws.close();
      const sensor = await connect(`${server.url}/sensor/connect?type=android.sensor.accelerometer`);
      assert.equal(await sensor.recv(), 'sensor android.sensor.accelerometer');
      await sensor.close();
      await assert.rejects(connect(`${server.url}/nowhere`), (error: unknown) => {
        assert.ok(error instanceof InvalidStatus);
        assert.equal(error.response.status, 404);
        return true;
      });
      assert.equal(server.connections.size, 0);
    } finally {
      await server.close();
    }
  });

  it('router.handler alone dispatches by path and closes an unmatched connection with 1008', async () => {
    const routes = router({ '/echo': async (ws) => ws.send('routed') });
    const server = await startServer(routes.handler);
    try {
      const ws = await connect(`${server.url}/echo`);
      assert.equal(await ws.recv(), 'routed');
      const other = await connect(`${server.url}/other`);
      const info = await other.closed;
      assert.equal(info.code, 1008);
    } finally {
      await server.close();
    }
  });
});
