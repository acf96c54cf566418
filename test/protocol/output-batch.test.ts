/**
 * The protocol's output batch (src/protocol/frame-batch.ts): frames sent while a batch is open come out as one or a
 * few buffers holding exactly the bytes `encodeFrame` gives, in the order sent, with the minimal length encoding
 * (RFC 6455 §5.2), whatever mix of text (multi-byte included), binary, large frames and control frames is sent,
 * across arena renewals; regions handed out are never overwritten; a second protocol's batch nests as a no-op.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFrame } from '../../src/protocol/frame.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { open } from './recorder.js';

type Sent = { kind: 'text'; data: string } | { kind: 'binary'; data: Uint8Array } | { kind: 'ping'; data: Uint8Array };

const sent = fc.oneof(
  fc.record({ kind: fc.constant('text' as const), data: fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 200 }), fc.string({ unit: fc.constantFrom('a', 'é', '✓', '😀'), minLength: 38, maxLength: 130 }), fc.string({ minLength: 100, maxLength: 1500 })) }),
  fc.record({ kind: fc.constant('binary' as const), data: fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ minLength: 900, maxLength: 3000 })) }),
  fc.record({ kind: fc.constant('ping' as const), data: fc.uint8Array({ maxLength: 125 }) }),
);

function expected(items: Sent[]): Buffer {
  return Buffer.concat(
    items.map((s) => encodeFrame(s.kind === 'text' ? Opcode.TEXT : s.kind === 'binary' ? Opcode.BINARY : Opcode.PING, s.data)),
  );
}

describe('output batch', () => {
  it('writes the same bytes as encodeFrame, in order, over many batches (property)', () => {
    const { protocol, recorder } = open('server');
    fc.assert(
      fc.property(fc.array(sent, { maxLength: 40 }), (items) => {
        recorder.writes.length = 0;
        protocol.beginOutputBatch();
        for (const s of items) {
          if (s.kind === 'text') protocol.sendText(s.data);
          else if (s.kind === 'binary') protocol.sendBinary(s.data);
          else protocol.sendPing(s.data);
        }
        assert.equal(protocol.batchedBytes + recorder.writes.reduce((n, w) => n + w.length, 0), expected(items).length);
        protocol.endOutputBatch();
        assert.equal(protocol.batchedBytes, 0);
        assert.deepEqual(Buffer.concat(recorder.writes), expected(items));
      }),
      { numRuns: 300 },
    );
  });

  it('small frames of one batch are one write; a region handed out is not overwritten by later batches', () => {
    const { protocol, recorder } = open('server');
    const texts = Array.from({ length: 16 }, (_, i) => `message ${i} ${'é'.repeat(i)}`);
    // Frames of 1,000 bytes until one does not fit what is left of the arena (earlier tests used some of it) and goes
    // out on its own; the next one then starts a fresh arena, where the texts below have room.
    protocol.beginOutputBatch();
    for (let i = 0; recorder.writes.length === 0; i++) {
      assert.ok(i < 20, 'an 8 KiB arena holds at most 8 such frames');
      protocol.sendBinary(new Uint8Array(1000));
    }
    protocol.sendBinary(new Uint8Array(1000));
    protocol.endOutputBatch();
    recorder.writes.length = 0;
    protocol.beginOutputBatch();
    for (const text of texts) protocol.sendText(text);
    protocol.endOutputBatch();
    assert.equal(recorder.writes.length, 1);
    assert.deepEqual(recorder.writes[0], Buffer.concat(texts.map((text) => encodeFrame(Opcode.TEXT, text))));
    // The recorder copies; keep the region itself too.
    const { protocol: other, recorder: otherRecorder } = open('server');
    const regions: Buffer[] = [];
    const original = otherRecorder.onWrite.bind(otherRecorder);
    otherRecorder.onWrite = (data: Buffer) => {
      regions.push(data);
      original(data);
    };
    for (let batch = 0; batch < 300; batch++) {
      other.beginOutputBatch();
      other.sendBinary(new Uint8Array(100).fill(batch & 0xff));
      other.endOutputBatch();
    }
    assert.equal(regions.length, 300);
    regions.forEach((region, batch) => assert.deepEqual(region, otherRecorder.writes[batch], `batch ${batch} intact`));
  });

  it('a batch opened while another protocol holds one does nothing: frames go out one by one', () => {
    const a = open('server');
    const b = open('server');
    a.protocol.beginOutputBatch();
    b.protocol.beginOutputBatch();
    b.protocol.sendText('b1');
    b.protocol.sendText('b2');
    a.protocol.sendText('a1');
    assert.equal(b.recorder.writes.length, 2);
    assert.equal(b.protocol.batchedBytes, 0);
    assert.equal(a.protocol.batchedBytes, 4);
    b.protocol.endOutputBatch();
    a.protocol.endOutputBatch();
    assert.deepEqual(a.recorder.writes, [encodeFrame(Opcode.TEXT, 'a1')]);
  });

  it('the close frame batched goes out before the transport is ended', () => {
    const { protocol, recorder } = open('server');
    const order: string[] = [];
    recorder.onWrite = (data: Buffer) => void order.push(`write ${data[0]! & 0x0f}`);
    recorder.onEnd = () => void order.push('end');
    protocol.beginOutputBatch();
    protocol.sendText('bye');
    protocol.fail(1011, 'internal error');
    protocol.endOutputBatch();
    assert.deepEqual(order, ['write 1', 'end']);
  });
});
