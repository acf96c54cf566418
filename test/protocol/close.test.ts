import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseClosePayload, serializeClosePayload } from '../../src/protocol/close.js';
import { Opcode, closeCodeName, isValidWireCloseCode } from '../../src/protocol/opcodes.js';
import { State, type Side } from '../../src/protocol/protocol.js';
import { ProtocolError } from '../../src/errors.js';
import { closesWritten, closeCodeWritten, decodeWrites, failureCode, feed, frame, open, peerOf } from './recorder.js';

const SIDES: Side[] = ['server', 'client'];

/** §7.4.1 and §7.4.2, written out independently: the codes a close frame may carry. */
function allowedOnWire(code: number): boolean {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

function closePayload(code: number, reason: Uint8Array | string = ''): Buffer {
  const reasonBytes = typeof reason === 'string' ? Buffer.from(reason) : Buffer.from(reason);
  const out = Buffer.alloc(2 + reasonBytes.length);
  out.writeUInt16BE(code, 0);
  reasonBytes.copy(out, 2);
  return out;
}

const INVALID_CODES = [
  ...Array.from({ length: 1000 }, (_, i) => i),
  1004, 1005, 1006, 1015,
  ...Array.from({ length: 2999 - 1016 + 1 }, (_, i) => 1016 + i),
  5000, 5001, 6000, 9999, 10000, 32768, 65535,
];
const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];

describe('RFC 6455 §5.5.1 Close and §7.4 Status Codes: payloads', () => {
  it('accepts exactly the codes allowed on the wire, for every 16-bit code', () => {
    for (let code = 0; code <= 0xffff; code++) {
      assert.equal(isValidWireCloseCode(code), allowedOnWire(code), `code ${code}`);
      if (allowedOnWire(code)) {
        assert.deepEqual(parseClosePayload(closePayload(code, 'why')), { code, reason: 'why' });
      } else {
        assert.throws(() => parseClosePayload(closePayload(code)), (e: unknown) => e instanceof ProtocolError && e.closeCode === 1002);
      }
    }
  });

  it('reads an empty payload as 1005 (no status) and a 1-byte payload as a protocol error', () => {
    assert.deepEqual(parseClosePayload(Buffer.alloc(0)), { code: 1005, reason: '' });
    assert.throws(() => parseClosePayload(Buffer.from([0x03])), (e: unknown) => e instanceof ProtocolError && e.closeCode === 1002);
  });

  it('rejects a reason that is not UTF-8 with 1007', () => {
    for (const bad of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x61, 0xe2, 0x82]]) {
      assert.throws(
        () => parseClosePayload(closePayload(1000, Uint8Array.from(bad))),
        (e: unknown) => e instanceof ProtocolError && e.closeCode === 1007,
      );
    }
    assert.deepEqual(parseClosePayload(closePayload(1000, 'é€😀')), { code: 1000, reason: 'é€😀' });
  });

  it('serializes codes and reasons, refusing what may not be sent', () => {
    assert.deepEqual(serializeClosePayload(1000, 'bye'), closePayload(1000, 'bye'));
    assert.deepEqual(serializeClosePayload(1005, ''), Buffer.alloc(0));
    assert.throws(() => serializeClosePayload(1005, 'reason'), TypeError);
    for (const code of [0, 999, 1004, 1006, 1015, 2000, 5000]) assert.throws(() => serializeClosePayload(code, ''), RangeError);
    assert.equal(serializeClosePayload(1000, 'x'.repeat(123)).length, 125);
    assert.throws(() => serializeClosePayload(1000, 'x'.repeat(124)), RangeError);
    assert.throws(() => serializeClosePayload(1000, 'é'.repeat(62)), RangeError);
  });

  it('names close codes', () => {
    assert.equal(closeCodeName(1000), 'OK');
    assert.equal(closeCodeName(1009), 'message too big');
    assert.equal(closeCodeName(3001), 'registered');
    assert.equal(closeCodeName(4001), 'private use');
    assert.equal(closeCodeName(2000), 'unknown');
  });
});

describe('RFC 6455 §7.1.5 and §7.4: close frames received', () => {
  for (const to of SIDES) {
    it(`a ${to} fails a close frame carrying any invalid code with 1002`, () => {
      for (const code of INVALID_CODES) {
        const { protocol, recorder } = open(to);
        feed(protocol, frame(peerOf(to), Opcode.CLOSE, closePayload(code)));
        assert.equal(failureCode(protocol), 1002, `code ${code}`);
        assert.equal(protocol.state, State.CLOSED);
        assert.equal(protocol.closeReceived, null);
        if (code % 97 === 0 || code >= 1004) assert.equal(closeCodeWritten(to, recorder), 1002, `code ${code}`);
      }
    });

    it(`a ${to} fails a close frame with a 1-byte payload with 1002`, () => {
      const { protocol, recorder } = open(to);
      feed(protocol, frame(peerOf(to), Opcode.CLOSE, Buffer.from([0x03])));
      assert.equal(failureCode(protocol), 1002);
      assert.equal(closeCodeWritten(to, recorder), 1002);
    });

    it(`a ${to} fails a close frame whose reason is not UTF-8 with 1007`, () => {
      const { protocol, recorder } = open(to);
      feed(protocol, frame(peerOf(to), Opcode.CLOSE, closePayload(1000, Uint8Array.of(0xed, 0xa0, 0x80))));
      assert.equal(failureCode(protocol), 1007);
      assert.equal(closeCodeWritten(to, recorder), 1007);
    });

    it(`a ${to} echoes every valid code it receives, with its reason, and reports the close`, () => {
      for (const code of VALID_CODES) {
        const { protocol, recorder } = open(to);
        feed(protocol, frame(peerOf(to), Opcode.CLOSE, closePayload(code, 'reason')));
        assert.equal(protocol.failure, null);
        assert.deepEqual(protocol.closeReceived, { code, reason: 'reason' });
        assert.equal(protocol.closeReceivedFirst, true);
        assert.equal(protocol.state, State.CLOSING);
        assert.deepEqual(closesWritten(to, recorder), [{ code, reason: 'reason' }]);
        assert.deepEqual(
          recorder.events.filter((e) => e.type === 'close'),
          [{ type: 'close', close: { code, reason: 'reason' } }],
        );
      }
    });

    it(`a ${to} answers a close without a status with an empty close frame`, () => {
      const { protocol, recorder } = open(to);
      feed(protocol, frame(peerOf(to), Opcode.CLOSE));
      assert.deepEqual(protocol.closeReceived, { code: 1005, reason: '' });
      const written = recorder.written();
      assert.equal(written[1]! & 0x7f, 0, 'empty close payload');
      assert.deepEqual(closesWritten(to, recorder), [{ code: 1005, reason: '' }]);
    });

    it(`a ${to} ignores everything after the close frame it received`, () => {
      const { protocol, recorder } = open(to);
      feed(
        protocol,
        Buffer.concat([
          frame(peerOf(to), Opcode.CLOSE, closePayload(1000)),
          frame(peerOf(to), Opcode.TEXT, 'after close'),
          frame(peerOf(to), Opcode.PING, 'p'),
          Buffer.from([0xff, 0xff]),
        ]),
      );
      assert.equal(protocol.failure, null);
      assert.deepEqual(recorder.messages(), []);
      assert.ok(!recorder.types().includes('ping'));
    });
  }
});

/** Wires two protocols together and runs them until neither writes anything new. */
function pair() {
  const server = open('server');
  const client = open('client');
  const delivered = { server: 0, client: 0 };
  const pump = () => {
    for (let round = 0; round < 10; round++) {
      const fromServer = server.recorder.writes.slice(delivered.server);
      const fromClient = client.recorder.writes.slice(delivered.client);
      if (fromServer.length === 0 && fromClient.length === 0) return;
      delivered.server += fromServer.length;
      delivered.client += fromClient.length;
      for (const w of fromServer) client.protocol.receiveData(Buffer.from(w));
      for (const w of fromClient) server.protocol.receiveData(Buffer.from(w));
    }
  };
  return { server, client, pump };
}

describe('RFC 6455 §7.1 Closing the Connection: the handshake', () => {
  for (const initiator of SIDES) {
    const responder = peerOf(initiator);

    it(`completes when the ${initiator} initiates: both sides see both close frames, and only the server ends the TCP connection`, () => {
      const { server, client, pump } = pair();
      const ends = { server, client };
      const first = ends[initiator];
      const second = ends[responder];
      first.protocol.sendClose(4001, 'done');
      assert.equal(first.protocol.state, State.CLOSING);
      assert.throws(() => first.protocol.sendText('too late'), { code: 'WS_INVALID_STATE' });
      assert.deepEqual(first.recorder.types(), []);
      pump();
      assert.deepEqual(second.protocol.closeReceived, { code: 4001, reason: 'done' });
      assert.deepEqual(second.protocol.closeSent, { code: 4001, reason: 'done' });
      assert.equal(second.protocol.closeReceivedFirst, true);
      assert.deepEqual(first.protocol.closeReceived, { code: 4001, reason: 'done' });
      assert.deepEqual(first.protocol.closeSent, { code: 4001, reason: 'done' });
      assert.equal(first.protocol.closeReceivedFirst, false);
      assert.equal(first.protocol.failure, null);
      assert.equal(second.protocol.failure, null);
      // §7.1.1: "the underlying TCP connection, in most normal cases, SHOULD be closed first by the server".
      assert.equal(server.recorder.types().filter((t) => t === 'end').length, 1);
      assert.ok(!client.recorder.types().includes('end'));
      assert.equal(server.recorder.writes.length, 1);
      assert.equal(client.recorder.writes.length, 1);
      // The client then sees EOF.
      client.protocol.receiveEof();
      assert.equal(client.protocol.state, State.CLOSED);
    });

    it(`completes when both sides close at the same time, the ${initiator} first`, () => {
      const { server, client, pump } = pair();
      const ends = { server, client };
      ends[initiator].protocol.sendClose(1000, 'a');
      ends[responder].protocol.sendClose(1001, 'b');
      pump();
      assert.deepEqual(ends[initiator].protocol.closeReceived, { code: 1001, reason: 'b' });
      assert.deepEqual(ends[responder].protocol.closeReceived, { code: 1000, reason: 'a' });
      assert.equal(server.recorder.writes.length, 1);
      assert.equal(client.recorder.writes.length, 1);
      assert.equal(server.recorder.types().filter((t) => t === 'end').length, 1);
      assert.ok(!client.recorder.types().includes('end'));
    });

    it(`lets the ${initiator} still receive data after sending its close frame, but not answer pings`, () => {
      const { protocol, recorder } = open(initiator);
      protocol.sendClose();
      feed(protocol, frame(responder, Opcode.TEXT, 'in flight'));
      feed(protocol, frame(responder, Opcode.PING, 'p'));
      assert.deepEqual(recorder.types(), ['message', 'ping']);
      assert.equal(decodeWrites(initiator, recorder.written()).filter((e) => e.type === 'pong').length, 0);
      protocol.sendClose(1001);
      assert.equal(closesWritten(initiator, recorder).length, 1, 'a second sendClose writes nothing');
    });
  }
});
