import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  HttpHeadError,
  HttpHeadReader,
  HttpHeaders,
  isToken,
  parseRequestHead,
  parseResponseHead,
  serializeResponse,
  statusText,
  type HttpLimits,
} from '../../src/protocol/http11.js';
import { statusOf as status } from './http-status.js';

/** Feeds `text` to a request (or response) reader, in one chunk or cut at `cuts`. */
function read(text: string | Buffer, limits: HttpLimits = {}, isRequest = true, cuts: number[] = []) {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const reader = new HttpHeadReader(isRequest, limits);
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    const result = reader.push(bytes.subarray(at, cut));
    at = cut;
    if (result !== null) return result;
  }
  return null;
}

const REQUEST = 'GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\r\n';

describe('RFC 9112 §2-5 HTTP/1.1 message heads: reading', () => {
  it('returns the head and the bytes after it, however the input is chunked', () => {
    const bytes = Buffer.from(REQUEST + '\x81\x00rest', 'latin1');
    for (let cut = 0; cut <= bytes.length; cut++) {
      const result = read(bytes, {}, true, [cut]);
      assert.ok(result, `cut at ${cut}`);
      assert.equal(result.head.toString('latin1'), REQUEST);
      // The rest is only what came in the chunk that completed the head.
      const chunkEnd = cut >= REQUEST.length ? cut : bytes.length;
      assert.deepEqual(result.rest, bytes.subarray(REQUEST.length, chunkEnd));
    }
  });

  it('waits for more bytes until the empty line', () => {
    const reader = new HttpHeadReader(true);
    assert.equal(reader.push(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n')), null);
    assert.equal(reader.push(Buffer.from('\r')), null);
    assert.ok(reader.push(Buffer.from('\n')));
  });

  it('rejects a bare LF with 400', () => {
    assert.equal(status(() => read('GET / HTTP/1.1\nHost: a\r\n\r\n')), 400);
    assert.equal(status(() => read('GET / HTTP/1.1\r\nHost: a\n\r\n')), 400);
  });

  it('answers a request line over maxLineLength with 414 and a response line with 400', () => {
    const limits = { maxLineLength: 100 };
    const line = (n: number) => `GET /${'a'.repeat(n - 'GET / HTTP/1.1'.length)} HTTP/1.1`;
    assert.equal(line(100).length, 100);
    assert.ok(read(`${line(100)}\r\nHost: a\r\n\r\n`, limits));
    assert.equal(status(() => read(`${line(101)}\r\nHost: a\r\n\r\n`, limits)), 414);
    // Before the line ends: the limit is enforced as the bytes arrive.
    assert.equal(status(() => read(line(200), limits)), 414);
    assert.equal(status(() => read(`HTTP/1.1 101 ${'x'.repeat(200)}`, limits, false)), 400);
  });

  it('answers a header line over maxLineLength with 431', () => {
    const limits = { maxLineLength: 100 };
    const field = (n: number) => `X: ${'v'.repeat(n - 3)}`;
    assert.ok(read(`GET / HTTP/1.1\r\n${field(100)}\r\n\r\n`, limits));
    assert.equal(status(() => read(`GET / HTTP/1.1\r\n${field(101)}\r\n\r\n`, limits)), 431);
    assert.equal(status(() => read(`GET / HTTP/1.1\r\n${field(5000)}`, limits)), 431);
  });

  it('answers more than maxHeaders header lines with 431', () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join('');
    assert.ok(read(`GET / HTTP/1.1\r\n${fields(10)}\r\n`, { maxHeaders: 10 }));
    assert.equal(status(() => read(`GET / HTTP/1.1\r\n${fields(11)}\r\n`, { maxHeaders: 10 })), 431);
    assert.equal(status(() => read(`GET / HTTP/1.1\r\n${fields(129)}\r\n`)), 431);
    assert.ok(read(`GET / HTTP/1.1\r\n${fields(128)}\r\n`));
  });

  it('answers a head over maxHeadSize with 431, counting every byte including the final CRLF', () => {
    const head = (size: number) => {
      const start = 'GET / HTTP/1.1\r\nX: ';
      return `${start}${'v'.repeat(size - start.length - 4)}\r\n\r\n`;
    };
    assert.equal(head(1000).length, 1000);
    assert.ok(read(head(1000), { maxHeadSize: 1000 }));
    assert.equal(status(() => read(head(1001), { maxHeadSize: 1000 })), 431);
    assert.equal(status(() => read(head(1002), { maxHeadSize: 1000 })), 431);
    // Also when the head arrives byte by byte, and with no end in sight.
    const bytes = Buffer.from(head(1001));
    assert.equal(status(() => read(bytes, { maxHeadSize: 1000 }, true, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1))), 431);
    assert.equal(status(() => read(`GET / HTTP/1.1\r\n${'X: v\r\n'.repeat(1000)}`, { maxHeadSize: 1000, maxHeaders: 10000 })), 431);
  });

  it('reads a head at the default limits and rejects 64 KiB + 1', () => {
    const filler = (n: number) => Array.from({ length: n }, () => `X: ${'v'.repeat(8000)}\r\n`).join('');
    assert.ok(read(`GET / HTTP/1.1\r\n${filler(8)}\r\n`));
    assert.equal(status(() => read(`GET / HTTP/1.1\r\n${filler(9)}\r\n`)), 431);
  });
});

describe('RFC 9112 §3 Request Line and §5 Field Syntax: parsing', () => {
  it('parses method, target, version and fields', () => {
    const head = parseRequestHead(read(REQUEST)!.head);
    assert.equal(head.method, 'GET');
    assert.equal(head.target, '/chat?room=1');
    assert.equal(head.version, 'HTTP/1.1');
    assert.equal(head.headers.get('host'), 'example.com');
    assert.equal(head.headers.get('UPGRADE'), 'websocket');
    assert.deepEqual(head.headers.raw, [['Host', 'example.com'], ['Upgrade', 'websocket']]);
  });

  it('rejects malformed request lines with 400', () => {
    for (const line of ['GET /', 'GET  / HTTP/1.1', 'GET / HTTP/1.1 extra', ' GET / HTTP/1.1', 'GET', '', 'G(T / HTTP/1.1', 'GET / FTP/1.1']) {
      assert.equal(status(() => parseRequestHead(Buffer.from(`${line}\r\nHost: a\r\n\r\n`))), 400, JSON.stringify(line));
    }
  });

  it('answers HTTP/2.0 and other major versions with 505', () => {
    for (const version of ['HTTP/2.0', 'HTTP/2', 'HTTP/3.0', 'HTTP/0.9']) {
      assert.equal(status(() => parseRequestHead(Buffer.from(`GET / ${version}\r\nHost: a\r\n\r\n`))), 505, version);
    }
    assert.equal(parseRequestHead(Buffer.from('GET / HTTP/1.0\r\n\r\n')).version, 'HTTP/1.0');
  });

  it('rejects malformed header lines with 400', () => {
    for (const field of ['NoColon', ': empty name', 'Bad Name: v', 'Bad(Name): v', ' Folded: v', '\tFolded: v', 'Name : v']) {
      assert.equal(status(() => parseRequestHead(Buffer.from(`GET / HTTP/1.1\r\n${field}\r\n\r\n`))), 400, JSON.stringify(field));
    }
  });

  it('rejects header values with control characters and accepts tabs and obs-text', () => {
    for (const c of [0x00, 0x01, 0x08, 0x0b, 0x0c, 0x0d, 0x1f, 0x7f]) {
      const head = Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nX: a'), Buffer.from([c]), Buffer.from('b\r\n\r\n')]);
      assert.equal(status(() => parseRequestHead(head)), 400, `0x${c.toString(16)}`);
    }
    const ok = parseRequestHead(Buffer.from('GET / HTTP/1.1\r\nX: a\tb \xe9\r\n\r\n', 'latin1'));
    assert.equal(ok.headers.get('x'), 'a\tb \xe9');
  });

  it('trims optional whitespace around values and joins repeated fields with ", "', () => {
    const head = parseRequestHead(Buffer.from('GET / HTTP/1.1\r\nX:  \t a b \t\r\nx: c\r\nY:\r\n\r\n'));
    assert.equal(head.headers.get('X'), 'a b, c');
    assert.deepEqual(head.headers.getAll('x'), ['a b', 'c']);
    assert.equal(head.headers.get('y'), '');
    assert.equal(head.headers.size, 3);
    assert.equal(head.headers.get('missing'), undefined);
    assert.deepEqual(head.headers.getAll('missing'), []);
  });

  it('treats __proto__, constructor and toString as plain header names', () => {
    const head = parseRequestHead(
      Buffer.from('GET / HTTP/1.1\r\n__proto__: p\r\nconstructor: c\r\ntoString: t\r\nhasOwnProperty: h\r\n\r\n'),
    );
    assert.equal(head.headers.get('__proto__'), 'p');
    assert.equal(head.headers.get('constructor'), 'c');
    assert.equal(head.headers.get('tostring'), 't');
    assert.equal(head.headers.has('valueOf'), false);
    assert.equal(head.headers.get('valueOf'), undefined);
    const json = head.headers.toJSON();
    assert.equal(Object.getPrototypeOf(json), null);
    assert.equal(json['__proto__'], 'p');
    assert.deepEqual(Object.keys(json), ['__proto__', 'constructor', 'tostring', 'hasownproperty']);
    assert.equal(({} as Record<string, unknown>)['p'], undefined, 'Object.prototype untouched');
    const built = HttpHeaders.from({ __proto__: 'x', constructor: ['a', 'b'] } as unknown as Record<string, string>);
    assert.equal(built.get('constructor'), 'a, b');
  });

  it('parses response heads and rejects malformed status lines', () => {
    const head = parseResponseHead(Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'));
    assert.equal(head.status, 101);
    assert.equal(head.statusText, 'Switching Protocols');
    assert.equal(head.headers.get('upgrade'), 'websocket');
    assert.equal(parseResponseHead(Buffer.from('HTTP/1.1 404\r\n\r\n')).statusText, '');
    for (const line of ['HTTP/1.1', 'HTTP/1.1 abc OK', 'HTTP/1.1 1010 X', 'HTTP/1.1 99 X', 'HTTP/1.1 1e2 X', 'HTTP/1.1 +99 X', 'HTTP/1.1  99 X', 'ICY 200 OK', 'HTTP/2 200 OK', '']) {
      assert.equal(status(() => parseResponseHead(Buffer.from(`${line}\r\n\r\n`))), 400, JSON.stringify(line));
    }
  });

  it('parses random field names and values that are valid, and never throws anything but HttpHeadError', () => {
    const token = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,20}$/);
    const value = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,30}[\x21-\x7e])?$/);
    fc.assert(
      fc.property(fc.array(fc.tuple(token, value), { maxLength: 10 }), (fields) => {
        const text = `GET / HTTP/1.1\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
        const head = parseRequestHead(read(text)!.head);
        assert.deepEqual(head.headers.raw, fields);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, isRequest) => {
        try {
          const result = read(Buffer.concat([Buffer.from(bytes), Buffer.from('\r\n\r\n')]), { maxLineLength: 100 }, isRequest);
          if (result !== null) (isRequest ? parseRequestHead : parseResponseHead)(result.head);
        } catch (error) {
          assert.ok(error instanceof HttpHeadError, String(error));
          assert.ok([400, 414, 431, 505].includes(error.status));
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('RFC 9112 §4 Status Line: serializing responses', () => {
  it('writes the status line, headers and a Content-Length for a body', () => {
    const bytes = serializeResponse(403, [['X-Why', 'origin']], 'Forbidden origin');
    assert.equal(bytes.toString(), 'HTTP/1.1 403 Forbidden\r\nX-Why: origin\r\nContent-Length: 16\r\n\r\nForbidden origin');
    assert.equal(serializeResponse(101).toString(), 'HTTP/1.1 101 Switching Protocols\r\n\r\n');
    assert.equal(statusText(599), 'Unknown');
  });

  it('refuses header names and values that would split the response', () => {
    assert.throws(() => serializeResponse(200, [['X', 'a\r\nSet-Cookie: evil']]), TypeError);
    assert.throws(() => serializeResponse(200, [['X\r\nY', 'a']]), TypeError);
    assert.throws(() => serializeResponse(200, [['', 'a']]), TypeError);
  });

  it('recognizes RFC 9110 tokens', () => {
    assert.ok(isToken('permessage-deflate'));
    assert.ok(isToken("!#$%&'*+-.^_`|~"));
    for (const bad of ['', ' ', 'a b', 'a,b', 'a;b', 'a=b', '"a"', 'é', 'a\x00', '(a)', 'a/b']) assert.equal(isToken(bad), false, bad);
  });
});

describe('RFC 9112 §3: the request line is strict', () => {
  const statusFor = (line: string): number => {
    try {
      parseRequestHead(Buffer.from(`${line}\r\nHost: x\r\n\r\n`, 'latin1'));
    } catch (error) {
      return (error as HttpHeadError).status;
    }
    return 0;
  };

  it('accepts exactly HTTP/1.1 and HTTP/1.0', () => {
    assert.equal(statusFor('GET / HTTP/1.1'), 0);
    assert.equal(statusFor('GET / HTTP/1.0'), 0);
  });

  it('answers 505 to a well-formed other version and 400 to a malformed one', () => {
    for (const version of ['HTTP/1.9', 'HTTP/2.0', 'HTTP/3.0']) assert.equal(statusFor(`GET / ${version}`), 505, version);
    for (const version of ['HTTP/1.1x', 'HTTP/11', 'http/1.1', 'HTTP/1.a', 'HTTP/']) assert.equal(statusFor(`GET / ${version}`), 400, version);
  });

  it('rejects control characters in the request target with 400', () => {
    for (const target of ['/a\rb', '/a\tb', '/\x00', '/\x7f']) assert.equal(statusFor(`GET ${target} HTTP/1.1`), 400, JSON.stringify(target));
  });
});
