/** `wskit proxy` between a real client and a real server, `--record` and `wskit replay`. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, type Server } from '../../src/index.js';
import { startServer, until } from '../helpers.js';
import { killAll, start, stop, waitForLine, wskit } from './cli-helpers.js';

describe("wskit proxy and replay", { timeout: 60_000 }, () => {
  let dir = '';
  let server: Server;
  const seen: Array<string | Buffer> = [];
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wskit-proxy-'));
    server = await startServer(async (ws) => {
      for await (const message of ws) {
        seen.push(message);
        await ws.send(message);
      }
    }, { subprotocols: ['chat'] });
  });
  after(async () => {
    await killAll();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('relays every frame both ways, prints each one, records them in order, and replay plays them back', async () => {
    const record = path.join(dir, 'session.jsonl');
    const target = `ws://127.0.0.1:${server.address()!.port}`;
    const proxy = start(['proxy', '--listen', '0', '--target', target, '--record', record]);
    let output = '';
    proxy.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const proxyUrl = await waitForLine(proxy, /Proxying (ws:\/\/\S+)/);

    // A real client through the proxy: text, binary, a fragmented message, a large one, a ping, a 4001 close.
    const ws = await connect(proxyUrl, { subprotocols: ['chat'] });
    assert.equal(ws.subprotocol, 'chat');
    assert.equal(ws.extensions, '', 'the proxy strips the permessage-deflate offer');
    await ws.send('{"a":1}');
    assert.equal(await ws.recv(), '{"a":1}');
    await ws.send(Buffer.from([0, 1, 2, 255]));
    assert.deepEqual(await ws.recv(), Buffer.from([0, 1, 2, 255]));
    await ws.send(['frag-1 ', 'frag-2']);
    assert.equal(await ws.recv(), 'frag-1 frag-2');
    const big = 'x'.repeat(300_000);
    await ws.send(big);
    assert.equal(await ws.recv(), big);
    assert.ok((await ws.ping('are you there')) >= 0);
    const closed = await ws.close(4001, 'bye');
    assert.equal(closed.code, 4001, 'the close code comes back through the proxy unchanged');
    assert.equal(closed.reason, 'bye', 'the server echoed the reason (RFC 6455 §5.5.1)');
    await until(() => /#1 < CLOSE /.test(output), 10_000, 'the proxy logs the server\'s Close');

    const frameLines = output.split('\n').filter((line) => / #1 [<>] (TEXT|BINARY|CONT|PING|PONG|CLOSE) /.test(line)).map((line) => line.replace(/^\S+ #1 /, ''));
    assert.deepEqual(frameLines, [
      "> TEXT FIN '{\"a\":1}' [7 bytes]",
      "< TEXT FIN '{\"a\":1}' [7 bytes]",
      '> BINARY FIN 000102ff [4 bytes]',
      '< BINARY FIN 000102ff [4 bytes]',
      "> TEXT --- 'frag-1 ' [7 bytes]",
      "> CONT FIN 'frag-2' [6 bytes]",
      "< TEXT FIN 'frag-1 frag-2' [13 bytes]",
      `> TEXT FIN '${'x'.repeat(80)}'… [300000 bytes]`,
      `< TEXT FIN '${'x'.repeat(80)}'… [300000 bytes]`,
      "> PING FIN 'are you there' [13 bytes]",
      "< PONG FIN 'are you there' [13 bytes]",
      "> CLOSE FIN 4001 (private use) 'bye' [5 bytes]",
      "< CLOSE FIN 4001 (private use) 'bye' [5 bytes]",
    ]);
    assert.match(output, /#1 > GET \/ HTTP\/1\.1 \(subprotocols: chat\) \(removed Sec-WebSocket-Extensions: permessage-deflate/);
    assert.match(output, /#1 < HTTP\/1\.1 101 Switching Protocols \(subprotocol: chat\)/);

    // The log lists every frame in order, with whole payloads.
    const entries = (await readFile(record, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(entries.slice(0, 3).map((e) => e.type), ['open', 'request', 'response']);
    const frames = entries.filter((e) => e.type === 'frame');
    assert.deepEqual(
      frames.map((f) => `${f.from === 'client' ? '>' : '<'}${f.op}${f.fin ? '' : '-'}`),
      ['>TEXT', '<TEXT', '>BINARY', '<BINARY', '>TEXT-', '>CONT', '<TEXT', '>TEXT', '<TEXT', '>PING', '<PONG', '>CLOSE', '<CLOSE'],
    );
    assert.equal(frames[0].text, '{"a":1}');
    assert.equal(frames[0].masked, true);
    assert.equal(frames[1].masked, false);
    assert.equal(frames[2].base64, Buffer.from([0, 1, 2, 255]).toString('base64'));
    assert.equal(frames[7].text.length, 300_000);
    assert.equal(frames[11].code, 4001);
    assert.equal(frames[11].reason, 'bye');

    // Replay the client's side against the server directly.
    seen.length = 0;
    const replay = await wskit(['replay', record, target, '--fast']);
    assert.equal(replay.code, 0, replay.stderr);
    assert.deepEqual(seen, ['{"a":1}', Buffer.from([0, 1, 2, 255]), 'frag-1 frag-2', big]);
    assert.match(replay.stdout, /\n> \{"a":1\}\n/);
    assert.match(replay.stdout, /< \(binary\) 000102ff/);
    assert.match(replay.stderr, /Replayed 4 messages and 1 ping; received 4 \(the recording has 4\)\. Connection closed: 4001 \(private use\) 'bye'\./);
    await stop(proxy);
  });

  test('an unreachable target gets the client a 502 and a one-line report', async () => {
    const proxy = start(['proxy', '--listen', '0', '--target', 'ws://127.0.0.1:1']);
    let output = '';
    proxy.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const proxyUrl = await waitForLine(proxy, /Proxying (ws:\/\/\S+)/);
    const result = await wskit(['connect', proxyUrl]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /server answered HTTP 502 Bad Gateway instead of 101/);
    assert.match(output, /cannot reach ws:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
    await stop(proxy);
  });
});
