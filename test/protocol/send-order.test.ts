/**
 * The core's rules for what it sends and for inflated messages: fragment order (RFC 6455 §5.4), RSV1 on a message's
 * first frame only and only when negotiated (RFC 7692 §6, §6.1), UTF-8 of inflated text (RFC 6455 §8.1). Calls in,
 * bytes and errors out; what was written is read back by a peer protocol.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFrame } from '../../src/protocol/frame.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { State, type Side } from '../../src/protocol/protocol.js';
import { closeCodeWritten, decodeWrites, failureCode, open, peerOf } from './recorder.js';

const SIDES: Side[] = ['server', 'client'];

/** The opcode and flags of each frame a server wrote (frames under 1 KiB are one write each). */
function frameHeads(writes: Buffer[]): Array<{ opcode: number; fin: boolean; rsv1: boolean }> {
  return writes.map((w) => ({ opcode: w[0]! & 0x0f, fin: (w[0]! & 0x80) !== 0, rsv1: (w[0]! & 0x40) !== 0 }));
}

describe('RFC 6455 §5.4 Fragmentation, sending', () => {
  it('sendFragment numbers the frames: the first TEXT or BINARY, the others CONTINUATION, FIN on the last', () => {
    const { protocol, recorder } = open('server');
    protocol.sendFragment(false, 'one ', false);
    protocol.sendFragment(false, 'two ', false);
    protocol.sendFragment(false, 'three', true);
    protocol.sendFragment(true, Buffer.from([1, 2]), false);
    protocol.sendFragment(true, Buffer.from([3]), true);
    assert.deepEqual(frameHeads(recorder.writes), [
      { opcode: Opcode.TEXT, fin: false, rsv1: false },
      { opcode: Opcode.CONTINUATION, fin: false, rsv1: false },
      { opcode: Opcode.CONTINUATION, fin: true, rsv1: false },
      { opcode: Opcode.BINARY, fin: false, rsv1: false },
      { opcode: Opcode.CONTINUATION, fin: true, rsv1: false },
    ]);
    assert.equal(protocol.sendingFragments, false);
  });

  for (const side of SIDES) {
    it(`a ${side} refuses a new message inside a fragmented one, writing nothing, and sends it once the first ends`, () => {
      const { protocol, recorder } = open(side);
      protocol.sendFrame(Opcode.TEXT, 'frag', false);
      assert.equal(protocol.sendingFragments, true);
      const before = recorder.writes.length;
      assert.throws(() => protocol.sendText('interleaved'), { code: 'WS_INVALID_STATE' });
      assert.throws(() => protocol.sendBinary(Buffer.from('interleaved')), { code: 'WS_INVALID_STATE' });
      assert.throws(() => protocol.sendFrame(Opcode.BINARY, 'x', true), { code: 'WS_INVALID_STATE' });
      assert.throws(() => protocol.sendFragment(true, Buffer.from('x'), true), { code: 'WS_INVALID_STATE' });
      assert.equal(recorder.writes.length, before);
      // §5.4: "Control frames MAY be injected in the middle of a fragmented message."
      protocol.sendPing(Buffer.from('p'));
      protocol.sendFrame(Opcode.CONTINUATION, 'ment', true);
      protocol.sendText('after');
      assert.equal(protocol.state, State.OPEN);
      assert.deepEqual(decodeWrites(side, recorder.written()), [
        { type: 'ping', payload: Buffer.from('p') },
        { type: 'message', data: Buffer.from('fragment'), binary: false, compressed: false },
        { type: 'message', data: Buffer.from('after'), binary: false, compressed: false },
      ]);
    });

    it(`a ${side} refuses a continuation frame with no message to continue`, () => {
      const { protocol, recorder } = open(side);
      assert.throws(() => protocol.sendFrame(Opcode.CONTINUATION, 'x', true), { code: 'WS_INVALID_STATE' });
      protocol.sendText('whole');
      assert.throws(() => protocol.sendFrame(Opcode.CONTINUATION, 'x', false), { code: 'WS_INVALID_STATE' });
      assert.equal(decodeWrites(side, recorder.written()).length, 1);
    });
  }

  it('sendFrame sends data frames only', () => {
    const { protocol, recorder } = open('server');
    for (const opcode of [Opcode.PING, Opcode.CLOSE, 3, 11]) assert.throws(() => protocol.sendFrame(opcode, '', true), RangeError);
    assert.equal(recorder.writes.length, 0);
  });

  it('a part of the other type than the message being sent is refused', () => {
    const { protocol, recorder } = open('server');
    protocol.sendFragment(false, 'text ', false);
    assert.throws(() => protocol.sendFragment(true, Buffer.from('bytes'), true), { code: 'WS_INVALID_STATE' });
    assert.equal(recorder.writes.length, 1);
    protocol.sendFragment(false, 'end', true);
    assert.deepEqual(decodeWrites('server', recorder.written()), [
      { type: 'message', data: Buffer.from('text end'), binary: false, compressed: false },
    ]);
  });

  it('a pre-encoded frame is refused inside a fragmented message', () => {
    const { protocol, recorder } = open('server');
    protocol.sendFrame(Opcode.BINARY, Buffer.from('a'), false);
    assert.throws(() => protocol.sendEncoded(encodeFrame(Opcode.TEXT, 'broadcast')), { code: 'WS_INVALID_STATE' });
    assert.equal(recorder.writes.length, 1);
    protocol.sendFrame(Opcode.CONTINUATION, Buffer.from('b'), true);
    protocol.sendEncoded(encodeFrame(Opcode.TEXT, 'broadcast'));
    assert.equal(decodeWrites('server', recorder.written()).length, 2);
  });

  it('property: any sequence of sends either throws and writes nothing or is read back by the peer as sent', () => {
    type Step = { kind: 'text' | 'binary' | 'frame' | 'fragment' | 'ping'; opcode: number; fin: boolean; binary: boolean; data: string };
    const step = fc.record<Step>({
      kind: fc.constantFrom('text', 'binary', 'frame', 'fragment', 'ping'),
      opcode: fc.constantFrom(Opcode.CONTINUATION, Opcode.TEXT, Opcode.BINARY),
      fin: fc.boolean(),
      binary: fc.boolean(),
      data: fc.string({ maxLength: 8 }),
    });
    fc.assert(
      fc.property(fc.constantFrom<Side>('server', 'client'), fc.array(step, { maxLength: 30 }), (side, steps) => {
        const { protocol, recorder } = open(side);
        const expected: Array<{ data: string; binary: boolean }> = [];
        let building: { data: string; binary: boolean } | null = null;
        for (const s of steps) {
          const writes = recorder.writes.length;
          try {
            if (s.kind === 'text') protocol.sendText(s.data);
            else if (s.kind === 'binary') protocol.sendBinary(Buffer.from(s.data));
            else if (s.kind === 'ping') protocol.sendPing(Buffer.from(s.data));
            else if (s.kind === 'fragment') protocol.sendFragment(s.binary, s.binary ? Buffer.from(s.data) : s.data, s.fin);
            else protocol.sendFrame(s.opcode, s.data, s.fin);
          } catch (error) {
            assert.ok(error instanceof RangeError || (error as { code?: string }).code === 'WS_INVALID_STATE', String(error));
            assert.equal(recorder.writes.length, writes, 'a refused frame writes nothing');
            continue;
          }
          if (s.kind === 'ping') continue;
          const binary = s.kind === 'fragment' ? s.binary : s.kind === 'frame' ? s.opcode === Opcode.BINARY : s.kind === 'binary';
          const fin = s.kind === 'text' || s.kind === 'binary' || s.fin;
          if (building === null) building = { data: '', binary };
          building.data += s.data;
          if (fin) {
            expected.push(building);
            building = null;
          }
        }
        assert.equal(protocol.sendingFragments, building !== null);
        const received = decodeWrites(side, recorder.written()).filter((e) => e.type === 'message');
        assert.deepEqual(
          received.map((e) => (e.type === 'message' ? { data: e.data.toString(), binary: e.binary } : null)),
          expected,
        );
      }),
    );
  });
});

describe('RFC 7692 §6 and §6.1: RSV1 on the first frame of a message only', () => {
  it('RSV1 goes out on the first frame of a compressed message when the extension was negotiated', () => {
    const { protocol, recorder } = open('server', { rsv1Allowed: true });
    protocol.sendFrame(Opcode.TEXT, Buffer.from([1, 2, 3]), false, true);
    protocol.sendFrame(Opcode.CONTINUATION, Buffer.from([4]), true);
    assert.deepEqual(frameHeads(recorder.writes), [
      { opcode: Opcode.TEXT, fin: false, rsv1: true },
      { opcode: Opcode.CONTINUATION, fin: true, rsv1: false },
    ]);
  });

  for (const side of SIDES) {
    it(`a ${side} refuses RSV1 on a continuation frame, writing nothing`, () => {
      const { protocol, recorder } = open(side, { rsv1Allowed: true });
      protocol.sendFrame(Opcode.BINARY, Buffer.from([1]), false, true);
      const before = recorder.writes.length;
      assert.throws(() => protocol.sendFrame(Opcode.CONTINUATION, Buffer.from([2]), true, true), { code: 'WS_INVALID_STATE' });
      assert.equal(recorder.writes.length, before);
      assert.equal(protocol.sendingFragments, true, 'the message is still open for a valid continuation');
    });

    it(`a ${side} refuses RSV1 where no extension was negotiated`, () => {
      const { protocol, recorder } = open(side);
      assert.throws(() => protocol.sendFrame(Opcode.TEXT, 'x', true, true), { code: 'WS_INVALID_STATE' });
      assert.equal(recorder.writes.length, 0);
      assert.equal(protocol.sendingFragments, false);
    });
  }
});

describe('RFC 6455 §8.1 UTF-8 of inflated text', () => {
  for (const side of SIDES) {
    it(`a ${side} fails the connection with 1007 when an inflated text message is not UTF-8`, () => {
      const { protocol, recorder } = open(side, { rsv1Allowed: true, deferFailure: true });
      assert.equal(protocol.acceptInflated(Buffer.from('héllo'), false), true);
      assert.equal(protocol.acceptInflated(Buffer.from([0xff, 0xfe]), true), true, 'binary is not checked');
      assert.equal(recorder.writes.length, 0);
      assert.equal(protocol.acceptInflated(Buffer.from([0x68, 0xc3]), false), false);
      assert.equal(failureCode(protocol), 1007);
      assert.equal(protocol.state, State.CLOSED);
      assert.equal(closeCodeWritten(side, recorder), 1007);
      assert.equal(recorder.events.at(-1)?.type, 'end');
    });

    it(`a ${side} fails with the inflater's close code (1009 past the size limit), else 1007`, () => {
      const tooBig = open(side, { rsv1Allowed: true });
      tooBig.protocol.inflateFailed(Object.assign(new Error('message over the limit'), { closeCode: 1009 }));
      assert.equal(failureCode(tooBig.protocol), 1009);
      assert.equal(closeCodeWritten(side, tooBig.recorder), 1009);
      const corrupt = open(side, { rsv1Allowed: true });
      corrupt.protocol.inflateFailed(new Error('invalid stored block lengths'));
      assert.equal(failureCode(corrupt.protocol), 1007);
      assert.equal(closeCodeWritten(side, corrupt.recorder), 1007);
    });
  }

  it('a compressed text message with bad UTF-8 reaches the I/O layer unchecked, and is failed once inflated', () => {
    const { protocol, recorder } = open('client', { rsv1Allowed: true });
    // Not valid UTF-8 as it stands: compressed bytes are checked only once inflated.
    protocol.receiveData(encodeFrame(Opcode.TEXT, Buffer.from([0xf2, 0x48, 0xcd, 0xc9]), true, true, null));
    assert.deepEqual(recorder.messages(), [{ data: Buffer.from([0xf2, 0x48, 0xcd, 0xc9]), binary: false, compressed: true }]);
    assert.equal(protocol.failure, null);
    assert.equal(protocol.acceptInflated(Buffer.from([0xc0, 0x80]), false), false, 'an overlong encoding is not UTF-8');
    assert.equal(closeCodeWritten(peerOf('server'), recorder), 1007);
  });
});
