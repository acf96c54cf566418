import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteAccumulator } from '../../src/protocol/byte-accumulator.js';

describe('RFC 6455 §5.4 Fragmentation: collecting the parts of a message', () => {
  it('returns a single part as the same view, without copying', () => {
    const acc = new ByteAccumulator();
    const part = Buffer.from('only part');
    acc.append(part, 1000);
    assert.equal(acc.length, 9);
    const out = acc.take();
    assert.equal(out, part);
    assert.equal(acc.length, 0);
    assert.equal(acc.take().length, 0);
  });

  it('joins any sequence of parts in order and starts empty after take', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.uint8Array({ maxLength: 5000 }), { maxLength: 12 }), { maxLength: 3 }), (messages) => {
        const acc = new ByteAccumulator();
        for (const parts of messages) {
          const expected = Buffer.concat(parts);
          for (const p of parts) acc.append(Buffer.from(p), expected.length);
          assert.equal(acc.length, expected.length);
          assert.deepEqual(acc.take(), expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('does not let later parts overwrite a message already taken', () => {
    const acc = new ByteAccumulator();
    acc.append(Buffer.from('ab'), 100);
    acc.append(Buffer.from('cd'), 100);
    const first = acc.take();
    acc.append(Buffer.from('ef'), 100);
    acc.append(Buffer.from('gh'), 100);
    assert.equal(first.toString(), 'abcd');
    assert.equal(acc.take().toString(), 'efgh');
  });

  it('keeps a million one-byte parts in one buffer at most twice the bytes received', () => {
    const acc = new ByteAccumulator();
    const one = Buffer.from('x');
    const n = 1_000_000;
    for (let i = 0; i < n; i++) acc.append(one, 16 * n);
    const out = acc.take();
    assert.equal(out.length, n);
    assert.ok(out.buffer.byteLength <= 2 * n, `backing store of ${out.buffer.byteLength} bytes`);
    // Growth is capped by the limit.
    const capped = new ByteAccumulator();
    for (let i = 0; i < 5000; i++) capped.append(one, 5000);
    assert.equal(capped.take().buffer.byteLength, 5000);
  });
});

describe('ByteAccumulator with an exact limit (a frame of known length)', () => {
  it('sizes the first buffer for the whole frame once an eighth has arrived, else at most 8 times the bytes received', () => {
    const part = Buffer.alloc(64 * 1024, 1);
    const whole = new ByteAccumulator();
    for (let i = 0; i < 16; i++) whole.append(part, 1024 * 1024, true);
    const out = whole.take();
    assert.equal(out.length, 1024 * 1024);
    assert.equal(out.buffer.byteLength, 1024 * 1024);
    const teased = new ByteAccumulator();
    teased.append(Buffer.alloc(100), 64 * 1024 * 1024, true);
    teased.append(Buffer.alloc(100), 64 * 1024 * 1024, true);
    assert.ok(teased.take().buffer.byteLength <= 8 * 200 + 4096);
  });
});
