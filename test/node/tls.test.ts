/**
 * wss:// over real loopback sockets with a self-signed certificate made by
 * `openssl` in a temporary directory.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { connect, type Server } from '../../src/index.js';
import { echo, makeCertificate, skipWithoutOpenssl, startServer, type TestCertificate } from '../helpers.js';

describe('wss:// with a self-signed certificate', { skip: skipWithoutOpenssl, timeout: 30_000 }, () => {
  let certificate: TestCertificate;
  let cert: Buffer;
  let key: Buffer;
  let server: Server;
  let port: number;

  before(async () => {
    certificate = makeCertificate();
    ({ cert, key } = certificate);
    server = await startServer(echo, { tls: { cert, key } });
    port = server.address()!.port;
  });

  after(async () => {
    await server?.close();
    certificate?.remove();
  });

  it('serves wss:// and server.url says so', () => {
    assert.equal(server.url, `wss://127.0.0.1:${port}`);
  });

  it('connect() with the certificate as ca round-trips text and binary', async () => {
    const ws = await connect(`wss://localhost:${port}/`, { ca: cert });
    await ws.send('secure hello');
    assert.equal(await ws.recv(), 'secure hello');
    const big = Buffer.alloc(200_000, 0xab);
    await ws.send(big);
    assert.deepEqual(await ws.recv(), big);
    assert.ok((await ws.ping()) >= 0);
    const info = await ws.close(4000, 'done');
    assert.equal(info.code, 4000);
    assert.equal(info.wasClean, true);
  });

  it('connect() without ca fails with a certificate error', async () => {
    await assert.rejects(connect(`wss://localhost:${port}/`, { openTimeout: 5000 }), (error: unknown) => {
      const code = (error as { code?: string }).code ?? '';
      assert.match(`${code} ${(error as Error).message}`, /SELF_SIGNED|self[- ]signed|certificate/i);
      return true;
    });
    assert.equal(server.connections.size, 0);
  });

  it('connect() with rejectUnauthorized: false works', async () => {
    const ws = await connect(`wss://localhost:${port}/`, { rejectUnauthorized: false });
    await ws.send('unverified');
    assert.equal(await ws.recv(), 'unverified');
    await ws.close();
  });

  it('the ws client talks to the wskit wss:// server', async () => {
    const peer = new WebSocket(`wss://localhost:${port}/`, { ca: cert });
    await new Promise((resolve, reject) => {
      peer.once('open', resolve);
      peer.once('error', reject);
    });
    const echoed = new Promise<string>((resolve) => peer.once('message', (data) => resolve(String(data))));
    peer.send('from ws');
    assert.equal(await echoed, 'from ws');
    const closed = new Promise<number>((resolve) => peer.once('close', (code) => resolve(code)));
    peer.close(1000);
    assert.equal(await closed, 1000);
  });

  it('server.close() closes wss:// connections with 1001', async () => {
    const local = await startServer(echo, { tls: { cert, key } });
    const ws = await connect(local.url.replace('127.0.0.1', 'localhost'), { ca: cert });
    await local.close();
    assert.equal((await ws.closed).code, 1001);
  });
});
