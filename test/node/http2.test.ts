/**
 * WebSockets over HTTP/2 (RFC 8441) between real sockets on loopback: wskit's client and server over h2c and TLS
 * h2, Node's own http2 client doing the extended CONNECT by hand (refusals, limits, floods), and attach() to an
 * application's http2 server that also serves plain requests.
 */
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { connect, attach, type Connection, type Server } from '../../src/index.js';
import { clientSessionCount } from '../../src/node/http2-client.js';
import { echo, makeCertificate, skipWithoutOpenssl, startServer, until, within, type TestCertificate } from '../helpers.js';

/** Echoes each message prefixed with the HTTP version that carried the handshake. */
const versionEcho = async (ws: Connection): Promise<void> => {
  for await (const message of ws) await ws.send(typeof message === 'string' ? `${ws.request?.httpVersion}:${message}` : message);
};

/** A raw HTTP/2 session to `port` (Node's client), closed by the caller. */
function rawSession(port: number): Promise<{ session: http2.ClientHttp2Session; settings: http2.Settings }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  return within(
    new Promise((resolve) => session.once('remoteSettings', (settings) => resolve({ session, settings }))),
    5000,
    'the server SETTINGS',
  );
}

const CONNECT = (port: number, extra: http2.OutgoingHttpHeaders = {}): http2.OutgoingHttpHeaders => ({
  ':method': 'CONNECT',
  ':protocol': 'websocket',
  ':scheme': 'http',
  ':path': '/chat',
  ':authority': `127.0.0.1:${port}`,
  'sec-websocket-version': '13',
  ...extra,
});

/** The status and fields a raw extended CONNECT is answered with. */
function answer(session: http2.ClientHttp2Session, fields: http2.OutgoingHttpHeaders): Promise<http2.IncomingHttpHeaders> {
  const stream = session.request(fields, { endStream: false });
  stream.on('error', () => undefined);
  return within(
    new Promise((resolve, reject) => {
      stream.once('response', (headers) => {
        resolve(headers);
        stream.close();
      });
      stream.once('close', () => reject(new Error(`stream closed without a response (code ${stream.rstCode})`)));
    }),
    5000,
    'the answer to CONNECT',
  );
}

describe('WebSockets over h2c (prior knowledge)', { timeout: 30_000 }, () => {
  let server: Server;
  let url: string;

  before(async () => {
    server = await startServer(versionEcho, {
      http2: true,
      subprotocols: ['chat'],
      origins: ['https://ok.example', null],
      processRequest: (request) => (request.headers.get('authorization') === 'no' ? { status: 401, body: 'no\n' } : undefined),
    });
    url = server.url;
  });

  after(() => server.close());

  it('multiplexes many WebSockets over one session: text, binary, compression, close codes', async () => {
    const sockets = await Promise.all(Array.from({ length: 8 }, () => connect(url, { http2: true, subprotocols: ['chat'] })));
    assert.equal(server.http2SessionCount, 1);
    assert.equal(clientSessionCount(), 1);
    for (const ws of sockets) {
      assert.equal(ws.subprotocol, 'chat');
      assert.match(ws.extensions, /^permessage-deflate/);
    }
    const big = 'y'.repeat(200_000);
    await Promise.all(sockets.map((ws, i) => ws.send(i === 0 ? big : `m${i}`)));
    const replies = await Promise.all(sockets.map((ws) => ws.recv()));
    assert.equal(replies[0], `2:${big}`);
    assert.deepEqual(replies.slice(1), sockets.slice(1).map((_, i) => `2:m${i + 1}`));
    await sockets[1]!.send(Buffer.from([0, 1, 2, 255]));
    assert.deepEqual(await sockets[1]!.recv(), Buffer.from([0, 1, 2, 255]));
    const closed = await Promise.all(sockets.map((ws, i) => ws.close(i === 2 ? 4001 : 1000, 'bye')));
    assert.deepEqual(closed.map((info) => info.code), sockets.map((_, i) => (i === 2 ? 4001 : 1000)));
    await until(() => server.connections.size === 0, 5000, 'the server forgetting its connections');
  });

  it('serves HTTP/1.1 on the same port', async () => {
    const ws = await connect(url);
    await ws.send('x');
    assert.equal(await ws.recv(), '1.1:x');
    await ws.close();
  });

  it('applies the same Origin and processRequest policy as over HTTP/1.1', async () => {
    const { session } = await rawSession(server.address()!.port);
    try {
      const port = server.address()!.port;
      assert.equal((await answer(session, CONNECT(port, { origin: 'https://evil.example' })))[':status'], 403);
      assert.equal((await answer(session, CONNECT(port, { authorization: 'no' })))[':status'], 401);
      const ok = await answer(session, CONNECT(port, { origin: 'https://ok.example', 'sec-websocket-protocol': 'x, chat' }));
      assert.equal(ok[':status'], 200);
      assert.equal(ok['sec-websocket-protocol'], 'chat');
      assert.equal(ok['sec-websocket-accept'], undefined);
    } finally {
      session.close();
    }
  });

  it('refuses malformed extended CONNECTs with the status RFC 8441 and RFC 6455 give', async () => {
    const port = server.address()!.port;
    const { session } = await rawSession(port);
    try {
      const version = await answer(session, CONNECT(port, { 'sec-websocket-version': '8' }));
      assert.equal(version[':status'], 400);
      assert.equal(version['sec-websocket-version'], '13');
      assert.equal((await answer(session, CONNECT(port, { 'sec-websocket-protocol': 'a b' })))[':status'], 400);
      assert.equal((await answer(session, CONNECT(port, { 'sec-websocket-extensions': ';;' })))[':status'], 400);
      assert.equal((await answer(session, { ':method': 'GET', ':path': '/' }))[':status'], 404);
      // RFC 8441 §4: a plain CONNECT (no :protocol), another protocol, or a :scheme that is not http(s) is no WebSocket.
      assert.equal((await answer(session, { ':method': 'CONNECT', ':authority': `127.0.0.1:${port}` }))[':status'], 400);
      assert.equal((await answer(session, CONNECT(port, { ':protocol': 'h3' })))[':status'], 400);
      assert.equal((await answer(session, CONNECT(port, { ':scheme': 'ftp' })))[':status'], 400);
    } finally {
      session.close();
    }
  });

  it('a session dying closes its WebSockets with 1006', async () => {
    const ws = await connect(url, { http2: true });
    await ws.send('x');
    await ws.recv();
    for (const peer of server.connections) peer.terminate();
    const info = await within(ws.closed, 5000, 'the close');
    assert.equal(info.code, 1006);
  });
});

describe('h2 limits', { timeout: 30_000 }, () => {
  it('advertises SETTINGS_ENABLE_CONNECT_PROTOCOL and the stream limit', async () => {
    const server = await startServer(echo, { http2: { maxStreamsPerSession: 3 } });
    const { session, settings } = await rawSession(server.address()!.port);
    assert.equal(settings.enableConnectProtocol, true);
    assert.equal(settings.maxConcurrentStreams, 3);
    session.close();
    await server.close();
  });

  it('a rapid-reset flood ends the session with GOAWAY', async () => {
    const server = await startServer(echo, { http2: { maxResets: 20, resetWindow: 60_000 } });
    const port = server.address()!.port;
    const { session } = await rawSession(port);
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code) => resolve(code)));
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    for (let i = 0; i < 200 && !session.destroyed && !session.closed; i++) {
      const stream = session.request(CONNECT(port), { endStream: false });
      stream.on('error', () => undefined);
      stream.close(http2.constants.NGHTTP2_CANCEL);
      if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(await within(goaway, 5000, 'GOAWAY'), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    await within(closed, 5000, 'the session closing');
    await server.close();
  });

  it('a session that opens no stream is closed after handshakeTimeout', async () => {
    const server = await startServer(echo, { http2: true, handshakeTimeout: 300 });
    const { session } = await rawSession(server.address()!.port);
    await within(new Promise((resolve) => session.once('close', resolve)), 5000, 'the idle session closing');
    assert.equal(server.http2SessionCount, 0);
    await server.close();
  });

  it('a CONNECT stream whose handshake never ends is reset after handshakeTimeout', async () => {
    const server = await startServer(echo, { http2: true, handshakeTimeout: 300, processRequest: () => new Promise(() => undefined) });
    const port = server.address()!.port;
    const { session } = await rawSession(port);
    const stream = session.request(CONNECT(port), { endStream: false });
    stream.on('error', () => undefined);
    await within(new Promise((resolve) => stream.once('close', resolve)), 5000, 'the stream reset');
    session.close();
    await server.close();
  });
});

describe('h2 over TLS (ALPN) and attach()', { skip: skipWithoutOpenssl, timeout: 30_000 }, () => {
  let certificate: TestCertificate;

  before(() => {
    certificate = makeCertificate();
  });

  after(() => certificate?.remove());

  it('serve({ http2, tls }) speaks h2 and HTTP/1.1 on one port; http2: auto picks h2', async () => {
    const server = await startServer(versionEcho, { http2: true, tls: { cert: certificate.cert, key: certificate.key } });
    const options = { ca: certificate.cert };
    const [a, b, c] = await Promise.all([connect(server.url, { ...options, http2: true }), connect(server.url, { ...options, http2: 'auto' }), connect(server.url, options)]);
    for (const ws of [a!, b!, c!]) await ws.send('x');
    assert.deepEqual(await Promise.all([a!.recv(), b!.recv(), c!.recv()]), ['2:x', '2:x', '1.1:x']);
    assert.equal(server.http2SessionCount, 1);
    await Promise.all([a!.close(), b!.close(), c!.close()]);
    await server.close();
  });

  it('http2: auto falls back to HTTP/1.1 where the server has no h2; http2: true refuses', async () => {
    const server = await startServer(versionEcho, { tls: { cert: certificate.cert, key: certificate.key } });
    const ws = await connect(server.url, { ca: certificate.cert, http2: 'auto' });
    await ws.send('x');
    assert.equal(await ws.recv(), '1.1:x');
    await ws.close();
    await assert.rejects(connect(server.url, { ca: certificate.cert, http2: true }), { code: 'WS_HTTP2_UNSUPPORTED' });
    await server.close();
  });

  it('attach() to an application http2 server: its pages and WebSockets on one session', async () => {
    const app = http2.createSecureServer({ cert: certificate.cert, key: certificate.key, allowHTTP1: true }, (request, response) => {
      response.end(`page ${request.url}`);
    });
    const server = attach(app, versionEcho, { logger: null });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const port = (app.address() as { port: number }).port;
    const url = `wss://localhost:${port}/socket`;
    const sockets = await Promise.all([connect(url, { ca: certificate.cert, http2: true }), connect(url, { ca: certificate.cert, http2: true })]);
    let sessions = 0;
    app.on('session', () => sessions++);
    await sockets[0]!.send('x');
    assert.equal(await sockets[0]!.recv(), '2:x');
    const h1 = await connect(url, { ca: certificate.cert });
    await h1.send('y');
    assert.equal(await h1.recv(), '1.1:y');
    const page = http2.connect(`https://localhost:${port}`, { ca: certificate.cert });
    const body = await within(
      new Promise<string>((resolve) => {
        let text = '';
        page.request({ ':path': '/index.html' }).setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve(text));
      }),
      5000,
      'the page',
    );
    assert.equal(body, 'page /index.html');
    assert.equal(sessions, 1); // the page's own session; both WebSockets shared one opened before
    page.close();
    await Promise.all([...sockets, h1].map((ws) => ws.close()));
    await server.close();
    await new Promise<void>((resolve) => app.close(() => resolve()));
  });
});
