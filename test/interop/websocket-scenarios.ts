/**
 * Scenarios for the standard WebSocket API, run unchanged by headless Chromium's native WebSocket and by wskit's
 * `WebSocket` class, against one wskit server: each returns the sequence of events and results it saw, and the
 * two sequences must be equal. The scenarios are plain JavaScript source (no TypeScript, no imports), so that the
 * page evaluates exactly the text Node runs.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { encodeFrame, Opcode, type Connection } from '../../src/index.js';
import { pageServer } from './page-server.js';

/** The scenarios' names. */
export const SCENARIOS = [
  'messages',
  'send-types',
  'buffered-amount',
  'client-close',
  'client-close-without-code',
  'invalid-close',
  'close-while-connecting',
  'refused',
  'http-404',
  'server-drop',
  'protocol-violation',
  'constructor-errors',
  'handlers',
] as const;

/**
 * `async ({ url, refusedUrl, scenario }) => log`: runs one scenario with the global (or, in Node, the given)
 * `WebSocket` and resolves with its log once the connection is closed.
 */
export const SCENARIO_SOURCE = String.raw`async ({ url, refusedUrl, scenario }) => {
  const log = [];
  const pending = [];
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  const tryIt = (what, fn) => {
    try {
      fn();
      log.push([what, 'ok']);
    } catch (error) {
      log.push([what, error.name, error instanceof DOMException]);
    }
  };
  const describe = async (data) => {
    if (typeof data === 'string') return ['text', data];
    if (data instanceof ArrayBuffer) return ['arraybuffer', hex(new Uint8Array(data))];
    if (data instanceof Blob) return ['blob', data.size, hex(new Uint8Array(await data.arrayBuffer()))];
    return ['other', Object.prototype.toString.call(data)];
  };
  // Records every event of ws; messages in order, even when a Blob must be read first.
  const record = (ws, onMessage = () => {}) => {
    const origin = new URL(ws.url).origin;
    ws.onopen = () => log.push(['open', ws.readyState, ws.protocol, ws.extensions.split(';')[0], ws.bufferedAmount]);
    ws.onmessage = (event) => {
      const slot = log.length;
      log.push(null);
      pending.push(describe(event.data).then((d) => (log[slot] = ['message', ...d, event.origin === origin])));
      onMessage(event);
    };
    ws.onerror = (event) => log.push(['error', event.type, ws.readyState]);
    return new Promise((resolve) => {
      ws.onclose = (event) => {
        log.push(['close', event.code, event.reason, event.wasClean, ws.readyState, event instanceof Event]);
        resolve();
      };
    });
  };
  // Sends each step's command when the previous step's reply arrives.
  const script = (ws, steps) => {
    let next = 0;
    const step = () => {
      const s = steps[next++];
      if (s === undefined) return;
      if (s.binaryType !== undefined) ws.binaryType = s.binaryType;
      if (s.run !== undefined) s.run();
      if (s.send !== undefined) ws.send(s.send);
    };
    return { step };
  };

  if (scenario === 'messages') {
    const ws = new WebSocket(url, ['chat', 'other']);
    log.push(['constructed', ws.readyState, ws.protocol, ws.binaryType, ws.url === url]);
    tryIt('send while connecting', () => ws.send('too early'));
    const { step } = script(ws, [
      { send: 'text:hello' },
      { send: 'text:' },
      { send: 'text:h\u00e9llo \u{1F600}' },
      { binaryType: 'arraybuffer', send: 'binary:0102ff' },
      { send: 'binary:' },
      { binaryType: 'blob', send: 'binary:00ff10' },
      { binaryType: 'bogus', send: 'binary:abcd' },
      { run: () => log.push(['binaryType', ws.binaryType]), send: 'close:4001:going away' },
    ]);
    const closed = record(ws, step);
    ws.addEventListener('open', step);
    await closed;
  } else if (scenario === 'send-types') {
    const ws = new WebSocket(url);
    const { step } = script(ws, [
      { send: new Uint8Array([1, 2, 3]) },
      { send: new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4) },
      { send: new Uint16Array([0x0102]).buffer },
      { send: new DataView(new Uint8Array([7, 8]).buffer) },
      { send: new Blob(['ab', new Uint8Array([0])]) },
      { send: 42 },
      { send: 'close:1000:' },
    ]);
    const closed = record(ws, step);
    ws.addEventListener('open', step);
    await closed;
  } else if (scenario === 'buffered-amount') {
    const ws = new WebSocket(url);
    const closed = record(ws, () => {
      log.push(['after reply', ws.bufferedAmount]);
      ws.close(1000);
    });
    ws.addEventListener('open', () => {
      ws.send(new Uint8Array(512 * 1024));
      log.push(['after send', ws.bufferedAmount > 0]);
    });
    await closed;
  } else if (scenario === 'client-close') {
    const ws = new WebSocket(url);
    const closed = record(ws);
    ws.addEventListener('open', () => {
      ws.close(4000, 'done');
      log.push(['after close()', ws.readyState]);
      tryIt('send after close()', () => ws.send('late'));
      log.push(['bufferedAmount', ws.bufferedAmount]);
      tryIt('close() again', () => ws.close(4002, 'again'));
    });
    await closed;
    tryIt('send when closed', () => ws.send('later'));
    log.push(['bufferedAmount', ws.bufferedAmount]);
  } else if (scenario === 'client-close-without-code') {
    const ws = new WebSocket(url);
    const closed = record(ws);
    ws.addEventListener('open', () => ws.close());
    await closed;
  } else if (scenario === 'invalid-close') {
    const ws = new WebSocket(url);
    const closed = record(ws);
    ws.addEventListener('open', () => {
      for (const code of [0, 999, 1001, 1005, 1006, 1015, 2999, 5000, 65536 + 1000]) tryIt('close ' + code, () => ws.close(code));
      tryIt('reason of 124 bytes', () => ws.close(1000, '\u00e9'.repeat(62)));
      log.push(['readyState', ws.readyState]);
      tryIt('close 3000.5, 123 bytes', () => ws.close(3000.5, 'x'.repeat(123)));
    });
    await closed;
  } else if (scenario === 'close-while-connecting') {
    const ws = new WebSocket(url);
    const closed = record(ws);
    ws.close(1000, 'never mind');
    log.push(['after close()', ws.readyState]);
    await closed;
  } else if (scenario === 'refused') {
    const ws = new WebSocket(refusedUrl);
    await record(ws);
  } else if (scenario === 'http-404') {
    const ws = new WebSocket(url + '404');
    await record(ws);
  } else if (scenario === 'server-drop') {
    const ws = new WebSocket(url);
    const closed = record(ws);
    ws.addEventListener('open', () => ws.send('drop'));
    await closed;
  } else if (scenario === 'protocol-violation') {
    const ws = new WebSocket(url);
    const closed = record(ws);
    ws.addEventListener('open', () => ws.send('bad-utf8'));
    await closed;
  } else if (scenario === 'constructor-errors') {
    tryIt('ftp', () => new WebSocket('ftp://127.0.0.1/'));
    tryIt('fragment', () => new WebSocket(url + '#top'));
    tryIt('empty fragment', () => new WebSocket(url + '#'));
    tryIt('duplicate protocols', () => new WebSocket(url, ['a', 'a']));
    tryIt('protocol with a space', () => new WebSocket(url, 'a b'));
    tryIt('empty protocol', () => new WebSocket(url, ''));
    const ws = new WebSocket(url.replace('ws:', 'http:'));
    log.push(['http URL', ws.url === url]);
    const closed = record(ws);
    ws.addEventListener('open', () => ws.close(1000));
    await closed;
    log.push(['constants', WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED, ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED]);
  } else if (scenario === 'handlers') {
    const ws = new WebSocket(url);
    const order = [];
    ws.addEventListener('message', () => order.push('listener 1'));
    ws.onmessage = function (event) {
      order.push('onmessage first, this is ws: ' + (this === ws) + ', ' + event.data);
    };
    ws.addEventListener('message', () => order.push('listener 2'));
    // Replacing the handler keeps its place; null removes it.
    ws.onmessage = (event) => {
      order.push('onmessage second: ' + event.data);
      if (event.data === 'one') ws.send('text:two');
      else ws.close(1000);
    };
    log.push(['onmessage is a function', typeof ws.onmessage, ws.onerror]);
    const closed = new Promise((resolve) => ws.addEventListener('close', resolve));
    ws.onopen = () => ws.send('text:one');
    ws.onopen = null;
    ws.addEventListener('open', () => ws.send('text:one'));
    await closed;
    log.push(['order', order]);
  }
  await Promise.all(pending);
  return log;
}`;

/** Starts the scenarios' server: a blank page on 127.0.0.1, with a scripted wskit attached. */
export async function scenarioServer(): ReturnType<typeof pageServer> {
  const server = await pageServer(serveScript, {
    subprotocols: ['chat'],
    processRequest: (request) => (request.path === '/404' ? { status: 404, body: 'no such thing\n' } : undefined),
  });
  // The sockets by handshake key, for `bad-utf8`: a frame no wskit API would send is written to the socket itself.
  server.httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex) => {
    const key = request.headers['sec-websocket-key'];
    if (typeof key !== 'string') return;
    rawSockets.set(key, socket);
    socket.once('close', () => rawSockets.delete(key));
  });
  return server;
}

const rawSockets = new Map<string, Duplex>();

/** The server's side: text commands (`text:…`, `binary:<hex>`, `close:<code>:<reason>`, `drop`, `bad-utf8`); binary is described back. */
async function serveScript(ws: Connection): Promise<void> {
  for await (const message of ws) {
    if (typeof message !== 'string') {
      await ws.send(message.length > 64 ? `binary of ${message.length} bytes` : `binary ${message.toString('hex')}`);
      continue;
    }
    const [command = '', ...rest] = message.split(':');
    const argument = rest.join(':');
    if (command === 'text') await ws.send(argument);
    else if (command === 'binary') await ws.send(Buffer.from(argument, 'hex'));
    else if (command === 'close') {
      const [code, ...reason] = rest;
      await ws.close(Number(code), reason.join(':'));
      return;
    } else if (command === 'bad-utf8') {
      // A text frame that is not UTF-8: the client must fail the connection (RFC 6455 §8.1).
      rawSockets.get(ws.request?.headers.get('sec-websocket-key') ?? '')?.write(encodeFrame(Opcode.TEXT, Buffer.from([0x68, 0xff])));
    } else if (command === 'drop') {
      ws.terminate();
      return;
    } else await ws.send(`text ${message}`);
  }
}
