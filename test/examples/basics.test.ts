/** The tutorial scenarios of issue 9 that show the core API, each run for real. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, InvalidStatus } from '../../src/index.js';
import { skipWithoutOpenssl } from '../helpers.js';
import { runExample } from './run-example.js';

describe('examples', () => {
  it('echo-server.ts echoes, and echo-client.ts works over one connection and one per message', async () => {
    const server = runExample('echo-server.ts');
    try {
      const [, url] = await server.line(/^Listening on (\S+)/);
      for (const mode of [[], ['--once']]) {
        const client = runExample('echo-client.ts', [...mode, url!, 'hello', 'world']);
        assert.equal(await new Promise((resolve) => client.child.once('exit', resolve)), 0);
        assert.deepEqual(client.output.filter((l) => l.startsWith('<')), ['< hello', '< world']);
      }
    } finally {
      await server.stop();
    }
  });

  it('callback-server.ts greets, echoes from message() with sendNow(), and reports the close code', async () => {
    const server = runExample('callback-server.ts');
    try {
      const [, url] = await server.line(/^Listening on (\S+)/);
      const ws = await connect(url!);
      assert.equal(await ws.recv(), 'welcome');
      await ws.send('hello');
      assert.equal(await ws.recv(), 'hello');
      await ws.send(Buffer.from([1, 2, 3]));
      assert.deepEqual(await ws.recv(), Buffer.from([1, 2, 3]));
      await ws.close(4000, 'bye');
      await server.line(/^closed 4000 bye$/);
    } finally {
      await server.stop();
    }
  });

  it('push-server.ts pushes typed lines to print-client.ts', async () => {
    const server = runExample('push-server.ts');
    try {
      const [, url] = await server.line(/^Listening on (\S+);/);
      const client = runExample('print-client.ts', [url!]);
      await server.line(/^client connected/);
      server.child.stdin.write('first line\nsecond line\n');
      await client.line(/^second line$/);
      assert.deepEqual(client.output.slice(0, 2), ['first line', 'second line']);
      server.child.stdin.end();
      await client.line(/^closed: 100[01]/);
    } finally {
      await server.stop();
    }
  });

  it('wss.ts serves TLS with a certificate and a client that trusts its CA', { skip: skipWithoutOpenssl }, async () => {
    const example = runExample('wss.ts');
    await example.line(/^< secure echo: hello over TLS$/);
    assert.equal(await new Promise((resolve) => example.child.once('exit', resolve)), 0);
  });

  it('attach-http.ts shares a port between plain HTTP and WebSocket', async () => {
    const example = runExample('attach-http.ts');
    try {
      const [, base] = await example.line(/^Listening on (http:\S+)/);
      assert.match(await (await fetch(base!)).text(), /plain HTTP here/);
      const ws = await connect(`${base!.replace('http', 'ws')}/ws`);
      await ws.send('hi');
      assert.equal(await ws.recv(), 'ws: hi');
      await ws.close();
      await assert.rejects(connect(`${base!.replace('http', 'ws')}/elsewhere`), (e: InvalidStatus) => e.response.status === 404);
    } finally {
      await example.stop();
    }
  });

  it('attach-express.ts shares a port between Express routes and WebSocket', async () => {
    const example = runExample('attach-express.ts');
    try {
      const [, base] = await example.line(/^Listening on (http:\S+)/);
      assert.deepEqual(await (await fetch(`${base}/health`)).json(), { ok: true });
      const ws = await connect(`${base!.replace('http', 'ws')}/chat`);
      await ws.send('hi');
      assert.equal(await ws.recv(), 'express+wskit: hi');
      await ws.close();
    } finally {
      await example.stop();
    }
  });

  it('auth-token.ts admits a valid token (header or query) and answers 401 otherwise', async () => {
    const example = runExample('auth-token.ts', [], { TOKEN: 's3cret' });
    try {
      const [, url] = await example.line(/^Listening on (\S+)/);
      const withHeader = await connect(url!, { headers: { Authorization: 'Bearer s3cret' } });
      assert.equal(await withHeader.recv(), 'welcome, user');
      await withHeader.close();
      const withQuery = await connect(`${url}/?token=s3cret&user=ada`);
      assert.equal(await withQuery.recv(), 'welcome, ada');
      await withQuery.close();
      for (const bad of [{}, { headers: { Authorization: 'Bearer wrong' } }]) {
        await assert.rejects(connect(url!, bad), (e: InvalidStatus) => e instanceof InvalidStatus && e.response.status === 401);
      }
    } finally {
      await example.stop();
    }
  });
});
