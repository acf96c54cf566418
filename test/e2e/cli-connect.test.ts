/** `wskit connect`: pipeline mode, interactive mode through tmux, and one-line errors. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../helpers.js';
import { WSKIT, hasStackTrace, killAll, startEcho, stop, wskit, skipWithoutTmux } from './cli-helpers.js';

describe('wskit connect', { timeout: 80_000 }, () => {
  let echoUrl = '';
  let echoChild: Awaited<ReturnType<typeof startEcho>>['child'];
  before(async () => {
    ({ child: echoChild, url: echoUrl } = await startEcho());
  });
  after(async () => {
    await stop(echoChild);
    await killAll();
  });

  test('a pipeline round-trips every line through wskit echo, one line per message', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i} {"n":${i}}`);
    const result = await wskit(['connect', echoUrl, '--count', '50'], { input: lines.join('\n') + '\n' });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trimEnd().split('\n'), lines);
    assert.match(result.stderr, /Connected to ws:\/\/127\.0\.0\.1:\d+\./);
    assert.match(result.stderr, /Connection closed: 1000 \(OK\)\./);
  });

  test('-x sends before stdin; end of input waits for replies then closes; binary shows as hex', async () => {
    const result = await wskit(['connect', echoUrl, '-x', 'first', '-b'], { input: 'hi\n' });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trimEnd().split('\n'), ['6669727374', '6869']);
  });

  test('control characters from a hostile server are escaped', async () => {
    const server = await startServer(async (ws) => {
      await ws.send('\x1b[2J\x1b]0;pwned\x07 line1\nline2\r');
      await ws.recv().catch(() => undefined);
    });
    try {
      const result = await wskit(['connect', `ws://127.0.0.1:${server.address()!.port}`, '-n', '1']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, '\\e[2J\\e]0;pwned\\x07 line1\\nline2\\r\n');
      assert.ok(!result.stdout.includes('\x1b'));
    } finally {
      await server.close();
    }
  });

  test('--timeout with --count not reached exits 1', async () => {
    const result = await wskit(['connect', echoUrl, '--count', '5', '--timeout', '0.5'], { input: 'one\n' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /timed out after 0\.5 s with 1 of 5 messages/);
  });

  test('a server closing with an error code gives exit status 1', async () => {
    const server = await startServer(async (ws) => {
      await ws.close(4001, 'go away');
    });
    try {
      const result = await wskit(['connect', `ws://127.0.0.1:${server.address()!.port}`], { input: '' });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /Connection closed: 4001 \(private use\) 'go away'\./);
    } finally {
      await server.close();
    }
  });

  test('--reconnect opens a new connection after each drop', async () => {
    let n = 0;
    const server = await startServer(async (ws) => {
      n++;
      await ws.send(`hello #${n}`);
      await ws.close(1012, 'restart');
    });
    try {
      const result = await wskit(['connect', `ws://127.0.0.1:${server.address()!.port}`, '--reconnect', '--count', '3']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'hello #1\nhello #2\nhello #3\n');
      assert.match(result.stderr, /Connection closed: 1012 \(service restart\) 'restart'\.\nReconnecting in/);
    } finally {
      await server.close();
    }
  });

  const errorCases: Array<[string, string[], number, RegExp]> = [
    ['unreachable URL', ['connect', 'ws://127.0.0.1:1'], 1, /^wskit connect: cannot connect to ws:\/\/127\.0\.0\.1:1: connection refused$/],
    ['unknown host', ['connect', 'ws://no-such-host.invalid/'], 1, /^wskit connect: cannot connect to .*: host not found$/],
    ['bad scheme', ['connect', 'ftp://example.com'], 2, /^wskit connect: unsupported URL scheme ftp:/],
    ['missing URL', ['connect'], 2, /^wskit connect: missing URL/],
    ['bad flag', ['connect', '--bogus', 'ws://127.0.0.1:1'], 2, /^wskit connect: Unknown option '--bogus'/],
    ['bad header', ['connect', 'ws://127.0.0.1:1', '-H', 'no colon'], 2, /^wskit connect: invalid header 'no colon'/],
    ['bad number', ['connect', 'ws://127.0.0.1:1', '--count', 'many'], 2, /^wskit connect: invalid --count 'many'/],
    ['bench bad URL', ['bench', 'nope'], 2, /^wskit bench: invalid WebSocket URL: nope \(expected ws:\/\/host:port\/path/],
    ['bench unreachable', ['bench', 'ws://127.0.0.1:1', '-d', '0.2', '-c', '1'], 1, /^wskit bench: cannot connect to ws:\/\/127\.0\.0\.1:1: connection refused$/],
    ['bench --connect unreachable', ['bench', 'ws://127.0.0.1:1', '--connect', '--count', '3'], 1, /^wskit bench: cannot connect to ws:\/\/127\.0\.0\.1:1: connection refused$/],
    ['proxy missing target', ['proxy', '--listen', '0'], 2, /^wskit proxy: missing --target URL$/],
    ['replay missing file', ['replay', '/nonexistent.jsonl', 'ws://127.0.0.1:1'], 2, /^wskit replay: cannot read \/nonexistent\.jsonl: ENOENT$/],
    ['serve bad static', ['serve', '--static', '/nonexistent'], 2, /^wskit serve: --static \/nonexistent is not a directory$/],
  ];
  for (const [name, args, code, pattern] of errorCases) {
    test(`${name}: one-line error, exit ${code}, no stack trace`, async () => {
      const result = await wskit(args, { input: '' });
      assert.equal(result.code, code, result.stderr);
      assert.match(result.stderr.split('\n')[0]!, pattern);
      assert.ok(!hasStackTrace(result.stderr), result.stderr);
    });
  }

  test('every command has --help with examples and exit statuses', async () => {
    for (const command of ['connect', 'serve', 'proxy', 'replay', 'bench']) {
      const result = await wskit([command, '--help']);
      assert.equal(result.code, 0);
      assert.match(result.stdout, /Examples:/);
      assert.match(result.stdout, /Exit status: 0/);
    }
  });

  test('interactive: prompt, < markers, /ping, /binary and the close line on a real terminal (tmux)', { skip: skipWithoutTmux }, async () => {
    const session = `wskit-test-${process.pid}`;
    const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
    const screen = () => tmux('capture-pane', '-p', '-t', session);
    const waitFor = async (pattern: RegExp) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const text = screen();
        if (pattern.test(text)) return text;
        if (Date.now() > deadline) throw new Error(`screen never matched ${pattern}:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    // A server that also pushes a message on its own, while the user is typing.
    let push: ((text: string) => void) | null = null;
    const server = await startServer(async (ws) => {
      push = (text) => void ws.send(text);
      for await (const message of ws) await ws.send(message);
    });
    const url = `ws://127.0.0.1:${server.address()!.port}`;
    tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '30', `NO_COLOR=1 ${process.execPath} ${WSKIT} connect ${url}; sleep 30`);
    try {
      await waitFor(/Connected to ws:\/\/127\.0\.0\.1:\d+\.\n>/); // capture-pane trims the prompt's space
      tmux('send-keys', '-t', session, '-l', 'hello terminal');
      tmux('send-keys', '-t', session, 'Enter');
      await waitFor(/< hello terminal/);
      tmux('send-keys', '-t', session, '-l', '/ping');
      tmux('send-keys', '-t', session, 'Enter');
      await waitFor(/< pong \(round trip [\d.]+ ms\)/);
      tmux('send-keys', '-t', session, '-l', '/binary 01 02 ff');
      tmux('send-keys', '-t', session, 'Enter');
      await waitFor(/< \(binary\) 0102ff/);
      // A message arriving while a line is half typed is printed above it; the typed text survives.
      tmux('send-keys', '-t', session, '-l', 'half typed');
      await waitFor(/> half typed/);
      push!('server says hi');
      const during = await waitFor(/< server says hi\n> half typed/);
      assert.ok(!/server says hi.*half typed|half typed.*server says hi/.test(during), during);
      tmux('send-keys', '-t', session, '-l', ' line');
      tmux('send-keys', '-t', session, 'Enter');
      await waitFor(/< half typed line/);
      tmux('send-keys', '-t', session, 'C-d');
      const final = await waitFor(/Connection closed: 1000 \(OK\)\./);
      // The prompt is removed at the end: nothing follows the close line.
      assert.equal(final.split('Connection closed: 1000 (OK).')[1]!.trim(), '', final);
    } finally {
      try {
        tmux('kill-session', '-t', session);
      } catch {
        // already gone
      }
      await server.close();
    }
  });
});
