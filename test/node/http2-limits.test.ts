/**
 * The HTTP/2 limits against real peers on loopback: Node's own http2 client opening extended CONNECTs in a loop,
 * and a hand-written hostile peer (test/node/h2-raw.ts) that ignores SETTINGS_MAX_CONCURRENT_STREAMS, floods
 * SETTINGS and PING without reading the acknowledgements, or opens and resets streams as fast as it can. After each
 * attack the server still serves a well-behaved client.
 */
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { describe, it } from 'node:test';
import { attach, connect, type Server } from '../../src/index.js';
import { echo, startServer, until, within } from '../helpers.js';
import { extendedConnect, FRAME, frame, headersFrame, RawH2, rstFrame } from './h2-raw.js';

const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL } = http2.constants;

/** A session of Node's client to `port`, once the server's SETTINGS arrived. */
async function session(port: number): Promise<http2.ClientHttp2Session> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  await within(new Promise((resolve) => client.once('remoteSettings', resolve)), 5000, 'the server SETTINGS');
  return client;
}

/** Opens an extended CONNECT; resolves with the stream and its `:status`, or the RST_STREAM code as `reset`. */
function open(client: http2.ClientHttp2Session, port: number): Promise<{ stream: http2.ClientHttp2Stream; status?: number; reset?: number }> {
  const stream = client.request(
    { ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': '/', ':authority': `127.0.0.1:${port}`, 'sec-websocket-version': '13' },
    { endStream: false },
  );
  stream.on('error', () => undefined);
  return within(
    new Promise((resolve) => {
      stream.once('response', (headers) => resolve({ stream, status: Number(headers[':status']) }));
      stream.once('close', () => resolve({ stream, reset: stream.rstCode }));
    }),
    5000,
    'the answer to CONNECT',
  );
}

/** A WebSocket over h2 still echoes on `server` (a new session). */
async function stillServes(server: Server): Promise<void> {
  const ws = await connect(server.url, { http2: true });
  await ws.send('alive');
  assert.equal(await within(ws.recv(), 5000, 'the echo'), 'alive');
  await ws.close();
}

describe('h2 stream limits', { timeout: 30_000 }, () => {
  it('Node client: a loop of CONNECTs is held at maxStreamsPerSession open at once', async () => {
    const server = await startServer(echo, { http2: { maxStreamsPerSession: 4 } });
    const port = server.address()!.port;
    const client = await session(port);
    let peak = 0;
    const opened: Array<Promise<{ stream: http2.ClientHttp2Stream; status?: number }>> = [];
    for (let i = 0; i < 12; i++) opened.push(open(client, port));
    // The client queues streams beyond the server's limit; the server never holds more than 4 WebSockets.
    const first = await Promise.all(opened.slice(0, 4));
    peak = server.connections.size;
    assert.deepEqual(first.map((r) => r.status), [200, 200, 200, 200]);
    assert.equal(peak, 4);
    for (const { stream } of first) stream.close();
    const rest = await Promise.all(opened.slice(4, 8));
    assert.ok(server.connections.size <= 4, `${server.connections.size} open`);
    for (const { stream } of rest) stream.close();
    for (const { stream } of await Promise.all(opened.slice(8))) stream.close();
    client.close();
    await server.close();
  });

  it('hostile peer: streams beyond SETTINGS_MAX_CONCURRENT_STREAMS end its session; others are served', async () => {
    const server = await startServer(echo, { http2: { maxStreamsPerSession: 3 } });
    const port = server.address()!.port;
    const peer = new RawH2(port);
    await until(() => peer.settled, 5000, 'the server SETTINGS');
    // Its ACK of our SETTINGS first, so that the limit is in force (RFC 9113 §6.5.3), then 8 streams at once.
    await until(() => peer.frames.some((f) => f.type === FRAME.SETTINGS && f.flags === 1), 5000, 'the SETTINGS ACK');
    for (let i = 0; i < 8; i++) await peer.write(headersFrame(1 + 2 * i, extendedConnect(port)));
    await within(peer.closed, 5000, 'the session closing');
    // nghttp2 treats a stream beyond the acknowledged limit as a connection error (GOAWAY), RFC 9113 §5.1.2 allows a
    // stream error; either way at most 3 WebSockets were ever opened.
    assert.notEqual(peer.goawayCode(), undefined);
    assert.ok(peer.answered().size <= 3, `answered ${[...peer.answered()]}`);
    await until(() => server.connections.size === 0, 5000, 'the WebSockets of the session closing');
    await stillServes(server);
    await server.close();
  });

  it('attach(): WebSocket streams beyond maxStreamsPerSession are refused (REFUSED_STREAM), the session lives', async () => {
    // The application's server advertises no stream limit of its own: wskit's count is what holds.
    const app = http2.createServer((_request, response) => response.end('page'));
    const server = attach(app, echo, { logger: null, http2: { maxStreamsPerSession: 2 } });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const port = (app.address() as { port: number }).port;
    const client = await session(port);
    const [a, b] = await Promise.all([open(client, port), open(client, port)]);
    assert.deepEqual([a.status, b.status], [200, 200]);
    const third = await open(client, port);
    assert.equal(third.reset, NGHTTP2_REFUSED_STREAM);
    // With CANCEL: Node 20's client spins forever closing a stream with NO_ERROR (or destroying it) after one of its
    // streams was reset by the server (seen on 20.20.2).
    a.stream.close(NGHTTP2_CANCEL);
    await until(() => server.connections.size === 1, 5000, 'the first WebSocket closing');
    const again = await open(client, port);
    assert.equal(again.status, 200, 'a stream freed makes room again');
    assert.equal(client.destroyed, false);
    client.destroy();
    await server.close();
    await new Promise<void>((resolve) => app.close(() => resolve()));
  });

  it('maxStreams bounds WebSocket streams of all sessions together: 503 with Retry-After', async () => {
    const server = await startServer(echo, { http2: { maxStreams: 3 } });
    const port = server.address()!.port;
    const [one, two] = await Promise.all([session(port), session(port)]);
    const held = await Promise.all([open(one, port), open(one, port), open(two, port)]);
    assert.deepEqual(held.map((r) => r.status), [200, 200, 200]);
    const refused = await open(two, port);
    assert.equal(refused.status, 503);
    held[0]!.stream.close(NGHTTP2_CANCEL);
    await until(() => server.connections.size === 2, 5000, 'one WebSocket closing');
    assert.equal((await open(two, port)).status, 200);
    one.destroy();
    two.destroy();
    await server.close();
  });
});

describe('h2 floods', { timeout: 30_000 }, () => {
  for (const [name, flood] of [
    ['SETTINGS', frame(FRAME.SETTINGS, 0, 0)],
    ['PING', frame(FRAME.PING, 0, 0, Buffer.alloc(8))],
  ] as const) {
    it(`a ${name} flood from a peer that never reads its ACKs ends that session`, async (t) => {
      const server = await startServer(echo, { http2: true });
      const peer = new RawH2(server.address()!.port, { read: false });
      const burst = Buffer.concat(Array.from({ length: 1000 }, () => flood));
      await until(() => server.http2SessionCount === 1, 5000, 'the session starting');
      // nghttp2 (inside Node) keeps at most 1000 ACKs queued for a peer that does not read (max_outbound_ack), then
      // drops the session. The peer writes until the server has no session left, at most 2,000 bursts (2M frames).
      let bursts = 0;
      while (server.http2SessionCount > 0 && bursts < 2000) {
        await peer.write(burst);
        bursts++;
      }
      await until(() => server.http2SessionCount === 0, 5000, 'the server dropping the session');
      t.diagnostic(`${name} flood: the server dropped the session after at most ${bursts}k frames`);
      assert.ok(bursts < 2000, 'the server took 2M frames without dropping the session');
      peer.destroy();
      await stillServes(server);
      await server.close();
    });
  }

  it('rapid reset with raw frames: GOAWAY ENHANCE_YOUR_CALM after about maxResets streams', async () => {
    const maxResets = 50;
    const server = await startServer(echo, { http2: { maxResets, resetWindow: 60_000 } });
    const port = server.address()!.port;
    const peer = new RawH2(port);
    await until(() => peer.settled, 5000, 'the server SETTINGS');
    let closed = false;
    void peer.closed.then(() => (closed = true));
    let streamId = 1;
    for (let i = 0; i < 5000 && !closed; i++, streamId += 2) {
      await peer.write(Buffer.concat([headersFrame(streamId, extendedConnect(port)), rstFrame(streamId, NGHTTP2_CANCEL)]));
    }
    await within(peer.closed, 5000, 'the session closing');
    assert.equal(peer.goawayCode(), NGHTTP2_ENHANCE_YOUR_CALM);
    // The GOAWAY's last stream id says how far the server went: the guard counts resets as streams close, so a
    // few more than maxResets get in before it acts, never thousands.
    const goaway = peer.frames.find((f) => f.type === FRAME.GOAWAY)!;
    const processed = (goaway.payload.readUInt32BE(0) + 1) / 2;
    assert.ok(processed >= maxResets && processed < maxResets * 4, `the server took ${processed} streams`);
    await stillServes(server);
    await server.close();
  });
});
