/** permessage-deflate negotiation (RFC 7692 §7.1), both sides, without I/O. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { NegotiationError } from '../../src/errors.js';
import {
  acceptAnswer,
  answerOffer,
  clientOffer,
  codecParams,
  deflaterWindowBits,
  negotiateServer,
  parseDeflateParams,
  validateDeflateConfig,
  type DeflateConfig,
} from '../../src/protocol/deflate-params.js';
import { formatExtensions, parseExtensions, type ExtensionOffer } from '../../src/protocol/extension-header.js';

const offers = (header: string): ExtensionOffer[] => parseExtensions(header);
const one = (header: string): ExtensionOffer => offers(header)[0]!;
const PYTHON_SERVER: DeflateConfig = { serverMaxWindowBits: 12, clientMaxWindowBits: 12 };

describe('parseDeflateParams', () => {
  it('parses all four parameters', () => {
    assert.deepEqual(
      parseDeflateParams(
        one('permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9').params,
        true,
      ),
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
    );
  });

  it('accepts the value-less client_max_window_bits in offers only', () => {
    assert.equal(parseDeflateParams(one('permessage-deflate; client_max_window_bits').params, true).clientMaxWindowBits, true);
    assert.throws(() => parseDeflateParams(one('permessage-deflate; client_max_window_bits').params, false), NegotiationError);
  });

  it('accepts quoted values (RFC 6455 §9.1 allows a quoted token)', () => {
    assert.equal(parseDeflateParams(one('permessage-deflate; server_max_window_bits="10"').params, false).serverMaxWindowBits, 10);
  });

  for (const [what, header] of [
    ['an unknown parameter', 'permessage-deflate; foo'],
    ['an unknown parameter with a value', 'permessage-deflate; x_max_window_bits=10'],
    ['a duplicate flag', 'permessage-deflate; server_no_context_takeover; server_no_context_takeover'],
    ['a duplicate window size', 'permessage-deflate; client_max_window_bits=10; client_max_window_bits=11'],
    ['a duplicate value-less and valued window size', 'permessage-deflate; client_max_window_bits; client_max_window_bits=11'],
    ['a value on a flag', 'permessage-deflate; client_no_context_takeover=1'],
    ['server_max_window_bits without value', 'permessage-deflate; server_max_window_bits'],
    ['window bits 7', 'permessage-deflate; server_max_window_bits=7'],
    ['window bits 16', 'permessage-deflate; client_max_window_bits=16'],
    ['a leading zero', 'permessage-deflate; server_max_window_bits=09'],
    ['a sign', 'permessage-deflate; server_max_window_bits=+9'],
    ['a non-number', 'permessage-deflate; server_max_window_bits=abc'],
  ] as const) {
    it(`rejects ${what}`, () => {
      assert.throws(() => parseDeflateParams(one(header).params, true), NegotiationError);
    });
  }

  it('rejects a __proto__ parameter without touching prototypes', () => {
    assert.throws(() => parseDeflateParams([['__proto__', null]], true), NegotiationError);
    assert.equal(({} as Record<string, unknown>).serverNoContextTakeover, undefined);
  });

  it('treats parameter names case-insensitively', () => {
    assert.equal(parseDeflateParams([['Server_No_Context_Takeover', null]], true).serverNoContextTakeover, true);
  });
});

describe('server negotiation', () => {
  const answer = (header: string, config: DeflateConfig = {}) => {
    const result = negotiateServer(offers(header), config);
    return result === null ? null : formatExtensions([result.answer]);
  };

  it('answers a browser offer with Python websockets defaults', () => {
    assert.equal(
      answer('permessage-deflate; client_max_window_bits', PYTHON_SERVER),
      'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
    );
  });

  it('answers a bare offer without client_max_window_bits (it was not offered)', () => {
    const result = negotiateServer(offers('permessage-deflate'), PYTHON_SERVER)!;
    assert.equal(formatExtensions([result.answer]), 'permessage-deflate; server_max_window_bits=12');
    assert.equal(result.agreement.clientMaxWindowBits, 15);
  });

  it('answers with no parameters when unconfigured and nothing was offered', () => {
    assert.equal(answer('permessage-deflate'), 'permessage-deflate');
    assert.equal(answer('permessage-deflate; client_max_window_bits'), 'permessage-deflate');
  });

  it('honours and echoes offered no_context_takeover flags', () => {
    assert.equal(
      answer('permessage-deflate; server_no_context_takeover; client_no_context_takeover'),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    );
  });

  it('adds no_context_takeover flags the server requires', () => {
    assert.equal(
      answer('permessage-deflate', { serverNoContextTakeover: true, clientNoContextTakeover: true }),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    );
  });

  it('narrows window sizes to the smaller of offer and configuration', () => {
    assert.equal(
      answer('permessage-deflate; server_max_window_bits=10; client_max_window_bits=14', PYTHON_SERVER),
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits=12',
    );
    assert.equal(
      answer('permessage-deflate; server_max_window_bits=14; client_max_window_bits=9', PYTHON_SERVER),
      'permessage-deflate; server_max_window_bits=12; client_max_window_bits=9',
    );
  });

  it('skips offers it must decline and takes the next one, in order', () => {
    const result = negotiateServer(
      offers('permessage-deflate; foo=1, permessage-deflate; server_max_window_bits=99, permessage-deflate; server_max_window_bits=10, permessage-deflate'),
      {},
    )!;
    assert.equal(formatExtensions([result.answer]), 'permessage-deflate; server_max_window_bits=10');
  });

  it('declines when no offer is acceptable', () => {
    assert.equal(negotiateServer(offers('permessage-deflate; server_no_context_takeover; server_no_context_takeover'), {}), null);
    assert.equal(negotiateServer(offers('x-webkit-deflate-frame'), {}), null);
  });

  it('never answers a value-less client_max_window_bits (it is only valid in offers)', () => {
    const { answer: a } = answerOffer(one('permessage-deflate; client_max_window_bits'), {});
    assert.ok(!a.params.some(([, v]) => v === null && a.params.some(([n]) => n === 'client_max_window_bits')));
  });
});

describe('client negotiation', () => {
  it('offers a value-less client_max_window_bits by default, like browsers', () => {
    assert.equal(formatExtensions([clientOffer({})]), 'permessage-deflate; client_max_window_bits');
  });

  it('offers configured parameters', () => {
    assert.equal(
      formatExtensions([clientOffer({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 })]),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11',
    );
  });

  it('accepts what the server may choose', () => {
    assert.deepEqual(acceptAnswer(one('permessage-deflate; server_max_window_bits=12; client_max_window_bits=12'), {}), {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 12,
    });
    assert.deepEqual(acceptAnswer(one('permessage-deflate'), {}), {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    });
    // §7.1.1: the server may add either no_context_takeover flag.
    const agreed = acceptAnswer(one('permessage-deflate; server_no_context_takeover; client_no_context_takeover'), {});
    assert.equal(agreed.serverNoContextTakeover && agreed.clientNoContextTakeover, true);
  });

  for (const [what, header, config] of [
    ['a client_max_window_bits above the offered one', 'permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }],
    ['a server_max_window_bits above the offered one', 'permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }],
    ['no server_max_window_bits when one was offered', 'permessage-deflate', { serverMaxWindowBits: 10 }],
    ['no server_no_context_takeover when it was offered', 'permessage-deflate', { serverNoContextTakeover: true }],
    ['a value-less client_max_window_bits', 'permessage-deflate; client_max_window_bits', {}],
    ['an unknown parameter', 'permessage-deflate; foo', {}],
    ['a duplicate parameter', 'permessage-deflate; server_max_window_bits=10; server_max_window_bits=10', {}],
    ['an out-of-range window', 'permessage-deflate; server_max_window_bits=16', {}],
    ['another extension', 'x-webkit-deflate-frame', {}],
  ] as const) {
    it(`rejects ${what}`, () => {
      assert.throws(() => acceptAnswer(one(header), config as DeflateConfig), NegotiationError);
    });
  }

  it('keeps its own client window limit when the server omits client_max_window_bits', () => {
    assert.equal(acceptAnswer(one('permessage-deflate'), { clientMaxWindowBits: 10 }).clientMaxWindowBits, 10);
  });

  it('round-trips with the server side for every combination of flags', () => {
    for (const serverNoContextTakeover of [false, true]) {
      for (const clientNoContextTakeover of [false, true]) {
        const config = { serverNoContextTakeover, clientNoContextTakeover };
        const negotiated = negotiateServer([clientOffer(config)], PYTHON_SERVER)!;
        const agreement = acceptAnswer(negotiated.answer, config);
        assert.deepEqual(agreement, negotiated.agreement);
      }
    }
  });
});

describe('codec parameters', () => {
  it('gives each side its own deflate and the peer’s inflate parameters', () => {
    const agreement = { serverNoContextTakeover: true, clientNoContextTakeover: false, serverMaxWindowBits: 8, clientMaxWindowBits: 11 };
    assert.deepEqual(codecParams(agreement, 'server'), {
      deflateNoContextTakeover: true,
      deflateWindowBits: 9,
      inflateNoContextTakeover: false,
      inflateWindowBits: 11,
    });
    assert.deepEqual(codecParams(agreement, 'client'), {
      deflateNoContextTakeover: false,
      deflateWindowBits: 11,
      inflateNoContextTakeover: true,
      inflateWindowBits: 8,
    });
  });

  it('validates configured window bits', () => {
    assert.throws(() => validateDeflateConfig({ serverMaxWindowBits: 7 }), RangeError);
    assert.throws(() => validateDeflateConfig({ clientMaxWindowBits: 12.5 }), RangeError);
    validateDeflateConfig({ serverMaxWindowBits: 8, clientMaxWindowBits: 15 });
  });

  it('a 9-bit raw deflater (used for 8) is decodable with an 8-bit window', () => {
    // Repeats 300 bytes apart: within a 512-byte window, beyond a 256-byte one.
    const data = Buffer.concat(Array.from({ length: 200 }, () => randomBytes(300)).flatMap((b) => [b, b]));
    const compressed = zlib.deflateRawSync(data, { windowBits: deflaterWindowBits(8) });
    assert.ok(zlib.inflateRawSync(compressed, { windowBits: 8 }).equals(data));
    // A 10-bit deflater does reach past 256 bytes, which an 8-bit inflater refuses: the check above is meaningful.
    assert.throws(() => zlib.inflateRawSync(zlib.deflateRawSync(data, { windowBits: 10 }), { windowBits: 8 }));
  });
});
