// wskit console: a WebSocket test page. Everything received is rendered with
// textContent (never innerHTML), so a server cannot inject markup.
import { checkJson, checkUrl, describeClose, formatSize, hexDump, jsonOf, MIXED_CONTENT, parseHex, parseProtocols, utf8Length } from './lib.js';

const $ = (id) => document.getElementById(id);
const STORE_URL = 'wskit-console.url';
const STORE_PROTOCOLS = 'wskit-console.protocols';
const STORE_SAVED = 'wskit-console.saved';
const MAX_LOG = 1000;

let ws = null;
let opened = false;
const entries = [];

function store(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // private mode or storage disabled: nothing to keep
  }
}
function load(key, fallback) {
  try {
    return localStorage.getItem(key) ?? fallback;
  } catch {
    return fallback;
  }
}

// ---- connection ------------------------------------------------------------

function setState(state, text) {
  const el = $('state');
  el.dataset.state = state;
  el.textContent = text;
  const busy = state === 'connecting' || state === 'open' || state === 'closing';
  $('connect').disabled = busy;
  $('disconnect').disabled = !(state === 'open' || state === 'connecting');
  $('url').readOnly = busy;
  $('protocols').readOnly = busy;
  updateSend();
}

function showProblem(text) {
  const el = $('problem');
  el.textContent = text ?? '';
  el.hidden = !text;
}

function connect() {
  showProblem('');
  const checked = checkUrl($('url').value, location.protocol);
  if (checked.error) {
    showProblem(checked.error);
    addEntry('event', 'error', checked.error);
    return;
  }
  const parsed = parseProtocols($('protocols').value);
  if (parsed.error) {
    showProblem(parsed.error);
    return;
  }
  if (checked.note) addEntry('event', 'event', checked.note);
  store(STORE_URL, $('url').value.trim());
  store(STORE_PROTOCOLS, $('protocols').value.trim());
  let socket;
  try {
    socket = new WebSocket(checked.url, parsed.protocols);
  } catch (error) {
    const text = error?.name === 'SecurityError'
      ? (location.protocol === 'https:' ? MIXED_CONTENT : `The browser refused this URL: ${error.message}`)
      : `The browser rejected the URL or subprotocols: ${error?.message ?? error}`;
    showProblem(text);
    addEntry('event', 'error', text);
    return;
  }
  ws = socket;
  opened = false;
  socket.binaryType = 'arraybuffer';
  setState('connecting', `Connecting to ${checked.url} …`);
  addEntry('event', 'event', `Connecting to ${checked.url}${parsed.protocols.length ? ` offering ${parsed.protocols.join(', ')}` : ''}`);
  socket.onopen = () => {
    if (ws !== socket) return;
    opened = true;
    const details = [socket.protocol && `subprotocol ${socket.protocol}`, socket.extensions && `extensions ${socket.extensions}`].filter(Boolean);
    setState('open', `Open: ${socket.url}${details.length ? ` (${details.join('; ')})` : ''}`);
    addEntry('event', 'event', `Connected${details.length ? `: ${details.join('; ')}` : ''}`);
  };
  socket.onmessage = (event) => {
    if (ws !== socket) return;
    if (typeof event.data === 'string') addEntry('received', 'text', event.data, utf8Length(event.data));
    else addEntry('received', 'binary', new Uint8Array(event.data), event.data.byteLength);
  };
  socket.onerror = () => {
    if (ws !== socket) return;
    addEntry('event', 'error', opened ? 'Error on the connection (the browser gives no details).' : 'The connection could not be opened.');
  };
  socket.onclose = (event) => {
    if (ws !== socket) return;
    ws = null;
    const words = describeClose(event.code, event.reason);
    if (!opened) {
      const text =
        `Could not connect to ${socket.url} (${words}). The server is not running, the host or port is wrong, ` +
        'a firewall is in the way, or the server refused the handshake (wrong path, origin, subprotocol or authentication). ' +
        'The browser does not say which: check the server\'s log or the Network tab of the developer tools.';
      showProblem(text);
      setState('closed', `Connection failed: ${words}`);
      addEntry('event', 'error', text);
    } else {
      setState('closed', `Closed${event.wasClean ? '' : ' (not cleanly)'}: ${words}`);
      addEntry('event', event.code === 1000 || event.code === 1001 ? 'event' : 'error', `Closed: ${words}`);
    }
  };
}

function disconnect() {
  if (ws === null) return;
  const code = Number($('close-code').value || 1000);
  const reason = $('close-reason').value;
  if (!(code === 1000 || (code >= 3000 && code <= 4999))) {
    showProblem('A browser may only send close code 1000 or 3000–4999.');
    return;
  }
  if (new TextEncoder().encode(reason).length > 123) {
    showProblem('The close reason may be at most 123 bytes.');
    return;
  }
  setState('closing', 'Closing …');
  ws.close(code, reason);
}

// ---- composer --------------------------------------------------------------

function mode() {
  return document.querySelector('input[name="mode"]:checked').value;
}

/** Validates the composer; returns { data, kind, size } or { error }. */
function composed() {
  const text = $('message').value;
  switch (mode()) {
    case 'json': {
      const checked = checkJson(text);
      if (checked.error) return { error: checked.error };
      return { data: text, kind: 'text', size: utf8Length(text) };
    }
    case 'binary': {
      const checked = parseHex(text);
      if (checked.error) return { error: checked.error };
      return { data: checked.bytes, kind: 'binary', size: checked.bytes.length };
    }
    default:
      return { data: text, kind: 'text', size: utf8Length(text) };
  }
}

function updateSend() {
  const status = $('message-status');
  const result = composed();
  $('format').hidden = mode() !== 'json';
  if (result.error) {
    status.textContent = result.error;
    status.classList.add('bad');
    $('message').setAttribute('aria-invalid', 'true');
  } else {
    const what = mode() === 'binary' ? `${result.size} bytes` : mode() === 'json' ? `valid JSON, ${formatSize(result.size)}` : formatSize(result.size);
    status.textContent = `${what}. Ctrl+Enter sends.`;
    status.classList.remove('bad');
    $('message').removeAttribute('aria-invalid');
  }
  $('send').disabled = !(ws && ws.readyState === WebSocket.OPEN) || Boolean(result.error);
}

function send(override) {
  const result = override ?? composed();
  if (result.error || !ws || ws.readyState !== WebSocket.OPEN) return;
  ws.send(result.data);
  addEntry('sent', result.kind, result.data, result.size);
}

// ---- saved messages ----------------------------------------------------------

function savedList() {
  try {
    const list = JSON.parse(load(STORE_SAVED, '[]'));
    return Array.isArray(list) ? list.filter((m) => m && typeof m.body === 'string') : [];
  } catch {
    return [];
  }
}

function renderSaved() {
  const list = savedList();
  $('saved-count').textContent = String(list.length);
  const ul = $('saved');
  ul.replaceChildren();
  list.forEach((item, index) => {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'saved-name';
    name.textContent = `${item.name || 'untitled'} `;
    const kind = document.createElement('span');
    kind.className = 'muted';
    kind.textContent = `(${item.mode})`;
    name.append(kind);
    const buttons = document.createElement('span');
    buttons.className = 'buttons';
    for (const [label, action] of [['Load', 'load'], ['Send', 'send'], ['Delete', 'delete']]) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.setAttribute('aria-label', `${label} saved message ${item.name || 'untitled'}`);
      b.addEventListener('click', () => useSaved(index, action));
      buttons.append(b);
    }
    li.append(name, buttons);
    ul.append(li);
  });
}

function useSaved(index, action) {
  const list = savedList();
  const item = list[index];
  if (!item) return;
  if (action === 'delete') {
    list.splice(index, 1);
    store(STORE_SAVED, JSON.stringify(list));
    renderSaved();
    return;
  }
  const radio = document.querySelector(`input[name="mode"][value="${item.mode === 'json' || item.mode === 'binary' ? item.mode : 'text'}"]`);
  radio.checked = true;
  $('message').value = item.body;
  updateSend();
  if (action === 'send') send();
}

function saveCurrent() {
  const list = savedList();
  const name = $('save-name').value.trim() || `message ${list.length + 1}`;
  const existing = list.findIndex((m) => m.name === name);
  const item = { name, mode: mode(), body: $('message').value };
  if (existing === -1) list.push(item);
  else list[existing] = item;
  store(STORE_SAVED, JSON.stringify(list));
  $('save-name').value = '';
  renderSaved();
}

// ---- log ---------------------------------------------------------------------

function timeOf(date) {
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

const DIRECTION = { sent: '↑ sent', received: '↓ received', event: '• event' };

/** Adds a log entry: direction sent/received/event, kind text/binary/event/error. */
function addEntry(direction, kind, data, size) {
  const entry = { direction, kind, data, size, time: new Date() };
  entry.search = (kind === 'binary' ? hexDump(data, 256) : String(data)).toLowerCase();
  entry.element = renderEntry(entry);
  entries.push(entry);
  const log = $('log');
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  if (entries.length > MAX_LOG) entries.shift().element.remove();
  entry.element.hidden = !visible(entry);
  log.append(entry.element);
  if (atBottom) log.scrollTop = log.scrollHeight;
  updateCount();
}

function renderEntry(entry) {
  const li = document.createElement('li');
  li.className = `entry ${entry.direction} ${entry.kind}`;
  const head = document.createElement('div');
  head.className = 'entry-head';
  const cells = [timeOf(entry.time), DIRECTION[entry.direction]];
  if (entry.direction !== 'event') cells.push(formatSize(entry.size), entry.kind === 'binary' ? 'binary' : 'text');
  else if (entry.kind === 'error') cells.push('problem');
  for (const text of cells) {
    const span = document.createElement('span');
    span.textContent = text;
    head.append(span);
  }
  li.append(head);
  let body;
  if (entry.kind === 'binary') {
    body = document.createElement('pre');
    body.textContent = entry.size === 0 ? '(empty binary message)' : hexDump(entry.data);
  } else {
    const value = entry.direction === 'event' ? undefined : jsonOf(entry.data);
    if (value !== undefined) {
      body = document.createElement('details');
      body.className = 'json';
      body.open = entry.data.length < 2000;
      const summary = document.createElement('summary');
      const compact = JSON.stringify(value);
      summary.textContent = compact.length > 100 ? `${compact.slice(0, 100)}…` : compact;
      const pre = document.createElement('pre');
      pre.textContent = JSON.stringify(value, null, 2);
      body.append(summary, pre);
    } else {
      body = document.createElement(entry.direction === 'event' ? 'p' : 'pre');
      body.textContent = entry.data === '' ? '(empty text message)' : entry.data;
    }
  }
  body.classList.add('entry-body');
  li.append(body);
  return li;
}

function visible(entry) {
  const direction = $('direction').value;
  if (direction !== 'all' && entry.direction !== direction) return false;
  const filter = $('filter').value.trim().toLowerCase();
  return filter === '' || entry.search.includes(filter);
}

function applyFilter() {
  for (const entry of entries) entry.element.hidden = !visible(entry);
  updateCount();
}

function updateCount() {
  const shown = entries.filter((e) => !e.element.hidden).length;
  const sent = entries.filter((e) => e.direction === 'sent').length;
  const received = entries.filter((e) => e.direction === 'received').length;
  $('log-count').textContent = entries.length === 0
    ? 'No messages yet.'
    : `${shown} of ${entries.length} entries shown · ${sent} sent · ${received} received`;
}

// ---- wiring --------------------------------------------------------------------

function init() {
  const params = new URLSearchParams(location.search);
  $('url').value = params.get('url') ?? load(STORE_URL, 'ws://127.0.0.1:8765');
  $('protocols').value = params.get('protocols') ?? load(STORE_PROTOCOLS, '');
  $('connect-form').addEventListener('submit', (event) => {
    event.preventDefault();
    connect();
  });
  $('disconnect').addEventListener('click', disconnect);
  $('send').addEventListener('click', () => send());
  $('message').addEventListener('input', updateSend);
  $('message').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      send();
    }
  });
  for (const radio of document.querySelectorAll('input[name="mode"]')) radio.addEventListener('change', updateSend);
  $('format').addEventListener('click', () => {
    const checked = checkJson($('message').value);
    if (!checked.error) $('message').value = JSON.stringify(checked.value, null, 2);
    updateSend();
  });
  $('save').addEventListener('click', saveCurrent);
  $('filter').addEventListener('input', applyFilter);
  $('direction').addEventListener('change', applyFilter);
  $('clear').addEventListener('click', () => {
    for (const entry of entries) entry.element.remove();
    entries.length = 0;
    updateCount();
  });
  renderSaved();
  setState('idle', 'Not connected');
  if (location.protocol === 'https:') {
    addEntry('event', 'event', 'This page is served over https://: only wss:// URLs can be opened from it (mixed-content rule).');
  }
}

init();
