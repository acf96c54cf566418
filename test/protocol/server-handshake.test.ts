import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateExtendedConnect, validateUpgradeRequest, type Http2RequestHead } from '../../src/protocol/handshake.js';
import { ServerHandshake, type NegotiableExtension } from '../../src/protocol/server-handshake.js';
import { HttpHeaders, parseRequestHead } from '../../src/protocol/http11.js';
import { statusOf } from './http-status.js';

/** An RFC 8441 §5 extended CONNECT with `changes` applied (undefined removes a pseudo-header). */
function connect(changes: Partial<Http2RequestHead> = {}, fields: Array<[string, string]> = [['sec-websocket-version', '13']]): Http2RequestHead {
  return { method: 'CONNECT', protocol: 'websocket', scheme: 'https', authority: 'server.example.com', path: '/chat?room=1', headers: HttpHeaders.from(fields), ...changes };
}

const upgrade = (fields: string) =>
  parseRequestHead(Buffer.from(`GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${fields}\r\n`, 'latin1'));

describe('validateExtendedConnect (RFC 8441 §4-5)', () => {
  it('accepts CONNECT with :protocol websocket, no key, and splits :path', () => {
    const request = validateExtendedConnect(connect({}, [['sec-websocket-version', '13'], ['sec-websocket-protocol', 'a, b'], ['sec-websocket-extensions', 'permessage-deflate']]));
    assert.equal(request.key, '');
    assert.equal(request.path, '/chat');
    assert.equal(request.query.get('room'), '1');
    assert.deepEqual(request.protocols, ['a', 'b']);
    assert.equal(request.extensions[0]!.name, 'permessage-deflate');
    assert.equal(request.head.version, 'HTTP/2');
  });

  it('refuses what is not a WebSocket extended CONNECT, with the status to answer', () => {
    assert.equal(statusOf(() => validateExtendedConnect(connect({ method: 'GET' }))), 405);
    assert.equal(statusOf(() => validateExtendedConnect(connect({ protocol: undefined }))), 400);
    assert.equal(statusOf(() => validateExtendedConnect(connect({ protocol: 'webtransport' }))), 400);
    assert.equal(statusOf(() => validateExtendedConnect(connect({ scheme: undefined }))), 400);
    assert.equal(statusOf(() => validateExtendedConnect(connect({ scheme: 'ftp' }))), 400);
    assert.equal(statusOf(() => validateExtendedConnect(connect({ path: undefined }))), 400);
    assert.equal(statusOf(() => validateExtendedConnect(connect({ authority: undefined }))), 400);
    assert.equal(statusOf(() => validateExtendedConnect(connect({}, []))), 426);
    assert.equal(statusOf(() => validateExtendedConnect(connect({}, [['sec-websocket-version', '8']]))), 426);
    assert.equal(statusOf(() => validateExtendedConnect(connect({}, [['sec-websocket-version', '13'], ['sec-websocket-protocol', 'a b']]))), 400);
    assert.equal(statusOf(() => validateExtendedConnect(connect({}, [['sec-websocket-version', '13'], ['sec-websocket-extensions', ';;']]))), 400);
  });
});

describe('ServerHandshake: one policy for HTTP/1.1 and HTTP/2', () => {
  const deflate: NegotiableExtension<string> = {
    name: 'permessage-deflate',
    accept: (offers) => (offers[0]!.params.length > 0 ? null : { answer: { name: 'permessage-deflate', params: [] }, codec: 'codec' }),
  };
  const handshake = new ServerHandshake<string, null>({ subprotocols: ['b', 'a'], origins: ['https://ok.example', /https:\/\/.*\.ok\.example/, null], extensions: [deflate] });

  it('agrees the same way whichever transport carried the offer', () => {
    const h1 = handshake.agree(validateUpgradeRequest(upgrade('Sec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Extensions: permessage-deflate\r\n')), null);
    const h2 = handshake.agree(validateExtendedConnect(connect({}, [['sec-websocket-version', '13'], ['sec-websocket-protocol', 'a, b'], ['sec-websocket-extensions', 'permessage-deflate']])), null);
    assert.deepEqual(h1, { protocol: 'b', codec: 'codec', extensions: 'permessage-deflate' });
    assert.deepEqual(h2, h1);
    assert.deepEqual(handshake.http2Response(h2), { ':status': 200, 'sec-websocket-protocol': 'b', 'sec-websocket-extensions': 'permessage-deflate' });
    assert.match(handshake.http11Response('dGhlIHNhbXBsZSBub25jZQ==', h1), /^HTTP\/1\.1 101 .*Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\nSec-WebSocket-Protocol: b\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n$/s);
  });

  it('answers no subprotocol and no extension when none fits', () => {
    const agreement = handshake.agree({ protocols: ['c'], extensions: [{ name: 'permessage-deflate', params: [['x', null]] }] }, null);
    assert.deepEqual(agreement, { protocol: null, codec: null, extensions: '' });
    assert.deepEqual(handshake.http2Response(agreement), { ':status': 200 });
  });

  it('a chooser returning a protocol the client did not offer chooses none', () => {
    const chooser = new ServerHandshake<string, null>({ subprotocols: () => 'z' });
    assert.equal(chooser.agree({ protocols: ['a'], extensions: [] }, null).protocol, null);
  });

  it('an extension that throws on a malformed offer refuses with 400', () => {
    const strict = new ServerHandshake<string, null>({ extensions: [{ name: 'x', accept: () => { throw new Error('bad offer'); } }] });
    assert.equal(statusOf(() => strict.agree({ protocols: [], extensions: [{ name: 'x', params: [] }] }, null)), 400);
  });

  it('checks Origin against strings, whole-value regexps and null (no Origin)', () => {
    const allowed = (origins: string[]) => handshake.originAllowed(HttpHeaders.from(origins.map((o): [string, string] => ['Origin', o])));
    assert.equal(allowed(['https://ok.example']), true);
    assert.equal(allowed(['https://a.ok.example']), true);
    assert.equal(allowed(['https://a.ok.example.evil']), false);
    assert.equal(allowed([]), true);
    assert.equal(allowed(['https://ok.example', 'https://ok.example']), false);
    assert.equal(new ServerHandshake({ origins: ['x'] }).originAllowed(new HttpHeaders()), false);
    assert.equal(new ServerHandshake({}).originAllowed(HttpHeaders.from([['Origin', 'anything']])), true);
  });
});
