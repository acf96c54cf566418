/**
 * `wskit top`: the live view on a real terminal (tmux) against a server under `wskit bench` load, plain lines
 * when stdout is not a terminal, escaping of whatever a metrics endpoint sends, and one-line errors.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect } from '../../src/index.js';
import { freePort } from '../helpers.js';
import { WSKIT, hasStackTrace, killAll, skipWithoutTmux, start, stop, waitForLine, wskit } from './cli-helpers.js';

describe('wskit top', { timeout: 90_000 }, () => {
  let echo: ReturnType<typeof start>;
  let url = '';
  before(async () => {
    echo = start(['echo', '--port', '0', '--metrics']);
    url = await waitForLine(echo, /Listening on (ws:\/\/\S+)/);
  });
  after(async () => {
    await stop(echo);
    await killAll();
  });

  test('a live view in place on a terminal (tmux) while wskit bench loads the server; q quits', { skip: skipWithoutTmux }, async () => {
    const session = `wskit-top-${process.pid}`;
    const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
    const screen = () => tmux('capture-pane', '-p', '-t', session);
    const waitFor = async (pattern: RegExp, ms = 20_000) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const text = screen();
        if (pattern.test(text)) return text;
        if (Date.now() > deadline) throw new Error(`screen never matched ${pattern}:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    // Load: 12 connections at 600 messages/s for 30 s (stopped when the test ends), and 3 clients that vanish (1006).
    const bench = start(['bench', url, '-c', '12', '--rate', '600', '--duration', '30']);
    for (let i = 0; i < 3; i++) (await connect(url)).terminate();
    tmux('new-session', '-d', '-s', session, '-x', '110', '-y', '40', `NO_COLOR=1 ${process.execPath} ${WSKIT} top ${url} --interval 0.5; echo "top exited $?"; sleep 30`);
    try {
      const view = await waitFor(/connections\s+12 open[\s\S]*messages\/s\s+in [1-9]/);
      assert.match(view, /wskit top {2}http:\/\/127\.0\.0\.1:\d+\/metrics {2}every 0\.5 s/);
      assert.match(view, /out [1-9][\d,]* \(text [1-9]/, view);
      assert.match(view, /1006 connection closed abnormally\s+3\b/, view);
      assert.match(view, /handshakes\s+15 accepted\s+none refused/, view);
      assert.match(view, /slowest clients/);
      // Redrawn in place: one header on the screen, however many refreshes happened.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      assert.equal(screen().match(/wskit top {2}http/g)?.length, 1);
      tmux('send-keys', '-t', session, 'q');
      const final = await waitFor(/top exited 0/);
      // The alternate screen is gone and the last view was printed on the normal one.
      assert.match(final, /connections\s+12 open/);
    } finally {
      try {
        tmux('kill-session', '-t', session);
      } catch {
        // already gone
      }
      await stop(bench);
    }
  });

  test('not a terminal: each refresh as plain lines, no escape sequences; --count ends it', async () => {
    const ws = await connect(url);
    await ws.send('hello');
    await ws.recv();
    const result = await wskit(['top', url, '--count', '2', '--interval', '0.2']);
    await ws.close();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.match(/^wskit top /gm)?.length, 2);
    assert.match(result.stdout, /connections\s+1 open/);
    assert.doesNotMatch(result.stdout, /\x1b/);
  });

  test('a closed stdout (| head) ends it quietly, exit 0', async () => {
    const top = start(['top', url, '--interval', '100ms']);
    let stderr = '';
    top.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await once(top.stdout, 'data');
    top.stdout.destroy();
    const [code] = (await once(top, 'exit')) as [number | null];
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '');
  });

  test('everything a metrics endpoint sends is escaped before it reaches the terminal', async () => {
    const hostile = [
      '# HELP wskit_connections \x1b]0;owned\x07',
      'wskit_connections{route="/r\x1b[31mred"} 2',
      'wskit_connections{route="/bad\\qescape"} 2',
      'wskit_connections_closed_total{code="\x1b[2J\x07\r"} 5',
      'wskit_handshakes_total{result="refused",reason="\x1b[5mblink\x9b"} 1',
      'wskit_connections{route="/a\\nnext line"} 1',
      'garbage \x1b[1m line',
      '',
    ].join('\n');
    const server = http.createServer((_request, response) => response.end(hostile));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const result = await wskit(['top', `http://127.0.0.1:${port}/metrics`, '--count', '1']);
    server.close();
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, /[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]/, 'no raw control character');
    assert.match(result.stdout, /\\e\[2J\\x07\\r/);
    assert.match(result.stdout, /\\e\[5mblink\\x9b 1/);
    assert.match(result.stdout, /\/a\\nnext line/);
    assert.match(result.stdout, /\/r\\e\[31mred/);
    assert.match(result.stdout, /2 unreadable lines/, 'a bad escape and a line with no value are skipped');
  });

  test('wskit serve --metrics: /metrics beside --static files, the WebSocket traffic counted', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'wskit-serve-metrics-'));
    await writeFile(path.join(dir, 'index.html'), '<p>static</p>');
    const serve = start(['serve', '--port', '0', '--metrics', '--static', dir]);
    try {
      const wsUrl = await waitForLine(serve, /Listening on (ws:\/\/\S+)/);
      const base = wsUrl.replace(/^ws/, 'http');
      const ws = await connect(wsUrl);
      await ws.send('counted');
      assert.equal(await ws.recv(), 'counted');
      const text = await (await fetch(`${base}/metrics`)).text();
      assert.match(text, /^wskit_connections 1$/m);
      assert.match(text, /^wskit_messages_received_total\{opcode="text"\} 1$/m);
      assert.match(text, /^wskit_sent_bytes_total\{opcode="text"\} 7$/m);
      assert.equal(await (await fetch(`${base}/`)).text(), '<p>static</p>');
      await ws.close();
    } finally {
      await stop(serve);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('one-line errors: unreachable, not a metrics page, bad URL', async () => {
    const port = await freePort();
    const refused = await wskit(['top', `ws://127.0.0.1:${port}`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^wskit top: cannot read http:\/\/127\.0\.0\.1:\d+\/metrics: connection refused\n$/);
    const plain = http.createServer((_request, response) => response.end('hello\n'));
    plain.listen(0, '127.0.0.1');
    await once(plain, 'listening');
    const notMetrics = await wskit(['top', `http://127.0.0.1:${(plain.address() as AddressInfo).port}/`]);
    plain.close();
    assert.equal(notMetrics.code, 1);
    assert.match(notMetrics.stderr, /has no wskit metrics/);
    const bad = await wskit(['top', 'ftp://x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unsupported URL scheme 'ftp:'/);
    for (const r of [refused, notMetrics, bad]) assert.ok(!hasStackTrace(r.stderr), r.stderr);
  });
});
