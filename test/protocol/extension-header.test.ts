import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatExtensions, parseExtensions, type ExtensionOffer } from '../../src/protocol/extension-header.js';
import { InvalidHeader } from '../../src/errors.js';

/** The best of five runs (a shared CPU and GC pauses slow some runs; a quadratic parse is slow in all). */
function timed<T>(fn: () => T): { ms: number; result: T | Error } {
  let best = Infinity;
  let result: T | Error = new Error('not run');
  for (let run = 0; run < 5; run++) {
    const start = performance.now();
    try {
      result = fn();
    } catch (error) {
      result = error as Error;
    }
    best = Math.min(best, performance.now() - start);
  }
  return { ms: best, result };
}

describe('RFC 6455 §9.1 Negotiating Extensions: Sec-WebSocket-Extensions', () => {
  it('parses offers with value-less, token and quoted parameters', () => {
    assert.deepEqual(
      parseExtensions('permessage-deflate; client_max_window_bits, permessage-deflate;server_max_window_bits=10 ; client_no_context_takeover'),
      [
        { name: 'permessage-deflate', params: [['client_max_window_bits', null]] },
        { name: 'permessage-deflate', params: [['server_max_window_bits', '10'], ['client_no_context_takeover', null]] },
      ],
    );
    assert.deepEqual(parseExtensions('x; a="10"; b = "ok" ;c\t=\td'), [{ name: 'x', params: [['a', '10'], ['b', 'ok'], ['c', 'd']] }]);
    assert.deepEqual(parseExtensions('x; a="1\\0"'), [{ name: 'x', params: [['a', '10']] }]);
  });

  it('skips empty list elements and whitespace', () => {
    assert.deepEqual(parseExtensions(''), []);
    assert.deepEqual(parseExtensions(' , ,\t'), []);
    assert.deepEqual(parseExtensions(', a ,, b ,'), [
      { name: 'a', params: [] },
      { name: 'b', params: [] },
    ]);
  });

  it('rejects malformed values with InvalidHeader', () => {
    for (const bad of ['a;', 'a; =1', 'a b', ';a', '=a', 'a=1', 'a; b=', 'a; b="c d"', 'a; b="unterminated', 'a; b=""', 'a; b="x"y', 'é', 'a; b=c=d', 'a;;b', '"a"']) {
      assert.throws(() => parseExtensions(bad), (e: unknown) => e instanceof InvalidHeader && e.header === 'Sec-WebSocket-Extensions', JSON.stringify(bad));
    }
  });

  it('keeps __proto__ and constructor as plain names and parameters', () => {
    const offers = parseExtensions('__proto__; __proto__=1; constructor, constructor; prototype="x"');
    assert.deepEqual(offers, [
      { name: '__proto__', params: [['__proto__', '1'], ['constructor', null]] },
      { name: 'constructor', params: [['prototype', 'x']] },
    ]);
    assert.equal(Object.getPrototypeOf(offers[0]), Object.prototype);
    assert.equal(({} as Record<string, unknown>)['1'], undefined);
  });

  it('formats offers so that they parse back to the same thing', () => {
    const token = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/);
    const offer: fc.Arbitrary<ExtensionOffer> = fc.record({
      name: token,
      params: fc.array(fc.tuple(token, fc.option(token, { nil: null })), { maxLength: 4 }),
    }).map(({ name, params }) => ({ name, params: params.map(([k, v]): [string, string | null] => [k, v]) }));
    fc.assert(
      fc.property(fc.array(offer, { maxLength: 5 }), (offers) => {
        assert.deepEqual(parseExtensions(formatExtensions(offers)), offers);
      }),
      { numRuns: 500 },
    );
    assert.equal(
      formatExtensions([{ name: 'permessage-deflate', params: [['client_max_window_bits', null], ['server_max_window_bits', '10']] }]),
      'permessage-deflate; client_max_window_bits; server_max_window_bits=10',
    );
  });

  it('never throws anything but InvalidHeader on random input', () => {
    const chars = fc.constantFrom('a', 'b', ' ', '\t', ',', ';', '=', '"', '\\', 'é', '\x00');
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 40 }).map((a) => a.join('')), (value) => {
        try {
          parseExtensions(value);
        } catch (error) {
          assert.ok(error instanceof InvalidHeader, String(error));
        }
      }),
      { numRuns: 2000 },
    );
  });

  // A quadratic parse of 100,000 characters is 10^10 steps, seconds; a linear one is a few ms on a quiet machine and
  // stays under half a second on a loaded one.
  it('parses in linear time: 100,000 spaces or separators take well under half a second', () => {
    const inputs = [
      'b' + ' '.repeat(100000) + 'x',
      'b;' + ' '.repeat(100000) + 'x',
      'b; c=' + ' '.repeat(100000) + 'x',
      'b; c="' + 'd'.repeat(100000) + '"',
      'b; c="' + '\\d'.repeat(50000),
      ','.repeat(100000) + 'x',
      ' ,'.repeat(50000) + 'x y',
      'a, '.repeat(30000),
      'a; b'.repeat(30000),
      'a; b=1, '.repeat(20000),
      'x'.repeat(100000) + ' y',
    ];
    parseExtensions('warm; up=1');
    for (const input of inputs) {
      const { ms, result } = timed(() => parseExtensions(input));
      assert.ok(!(result instanceof Error) || result instanceof InvalidHeader, String(result));
      assert.ok(ms < 500, `${JSON.stringify(input.slice(0, 12))}... took ${ms.toFixed(1)} ms`);
    }
  });
});
