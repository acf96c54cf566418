import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptResponse,
  buildUpgradeRequest,
  computeAccept,
  generateKey,
  isValidKey,
  parseList,
  splitTarget,
  validateUpgradeRequest,
  validateUpgradeResponse,
  UPGRADE_REQUIRED_HEADERS,
} from '../../src/protocol/handshake.js';
import { DEFAULT_HTTP_LIMITS, HttpHeadReader, parseRequestHead, parseResponseHead, readRequestHead, type HttpRequestHead } from '../../src/protocol/http11.js';
import { InvalidHeader, InvalidStatus, NegotiationError } from '../../src/errors.js';
import { statusOf } from './http-status.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
// RFC 6455 §1.3: SHA-1 0xb3 0x7a 0x4f 0x2c ... 0xc4 0xea, base64 "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** A valid upgrade request head (fields split) with `changes` applied: a field set to null is left out. */
function request(changes: Record<string, string | null> = {}, requestLine = 'GET /chat HTTP/1.1'): HttpRequestHead {
  return requestWith(changes, requestLine, parseRequestHead);
}

/** How a head is parsed: split into fields (HttpHeadReader's path), or kept as text and scanned in place (one-chunk path). */
type HeadParser = (bytes: Buffer) => HttpRequestHead;
const HEAD_PARSERS: Array<[string, HeadParser]> = [
  ['fields split', parseRequestHead],
  ['head text scanned in place', (bytes) => readRequestHead(bytes, DEFAULT_HTTP_LIMITS)!.head],
];

/** A valid upgrade request head with `changes` applied: a field set to null is left out. */
function requestWith(changes: Record<string, string | null>, requestLine: string, parse: HeadParser): HttpRequestHead {
  const fields: Record<string, string | null> = {
    Host: 'server.example.com',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': KEY,
    'Sec-WebSocket-Version': '13',
    ...changes,
  };
  let text = `${requestLine}\r\n`;
  for (const [name, value] of Object.entries(fields)) if (value !== null) text += `${name.replace(/#\d+$/, '')}: ${value}\r\n`;
  return parse(Buffer.from(`${text}\r\n`, 'latin1'));
}

function response(fields: Record<string, string>, statusLine = 'HTTP/1.1 101 Switching Protocols') {
  let text = `${statusLine}\r\n`;
  for (const [name, value] of Object.entries(fields)) text += `${name}: ${value}\r\n`;
  return parseResponseHead(Buffer.from(`${text}\r\n`));
}

const GOOD_RESPONSE = { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Accept': ACCEPT };

describe('RFC 6455 §1.3 and §4.2.2: Sec-WebSocket-Key and Sec-WebSocket-Accept', () => {
  it("derives the RFC's sample accept value from its sample key", () => {
    assert.equal(computeAccept(KEY), ACCEPT);
    assert.equal(Buffer.from(ACCEPT, 'base64').toString('hex'), 'b37a4f2cc0624f1690f64606cf385945b2bec4ea');
  });

  it('generates fresh keys that are base64 of 16 bytes', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const key = generateKey();
      assert.ok(isValidKey(key), key);
      assert.equal(Buffer.from(key, 'base64').length, 16);
      keys.add(key);
    }
    assert.equal(keys.size, 100);
  });

  it('accepts only base64 of exactly 16 bytes as a key', () => {
    assert.ok(isValidKey(KEY));
    assert.ok(isValidKey('AAAAAAAAAAAAAAAAAAAAAA=='));
    assert.ok(isValidKey('+/+/+/+/+/+/+/+/+/+/+w=='));
    for (const bad of ['', 'short', 'dGhlIHNhbXBsZSBub25jZQ', 'dGhlIHNhbXBsZSBub25jZQ=', `${KEY}=`, 'dGhlIHNhbXBsZSBub25jZQ.=', 'dGhlIHNhbXBsZSBub25jZQ-_', 'dGhlIHNhbXBsZSBub25j ZQ==', 'AAAAAAAAAAAAAAAAAAAAAAA=', 'AAAAAAAAAAAAAAAAAAAAAAAA', 'dGhlIHNhbXBsZSBub25jZQ==AAAA']) {
      assert.equal(isValidKey(bad), false, JSON.stringify(bad));
    }
  });
});

for (const [parsed, parse] of HEAD_PARSERS) {
  describe(`RFC 6455 §4.2.1 Reading the Client's Opening Handshake (${parsed})`, () => {
    const request = (changes: Record<string, string | null> = {}, requestLine = 'GET /chat HTTP/1.1'): HttpRequestHead =>
      requestWith(changes, requestLine, parse);
    it('accepts a valid request and returns path, query, key, subprotocols and extensions', () => {
      const upgrade = validateUpgradeRequest(
        request(
          { 'Sec-WebSocket-Protocol': 'chat, superchat', 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' },
          'GET /chat?room=1&x=%20y HTTP/1.1',
        ),
      );
      assert.equal(upgrade.path, '/chat');
      assert.equal(upgrade.query.get('room'), '1');
      assert.equal(upgrade.query.get('x'), ' y');
      assert.equal(upgrade.key, KEY);
      assert.deepEqual(upgrade.protocols, ['chat', 'superchat']);
      assert.deepEqual(upgrade.extensions, [{ name: 'permessage-deflate', params: [['client_max_window_bits', null]] }]);
    });

    it('answers a method other than GET with 405', () => {
      for (const method of ['POST', 'HEAD', 'get', 'PUT']) {
        assert.equal(statusOf(() => validateUpgradeRequest(request({}, `${method} /chat HTTP/1.1`))), 405, method);
      }
    });

    it('answers HTTP/1.0 with 400', () => {
      assert.equal(statusOf(() => validateUpgradeRequest(request({}, 'GET /chat HTTP/1.0'))), 400);
    });

    it('requires exactly one Host header (400)', () => {
      assert.equal(statusOf(() => validateUpgradeRequest(request({ Host: null }))), 400);
      assert.equal(statusOf(() => validateUpgradeRequest(request({ 'Host#2': 'other.example.com' }))), 400);
    });

    it('reads Upgrade and Connection as case-insensitive token lists', () => {
      for (const [upgrade, connection] of [
        ['websocket', 'Upgrade'],
        ['WebSocket', 'upgrade'],
        ['WEBSOCKET', 'UPGRADE'],
        ['h2c, websocket', 'keep-alive, Upgrade'],
        ['websocket ,foo', 'Upgrade,keep-alive'],
        [' websocket\t', '\tkeep-alive ,  upgrade '],
      ]) {
        assert.doesNotThrow(() => validateUpgradeRequest(request({ Upgrade: upgrade!, Connection: connection! })), `${upgrade} / ${connection}`);
      }
      // Repeated Connection fields are one list (RFC 9110 §5.3).
      assert.doesNotThrow(() => validateUpgradeRequest(request({ Connection: 'keep-alive', 'Connection#2': 'Upgrade' })));
    });

    it('answers a missing or wrong Upgrade or Connection with 426', () => {
      for (const changes of <Array<Record<string, string | null>>>[
        { Upgrade: null },
        { Upgrade: 'websockets' },
        { Upgrade: 'h2c' },
        { Upgrade: 'web socket' },
        { Connection: null },
        { Connection: 'keep-alive' },
        { Connection: 'upgraded' },
        { Connection: 'keep-alive upgrade' },
      ]) {
        assert.equal(statusOf(() => validateUpgradeRequest(request(changes))), 426, JSON.stringify(changes));
      }
      assert.deepEqual(UPGRADE_REQUIRED_HEADERS.find(([name]) => name === 'Sec-WebSocket-Version'), ['Sec-WebSocket-Version', '13']);
    });

    it('answers a missing, repeated or invalid Sec-WebSocket-Key with 400', () => {
      for (const changes of <Array<Record<string, string | null>>>[
        { 'Sec-WebSocket-Key': null },
        { 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ' },
        { 'Sec-WebSocket-Key': 'c2hvcnQ=' },
        { 'Sec-WebSocket-Key': Buffer.alloc(17).toString('base64') },
        { 'Sec-WebSocket-Key#2': KEY },
      ]) {
        assert.equal(statusOf(() => validateUpgradeRequest(request(changes))), 400, JSON.stringify(changes));
      }
    });

    it('answers a Sec-WebSocket-Version other than 13 with 426', () => {
      for (const changes of <Array<Record<string, string | null>>>[
        { 'Sec-WebSocket-Version': null },
        { 'Sec-WebSocket-Version': '8' },
        { 'Sec-WebSocket-Version': '14' },
        { 'Sec-WebSocket-Version': '13, 8' },
        { 'Sec-WebSocket-Version#2': '13' },
      ]) {
        assert.equal(statusOf(() => validateUpgradeRequest(request(changes))), 426, JSON.stringify(changes));
      }
    });

    it('answers a malformed Sec-WebSocket-Extensions with 400', () => {
      assert.equal(statusOf(() => validateUpgradeRequest(request({ 'Sec-WebSocket-Extensions': 'permessage-deflate;' }))), 400);
    });

    it('merges repeated Sec-WebSocket-Protocol and Sec-WebSocket-Extensions fields in order', () => {
      const upgrade = validateUpgradeRequest(
        request({
          'Sec-WebSocket-Protocol': 'a, b',
          'Sec-WebSocket-Protocol#2': 'c',
          'Sec-WebSocket-Extensions': 'x',
          'Sec-WebSocket-Extensions#2': 'y; z=1',
        }),
      );
      assert.deepEqual(upgrade.protocols, ['a', 'b', 'c']);
      assert.deepEqual(upgrade.extensions.map((e) => e.name), ['x', 'y']);
    });

    it('treats __proto__ and constructor as plain header names', () => {
      const upgrade = validateUpgradeRequest(request({ ['__proto__']: 'x', constructor: 'y', 'Sec-WebSocket-Extensions': '__proto__; constructor=1' }));
      assert.equal(upgrade.head.headers.get('__proto__'), 'x');
      assert.deepEqual(upgrade.extensions, [{ name: '__proto__', params: [['constructor', '1']] }]);
    });

    it('splits origin-form and absolute-form targets', () => {
      assert.equal(splitTarget('/a/b?c=1').path, '/a/b');
      assert.equal(splitTarget('/').query.toString(), '');
      assert.equal(splitTarget('ws://host:1/p/q?x=2').path, '/p/q');
      assert.equal(splitTarget('ws://host:1/p/q?x=2').query.get('x'), '2');
      assert.equal(statusOf(() => splitTarget('not a url')), 400);
      assert.equal(statusOf(() => splitTarget('*')), 400);
    });

    it('parses comma-separated lists into trimmed, non-empty items', () => {
      assert.deepEqual(parseList(undefined), []);
      assert.deepEqual(parseList(''), []);
      assert.deepEqual(parseList(' a ,, b,\tc\t, '), ['a', 'b', 'c']);
    });
  });
}

describe('RFC 6455 §4.2.2 Sending the Server\'s Opening Handshake and §4.1 the client\'s checks', () => {
  it('round-trips a client request through the server checks and the server answer through the client checks', () => {
    const key = generateKey();
    const bytes = buildUpgradeRequest({
      host: 'localhost:8765',
      target: '/chat?room=1',
      key,
      protocols: ['chat', 'superchat'],
      extensions: [{ name: 'permessage-deflate', params: [['client_max_window_bits', null]] }],
      origin: 'http://localhost',
      headers: [['Authorization', 'Bearer t']],
    });
    const read = new HttpHeadReader(true).push(bytes);
    assert.ok(read);
    assert.equal(read.rest.length, 0);
    const upgrade = validateUpgradeRequest(parseRequestHead(read.head));
    assert.equal(upgrade.key, key);
    assert.equal(upgrade.head.headers.get('origin'), 'http://localhost');
    assert.equal(upgrade.head.headers.get('authorization'), 'Bearer t');
    assert.deepEqual(upgrade.protocols, ['chat', 'superchat']);
    const answer = acceptResponse(key, 'superchat', [{ name: 'permessage-deflate', params: [['server_max_window_bits', '10']] }], [['X-Extra', '1']]);
    const answered = new HttpHeadReader(false).push(answer);
    assert.ok(answered);
    const result = validateUpgradeResponse(parseResponseHead(answered.head), key, upgrade.protocols);
    assert.equal(result.protocol, 'superchat');
    assert.deepEqual(result.extensions, [{ name: 'permessage-deflate', params: [['server_max_window_bits', '10']] }]);
    assert.equal(result.headers.get('x-extra'), '1');
  });

  it('refuses extra request headers that would inject lines', () => {
    assert.throws(() => buildUpgradeRequest({ host: 'h', target: '/', key: KEY, headers: [['X', 'a\r\nEvil: 1']] }), TypeError);
    assert.throws(() => buildUpgradeRequest({ host: 'h', target: '/', key: KEY, headers: [['X\nY', 'a']] }), TypeError);
  });

  it('refuses subprotocols that are not tokens, header names that are not tokens, and values a Latin-1 head would mangle', () => {
    const build = (extra: Partial<Parameters<typeof buildUpgradeRequest>[0]>) => () =>
      buildUpgradeRequest({ host: 'h', target: '/', key: KEY, ...extra });
    assert.throws(build({ protocols: ['chat\r\nEvil: 1'] }), { name: 'TypeError', message: /invalid subprotocol/ });
    assert.throws(build({ protocols: ['two words'] }), { name: 'TypeError', message: /not an HTTP token/ });
    assert.throws(build({ headers: [['Bad Name', 'v']] }), { name: 'TypeError', message: /invalid header name/ });
    assert.throws(build({ headers: [['X-Nul', 'a\u0000b']] }), { name: 'TypeError', message: /control characters/ });
    assert.throws(build({ headers: [['X-Euro', '5 \u20ac']] }), { name: 'TypeError', message: /beyond Latin-1/ });
    assert.throws(build({ origin: 'http://a\r\nEvil: 1' }), { name: 'TypeError', message: /Origin/ });
    const head = build({ protocols: ['chat.v1', 'superchat'], headers: [['X-Name', 'caf\u00e9\tok']] })().toString('latin1');
    assert.match(head, /\r\nSec-WebSocket-Protocol: chat\.v1, superchat\r\n/);
    assert.match(head, /\r\nX-Name: caf\u00e9\tok\r\n/);
  });

  it('accepts a valid 101 with no subprotocol', () => {
    const result = validateUpgradeResponse(response({ ...GOOD_RESPONSE, Upgrade: 'WebSocket', Connection: 'keep-alive, upgrade' }), KEY, []);
    assert.equal(result.protocol, null);
    assert.deepEqual(result.extensions, []);
  });

  it('rejects any status but 101 with InvalidStatus carrying the response', () => {
    const body = Buffer.from('go away');
    for (const line of ['HTTP/1.1 200 OK', 'HTTP/1.1 403 Forbidden', 'HTTP/1.1 100 Continue']) {
      assert.throws(
        () => validateUpgradeResponse(response({ 'Content-Type': 'text/plain', ['__proto__']: 'p' }, line), KEY, [], body),
        (e: unknown) =>
          e instanceof InvalidStatus &&
          e.code === 'WS_INVALID_STATUS' &&
          e.response.status === Number(line.split(' ')[1]) &&
          e.response.headers.get('content-type') === 'text/plain' &&
          e.response.headers.get('__proto__') === 'p' &&
          e.response.body === body,
      );
    }
  });

  it('rejects a missing Upgrade or Connection, or a wrong or repeated Accept, with InvalidHeader', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ Connection: 'Upgrade', 'Sec-WebSocket-Accept': ACCEPT }, 'Upgrade'],
      [{ Upgrade: 'h2c', Connection: 'Upgrade', 'Sec-WebSocket-Accept': ACCEPT }, 'Upgrade'],
      [{ Upgrade: 'websocket', 'Sec-WebSocket-Accept': ACCEPT }, 'Connection'],
      [{ Upgrade: 'websocket', Connection: 'Upgrade' }, 'Sec-WebSocket-Accept'],
      [{ ...GOOD_RESPONSE, 'Sec-WebSocket-Accept': computeAccept('AAAAAAAAAAAAAAAAAAAAAA==') }, 'Sec-WebSocket-Accept'],
      [{ ...GOOD_RESPONSE, 'Sec-WebSocket-Accept': ACCEPT.toLowerCase() }, 'Sec-WebSocket-Accept'],
    ];
    for (const [fields, header] of cases) {
      assert.throws(() => validateUpgradeResponse(response(fields), KEY, []), (e: unknown) => e instanceof InvalidHeader && e.header === header, header);
    }
    const twice = parseResponseHead(
      Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`),
    );
    assert.throws(() => validateUpgradeResponse(twice, KEY, []), InvalidHeader);
  });

  it('rejects a subprotocol that was not offered, or more than one, with NegotiationError', () => {
    assert.throws(() => validateUpgradeResponse(response({ ...GOOD_RESPONSE, 'Sec-WebSocket-Protocol': 'chat' }), KEY, []), NegotiationError);
    assert.throws(() => validateUpgradeResponse(response({ ...GOOD_RESPONSE, 'Sec-WebSocket-Protocol': 'other' }), KEY, ['chat']), NegotiationError);
    assert.throws(() => validateUpgradeResponse(response({ ...GOOD_RESPONSE, 'Sec-WebSocket-Protocol': 'chat, x' }), KEY, ['chat', 'x']), NegotiationError);
    assert.throws(() => validateUpgradeResponse(response({ ...GOOD_RESPONSE, 'Sec-WebSocket-Protocol': 'CHAT' }), KEY, ['chat']), NegotiationError);
    assert.equal(validateUpgradeResponse(response({ ...GOOD_RESPONSE, 'Sec-WebSocket-Protocol': 'chat' }), KEY, ['x', 'chat']).protocol, 'chat');
  });

  it('rejects a malformed Sec-WebSocket-Extensions answer with NegotiationError', () => {
    assert.throws(() => validateUpgradeResponse(response({ ...GOOD_RESPONSE, 'Sec-WebSocket-Extensions': 'a; b=' }), KEY, []), NegotiationError);
  });
});

describe('RFC 6455 §4 handshake headers parse in linear time (no ReDoS)', () => {
  const hostile = [
    'b' + ' '.repeat(100000) + 'x',
    'b' + ' ,'.repeat(50000) + 'x',
    ','.repeat(100000),
    'b;' + ' '.repeat(100000) + 'x',
    'b; c="' + 'd'.repeat(100000),
  ];
  const limits = { maxLineLength: 1 << 20, maxHeadSize: 1 << 21 };

  /** The best of three runs: a quadratic parse of 100,000 characters takes seconds every time, while GC pauses and a shared CPU only slow some runs. */
  function time(fn: () => unknown): number {
    let best = Infinity;
    for (let run = 0; run < 3; run++) {
      const start = performance.now();
      try {
        fn();
      } catch {
        // Rejecting is fine; taking long is not.
      }
      best = Math.min(best, performance.now() - start);
    }
    return best;
  }

  for (const header of ['Sec-WebSocket-Protocol', 'Sec-WebSocket-Extensions', 'Upgrade', 'Connection']) {
    it(`reads a hostile ${header} of 100,000 characters in well under half a second (a quadratic read takes seconds), in a request and in a response`, () => {
      validateUpgradeRequest(request()); // warm up
      for (const value of hostile) {
        const requestBytes = Buffer.from(
          `GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${header}: ${value}\r\n\r\n`,
        );
        const serverSide = time(() => {
          const read = new HttpHeadReader(true, limits).push(requestBytes);
          validateUpgradeRequest(parseRequestHead(read!.head));
        });
        assert.ok(serverSide < 500, `request: ${JSON.stringify(value.slice(0, 10))}... took ${serverSide.toFixed(1)} ms`);
        const responseBytes = Buffer.from(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n${header}: ${value}\r\n\r\n`,
        );
        const clientSide = time(() => {
          const read = new HttpHeadReader(false, limits).push(responseBytes);
          validateUpgradeResponse(parseResponseHead(read!.head), KEY, ['b']);
        });
        assert.ok(clientSide < 500, `response: ${JSON.stringify(value.slice(0, 10))}... took ${clientSide.toFixed(1)} ms`);
      }
    });
  }
});

describe('RFC 6455 §4.1: offered subprotocols are tokens', () => {
  it('rejects a Sec-WebSocket-Protocol item that is not a token with 400', () => {
    for (const value of ['b      x', 'chat, "quoted"', 'a/b']) {
      assert.equal(statusOf(() => validateUpgradeRequest(request({ 'Sec-WebSocket-Protocol': value }))), 400, value);
    }
    assert.deepEqual(validateUpgradeRequest(request({ 'Sec-WebSocket-Protocol': 'chat,  superchat' })).protocols, ['chat', 'superchat']);
  });
});
