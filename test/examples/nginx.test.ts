/**
 * docs/deploying-behind-nginx.md as written: its nginx configuration (the first `nginx` block, with the listening
 * port, the certificate and the upstream ports replaced by test ones) in front of three processes of its
 * "several processes" program (examples/snippets/nginx-processes.ts) sharing a real Redis. Checked: WebSocket
 * upgrades pass through nginx over TLS with the path unchanged, a plain request gets wskit's 426, the per-IP limits
 * block (merged in) refuses the 21st WebSocket, a message published by a client reaches the room on every process,
 * and SIGTERM's 1012 reaches the clients through nginx.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import type tls from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { connect, InvalidStatus, type Connection } from '../../src/index.js';
import { delay, freePort, skipWithoutOpenssl, skipWithoutRedis, within } from '../helpers.js';
import { startRedis } from '../redis-server.js';

const NGINX = '/usr/sbin/nginx';
const skip = !existsSync(NGINX) ? 'nginx is not installed (apt-get install nginx)' : (skipWithoutRedis || skipWithoutOpenssl);

/** The guide's configuration with its per-IP limits block merged in: zones at the http level, limits in the location. */
function guideConfig(): string {
  const guide = readFileSync('docs/deploying-behind-nginx.md', 'utf8');
  const [config, limits] = [...guide.matchAll(/```nginx\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(config !== undefined && limits !== undefined, 'docs/deploying-behind-nginx.md has two nginx blocks');
  const zones = limits.split('\n').filter((line) => /^limit_\w+_zone /.test(line));
  const inLocation = limits.split('\n').filter((line) => /^\s+limit_(conn|req) /.test(line));
  assert.equal(zones.length + inLocation.length, 4, `the guide's limits block changed:\n${limits}`);
  return replace(`${zones.join('\n')}\n${config}`, 'location /ws/ {', `location /ws/ {\n${inLocation.join('\n')}`);
}

/** `text` with `from` replaced by `to`, failing if the guide no longer has `from`. */
function replace(text: string, from: string | RegExp, to: string): string {
  assert.match(text, typeof from === 'string' ? new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : from, `the guide's nginx block changed: ${from}`);
  return text.replace(from, to);
}

async function listening(port: number, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`${what} is not listening on ${port}`);
    await delay(50);
  }
}

describe('docs/deploying-behind-nginx.md: nginx in front of three wskit processes and Redis', { skip, timeout: 90_000 }, () => {
  let dir: string;
  let redis: ChildProcess | undefined;
  let redisUrl: string;
  let nginx: ChildProcess | undefined;
  let nginxLog = '';
  let nginxPort: number;
  let cert: Buffer;
  const processes: ChildProcess[] = [];
  const upstreams: number[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wskit-nginx-'));
    const redisPort = await freePort();
    redis = await startRedis(redisPort);
    redisUrl = `redis://127.0.0.1:${redisPort}`;
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      upstreams.push(port);
      processes.push(spawn(process.execPath, ['--import', 'tsx', 'examples/snippets/nginx-processes.ts'], {
        env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl },
        stdio: ['ignore', 'inherit', 'inherit'],
      }));
    }
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'));
    nginxPort = await freePort();
    let config = guideConfig();
    config = replace(config, 'listen 443 ssl;', `listen 127.0.0.1:${nginxPort} ssl;`);
    config = replace(config, '/etc/letsencrypt/live/example.com/fullchain.pem', join(dir, 'cert.pem'));
    config = replace(config, '/etc/letsencrypt/live/example.com/privkey.pem', join(dir, 'key.pem'));
    upstreams.forEach((port, i) => (config = replace(config, `server 127.0.0.1:${8001 + i};`, `server 127.0.0.1:${port};`)));
    for (const temp of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, temp));
    writeFileSync(join(dir, 'nginx.conf'), [
      'daemon off;', 'master_process off;', `pid ${join(dir, 'nginx.pid')};`, 'error_log stderr warn;', 'events {}',
      'http {', 'access_log off;', ...['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t === 'body' ? 'client_body' : t}_temp_path ${join(dir, t)};`),
      config, '}', '',
    ].join('\n'));
    nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    nginx.stdout!.on('data', (c: Buffer) => (nginxLog += c.toString()));
    nginx.stderr!.on('data', (c: Buffer) => (nginxLog += c.toString()));
    await listening(nginxPort, `nginx (${nginxLog})`);
    for (const port of upstreams) await listening(port, 'a wskit process');
  });

  after(() => {
    nginx?.kill('SIGKILL');
    for (const child of processes) child.kill('SIGKILL');
    redis?.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a plain HTTPS request to /ws/ reaches wskit as a plain GET: 426 Upgrade Required', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: nginxPort, path: '/ws/rooms/lobby', servername: 'localhost', ca: cert }, (response) => {
        response.resume();
        resolve(response.statusCode!);
      }).on('error', reject);
    });
    assert.equal(status, 426, nginxLog);
  });

  it('the per-IP limits block: the 21st open WebSocket from one address gets 503', async () => {
    const url = `wss://localhost:${nginxPort}/ws/rooms/limits`;
    // From 127.0.0.2, so that the other tests' handshakes (from 127.0.0.1) have their own per-IP budget.
    const fromSecondAddress: tls.ConnectionOptions & { localAddress: string } = { localAddress: '127.0.0.2' }; // passed on to net.connect
    const from = { ca: cert, tls: fromSecondAddress };
    const open: Connection[] = [];
    try {
      for (let i = 0; i < 20; i++) open.push(await connect(url, from));
      await assert.rejects(connect(url, from), (error: unknown) => error instanceof InvalidStatus && error.response.status === 503);
    } finally {
      await Promise.all(open.map((ws) => ws.close()));
    }
  });

  it('rooms span the processes; SIGTERM closes with 1012 through nginx', async () => {
    const url = `wss://localhost:${nginxPort}/ws/rooms/lobby`;
    const viaNginx: Connection[] = [];
    for (let i = 0; i < 3; i++) viaNginx.push(await connect(url, { ca: cert }));
    // One direct client per process: delivery to all three shows that publishes cross processes.
    const direct = await Promise.all(upstreams.map((port) => connect(`ws://127.0.0.1:${port}/ws/rooms/lobby`)));
    // Wait until each process's SUBSCRIBE is in Redis (a new topic reaches across one round trip later).
    const admin = new Redis(redisUrl);
    try {
      const deadline = Date.now() + 10_000;
      while (Number((await admin.pubsub('NUMSUB', 'wskit:room:lobby'))[1]) < 3) {
        if (Date.now() > deadline) throw new Error('the three processes did not all subscribe in Redis');
        await delay(20);
      }
    } finally {
      admin.disconnect();
    }
    await viaNginx[0]!.send('hello through nginx');
    for (const ws of [...viaNginx.slice(1), ...direct]) assert.equal(await within(ws.recv(), 10_000, 'the message'), 'hello through nginx');

    const closes = viaNginx.map((ws) => ws.closed);
    for (const child of processes) child.kill('SIGTERM');
    for (const info of await within(Promise.all(closes), 20_000, 'the 1012 closes')) assert.deepEqual([info.code, info.reason], [1012, 'restarting']);
    for (const child of processes) {
      const code = child.exitCode ?? (await within(new Promise<number | null>((resolve) => child.once('exit', resolve)), 20_000, 'exit'));
      assert.equal(code, 0);
    }
  });
});
