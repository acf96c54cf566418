/**
 * `wskit connect` manners (issue 17): a closed stdout, --count in a pipeline,
 * wss:// to a plain server, URLs without a scheme, the user's own /close code,
 * `wskit help CMD`, a refused subprotocol, and the wscat/websocat flags
 * (-c, -l, -P, --no-check, --cert/--key/--passphrase, --base64, --raw, -1,
 * -u, -U, -0), with bench sharing -s and -n.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, type Server } from '../../src/index.js';
import { echo, skipWithoutOpenssl, startServer } from '../helpers.js';
import { WSKIT, hasStackTrace, killAll, start, wskit, skipWithoutTmux } from './cli-helpers.js';

/** Runs a shell pipeline; resolves with stdout, stderr and the exit status of every stage. */
function pipeline(script: string, timeoutMs = 15_000): Promise<{ stdout: string; stderr: string; statuses: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `${script}; echo "STATUS \${PIPESTATUS[*]}" >&2`], { env: { ...process.env, NO_COLOR: '1', WSKIT: `${process.execPath} ${WSKIT}` } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not finish within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on('close', () => {
      clearTimeout(timer);
      const statuses = /STATUS ([\d ]+)\n?$/.exec(stderr)![1]!.trim().split(' ').map(Number);
      resolve({ stdout, stderr: stderr.replace(/STATUS [\d ]+\n?$/, ''), statuses });
    });
  });
}

/** Resolves with the first stderr line matching `pattern` (its first group). */
function waitForStderr(child: ChildProcessWithoutNullStreams, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no stderr line matching ${pattern}: ${text}`)), timeoutMs);
    child.stderr.on('data', (d: Buffer) => {
      text += d.toString();
      const match = pattern.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] ?? match[0]);
      }
    });
  });
}

describe('wskit connect manners', { timeout: 120_000 }, () => {
  let server: Server;
  let url = '';
  const seen: Array<string | Buffer> = [];
  before(async () => {
    server = await startServer(async (ws) => {
      for await (const message of ws) {
        seen.push(message);
        // -u closes right after its last line: the close can arrive in the read that carries the messages, and an
        // echo after it is refused; the messages before the close are still delivered (RFC 6455 5.5.1).
        await ws.send(message).catch(() => undefined);
      }
    });
    url = `ws://127.0.0.1:${server.address()!.port}`;
  });
  after(async () => {
    await killAll();
    await server.close();
  });

  test('seq 20000 | wskit connect URL | head -2: two lines, no EPIPE, exit 0', async () => {
    const result = await pipeline(`seq 20000 | $WSKIT connect ${url} | head -2`);
    assert.equal(result.stdout, '1\n2\n');
    assert.ok(!/EPIPE/.test(result.stderr) && !hasStackTrace(result.stderr), result.stderr);
    assert.deepEqual(result.statuses.slice(1), [0, 0]);
  });

  test('seq 10 | wskit connect URL -n 2 prints two lines', async () => {
    const result = await pipeline(`seq 10 | $WSKIT connect ${url} -n 2 -q`);
    assert.equal(result.stdout, '1\n2\n');
    assert.equal(result.statuses[1], 0);
  });

  test('wss:// to a plain server: one line saying so, exit 1', async () => {
    const result = await wskit(['connect', url.replace('ws://', 'wss://')], { input: '' });
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `wskit connect: cannot connect to ${url.replace('ws://', 'wss://')}: TLS handshake failed: the server does not speak TLS on this port (for a plain server use ws:// instead of wss://)\n`);
  });

  test('host:port without a scheme is ws:// (as wscat); a lone word is still an error', async () => {
    const bare = url.replace('ws://', '');
    const result = await wskit(['connect', bare, '-x', 'hi', '-w', '0.5'], { input: '' });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'hi\n');
    assert.match(result.stderr, new RegExp(`Connected to ws://${bare}\\.`));
    const localhost = await wskit(['connect', `localhost:${server.address()!.port}`, '-x', 'hi', '-w', '0.5', '-q'], { input: '' });
    assert.equal(localhost.stdout, 'hi\n');
    const word = await wskit(['connect', 'localhos'], { input: '' });
    assert.equal(word.code, 2);
    assert.match(word.stderr, /^wskit connect: invalid WebSocket URL: localhos \(expected ws:\/\/host:port\/path/);
  });

  test('wskit help echo shows echo\'s help; wskit help nope is a usage error', async () => {
    const help = await wskit(['help', 'echo']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: wskit echo /);
    const nope = await wskit(['help', 'nope']);
    assert.equal(nope.code, 2);
    assert.match(nope.stderr, /unknown command 'nope'/);
  });

  test('a subprotocol the server refused gives a warning', async () => {
    const result = await wskit(['connect', url, '-s', 'chat.v1', '-s', 'chat.v0', '-x', 'x', '-w', '0.3'], { input: '' });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /warning: the server accepted none of the subprotocols offered \(chat\.v1, chat\.v0\)/);
    const quiet = await startServer(echo, { subprotocols: ['chat.v0'] });
    try {
      const ok = await wskit(['connect', `ws://127.0.0.1:${quiet.address()!.port}`, '-s', 'chat.v1', '-s', 'chat.v0', '-x', 'x', '-w', '0.3'], { input: '' });
      assert.doesNotMatch(ok.stderr, /warning/);
    } finally {
      await quiet.close();
    }
  });

  test('-c URL and wskit -c URL (wscat)', async () => {
    for (const args of [['connect', '-c', url], ['-c', url]]) {
      const result = await wskit([...args, '-x', 'via -c', '-w', '0.3', '-q'], { input: '' });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'via -c\n');
    }
  });

  test('-l PORT: a server that sends stdin to its client and prints what the client sends', async () => {
    const child = start(['-l', '0'], {});
    child.stdin.write('hello client\n');
    const listening = await waitForStderr(child, /Listening on (ws:\/\/\S+);/);
    const ws = await connect(listening);
    assert.equal(await ws.recv(), 'hello client');
    await ws.send('hello server');
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const deadline = Date.now() + 5000;
    while (!stdout.includes('hello server\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(stdout, 'hello server\n');
    child.stdin.end();
    const closed = await ws.closed;
    assert.equal(closed.code, 1000);
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0);
  });

  test('-P shows the pings and pongs the server sends', async () => {
    const pinger = await startServer(async (ws) => {
      await ws.recv(); // -x go: the client is set up (frames in the handshake's own packet arrive before any hook)
      await ws.ping('are you there');
      await ws.pong('unsolicited');
      await ws.send('done');
      await ws.recv().catch(() => undefined);
    });
    try {
      const result = await wskit(['connect', `ws://127.0.0.1:${pinger.address()!.port}`, '-P', '-n', '1', '-x', 'go'], { input: '' });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /< ping 'are you there'\n/);
      assert.match(result.stderr, /< pong 'unsolicited'\n/);
      assert.equal(result.stdout, 'done\n');
    } finally {
      await pinger.close();
    }
  });

  test('binary as base64, and --raw writes the bytes as they are (refused on a terminal)', async () => {
    const sender = await startServer(async (ws) => {
      await ws.send(Buffer.from([0, 1, 0xff, 0x1b]));
      await ws.send('text \x1b[31m');
      await ws.recv().catch(() => undefined);
    });
    const target = `ws://127.0.0.1:${sender.address()!.port}`;
    try {
      const b64 = await wskit(['connect', target, '--base64', '-n', '2', '-q'], { input: '' });
      assert.equal(b64.stdout, 'AAH/Gw==\ntext \\e[31m\n');
      const raw = await pipeline(`$WSKIT connect ${target} --raw -n 2 -q < /dev/null | od -An -tx1 | tr -s ' \\n' ' '`);
      assert.equal(raw.stdout.trim(), '00 01 ff 1b 0a 74 65 78 74 20 1b 5b 33 31 6d 0a');
    } finally {
      await sender.close();
    }
  });

  test('--raw to a terminal is refused (tmux)', { skip: skipWithoutTmux }, async () => {
    const session = `wskit-raw-${process.pid}`;
    const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
    tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '10', `NO_COLOR=1 ${process.execPath} ${WSKIT} connect ${url} --raw; echo "exit=$?"; sleep 30`);
    try {
      const deadline = Date.now() + 10_000;
      let screen = '';
      while (!/exit=\d/.test(screen) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        screen = tmux('capture-pane', '-p', '-t', session);
      }
      assert.match(screen, /--raw writes received bytes unescaped/);
      assert.match(screen, /exit=2/);
    } finally {
      tmux('kill-session', '-t', session);
    }
  });

  test('-1 sends one message and exits after one reply', async () => {
    seen.length = 0;
    const result = await wskit(['connect', url, '-1', '-q'], { input: 'first\nsecond\nthird\n' });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'first\n');
    assert.deepEqual(seen, ['first']);
  });

  test('-u only sends (nothing printed, ends with the input); -U only receives (stdin not read)', async () => {
    seen.length = 0;
    const started = Date.now();
    const sendOnly = await wskit(['connect', url, '-u', '-q'], { input: 'a\nb\n' });
    assert.equal(sendOnly.code, 0, sendOnly.stderr);
    assert.equal(sendOnly.stdout, '');
    assert.deepEqual(seen, ['a', 'b']);
    assert.ok(Date.now() - started < 5000);

    const talker = await startServer(async (ws) => {
      for (const text of ['one', 'two']) await ws.send(text);
      const got = await Promise.race([ws.recv(), new Promise((r) => setTimeout(() => r('nothing'), 700))]);
      await ws.send(`got ${String(got)}`);
      await ws.close();
    });
    try {
      const receiveOnly = await wskit(['connect', `ws://127.0.0.1:${talker.address()!.port}`, '-U', '-q'], { input: 'should not be sent\n' });
      assert.equal(receiveOnly.code, 0, receiveOnly.stderr);
      assert.equal(receiveOnly.stdout, 'one\ntwo\ngot nothing\n');
    } finally {
      await talker.close();
    }
  });

  test('-0: NUL-separated messages in and out, newlines kept inside', async () => {
    seen.length = 0;
    const result = await pipeline(`printf 'a\\nb\\0c\\0last' | $WSKIT connect ${url} -0 -q | od -c | head -3`);
    assert.deepEqual(seen, ['a\nb', 'c', 'last']);
    assert.match(result.stdout.replace(/\s+/g, ' '), /a \\n b \\0 c \\0 l a s t \\0/);
  });

  test('--no-check, and a client certificate with --cert/--key/--passphrase', { skip: skipWithoutOpenssl }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wskit-certs-'));
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    try {
      openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '1', '-keyout', path.join(dir, 'server.key'), '-out', path.join(dir, 'server.pem'), '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1');
      openssl('req', '-x509', '-newkey', 'rsa:2048', '-sha256', '-days', '1', '-passout', 'pass:s3cret', '-keyout', path.join(dir, 'client.key'), '-out', path.join(dir, 'client.pem'), '-subj', '/CN=wskit-client');
      const read = (name: string) => readFileSync(path.join(dir, name));
      const tlsServer = await startServer(echo, {
        tls: { cert: read('server.pem'), key: read('server.key'), requestCert: true, rejectUnauthorized: true, ca: [read('client.pem')] },
      });
      const target = `wss://127.0.0.1:${tlsServer.address()!.port}`;
      try {
        const noCert = await wskit(['connect', target, '--no-check', '-x', 'hi', '-w', '0.3'], { input: '' });
        assert.equal(noCert.code, 1, 'the server requires a client certificate');
        const withCert = await wskit(
          ['connect', target, '--no-check', '--cert', path.join(dir, 'client.pem'), '--key', path.join(dir, 'client.key'), '--passphrase', 's3cret', '-x', 'hi', '-w', '0.3', '-q'],
          { input: '' },
        );
        assert.equal(withCert.code, 0, withCert.stderr);
        assert.equal(withCert.stdout, 'hi\n');
        const unverified = await wskit(['connect', target, '-x', 'hi', '-w', '0.3'], { input: '' });
        assert.equal(unverified.code, 1);
        assert.match(unverified.stderr, /TLS error: .*--insecure/);
      } finally {
        await tlsServer.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bench speaks the same vocabulary: -s subprotocol, -n count, -b binary', async () => {
    let offered = '';
    const chat = await startServer(async (ws) => {
      offered = ws.subprotocol ?? '';
      for await (const message of ws) await ws.send(message);
    }, { subprotocols: ['chat'] });
    try {
      const result = await wskit(['bench', `ws://127.0.0.1:${chat.address()!.port}`, '-s', 'chat', '-n', '300', '-b', '-c', '2', '--json']);
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout);
      assert.ok(report.received >= 300 && report.received < 400, String(report.received));
      assert.equal(report.binary, true);
      assert.equal(offered, 'chat');
    } finally {
      await chat.close();
    }
  });
});

describe('the user\'s own /close code', { skip: skipWithoutTmux, timeout: 30_000 }, () => {
  test('/close 4000 bye exits 0 (tmux)', async () => {
    const server = await startServer(echo);
    const session = `wskit-close-${process.pid}`;
    const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
    tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '20', `NO_COLOR=1 ${process.execPath} ${WSKIT} connect ws://127.0.0.1:${server.address()!.port}; echo "exit=$?"; sleep 30`);
    try {
      const waitFor = async (pattern: RegExp) => {
        const deadline = Date.now() + 10_000;
        for (;;) {
          const screen = tmux('capture-pane', '-p', '-t', session);
          if (pattern.test(screen)) return screen;
          if (Date.now() > deadline) throw new Error(`screen never matched ${pattern}:\n${screen}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      await waitFor(/Connected to/);
      tmux('send-keys', '-t', session, '-l', '/close 4000 bye');
      tmux('send-keys', '-t', session, 'Enter');
      const screen = await waitFor(/exit=\d/);
      assert.match(screen, /Connection closed: 4000 \(private use\)/);
      assert.match(screen, /exit=0/);
    } finally {
      tmux('kill-session', '-t', session);
      await server.close();
    }
  });
});
