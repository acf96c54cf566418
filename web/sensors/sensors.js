// wskit sensors dashboard: samples arrive from the wskit process over a
// WebSocket (/live) speaking wskit.topics.v1 through wskit/browser: topic
// `samples` ({ seq, samples } per publication) and topic `status`. The position
// in `samples` is kept (and saved in sessionStorage for a reload), so after a
// dropped socket or a reload the samples of the gap are replayed from wskit's
// history, or the page says plainly that they could not be. One uPlot chart per
// sensor, a canvas track for GPS and touch points. All text from the network is
// set with textContent.

import { CSV_HEADER, csvLine } from './csv.js';

const $ = (id) => document.getElementById(id);
const COLORS = ['#d55e00', '#009e73', '#0072b2', '#cc79a7', '#e69f00', '#56b4e9'];
const KEEP_SECONDS = 65; // longest window + margin
const POSITION_KEY = 'wskit-sensors-position'; // sessionStorage: survives a reload of this tab
const MAX_ORPHANS = 100_000; // samples held for streams the page has no status for yet

/**
 * Exposed for tests and curious users (devtools): samples and publications received, the `seq` of the first
 * sample received and the one after the last (within one run of wskit sensors), resumes recovered and not.
 */
const stats = { received: 0, draws: 0, batches: 0, firstSeq: null, nextSeq: null, recovered: 0, lost: 0, since: null, firstOffset: null, offset: null };
window.wskitSensors = stats;

let uPlot = null;
let paused = false;
let windowSeconds = 10;
let recording = null; // array of rows while recording
let recorded = [];
const streams = new Map(); // key "source:type" -> view
let meta = new Map(); // key -> stats from the server
let dirty = false;
let wskit = null; // the wskit/browser module
let samples = null; // the subscription to the samples topic
let lastSampleAt = null; // when the last sample shown was received by wskit (ms), to name a gap
let positionSaved = true;
const orphans = new Map(); // key -> samples that came before the status describing their stream
let orphanCount = 0;

function fmt(value, digits = 3, fixed = false) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (!fixed && abs !== 0 && (abs >= 1e5 || abs < 1e-3)) return value.toExponential(2);
  return value.toFixed(abs >= 1000 ? 1 : digits);
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- link to wskit ----------------------------------------------------------

function setLink(state, text) {
  $('link').dataset.state = state;
  $('link').textContent = text;
}

function clock(ms) {
  return ms === null ? 'the last sample' : new Date(ms).toLocaleTimeString('en-GB');
}

function setGap(state, text) {
  $('gap').dataset.state = state;
  $('gap').textContent = text;
  $('gap').hidden = false;
}

/** The position saved by this tab before a reload, if any (checked: sessionStorage is only as good as its writer). */
function savedPosition() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(POSITION_KEY) ?? 'null');
    if (saved && Number.isSafeInteger(saved.offset) && typeof saved.epoch === 'string') {
      if (typeof saved.at === 'number') lastSampleAt = saved.at;
      return { offset: saved.offset, epoch: saved.epoch };
    }
  } catch {
    // unreadable or unavailable storage: start at the present
  }
  return undefined;
}

function savePosition() {
  if (positionSaved || !samples?.position) return;
  positionSaved = true;
  try {
    sessionStorage.setItem(POSITION_KEY, JSON.stringify({ ...samples.position, at: lastSampleAt }));
  } catch {
    // storage full or disabled: a reload then starts at the present
  }
}

function onSubscribed(info) {
  if (!info.resumed) return;
  if (info.recovered) {
    stats.recovered++;
    setGap('recovered', `Reconnected at ${clock(Date.now())}: the samples missed since ${clock(lastSampleAt)} were replayed from wskit's history.`);
  } else {
    stats.lost++;
    setGap('lost', `Could not recover the samples since ${clock(lastSampleAt)}: wskit no longer has them (the gap is longer than its history, or wskit sensors was restarted without --redis). The charts go on from ${clock(Date.now())}.`);
  }
}

function onPublication(data, info) {
  stats.firstOffset ??= info.offset;
  stats.offset = info.offset;
  if (typeof data !== 'object' || data === null || !Array.isArray(data.samples)) return;
  const list = data.samples.filter(Array.isArray);
  if (Number.isSafeInteger(data.seq)) {
    if (stats.firstSeq === null) stats.firstSeq = data.seq;
    stats.nextSeq = data.seq + list.length;
  }
  positionSaved = false;
  onSamples(list);
}

function openLink() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const client = new wskit.ReconnectingClient(`${scheme}//${location.host}/live`, {
    topics: true,
    reconnect: { initialDelay: 250, maxDelay: 3000 },
    onOpen: () => setLink('open', 'Connected to wskit'),
    onClose: (info) => setLink('closed', `Lost the connection to wskit (${info.code}${info.reason ? ` ${info.reason}` : ''}); retrying, then resuming where it stopped…`),
    onError: (error) => {
      if (error?.code === 'WS_HANDSHAKE_FAILED') setLink('closed', 'Cannot reach wskit; is `wskit sensors` still running? Retrying…');
      else if (error instanceof wskit.TopicError) setGap('error', `wskit refused the feed: ${error.message}`);
    },
  });
  client.subscribe('status', (status) => {
    if (typeof status === 'object' && status !== null) onStatus(status);
  });
  const since = savedPosition();
  stats.since = since?.offset ?? null;
  samples = client.subscribe('samples', onPublication, { since, onSubscribed });
  setInterval(savePosition, 1000);
  addEventListener('pagehide', savePosition);
}

// ---- status -------------------------------------------------------------------

const STATE_WORDS = { connecting: 'connecting…', open: 'receiving', retrying: 'reconnecting', failed: 'failed (not retrying)', stopped: 'stopped' };

function onStatus(message) {
  const list = $('sources');
  list.replaceChildren();
  for (const source of message.sources ?? []) {
    const li = el('li');
    li.dataset.state = source.state;
    const state = el('span', 'source-state', `${STATE_WORDS[source.state] ?? source.state}`);
    const url = el('span', 'source-url', ` ${readableUrl(source.url)}`);
    li.append(state, url);
    const details = [];
    if (source.lastClose) details.push(source.state === 'open' ? `previously: ${source.lastClose}` : source.lastClose);
    if (source.state === 'retrying' && source.retryAt) {
      const wait = Math.max(0, (source.retryAt - (message.now ?? Date.now())) / 1000);
      details.push(`next attempt in ${wait.toFixed(1)} s`);
    }
    if (source.reconnects > 0) details.push(`${source.reconnects} reconnection${source.reconnects === 1 ? '' : 's'}`);
    if (source.invalid > 0) details.push(`${source.invalid} unreadable messages`);
    if (details.length) li.append(el('div', 'muted', details.join(' · ')));
    list.append(li);
  }
  meta = new Map((Array.isArray(message.streams) ? message.streams : []).map((s) => [s.key, s]));
  for (const s of meta.values()) {
    const view = ensureStream(s.key, s.type, s);
    const waiting = orphans.get(s.key);
    if (view && waiting) {
      orphans.delete(s.key);
      orphanCount -= waiting.length;
      for (const sample of waiting) plot(view, sample);
      trim(view);
      dirty = true;
    }
  }
  for (const view of streams.values()) updateStats(view, Number(message.dropped) || 0);
}

function readableUrl(url) {
  try {
    return decodeURIComponent(url);
  } catch {
    return url;
  }
}

function updateStats(view, dropped) {
  const s = meta.get(view.key);
  if (!s) return;
  view.statsEl.replaceChildren();
  const parts = [`${fmt(s.rate, 1)} Hz`, `${s.count.toLocaleString('en')} samples`];
  view.statsEl.append(parts.join(' · '));
  const missing = s.gaps + (s.nonMonotonic ?? 0);
  view.statsEl.append(el('span', missing > 0 || dropped > 0 ? 'bad' : '', ` · ${s.gaps} missing`));
  if (dropped > 0) view.statsEl.append(el('span', 'bad', ` · ${dropped} not shown (wskit could not publish them fast enough)`));
  if (s.nonMonotonic > 0) view.statsEl.append(el('span', 'bad', ` · ${s.nonMonotonic} out of order`));
}

// ---- streams --------------------------------------------------------------------

function ensureStream(key, type, info) {
  let view = streams.get(key);
  if (view) return view;
  if (!info) info = meta.get(key);
  if (!info) return null;
  $('empty').hidden = true;
  const card = el('section', 'card');
  card.setAttribute('aria-label', info.title);
  const head = el('div', 'card-head');
  const title = el('h3', '', info.unit ? `${info.title} (${info.unit})` : info.title);
  const statsEl = el('span', 'stats');
  head.append(title, statsEl);
  const readout = el('ul', 'readout');
  readout.setAttribute('aria-label', `${info.title} latest values`);
  const valueEls = info.axes.map((axis, i) => {
    const li = el('li');
    const swatch = el('span', 'swatch');
    swatch.style.background = COLORS[i % COLORS.length];
    const value = el('span', 'value', '—');
    li.append(swatch, el('span', 'label', axis), value);
    readout.append(li);
    return value;
  });
  card.append(head, readout);
  view = { key, type, info, card, statsEl, valueEls, xs: [], ys: info.axes.map(() => []), last: null, extra: null };
  if (type === 'gps' || type === 'touch') {
    const canvas = el('canvas', 'map');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', type === 'gps' ? 'GPS track: positions received so far' : 'Touch points of the last 5 seconds');
    card.append(canvas);
    view.canvas = canvas;
    view.points = [];
    if (type === 'touch') {
      view.extra = el('p', 'muted', 'No touch yet.');
      card.append(view.extra);
    }
  } else {
    const plot = el('div', 'plot');
    plot.setAttribute('role', 'img');
    plot.setAttribute('aria-label', `${info.title} chart: ${info.axes.join(', ')} over time`);
    card.append(plot);
    view.plotEl = plot;
    if (type === 'android.sensor.step_detector') {
      view.extra = el('p', 'muted', 'Steps: 0');
      card.append(view.extra);
      view.steps = 0;
    }
  }
  // Keep cards in a stable order: by source, then by type.
  streams.set(key, view);
  const ordered = [...streams.values()].sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true }));
  $('cards').replaceChildren(...ordered.map((v) => v.card));
  if (view.plotEl) createPlot(view);
  return view;
}

function createPlot(view) {
  if (!uPlot) return;
  const width = Math.max(240, view.plotEl.clientWidth || 500);
  const steps = view.type === 'android.sensor.step_detector';
  const opts = {
    width,
    height: window.innerWidth < 600 ? 180 : 220,
    scales: { x: { time: true } },
    legend: { show: false },
    cursor: { drag: { x: true, y: false, setScale: true } },
    series: [
      {},
      ...view.info.axes.map((label, i) => ({
        label,
        stroke: COLORS[i % COLORS.length],
        width: 1.5,
        ...(steps ? { paths: () => null, points: { show: true, size: 8, fill: COLORS[0] } } : { points: { show: false } }),
      })),
    ],
    axes: [
      { stroke: '#4f5b67', grid: { stroke: '#e3e7eb' }, ticks: { stroke: '#c5ccd4' }, space: 70 },
      { stroke: '#4f5b67', grid: { stroke: '#e3e7eb' }, ticks: { stroke: '#c5ccd4' }, size: 56, label: view.info.unit || undefined, labelSize: 18 },
    ],
  };
  view.plot = new uPlot(opts, [[], ...view.info.axes.map(() => [])], view.plotEl);
  new ResizeObserver(() => {
    const w = view.plotEl.clientWidth;
    if (w > 0 && Math.abs(w - view.plot.width) > 2) view.plot.setSize({ width: w, height: view.plot.height });
  }).observe(view.plotEl);
}

// ---- samples -------------------------------------------------------------------

function onSamples(samples) {
  stats.batches++;
  for (const sample of samples) {
    stats.received++;
    const [source, type, , , , , , received] = sample;
    if (typeof received === 'number') lastSampleAt = received;
    if (recording) recording.push(sample);
    const key = `${source}:${type}`;
    const view = streams.get(key) ?? ensureStream(key, type);
    if (view) plot(view, sample);
    else if (orphanCount < MAX_ORPHANS) {
      // Replayed samples can come before the first status of this page names their stream.
      if (!orphans.has(key)) orphans.set(key, []);
      orphans.get(key).push(sample);
      orphanCount++;
    }
  }
  for (const view of streams.values()) trim(view);
  if (recording) $('record-count').textContent = `Recording: ${recording.length.toLocaleString('en')} samples`;
  dirty = true;
}

function plot(view, sample) {
  const [, type, x, values, accuracy, action] = sample;
  if (!Array.isArray(values)) return;
  view.last = { values, accuracy, action };
  if (view.canvas) {
    view.points.push({ x, values, action, accuracy });
    if (type === 'touch') {
      const cutoff = x - 5;
      while (view.points.length && view.points[0].x < cutoff) view.points.shift();
    } else if (view.points.length > 20000) view.points.splice(0, 1000);
    return;
  }
  if (view.steps !== undefined) view.steps++;
  view.xs.push(x);
  for (let i = 0; i < view.ys.length; i++) view.ys[i].push(values[i] ?? null);
}

function trim(view) {
  const xs = view.xs;
  if (xs.length < 2) return;
  const cutoff = xs[xs.length - 1] - KEEP_SECONDS;
  if (xs[0] >= cutoff - 5) return; // trim in chunks
  let n = 0;
  while (n < xs.length && xs[n] < cutoff) n++;
  xs.splice(0, n);
  for (const ys of view.ys) ys.splice(0, n);
}

// ---- drawing ---------------------------------------------------------------------

let lastReadout = 0;

function frame(now) {
  requestAnimationFrame(frame);
  if (!dirty || paused) return;
  dirty = false;
  stats.draws++;
  for (const view of streams.values()) {
    if (view.plot && view.xs.length) {
      const last = view.xs[view.xs.length - 1];
      const from = last - windowSeconds;
      let start = lowerBound(view.xs, from - 0.5);
      const data = [view.xs.slice(start), ...view.ys.map((ys) => ys.slice(start))];
      view.plot.batch(() => {
        view.plot.setData(data, false);
        view.plot.setScale('x', { min: from, max: last });
      });
    } else if (view.canvas) {
      view.type === 'gps' ? drawTrack(view) : drawTouches(view);
    }
  }
  if (now - lastReadout > 100) {
    lastReadout = now;
    for (const view of streams.values()) updateReadout(view);
  }
}

function lowerBound(xs, value) {
  let lo = 0, hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function updateReadout(view) {
  if (!view.last) return;
  const { values, action } = view.last;
  const digits = view.type === 'gps' ? [6, 6, 1, 2, 0] : null;
  view.valueEls.forEach((e, i) => {
    e.textContent = fmt(values[i], digits ? digits[i] : 3, digits !== null);
  });
  if (view.steps !== undefined) view.extra.textContent = `Steps: ${view.steps}`;
  if (view.type === 'touch') view.extra.textContent = `Last: ${action ?? ''} at (${fmt(values[0], 0)}, ${fmt(values[1], 0)})`;
}

function prepareCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return { ctx, w, h };
}

function drawTrack(view) {
  const { ctx, w, h } = prepareCanvas(view.canvas);
  const points = view.points;
  if (points.length === 0) return;
  const lat0 = points[0].values[0], lon0 = points[0].values[1];
  const k = Math.cos((lat0 * Math.PI) / 180) * 111320;
  const xy = points.map((p) => [(p.values[1] - lon0) * k, (p.values[0] - lat0) * 111320]);
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (const [x, y] of xy) {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  const span = Math.max(maxX - minX, maxY - minY, 20);
  const scale = (Math.min(w, h) - 40) / span;
  const cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
  const px = ([x, y]) => [w / 2 + (x - cx) * scale, h / 2 - (y - cy) * scale];
  ctx.strokeStyle = '#0072b2';
  ctx.lineWidth = 2;
  ctx.beginPath();
  xy.forEach((p, i) => {
    const [x, y] = px(p);
    i === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y);
  });
  ctx.stroke();
  const last = points[points.length - 1];
  const [lx, ly] = px(xy[xy.length - 1]);
  if (Number.isFinite(last.accuracy)) {
    ctx.fillStyle = 'rgba(0, 114, 178, 0.15)';
    ctx.beginPath();
    ctx.arc(lx, ly, Math.max(4, last.accuracy * scale), 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.fillStyle = '#d55e00';
  ctx.beginPath();
  ctx.arc(lx, ly, 6, 0, 2 * Math.PI);
  ctx.fill();
  // Scale bar.
  const meters = niceLength(span / 4);
  ctx.strokeStyle = '#1b1f24';
  ctx.fillStyle = '#1b1f24';
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(12, h - 14);
  ctx.lineTo(12 + meters * scale, h - 14);
  ctx.stroke();
  ctx.font = '13px system-ui, sans-serif';
  ctx.fillText(`${meters} m`, 12, h - 20);
  ctx.fillText('N ↑', w - 34, 18);
}

function niceLength(value) {
  const p = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * p >= value) return m * p;
  return 10 * p;
}

function drawTouches(view) {
  const { ctx, w, h } = prepareCanvas(view.canvas);
  const points = view.points;
  view.maxX = Math.max(view.maxX ?? 1080, ...points.map((p) => p.values[0]));
  view.maxY = Math.max(view.maxY ?? 2340, ...points.map((p) => p.values[1]));
  const scale = Math.min((w - 20) / view.maxX, (h - 20) / view.maxY);
  const ox = (w - view.maxX * scale) / 2, oy = (h - view.maxY * scale) / 2;
  ctx.strokeStyle = '#c5ccd4';
  ctx.strokeRect(ox, oy, view.maxX * scale, view.maxY * scale);
  const newest = points.length ? points[points.length - 1].x : 0;
  let previous = null;
  for (const p of points) {
    const age = newest - p.x;
    const alpha = Math.max(0.15, 1 - age / 5);
    const x = ox + p.values[0] * scale, y = oy + p.values[1] * scale;
    if (previous && p.action !== 'ACTION_DOWN') {
      ctx.strokeStyle = `rgba(0, 114, 178, ${alpha})`;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(previous[0], previous[1]);
      ctx.lineTo(x, y);
      ctx.stroke();
    }
    ctx.fillStyle = p.action === 'ACTION_DOWN' ? `rgba(213, 94, 0, ${alpha})` : `rgba(0, 114, 178, ${alpha})`;
    ctx.beginPath();
    ctx.arc(x, y, p.action === 'ACTION_MOVE' ? 2.5 : 6, 0, 2 * Math.PI);
    p.action === 'ACTION_UP' ? ((ctx.strokeStyle = ctx.fillStyle), ctx.stroke()) : ctx.fill();
    previous = p.action === 'ACTION_UP' ? null : [x, y];
  }
}

// ---- recording ---------------------------------------------------------------------

function csvOf(rows) {
  const lines = [CSV_HEADER];
  for (const [source, type, , values, accuracy, action, timestamp, received] of rows) {
    lines.push(csvLine(received, source, type, timestamp, accuracy, action, values));
  }
  return lines.join('\n') + '\n';
}

function jsonOf(rows) {
  return JSON.stringify(rows.map(([source, type, , values, accuracy, action, timestamp, received]) =>
    ({ received, source, type, timestamp, accuracy, ...(action ? { action } : {}), values })), null, 0);
}

function download(text, name, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function stamp() {
  return new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
}

// ---- wiring --------------------------------------------------------------------------

async function init() {
  $('pause').addEventListener('click', () => {
    paused = !paused;
    $('pause').setAttribute('aria-pressed', String(paused));
    $('pause').textContent = paused ? 'Resume' : 'Pause';
    dirty = true;
  });
  $('window').addEventListener('change', () => {
    windowSeconds = Number($('window').value);
    dirty = true;
  });
  $('record').addEventListener('click', () => {
    if (recording) {
      recorded = recording;
      recording = null;
      $('record').textContent = 'Start recording';
      $('record').setAttribute('aria-pressed', 'false');
      $('record-count').textContent = `Recorded ${recorded.length.toLocaleString('en')} samples`;
    } else {
      recording = [];
      recorded = [];
      $('record').textContent = 'Stop recording';
      $('record').setAttribute('aria-pressed', 'true');
      $('record-count').textContent = 'Recording: 0 samples';
    }
    $('download-csv').disabled = $('download-json').disabled = recording !== null || recorded.length === 0;
  });
  $('download-csv').addEventListener('click', () => download(csvOf(recorded), `sensors-${stamp()}.csv`, 'text/csv'));
  $('download-json').addEventListener('click', () => download(jsonOf(recorded), `sensors-${stamp()}.json`, 'application/json'));
  try {
    uPlot = (await import('/vendor/uplot/uPlot.esm.js')).default;
  } catch {
    $('empty').textContent = 'The chart library (uPlot) could not be loaded: was web/vendor/ built (npm run build)?';
  }
  try {
    wskit = await import('/vendor/wskit/browser/index.js');
  } catch {
    setLink('closed', 'The wskit browser client could not be loaded: was web/vendor/ built (npm run build)?');
    return;
  }
  openLink();
  requestAnimationFrame(frame);
}

init();
