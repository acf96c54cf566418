/**
 * pauseInput()/resumeInput(): the core stops parsing at the frame it is delivering and holds the rest, so that the
 * I/O layer's bound on unread messages holds within a chunk full of tiny messages (issue 16 item 1). What was
 * received before the transport's EOF (messages, a close frame) is still delivered, once input resumes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Opcode } from '../../src/protocol/opcodes.js';
import { Protocol, State } from '../../src/protocol/protocol.js';
import { feed, frame, Recorder } from './recorder.js';

/** A recorder that pauses its protocol after every `every`-th message, as a full queue does. */
class PausingRecorder extends Recorder {
  protocol!: Protocol;
  private count = 0;
  constructor(private readonly every: number) {
    super();
  }
  override onMessage(data: Buffer, binary: boolean, compressed: boolean): void {
    super.onMessage(data, binary, compressed);
    if (++this.count % this.every === 0) this.protocol.pauseInput();
  }
}

function pausing(every: number): { protocol: Protocol; recorder: PausingRecorder } {
  const recorder = new PausingRecorder(every);
  recorder.protocol = new Protocol('server', recorder);
  return { protocol: recorder.protocol, recorder };
}

const texts = (n: number, prefix = 'm'): Buffer => Buffer.concat(Array.from({ length: n }, (_, i) => frame('client', Opcode.TEXT, `${prefix}${i}`)));
const received = (recorder: Recorder): string[] => recorder.messages().map((m) => m.data.toString());

describe('pauseInput and resumeInput', () => {
  it('a chunk of 1,000 messages stops at the message that paused; the rest is held and parsed on resume', () => {
    const { protocol, recorder } = pausing(16);
    feed(protocol, texts(1000));
    assert.equal(recorder.messages().length, 16);
    assert.ok(protocol.holdsInput);
    let rounds = 0;
    while (protocol.holdsInput) {
      protocol.resumeInput();
      rounds++;
    }
    assert.equal(rounds, Math.ceil(1000 / 16) - 1);
    assert.deepEqual(received(recorder), Array.from({ length: 1000 }, (_, i) => `m${i}`));
  });

  it('bytes given while paused are held after the rest, in order', () => {
    const { protocol, recorder } = pausing(2);
    feed(protocol, texts(3, 'a'));
    feed(protocol, texts(3, 'b'));
    assert.deepEqual(received(recorder), ['a0', 'a1']);
    while (protocol.holdsInput) protocol.resumeInput();
    assert.deepEqual(received(recorder), ['a0', 'a1', 'a2', 'b0', 'b1', 'b2']);
  });

  it('an EOF while input is held waits for it: the messages and the close frame before the FIN are not lost', () => {
    const { protocol, recorder } = pausing(4);
    const close = frame('client', Opcode.CLOSE, Buffer.from([0x0f, 0xa0])); // 4000
    feed(protocol, Buffer.concat([texts(10), close]));
    protocol.receiveEof();
    assert.equal(protocol.state, State.OPEN, 'the EOF is not applied before the held input');
    assert.ok(!recorder.types().includes('end'));
    while (protocol.holdsInput) protocol.resumeInput();
    protocol.resumeInput();
    assert.equal(received(recorder).length, 10);
    assert.equal(protocol.closeReceived?.code, 4000);
    assert.equal(protocol.state, State.CLOSED);
    // The close is echoed and the transport ended once (the server closes TCP first, §7.1.1).
    assert.deepEqual(recorder.types().filter((t) => t !== 'message'), ['end', 'close']);
  });

  it('an EOF while paused with nothing held applies at once', () => {
    const { protocol, recorder } = pausing(1);
    feed(protocol, texts(1));
    assert.ok(!protocol.holdsInput);
    protocol.receiveEof();
    assert.equal(protocol.state, State.CLOSED);
    assert.equal(recorder.types().at(-1), 'end');
  });

  it('discardInput drops what is held and applies a pending EOF (the connection is being dropped)', () => {
    const { protocol, recorder } = pausing(1);
    feed(protocol, texts(5));
    protocol.receiveEof();
    protocol.discardInput();
    assert.equal(received(recorder).length, 1);
    assert.equal(protocol.state, State.CLOSED);
    assert.equal(recorder.types().at(-1), 'end');
  });

  it('a failure drops held input', () => {
    const { protocol, recorder } = pausing(1);
    feed(protocol, texts(5));
    protocol.fail(1011, 'going');
    assert.ok(!protocol.holdsInput);
    protocol.resumeInput();
    assert.equal(received(recorder).length, 1);
  });

  it('property: any chunking and any pause interval deliver the same events as parsing straight through', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(Opcode.TEXT, Opcode.BINARY, Opcode.PING), fc.string({ maxLength: 30 })), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(2000), { maxLength: 8 }),
        fc.integer({ min: 1, max: 5 }),
        (frames, cuts, every) => {
          const bytes = Buffer.concat(frames.map(([opcode, text]) => frame('client', opcode, text)));
          const straight = pausing(Number.MAX_SAFE_INTEGER);
          feed(straight.protocol, bytes);
          const paused = pausing(every);
          feed(paused.protocol, bytes, cuts);
          paused.protocol.receiveEof();
          while (paused.protocol.holdsInput) paused.protocol.resumeInput();
          paused.protocol.resumeInput();
          straight.protocol.receiveEof();
          assert.deepEqual(paused.recorder.events, straight.recorder.events);
        },
      ),
      { numRuns: 300 },
    );
  });
});
