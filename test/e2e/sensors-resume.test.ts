/**
 * The `wskit sensors` dashboard page resumes in headless Chromium: its socket cut for seconds (a laptop lid closed,
 * here a TCP relay that drops every connection and refuses new ones) and `wskit sensors` restarted with its history
 * in Redis, the page away meanwhile: the samples of the gap are shown, each once; restarted with the history in
 * memory (lost), the page says plainly that it could not recover them.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Collector } from '../../src/cli/sensors/collector.js';
import { Dashboard, sensorsHistory } from '../../src/cli/sensors/dashboard.js';
import { streamUrls } from '../../src/cli/sensors/protocol.js';
import { SensorSimulator } from '../../src/cli/sensors/simulator.js';
import { redisHistory, type Server, type TopicHistory } from '../../src/index.js';
import { CHROMIUM, CHROMIUM_ARGS, delay, freePort, skipWithoutChromium, skipWithoutRedis, startServer } from '../helpers.js';
import { startRedis } from '../redis-server.js';

const RATE = 100;
const TYPES = ['accelerometer', 'gyroscope'];

interface PageStats {
  received: number;
  firstSeq: number | null;
  nextSeq: number | null;
  recovered: number;
  lost: number;
  since: number | null;
  firstOffset: number | null;
  offset: number | null;
}

/** `wskit sensors` in this process: a collector reading the simulator and the dashboard on a fixed port. */
class SensorsRun {
  private constructor(
    readonly collector: Collector,
    readonly dashboard: Dashboard,
  ) {}

  static async start(sim: SensorSimulator | string[], port: number, history: TopicHistory): Promise<SensorsRun> {
    const collector = new Collector(Array.isArray(sim) ? sim : streamUrls(sim.url.slice('ws://'.length), TYPES));
    const dashboard = new Dashboard(collector, { port, history, logger: null });
    await dashboard.listen();
    collector.start();
    return new SensorsRun(collector, dashboard);
  }

  async stop(): Promise<void> {
    await this.collector.stop();
    await this.dashboard.close();
  }
}

/** A TCP relay to `target` that can cut every connection and refuse new ones for a while (a laptop lid closed). */
class Relay {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}

  async open(): Promise<void> {
    this.server = net.createServer((socket) => {
      const upstream = net.connect(this.target, '127.0.0.1');
      for (const s of [socket, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.sockets.delete(s);
          socket.destroy();
          upstream.destroy();
        });
      }
      socket.pipe(upstream).pipe(socket);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  /** Drops every connection without a close frame and stops listening. */
  async cut(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
    this.server = null;
  }
}

describe('wskit sensors page resumes in Chromium', { skip: skipWithoutChromium, timeout: 120_000 }, () => {
  let sim: SensorSimulator;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  before(async () => {
    sim = await new SensorSimulator({ rate: RATE, webPort: null, seed: 7 }).start();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await sim?.close();
  });

  const stats = () => page.evaluate(() => (window as unknown as { wskitSensors: PageStats }).wskitSensors);
  /** Waits until the page's stats have at least `value` in `field`. */
  const waitStats = (field: keyof PageStats, value: number) =>
    page.waitForFunction(
      ([f, v]) => Number((window as unknown as { wskitSensors: Record<string, unknown> }).wskitSensors[f]) >= v,
      [field, value] as const,
      { timeout: 20_000 },
    );

  async function newPage(): Promise<void> {
    await page?.close();
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && !/ERR_CONNECTION_REFUSED|WebSocket connection/.test(m.text()) && errors.push(m.text()));
  }

  it('a socket cut for 3 s: the samples of the gap are replayed, every one once', async () => {
    const run = await SensorsRun.start(sim, 0, sensorsHistory());
    const relay = new Relay(await freePort(), Number(new URL(run.dashboard.url).port));
    await relay.open();
    try {
      await newPage();
      await page.goto(`http://127.0.0.1:${relay.port}/`);
      await page.locator('#link[data-state="open"]').waitFor({ timeout: 10_000 });
      await waitStats('received', 200);
      const before = run.dashboard.published;
      await relay.cut();
      await page.locator('#link[data-state="closed"]').waitFor({ timeout: 10_000 });
      await delay(3000); // the dashboard goes on publishing: the gap
      const during = run.dashboard.published - before;
      await relay.open();
      await page.locator('#gap[data-state="recovered"]').waitFor({ timeout: 20_000 });
      const published = run.dashboard.published;
      await waitStats('nextSeq', published);
      const s = await stats();
      console.log(`# page socket cut for 3 s: ${during} samples published meanwhile; page received ${s.received} of the ${s.nextSeq! - s.firstSeq!} published since it subscribed`);
      assert.ok(during >= RATE * TYPES.length * 2, `${during} samples published during the cut`);
      assert.equal(s.received, s.nextSeq! - s.firstSeq!, 'every sample once: none lost, none repeated');
      assert.deepEqual([s.recovered, s.lost], [1, 0]);
      assert.match(await page.locator('#gap').innerText(), /samples missed since \d\d:\d\d:\d\d were replayed/);
      assert.deepEqual(errors, []);
    } finally {
      await relay.cut();
      await run.stop();
    }
  });

  it('a gap longer than the history (--history 1 s, socket cut for 3 s): the page says it could not recover it', async () => {
    const run = await SensorsRun.start(sim, 0, sensorsHistory(1));
    const relay = new Relay(await freePort(), Number(new URL(run.dashboard.url).port));
    await relay.open();
    try {
      await newPage();
      await page.goto(`http://127.0.0.1:${relay.port}/`);
      await waitStats('received', 100);
      await relay.cut();
      await page.locator('#link[data-state="closed"]').waitFor({ timeout: 10_000 });
      await delay(3000);
      await relay.open();
      await page.locator('#gap[data-state="lost"]').waitFor({ timeout: 20_000 });
      assert.match(await page.locator('#gap').innerText(), /^Could not recover the samples since \d\d:\d\d:\d\d: wskit no longer has them \(the gap is longer than its history/);
      const { received } = await stats();
      await waitStats('received', received + 100); // and it goes on from the present
      assert.deepEqual([(await stats()).lost, (await stats()).recovered], [1, 0]);
    } finally {
      await relay.cut();
      await run.stop();
    }
  });

  it('shows what the phone sends as text: markup in a sensor type or a close reason is not run', async () => {
    const markup = '<img src=x onerror="window.pwned=1">';
    const phone: Server = await startServer(async (ws) => {
      for (let i = 0; i < 20; i++) await ws.send(JSON.stringify({ type: markup, values: [1, 2, 3], timestamp: i * 1e7, accuracy: 3 }));
      await ws.close(4001, `<b onmouseover="window.pwned=2">${markup}</b>`);
    });
    const run = await SensorsRun.start([`ws://127.0.0.1:${phone.address()!.port}/sensors/connect?types=[]`], 0, sensorsHistory());
    try {
      await newPage();
      await page.goto(run.dashboard.url);
      await page.locator('.card h3', { hasText: markup }).waitFor({ timeout: 10_000 });
      await page.locator('#sources li', { hasText: '<b onmouseover' }).waitFor({ timeout: 10_000 });
      assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
      assert.equal(await page.locator('.card img, #sources b').count(), 0);
    } finally {
      await run.stop();
      await phone.close();
    }
  });

  it('wskit sensors restarted with its history in Redis while the page was away: back on the page, the gap is shown', { skip: skipWithoutRedis }, async () => {
    const redisPort = await freePort();
    let redis: ChildProcess | null = await startRedis(redisPort);
    const history = () => redisHistory({ url: `redis://127.0.0.1:${redisPort}`, prefix: 'wskit:sensors-test', logger: null });
    const port = await freePort();
    let run = await SensorsRun.start(sim, port, history());
    try {
      await newPage();
      await page.goto(run.dashboard.url);
      await waitStats('received', 200);
      await page.goto('about:blank'); // the page saves its position as it leaves (pagehide)
      await waitForPublished(run, 100); // published while the page is away
      const left = run.dashboard.position!.offset;
      await run.stop();
      run = await SensorsRun.start(sim, port, history());
      await waitForPublished(run, 100); // published after the restart, while the page is still away
      await page.goto(run.dashboard.url); // the same tab: sessionStorage holds the position
      await page.locator('#gap[data-state="recovered"]').waitFor({ timeout: 20_000 });
      await waitStats('offset', left + 10);
      const s = await stats();
      console.log(`# back after the restart: resumed after offset ${s.since}, first publication shown ${s.firstOffset}; the previous run had published up to offset ${left}`);
      assert.ok(s.since !== null && s.since < left, `the page left at offset ${s.since}, before the last publication of the first run (${left})`);
      assert.equal(s.firstOffset, s.since! + 1, 'the first publication shown is the one after the position: the gap is replayed');
      assert.deepEqual([s.recovered, s.lost], [1, 0]);
      assert.deepEqual(errors, []);
    } finally {
      await run.stop();
      redis?.kill('SIGKILL');
      redis = null;
    }
  });

  it('wskit sensors restarted with its history in memory: the page says it could not recover the gap', async () => {
    const port = await freePort();
    let run = await SensorsRun.start(sim, port, sensorsHistory());
    try {
      await newPage();
      await page.goto(run.dashboard.url);
      await waitStats('received', 100);
      await run.stop();
      await page.locator('#link[data-state="closed"]').waitFor({ timeout: 10_000 });
      run = await SensorsRun.start(sim, port, sensorsHistory());
      await page.locator('#gap[data-state="lost"]').waitFor({ timeout: 20_000 });
      assert.match(await page.locator('#gap').innerText(), /^Could not recover the samples since \d\d:\d\d:\d\d: wskit no longer has them/);
      const received = (await stats()).received;
      await waitStats('received', received + 100); // and it goes on from the present
      assert.deepEqual([(await stats()).lost, (await stats()).recovered], [1, 0]);
    } finally {
      await run.stop();
    }
  });
});

/** Waits until the run has published `count` more samples (a deadline, 10 s). */
async function waitForPublished(run: SensorsRun, count: number): Promise<void> {
  const target = run.dashboard.published + count;
  const deadline = Date.now() + 10_000;
  while (run.dashboard.published < target) {
    assert.ok(Date.now() < deadline, `only ${run.dashboard.published} samples published`);
    await delay(20);
  }
}
