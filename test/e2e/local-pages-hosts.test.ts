/**
 * DNS rebinding against the local pages: `wskit console` and the `wskit
 * sensors` dashboard (its page and its /live feed) answer only requests whose
 * Host is an IP address, localhost, *.localhost, or a name allowed with
 * --allow-host. A rebound name sends the same name as Host and Origin, so the
 * Origin check alone let it read the phone's data.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { hostAllowed } from '../../src/cli/static.js';
import { killAll, start, waitForLine } from './cli-helpers.js';

/** GET `path` from 127.0.0.1:`port` with the given Host (and Origin); resolves with the status (101 for an upgrade). */
function request(port: number, path: string, host: string, options: { origin?: string; upgrade?: boolean } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Host: host };
    if (options.origin) headers.Origin = options.origin;
    if (options.upgrade) {
      Object.assign(headers, { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' });
    }
    const req = http.request({ host: '127.0.0.1', port, path, headers });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end();
  });
}

/** An HTTP/1.0 request without any Host header; resolves with the status. */
function requestWithoutHost(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.0\r\n\r\n'));
    let text = '';
    socket.on('data', (d) => (text += d));
    socket.on('end', () => resolve(Number(/^HTTP\/1\.[01] (\d+)/.exec(text)?.[1])));
    socket.on('error', reject);
  });
}

describe('local pages refuse host names they were not told about', { timeout: 60_000 }, () => {
  after(killAll);

  test('hostAllowed: IPs, localhost and *.localhost, allowed names; not other names or garbage', () => {
    for (const ok of ['127.0.0.1:8767', '127.0.0.1', '[::1]:8767', '[::1]', 'localhost', 'LOCALHOST:80', 'localhost.:8767', 'app.localhost:1', '192.168.1.20:8767']) {
      assert.ok(hostAllowed(ok), ok);
    }
    for (const bad of [undefined, '', 'evil.example', 'evil.example:8767', 'localhost.evil.example', '127.0.0.1.nip.io', '[evil]:1', 'a b', 'localhost:80x', 'my.lan:8767']) {
      assert.ok(!hostAllowed(bad), String(bad));
    }
    assert.ok(hostAllowed('My.LAN:8767', new Set(['my.lan'])));
  });

  test('wskit console: 403 for a rebound name, 200 for loopback names and --allow-host names', async () => {
    const child = start(['console', '--port', '0', '--allow-host', 'my.lan']);
    const port = Number(await waitForLine(child, /Console at http:\/\/127\.0\.0\.1:(\d+)\//));
    assert.equal(await request(port, '/', `evil.example:${port}`), 403);
    assert.equal(await request(port, '/console.js', `evil.example:${port}`), 403);
    assert.equal(await requestWithoutHost(port), 403);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `wskit.localhost:${port}`, `my.lan:${port}`]) {
      assert.equal(await request(port, '/', host), 200, host);
    }
  });

  test('wskit sensors dashboard: page and /live feed refused to a rebound name even with a matching Origin', async () => {
    const child = start(['sensors', 'ws://127.0.0.1:1/sensor/connect?type=android.sensor.light', '--port', '0', '--allow-host', 'phone-lab.lan']);
    const port = Number(await waitForLine(child, /Dashboard at http:\/\/127\.0\.0\.1:(\d+)\//));
    const evil = `evil.example:${port}`;
    assert.equal(await request(port, '/', evil), 403);
    // The rebinding page: same name in Host and Origin, which the Origin check alone accepted (101 before).
    assert.equal(await request(port, '/live', evil, { origin: `http://${evil}`, upgrade: true }), 403);
    assert.equal(await request(port, '/live', `127.0.0.1:${port}`, { origin: `http://127.0.0.1:${port}`, upgrade: true }), 101);
    assert.equal(await request(port, '/live', `localhost:${port}`, { upgrade: true }), 101);
    assert.equal(await request(port, '/live', `phone-lab.lan:${port}`, { origin: `http://phone-lab.lan:${port}`, upgrade: true }), 101);
    // Cross-site WebSocket hijacking is still refused: a page elsewhere, a loopback Host.
    assert.equal(await request(port, '/live', `127.0.0.1:${port}`, { origin: 'http://evil.example', upgrade: true }), 403);
    assert.equal(await request(port, '/live', `127.0.0.1:${port}`, { origin: 'not a url', upgrade: true }), 403);
    assert.equal(await request(port, '/', `localhost:${port}`), 200);
  });
});
