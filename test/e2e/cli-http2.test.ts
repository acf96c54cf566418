/**
 * `wskit serve --http2` and `wskit connect --http2` through the real CLI: h2c with prior knowledge and TLS h2
 * (with static files and HTTP/1.1 on the same port), the log naming the stream, and one-line refusals.
 */
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect } from '../../src/index.js';
import { makeCertificate, skipWithoutOpenssl, within, type TestCertificate } from '../helpers.js';
import { hasStackTrace, killAll, start, stop, waitForLine, wskit } from './cli-helpers.js';

/** Collects a child's stdout, to wait for lines that come later. */
function output(child: ReturnType<typeof start>): { text: () => string; line: (pattern: RegExp) => Promise<void> } {
  let text = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  return {
    text: () => text,
    line: async (pattern) => {
      const deadline = Date.now() + 10_000;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`no line matching ${pattern}; got: ${text}`);
        await new Promise((resolve) => child.stdout.once('data', resolve).once('close', resolve));
        if (child.exitCode !== null && !pattern.test(text)) throw new Error(`exited; got: ${text}`);
      }
    },
  };
}

describe('wskit serve --http2 (h2c) and connect --http2', { timeout: 60_000 }, () => {
  let child: ReturnType<typeof start>;
  let url = '';
  let log: ReturnType<typeof output>;

  before(async () => {
    child = start(['serve', '--http2', '--port', '0', '--log']);
    url = (await waitForLine(child, /Listening on (ws:\/\/\S+) \(echo, h2c and HTTP\/1\.1\)/)).match(/ws:\/\/\S+/)![0];
    log = output(child);
  });
  after(async () => {
    await stop(child);
    await killAll();
  });

  test('connect --http2 round-trips over an extended CONNECT stream; the server log names the stream', async () => {
    const result = await wskit(['connect', '--http2', `${url}/chat`, '--count', '2'], { input: 'one\ntwo\n' });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trimEnd().split('\n'), ['one', 'two']);
    assert.match(result.stderr, /Connected to ws:\/\/127\.0\.0\.1:\d+\/chat \(HTTP\/2 stream\)\./);
    await log.line(/\+ 127\.0\.0\.1 \/chat \[h2 stream 1\]/);
    await log.line(/- 127\.0\.0\.1 \/chat \[h2 stream 1\] 1000 \(OK\)/);
  });

  test('the same port serves HTTP/1.1 WebSockets (no stream in the log)', async () => {
    const result = await wskit(['connect', `${url}/h1`, '--count', '1'], { input: 'x\n' });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'x\n');
    await log.line(/\+ 127\.0\.0\.1 \/h1\n/);
  });

  test('two WebSockets on one session are streams 1 and 3 of one connection', async () => {
    const [a, b] = await Promise.all([connect(`${url}/a`, { http2: true }), connect(`${url}/b`, { http2: true })]);
    await Promise.all([a.send('1'), b.send('2')]);
    assert.deepEqual(await Promise.all([a.recv(), b.recv()]), ['1', '2']);
    await log.line(/\/a \[h2 stream \d+\]/);
    await log.line(/\/b \[h2 stream \d+\]/);
    const ids = ['a', 'b'].map((path) => Number(new RegExp(`/${path} \\[h2 stream (\\d+)\\]`).exec(log.text())![1]));
    assert.deepEqual(ids.sort(), [1, 3], 'one session: its first two client streams');
    await Promise.all([a.close(), b.close()]);
  });

  test('connect --http2 to a server without HTTP/2: one line, exit 1', async () => {
    const plain = start(['serve', '--port', '0']);
    try {
      const plainUrl = (await waitForLine(plain, /Listening on (ws:\/\/\S+)/)).match(/ws:\/\/\S+/)![0];
      const result = await wskit(['connect', '--http2', plainUrl], { input: '' });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^wskit connect: cannot connect to ws:\/\/127\.0\.0\.1:\d+/m);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.ok(!hasStackTrace(result.stderr));
    } finally {
      await stop(plain);
    }
  });

  test('bad combinations are usage errors (exit 2, one line)', async () => {
    const proxy = await wskit(['connect', '--http2', '--proxy', 'http://127.0.0.1:1', url], { input: '' });
    assert.equal(proxy.code, 2);
    assert.match(proxy.stderr, /--http2 does not go with --proxy/);
    const dir = mkdtempSync(join(tmpdir(), 'wskit-static-'));
    try {
      const h2cStatic = await wskit(['serve', '--http2', '--static', dir, '--port', '0']);
      assert.equal(h2cStatic.code, 2);
      assert.match(h2cStatic.stderr, /--static with --http2 needs --tls-cert and --tls-key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('wskit serve --http2 over TLS', { skip: skipWithoutOpenssl, timeout: 60_000 }, () => {
  let certificate: TestCertificate;
  let dir = '';

  before(() => {
    certificate = makeCertificate();
    dir = mkdtempSync(join(tmpdir(), 'wskit-static-'));
    writeFileSync(join(dir, 'index.html'), '<p>page</p>\n');
  });
  after(async () => {
    certificate?.remove();
    rmSync(dir, { recursive: true, force: true });
    await killAll();
  });

  test('the page over h2, WebSockets over h2 (connect --http2 --ca) and HTTP/1.1 on one port', async () => {
    const cert = join(certificate.dir, 'cert.pem');
    const key = join(certificate.dir, 'key.pem');
    const child = start(['serve', '--http2', '--static', dir, '--tls-cert', cert, '--tls-key', key, '--port', '0', '--log']);
    try {
      const line = await waitForLine(child, /Listening on (wss:\/\/\S+) \(echo, HTTP\/2 and HTTP\/1\.1\)/);
      const port = Number(/:(\d+)/.exec(line.match(/wss:\/\/\S+/)![0])![1]);
      const log = output(child);
      const session = http2.connect(`https://localhost:${port}`, { ca: certificate.cert });
      session.on('error', () => undefined);
      const page = await within(
        new Promise<string>((resolve) => {
          let body = '';
          session.request({ ':path': '/' }).setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body));
        }),
        5000,
        'the page over h2',
      );
      assert.equal(page, '<p>page</p>\n');
      session.close();
      const h2 = await wskit(['connect', '--http2', '--ca', cert, `wss://localhost:${port}/tls`, '--count', '1'], { input: 'over h2\n' });
      assert.equal(h2.code, 0, h2.stderr);
      assert.equal(h2.stdout, 'over h2\n');
      await log.line(/\/tls \[h2 stream 1\]/);
      const h1 = await wskit(['connect', '--ca', cert, `wss://localhost:${port}/one`, '--count', '1'], { input: 'over 1.1\n' });
      assert.equal(h1.code, 0, h1.stderr);
      assert.equal(h1.stdout, 'over 1.1\n');
      await log.line(/\+ 127\.0\.0\.1 \/one\n/);
    } finally {
      await stop(child);
    }
    assert.equal(child.exitCode, 0, 'SIGTERM ends it cleanly, sessions included');
  });
});
