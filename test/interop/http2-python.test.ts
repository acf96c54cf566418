/**
 * Malformed RFC 8441 traffic from an independent implementation: Python's h2 package (python3-h2) as a raw peer
 * (test/interop/py_h2_peer.py). Each case checks the server's answer (status, RST_STREAM or GOAWAY code), what the
 * WebSocket's handler saw, and that the server (and, where the session survives, the same session) still serves.
 * The other way round, wskit's client against an h2 server that does not enable extended CONNECT.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import * as http2 from 'node:http2';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect, type Connection, type Server } from '../../src/index.js';
import { skipWithoutPythonH2, startServer, SYSTEM_PYTHON, until, within } from '../helpers.js';

const PEER = fileURLToPath(new URL('./py_h2_peer.py', import.meta.url));
const { NGHTTP2_PROTOCOL_ERROR, NGHTTP2_STREAM_CLOSED } = http2.constants;

interface StreamResult {
  status: number | null;
  reset: number | null;
  ended: boolean;
  data: string;
}
interface PeerResult {
  case: string;
  streams: Record<string, StreamResult>;
  goaway: { code: number; last_stream_id: number } | null;
  /** What a well-formed WebSocket opened afterwards on the same session echoed, or null. */
  after: string | null;
}

/** Runs one case of the Python peer against `port` and returns its report. */
async function play(port: number, name: string): Promise<PeerResult> {
  const { stdout } = await promisify(execFile)(SYSTEM_PYTHON, [PEER, String(port), name], { timeout: 20_000 });
  return JSON.parse(stdout) as PeerResult;
}

describe('malformed RFC 8441 from Python h2', { skip: skipWithoutPythonH2, timeout: 60_000 }, () => {
  let server: Server;
  const closes: number[] = [];

  before(async () => {
    server = await startServer(
      async (ws: Connection) => {
        void ws.closed.then((info) => closes.push(info.code));
        for await (const message of ws) await ws.send(message);
      },
      // Short timeouts: a session nghttp2 ended on a connection error is released by them (see the DATA case).
      { http2: true, closeTimeout: 1000, handshakeTimeout: 1000 },
    );
  });

  after(() => server?.close());

  /** The server forgot the case's connection and session, and a new client over h2 is served. */
  async function healthy(): Promise<void> {
    await until(() => server.connections.size === 0 && server.http2SessionCount === 0, 5000, 'the server releasing the peer');
    const ws = await connect(server.url, { http2: true });
    await ws.send('ok');
    assert.equal(await within(ws.recv(), 5000, 'the echo'), 'ok');
    await ws.close();
    await until(() => server.connections.size === 0, 5000, 'the check closing');
  }

  it('a CONNECT with :scheme and :path but no :protocol: RST_STREAM PROTOCOL_ERROR, the session goes on', async () => {
    const result = await play(server.address()!.port, 'missing-protocol');
    // RFC 9113 §8.5: a plain CONNECT carries neither :scheme nor :path; with them it is malformed (§8.1.1, a stream
    // error PROTOCOL_ERROR). nghttp2 answers that before wskit sees the stream.
    assert.equal(result.streams['1']!.status, null);
    assert.equal(result.streams['1']!.reset, NGHTTP2_PROTOCOL_ERROR);
    assert.equal(result.goaway, null);
    assert.equal(result.after, 'alive');
    await healthy();
  });

  it('an extended CONNECT with :scheme ftp: 400 naming :scheme, the session goes on', async () => {
    const result = await play(server.address()!.port, 'wrong-scheme');
    assert.equal(result.streams['1']!.status, 400);
    assert.match(Buffer.from(result.streams['1']!.data, 'hex').toString(), /:scheme/);
    assert.equal(result.after, 'alive');
    await healthy();
  });

  it('a DATA frame after END_STREAM: GOAWAY STREAM_CLOSED, the WebSocket closes 1006', async () => {
    const before = closes.length;
    const result = await play(server.address()!.port, 'data-after-end-stream');
    assert.equal(result.streams['1']!.status, 200);
    // RFC 9113 §5.1, half-closed (remote): further DATA is a STREAM_CLOSED error; nghttp2 makes it a connection error.
    assert.equal(result.goaway?.code, NGHTTP2_STREAM_CLOSED);
    assert.equal(result.after, null);
    // Node stops reading a session nghttp2 ended and tells nothing (no 'goaway', 'error' or 'close'; seen on
    // 20.20.2): the WebSocket, which saw END_STREAM without a close frame, ends at closeTimeout, then the idle
    // session at handshakeTimeout. Bounded, not prompt.
    await until(() => closes.length > before, 5000, 'the handler seeing the close');
    assert.equal(closes.at(-1), 1006);
    await healthy();
  });

  it('a stream reset in the middle of a message: that WebSocket closes 1006, the session goes on', async () => {
    const before = closes.length;
    const result = await play(server.address()!.port, 'reset-mid-message');
    assert.equal(result.streams['1']!.status, 200);
    assert.equal(result.goaway, null);
    assert.equal(result.after, 'alive', 'a new WebSocket on the same session works');
    await until(() => closes.length >= before + 2, 5000, 'the handlers seeing both closes');
    assert.equal(closes[before], 1006, 'the reset WebSocket ended abnormally');
    await healthy();
  });

  it('an extended CONNECT sent before the server SETTINGS could be seen: accepted (the server enables it from its first frame)', async () => {
    // RFC 8441 §3 forbids the client to send :protocol before it saw SETTINGS_ENABLE_CONNECT_PROTOCOL; a server that
    // supports it cannot tell and loses nothing by serving it (nghttp2 applies the setting as soon as it is sent).
    const result = await play(server.address()!.port, 'connect-before-settings');
    assert.equal(result.streams['1']!.status, 200);
    assert.equal(result.after, 'alive');
    await healthy();
  });
});

describe("wskit's client against Python h2 without SETTINGS_ENABLE_CONNECT_PROTOCOL", { skip: skipWithoutPythonH2, timeout: 30_000 }, () => {
  it('http2: true fails with WS_HTTP2_UNSUPPORTED and sends no extended CONNECT', async () => {
    const child = spawn(SYSTEM_PYTHON, [PEER, '0', 'serve-without-connect-protocol'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const { port } = JSON.parse((await within(lines.next(), 10_000, 'the Python server')).value as string) as { port: number };
      // RFC 8441 §3: without the setting, a client must not send :protocol.
      await assert.rejects(connect(`ws://127.0.0.1:${port}/`, { http2: true }), { code: 'WS_HTTP2_UNSUPPORTED' });
      const report = JSON.parse((await within(lines.next(), 10_000, "the Python server's report")).value as string) as { requests: unknown[] };
      assert.deepEqual(report.requests, []);
    } finally {
      child.kill();
    }
  });
});
