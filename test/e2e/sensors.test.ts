/**
 * The `wskit sensors` dashboard in headless Chromium, fed by the SensorServer
 * simulator at 250 samples/s per sensor: charts drawn, readouts moving, rates
 * shown, pause, recording and download; only same-origin pages may connect.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Collector } from '../../src/cli/sensors/collector.js';
import { Dashboard } from '../../src/cli/sensors/dashboard.js';
import { streamUrls } from '../../src/cli/sensors/protocol.js';
import { SensorSimulator } from '../../src/cli/sensors/simulator.js';
import { connect, TOPICS_PROTOCOL } from '../../src/index.js';
import { CHROMIUM, CHROMIUM_ARGS, delay, skipWithoutChromium } from '../helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const RATE = 250;
const TYPES = ['accelerometer', 'gyroscope', 'magnetic_field', 'rotation_vector', 'step_detector', 'gps', 'touch'];

describe('wskit sensors dashboard in Chromium', { skip: skipWithoutChromium }, () => {
  let sim: SensorSimulator;
  let collector: Collector;
  let dashboard: Dashboard;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  before(async () => {
    sim = await new SensorSimulator({ rate: RATE, webPort: null, seed: 11 }).start();
    collector = new Collector(streamUrls(sim.url.slice('ws://'.length), TYPES));
    dashboard = new Dashboard(collector, { port: 0 });
    await dashboard.listen();
    collector.start();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, acceptDownloads: true });
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  });
  after(async () => {
    await browser?.close();
    await collector?.stop();
    await dashboard?.close();
    await sim?.close();
  });

  const readout = (title: string) => page.locator('.card', { has: page.locator('h3', { hasText: title }) }).locator('.readout .value').allInnerTexts();
  const pageStats = () =>
    page.evaluate(() => (window as unknown as { wskitSensors: { received: number; firstSeq: number; nextSeq: number } }).wskitSensors);

  it('draws a chart per sensor with labelled axes and a moving readout', async () => {
    await page.goto(dashboard.url);
    await page.locator('#link[data-state="open"]').waitFor();
    for (const title of ['Accelerometer (m/s²)', 'Gyroscope (rad/s)', 'Magnetic field (µT)', 'Rotation vector', 'GPS', 'Touch screen (px)']) {
      await page.locator('.card h3', { hasText: title }).first().waitFor();
    }
    // uPlot draws into one canvas per chart.
    await page.waitForFunction(() => document.querySelectorAll('.card .uplot canvas').length >= 4);
    const labels = await page.locator('.card', { has: page.locator('h3', { hasText: 'Accelerometer' }) }).locator('.readout .label').allInnerTexts();
    assert.deepEqual(labels, ['X (right)', 'Y (up the screen)', 'Z (out of the screen)']);

    await delay(500);
    const first = await readout('Accelerometer');
    await delay(700);
    const second = await readout('Accelerometer');
    assert.equal(first.length, 3);
    assert.ok(first.every((v) => /^-?\d+\.\d{3}$/.test(v)), first.join(' '));
    assert.notDeepEqual(first, second, 'the readout changes over time');
    const magnitude = Math.hypot(...second.map(Number));
    assert.ok(magnitude > 5 && magnitude < 15, `|a| = ${magnitude}`);
  });

  it(`keeps up with ${RATE} samples/s per sensor and shows the rate and missing samples`, async () => {
    // Deterministic on a loaded machine: no sample published since the page subscribed is lost, repeated or
    // dropped (whatever the pace of arrival), and the rate comes from the samples' own timestamps, so it reads
    // exactly RATE.
    await delay(2000);
    const published = dashboard.published;
    await page.waitForFunction((n) => (window as unknown as { wskitSensors: { nextSeq: number } }).wskitSensors.nextSeq >= n, published);
    const { received, firstSeq, nextSeq } = await pageStats();
    assert.equal(received, nextSeq - firstSeq, `the page received ${received} samples of the ${nextSeq - firstSeq} published since it subscribed`);
    const card = page.locator('.card', { has: page.locator('h3', { hasText: 'Gyroscope' }) }).locator('.stats');
    await page.waitForFunction(() => /[\d.]+ Hz/.test(document.querySelector('.card .stats')?.textContent ?? ''));
    const stats = await card.innerText();
    assert.equal(Number(/([\d.]+) Hz/.exec(stats)![1]), RATE, stats);
    assert.match(stats, / 0 missing/);
    assert.doesNotMatch(stats, /not shown/);
    console.log(`# dashboard page received all ${received} samples published since it subscribed; gyroscope card: ${stats}`);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'sensors-dashboard.png'), fullPage: true });
    // The README's picture changes only when asked, so a test run leaves the checkout clean.
    if (process.env.UPDATE_DOCS_IMAGES === '1') {
      mkdirSync(path.join(ROOT, 'docs/images'), { recursive: true });
      await page.selectOption('#window', '5'); // the charts are full from edge to edge
      await delay(300);
      await page.screenshot({ path: path.join(ROOT, 'docs/images/sensors-dashboard.png') });
      await page.selectOption('#window', '10');
    }
  });

  it('pauses the charts and the readout', async () => {
    await page.click('#pause');
    assert.equal(await page.locator('#pause').getAttribute('aria-pressed'), 'true');
    const frozen = await readout('Gyroscope');
    await delay(500);
    assert.deepEqual(await readout('Gyroscope'), frozen);
    await page.click('#pause');
    await delay(500);
    assert.notDeepEqual(await readout('Gyroscope'), frozen);
  });

  it('records and downloads CSV', async () => {
    await page.click('#record');
    await delay(1000);
    await page.click('#record');
    assert.match(await page.locator('#record-count').innerText(), /Recorded [\d,]+ samples/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
    const file = path.join(ARTIFACTS, 'dashboard-recording.csv');
    await download.saveAs(file);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines[0], 'received_ms,source,type,timestamp_ns,accuracy,action,v0,v1,v2,v3,v4,v5');
    assert.ok(lines.length > 500, `${lines.length} lines`);
    assert.ok(lines.some((l) => l.includes(',android.sensor.accelerometer,')));
    assert.deepEqual(errors, []);
  });

  it('refuses the live feed to pages from another origin', async () => {
    const live = dashboard.url.replace('http://', 'ws://') + 'live';
    await assert.rejects(connect(live, { origin: 'http://evil.example' }), /403/);
    const ws = await connect(live, { origin: dashboard.url.slice(0, -1), subprotocols: [TOPICS_PROTOCOL] });
    await ws.send(JSON.stringify({ type: 'subscribe', id: 1, topic: 'status' }));
    assert.equal(JSON.parse(String(await ws.recv())).type, 'subscribed');
    await ws.close();
  });
});
