/**
 * `wskit sensors` against a hostile phone: a new sensor type in every message
 * with a page that does not read (memory bounded, --duration and SIGTERM
 * honoured), formulas and broken quoting in --csv, a taken simulator port.
 */
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { csvText } from '../../web/sensors/csv.js';
import { connect, decodeTopicFrame, TOPICS_PROTOCOL, type Connection, type Server } from '../../src/index.js';
import { startServer } from '../helpers.js';
import { finish, killAll, start, waitForLine } from '../e2e/cli-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'wskit-sensors-hostile-'));
after(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

/** Resident set size of a process in MiB (Linux). */
function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** Opens the dashboard's feed as a page would, subscribed to `topics`, reading at most one message at a time. */
async function openFeed(dashboard: string, topics: string[]): Promise<Connection> {
  const page = await connect(dashboard.replace('http://', 'ws://') + 'live', { maxQueue: 1, compression: false, subprotocols: [TOPICS_PROTOCOL] });
  for (const [id, topic] of topics.entries()) await page.send(JSON.stringify({ type: 'subscribe', id, topic }));
  return page;
}

/** The payload of the next publication on `topic` (other messages are skipped). */
async function nextPublication(page: Connection, topic: string): Promise<Record<string, unknown>> {
  for (;;) {
    const { header } = decodeTopicFrame(await page.recv());
    if (header.type === 'pub' && header.topic === topic) return header.data as Record<string, unknown>;
  }
}

/** A phone that sends a sample of a new sensor type in every message, as fast as its socket drains. */
async function typeFlooder(): Promise<{ server: Server; sent: () => number }> {
  let sent = 0;
  const server = await startServer(async (ws) => {
    const values = Array.from({ length: 200 }, (_, i) => i / 7);
    while (ws.readyState === 1) {
      sent++;
      await ws.send(JSON.stringify({ type: `android.sensor.flood_${sent}_${'x'.repeat(80)}`, values, timestamp: sent * 1e6, accuracy: 3 })).catch(() => undefined);
    }
  });
  return { server, sent: () => sent };
}

/** Parses RFC 4180 CSV (quoted fields with doubled quotes, CRLF or LF inside quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else field += c;
  }
  return rows;
}

describe('wskit sensors against a hostile phone', { timeout: 90_000 }, () => {
  test('a new sensor type in every message, a page that never reads: memory bounded, --duration honoured', async () => {
    const phone = await typeFlooder();
    try {
      const url = `ws://127.0.0.1:${phone.server.address()!.port}/sensors/connect?types=[]`;
      const child = start(['sensors', url, '--port', '0', '--duration', '4']);
      const dashboard = await waitForLine(child, /Dashboard at (http:\/\/\S+)/);
      const started = Date.now();
      // A page that reads the first status, then stops reading: the dashboard's sends pile up unless it looks at bufferedAmount.
      const page = await openFeed(dashboard, ['status', 'samples']);
      const status = (await nextPublication(page, 'status')) as { streams: unknown[] };
      assert.ok(status.streams.length <= 64);
      let peak = 0;
      const sampler = setInterval(() => {
        try {
          peak = Math.max(peak, rssMiB(child.pid!));
        } catch {
          // exited
        }
      }, 50);
      const result = await finish(child, 20_000).finally(() => clearInterval(sampler));
      const took = (Date.now() - started) / 1000;
      page.terminate();
      console.log(`# ${phone.sent()} typed messages sent; peak RSS ${peak.toFixed(0)} MiB; exited after ${took.toFixed(1)} s`);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(took < 4 + 5, `--duration 4 took ${took.toFixed(1)} s`);
      assert.ok(peak < 250, `peak RSS ${peak.toFixed(0)} MiB`);
      assert.ok(phone.sent() > 500, `only ${phone.sent()} messages: the flood did not happen`);
      assert.match(result.stderr, /sensor types beyond the first 32 ignored/);
    } finally {
      await phone.server.close();
    }
  });

  test('SIGTERM during the flood ends it at once', async () => {
    const phone = await typeFlooder();
    try {
      const url = `ws://127.0.0.1:${phone.server.address()!.port}/sensors/connect?types=[]`;
      const child = start(['sensors', url, '--port', '0']);
      const dashboard = await waitForLine(child, /Dashboard at (http:\/\/\S+)/);
      const page = await openFeed(dashboard, ['status', 'samples']);
      await nextPublication(page, 'status');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const stopped = Date.now();
      child.kill('SIGTERM');
      const result = await finish(child, 15_000);
      page.terminate();
      assert.equal(result.code, 0, result.stderr);
      assert.ok(Date.now() - stopped < 6000, `took ${Date.now() - stopped} ms after SIGTERM`);
    } finally {
      await phone.server.close();
    }
  });

  test('--csv: formulas neutralised and fields quoted per RFC 4180', async () => {
    const hostile = ['=HYPERLINK("http://evil.example","click")', '+1+1', '-2+3', '@SUM(A1)', 'a,b', 'say "hi"', 'two\nlines', '\t=1', 'plain.type'];
    const phone = await startServer(async (ws) => {
      for (const type of hostile) await ws.send(JSON.stringify({ type, values: [-1.5, 2], timestamp: 5, accuracy: 3 }));
      await ws.close(4001, 'done'); // a permanent code: wskit sensors stops by itself
    });
    const touch = await startServer(async (ws) => {
      await ws.send(JSON.stringify({ action: "=cmd|' /C calc'!A0", x: 1, y: 2 }));
      await ws.close(4001, 'done');
    });
    try {
      const csv = path.join(dir, 'hostile.csv');
      const child = start([
        'sensors',
        `ws://127.0.0.1:${phone.address()!.port}/sensors/connect?types=[]`,
        `ws://127.0.0.1:${touch.address()!.port}/touchscreen`,
        '--csv', csv,
      ]);
      const result = await finish(child, 15_000);
      assert.equal(result.code, 1, result.stderr); // every source failed permanently
      const rows = parseCsv(readFileSync(csv, 'utf8'));
      assert.equal(rows[0]!.join(','), 'received_ms,source,type,timestamp_ns,accuracy,action,v0,v1,v2,v3,v4,v5');
      const data = rows.slice(1);
      assert.equal(data.length, hostile.length + 1);
      for (const row of data) {
        assert.equal(row.length, 12, JSON.stringify(row));
        for (const [i, value] of row.entries()) {
          if (i === 2 || i === 5) assert.ok(!/^[=+\-@\t\r]/.test(value), `field ${i} starts a formula: ${value}`);
          else assert.ok(value === '' || Number.isFinite(Number(value)), `field ${i} is not a number: ${value}`);
        }
      }
      const types = data.filter((r) => r[1] === '1').map((r) => r[2]);
      assert.deepEqual(types, hostile.map((t) => (/^[=+\-@\t\r]/.test(t) ? `'${t}` : t)));
      assert.equal(data.find((r) => r[1] === '2')![5], "'=cmd|' /C calc'!A0");
      assert.equal(data[0]![6], '-1.5', 'negative numbers are numbers, not neutralised');
      assert.equal(csvText('a"b'), '"a""b"');
    } finally {
      await phone.close();
      await touch.close();
    }
  });

  test('--list against a phone that never stops answering: one line, exit 1', async () => {
    const web = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      res.write('[');
      pump();
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    try {
      const port = (web.address() as net.AddressInfo).port;
      const result = await finish(start(['sensors', '127.0.0.1:1', '--list', '--web-port', String(port)]), 10_000);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /^wskit sensors: http:\/\/127\.0\.0\.1:\d+\/sensors did not answer a sensor list: more than 1048576 bytes\n$/);
    } finally {
      web.closeAllConnections();
      web.close();
    }
  });

  test('--simulate with a taken port: one clear line and exit 1, not a hang', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      for (const args of [['--web-port', String(taken), '--port', '0'], ['--port', String(taken), '--web-port', '0']]) {
        const result = await finish(start(['sensors', '--simulate', ...args]), 10_000);
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, new RegExp(`^wskit sensors: port ${taken} is already in use \\(${args[0]}\\)\\n$`));
      }
    } finally {
      blocker.close();
    }
  });
});
