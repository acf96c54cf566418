/** Numeric options: one rule per option, refused at serve()/attach()/connect() instead of silently removing a limit. */
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import { checkNumber } from '../../src/node/options.js';
import { attach, connect, serve } from '../../src/index.js';
import { echo, startServer } from '../helpers.js';

describe('checkNumber', () => {
  test('numbers in range pass through unchanged', () => {
    assert.equal(checkNumber('x', 0, { integer: true }), 0);
    assert.equal(checkNumber('x', 1.5, {}), 1.5);
    assert.equal(checkNumber('x', Infinity, { infinite: true }), Infinity);
  });

  test('NaN, infinities, fractions, negatives and out-of-range values are RangeErrors naming the option', () => {
    for (const [value, rule] of [
      [NaN, {}],
      [Infinity, {}],
      [-Infinity, { infinite: true }],
      [1.5, { integer: true }],
      [-1, {}],
      [0, { min: 1 }],
      [65536, { max: 65535 }],
      [2 ** 53, {}],
    ] as const) {
      assert.throws(() => checkNumber('maxThing', value, rule), (e: Error) => e instanceof RangeError && /^maxThing must be /.test(e.message), String(value));
    }
  });

  test('anything but a number is a TypeError, text included unless the rule accepts text', () => {
    for (const value of ['1M', '5', null, true, {}, [], 5n]) {
      assert.throws(() => checkNumber('maxMessageSize', value, { unit: 'bytes' }), TypeError, String(value));
    }
  });

  test('text with units, where the unit makes sense', () => {
    const bytes = { integer: true, unit: 'bytes', text: true } as const;
    assert.equal(checkNumber('--max-size', '65536', bytes), 65536);
    assert.equal(checkNumber('--max-size', '64k', bytes), 65536);
    assert.equal(checkNumber('--max-size', '64KiB', bytes), 65536);
    assert.equal(checkNumber('--max-size', '1M', bytes), 1 << 20);
    assert.equal(checkNumber('--max-size', '1.5k', bytes), 1536);
    assert.equal(checkNumber('--max-size', '2G', bytes), 2 ** 31);
    const seconds = { unit: 'seconds', text: true } as const;
    assert.equal(checkNumber('--wait', '1.5', seconds), 1.5);
    assert.equal(checkNumber('--wait', '500ms', seconds), 0.5);
    assert.equal(checkNumber('--wait', '2m', seconds), 120);
    assert.equal(checkNumber('--count', '10k', { integer: true, unit: 'count', text: true }), 10_000);
    for (const bad of ['abc', '', ' ', '1M?', '0x10', '1e', '1..2', '64q', '1.3k', '-1', 'NaN', 'Infinity', '5s']) {
      assert.throws(() => checkNumber('--max-size', bad, bytes), RangeError, bad);
    }
    // A count takes no time suffix, a plain number no suffix at all.
    assert.throws(() => checkNumber('--count', '5s', { integer: true, unit: 'count', text: true }), RangeError);
    assert.throws(() => checkNumber('--port', '80k', { integer: true, max: 65535, text: true }), RangeError);
  });
});

describe('serve(), attach() and connect() refuse bad numeric options', () => {
  const badServerOptions: Array<[string, Record<string, unknown>, typeof RangeError | typeof TypeError]> = [
    ['maxMessageSize: NaN', { maxMessageSize: NaN }, RangeError],
    ['maxMessageSize: -1', { maxMessageSize: -1 }, RangeError],
    ["maxMessageSize: '1M'", { maxMessageSize: '1M' }, TypeError],
    ['maxQueue: 0', { maxQueue: 0 }, RangeError],
    ['writeLimit: 1.5', { writeLimit: 1.5 }, RangeError],
    ['backpressureLimit: NaN', { backpressureLimit: NaN }, RangeError],
    ['pingInterval: NaN', { pingInterval: NaN }, RangeError],
    ['closeTimeout: -5', { closeTimeout: -5 }, RangeError],
    ['handshakeTimeout: 0', { handshakeTimeout: 0 }, RangeError],
    ['maxPendingHandshakes: NaN', { maxPendingHandshakes: NaN }, RangeError],
    ['maxPendingHandshakesPerIp: 0', { maxPendingHandshakesPerIp: 0 }, RangeError],
    ['maxConnectionsPerIp: -1', { maxConnectionsPerIp: -1 }, RangeError],
    ['connectionRate.intervalMs: 0', { connectionRate: { perIp: 5, intervalMs: 0 } }, RangeError],
    ['httpLimits.maxHeaders: NaN', { httpLimits: { maxHeaders: NaN } }, RangeError],
    ['broadcast.maxBuffered: -1', { broadcast: { maxBuffered: -1 } }, RangeError],
    ['port: 70000', { port: 70000 }, RangeError],
    ['http2.maxStreamsPerSession: 0', { http2: { maxStreamsPerSession: 0 } }, RangeError],
    ['http2.maxStreamsPerSession: 2^32', { http2: { maxStreamsPerSession: 2 ** 32 } }, RangeError],
    ['http2.maxStreams: NaN', { http2: { maxStreams: NaN } }, RangeError],
    ["http2.maxResets: '5'", { http2: { maxResets: '5' } }, TypeError],
    ['http2.resetWindow: 0', { http2: { resetWindow: 0 } }, RangeError],
    ['http2.maxInvalidFrames: 1.5', { http2: { maxInvalidFrames: 1.5 } }, RangeError],
  ];
  for (const [name, options, type] of badServerOptions) {
    test(`serve() and attach() refuse ${name}`, async () => {
      await assert.rejects(serve(echo, { host: '127.0.0.1', port: 0, logger: null, ...options }), (e: Error) => e instanceof type && e.message.includes(name.split(':')[0]!.split('.').pop()!));
      const httpServer = http.createServer();
      assert.throws(() => attach(httpServer, echo, { logger: null, ...options }), type);
    });
  }

  test('connect() refuses bad numbers before opening anything', async () => {
    for (const options of [{ maxMessageSize: NaN }, { openTimeout: -1 }, { maxQueue: 2.5 }, { reconnect: { maxAttempts: 0 } }, { reconnect: { factor: NaN } }]) {
      assert.throws(() => connect('ws://127.0.0.1:1', options as never), RangeError, JSON.stringify(options));
    }
  });

  test('valid settings still work: null keepalive, Infinity attempts, maxMessageSize 0', async () => {
    const server = await startServer(echo, { maxMessageSize: 0, pingInterval: null, pingTimeout: null });
    try {
      const ws = await connect(`ws://127.0.0.1:${server.address()!.port}`, { reconnect: { maxAttempts: Infinity }, pingInterval: null });
      await ws.send('');
      assert.equal(await ws.recv(), '');
      await ws.close();
    } finally {
      await server.close();
    }
  });

  test('maxMessageSize NaN used to remove the limit: now refused, so a 2 MiB message cannot slip through a misparsed setting', async () => {
    // Before: serve({ maxMessageSize: NaN }) started and accepted a 2 MiB message.
    await assert.rejects(serve(echo, { host: '127.0.0.1', port: 0, logger: null, maxMessageSize: Number('1M') }), RangeError);
  });
});
