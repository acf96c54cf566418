import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  bypassesProxy,
  connect,
  InvalidProxyStatus,
  parseWebSocketUrl,
  proxyFor,
  ReconnectingClient,
  type Server,
} from '../../src/index.js';
import { delay, echo, skipWithoutOpenssl, startServer, within } from '../helpers.js';
import { skipWithoutTinyproxy, startTinyproxy, type Tinyproxy } from '../tinyproxy.js';


describe('proxy settings', () => {
  const ws = parseWebSocketUrl('ws://api.example.com:8080/x');
  const wss = parseWebSocketUrl('wss://api.example.com/x');

  test('NO_PROXY matches hosts, domain suffixes, ports and *', () => {
    assert.equal(bypassesProxy(ws, 'example.com'), true);
    assert.equal(bypassesProxy(ws, '.example.com'), true);
    assert.equal(bypassesProxy(ws, '*.example.com'), true);
    assert.equal(bypassesProxy(ws, 'other.com, api.example.com:8080'), true);
    assert.equal(bypassesProxy(ws, 'api.example.com:9090'), false);
    assert.equal(bypassesProxy(ws, 'ample.com'), false);
    assert.equal(bypassesProxy(ws, '*'), true);
    assert.equal(bypassesProxy(parseWebSocketUrl('ws://[::1]:80/'), '[::1]'), true);
  });

  test('proxy: true reads https_proxy for wss:// and http_proxy for ws://, unless NO_PROXY; a URL is used as given', () => {
    const env = { HTTP_PROXY: 'http://plain:3128', https_proxy: 'http://secure:3128', NO_PROXY: 'localhost' };
    assert.equal(proxyFor(ws, true, env)?.host, 'plain:3128');
    assert.equal(proxyFor(wss, true, env)?.host, 'secure:3128');
    assert.equal(proxyFor(parseWebSocketUrl('ws://localhost/'), true, env), null);
    assert.equal(proxyFor(ws, undefined, env), null, 'the environment is read only when asked');
    assert.equal(proxyFor(ws, 'http://given:1', env)?.host, 'given:1');
    assert.throws(() => proxyFor(ws, 'socks5://x:1', env), /unsupported proxy scheme/);
  });
});

describe('through tinyproxy (HTTP CONNECT)', { skip: skipWithoutTinyproxy }, () => {
  let dir: string;
  let proxy: Tinyproxy | undefined;
  let proxyPort: number;
  let server: Server;
  let tlsServer: Server | undefined;
  let cert: string | undefined;
  const connects = () => proxy!.log().split('\n').filter((l) => /Request \(file descriptor \d+\): CONNECT/.test(l)).length;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wskit-proxy-'));
    server = await startServer(echo);
    const ports = [server.address()!.port];
    if (!skipWithoutOpenssl) {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
        '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
      cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
      tlsServer = await startServer(echo, { tls: { cert, key: readFileSync(join(dir, 'key.pem')) } });
      ports.push(tlsServer.address()!.port);
    }
    proxy = await startTinyproxy(ports, ['alice', 's3cret']);
    proxyPort = proxy.port;
  });

  after(async () => {
    proxy?.stop();
    await server?.close();
    await tlsServer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('connect(url, { proxy }) tunnels with Basic auth', async () => {
    const before = connects();
    const ws = await connect(server.url, { proxy: `http://alice:s3cret@127.0.0.1:${proxyPort}` });
    await ws.send('through the tunnel');
    assert.equal(await ws.recv(), 'through the tunnel');
    await ws.close();
    assert.equal(connects(), before + 1, proxy!.log());
  });

  test('wss:// runs TLS inside the tunnel', { skip: skipWithoutOpenssl }, async () => {
    const ws = await connect(tlsServer!.url, { proxy: `http://alice:s3cret@127.0.0.1:${proxyPort}`, ca: cert });
    await ws.send('secret');
    assert.equal(await ws.recv(), 'secret');
    await ws.close();
  });

  test('an unverifiable certificate behind the proxy is not retried', { skip: skipWithoutOpenssl }, async () => {
    const before = connects();
    await assert.rejects(
      (async () => {
        for await (const _ws of connect(tlsServer!.url, { proxy: `http://alice:s3cret@127.0.0.1:${proxyPort}`, reconnect: { initialDelay: 10 } })) assert.fail();
      })(),
      (e: unknown) => (e as { code?: string }).code === 'DEPTH_ZERO_SELF_SIGNED_CERT',
    );
    assert.equal(connects(), before + 1);
  });

  // tinyproxy 1.11 answers a CONNECT without valid credentials with 401 rather than RFC 9110's 407.
  test('missing or wrong credentials: 401/407, raised at once and not retried', async () => {
    for (const credentials of ['', 'alice:wrong@']) {
      const before = connects();
      await assert.rejects(
        connect(server.url, { proxy: `http://${credentials}127.0.0.1:${proxyPort}`, reconnect: { initialDelay: 10 } }),
        (e: unknown) => e instanceof InvalidProxyStatus && [401, 407].includes(e.response.status) && e.code === 'WS_INVALID_PROXY_STATUS',
      );
      await delay(100);
      assert.equal(connects(), before + 1, 'one CONNECT only');
    }
  });

  test('proxy: true honours HTTP_PROXY and NO_PROXY', async () => {
    const saved = { ...process.env };
    try {
      delete process.env.http_proxy;
      delete process.env.no_proxy;
      process.env.HTTP_PROXY = `http://alice:s3cret@127.0.0.1:${proxyPort}`;
      let before = connects();
      const viaProxy = await connect(server.url, { proxy: true });
      await viaProxy.close();
      assert.equal(connects(), before + 1, 'went through the proxy');
      process.env.NO_PROXY = '127.0.0.1';
      before = connects();
      const direct = await connect(server.url, { proxy: true });
      await direct.close();
      assert.equal(connects(), before, 'NO_PROXY bypassed it');
    } finally {
      for (const key of ['HTTP_PROXY', 'NO_PROXY']) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  });

  test('a ReconnectingClient keeps its proxy across reconnections', async () => {
    let opened = 0;
    const before = connects();
    const client = new ReconnectingClient(server.url, {
      proxy: `http://alice:s3cret@127.0.0.1:${proxyPort}`,
      reconnect: { initialDelay: 50 },
      onOpen: (ws) => {
        opened++;
        if (opened === 1) ws.terminate();
      },
    });
    try {
      await within((async () => { while (opened < 2) await delay(20); })(), 5_000, 'second connection');
      assert.equal(connects(), before + 2);
    } finally {
      await client.close();
    }
  });
});
