/**
 * Test support for the Sans-I/O core: a ProtocolHandler that records what the
 * protocol reports, helpers that build raw frames (valid or not), and a
 * decoder that reads what a Protocol wrote by feeding it to the other side.
 */
import type { ClosePayload } from '../../src/protocol/close.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { Protocol, type ProtocolHandler, type ProtocolOptions, type Side } from '../../src/protocol/protocol.js';
import { isValidWireCloseCode } from '../../src/protocol/opcodes.js';

/** One thing the protocol reported to its handler. */
export type RecordedEvent =
  | { type: 'message'; data: Buffer; binary: boolean; compressed: boolean }
  | { type: 'ping'; payload: Buffer }
  | { type: 'pong'; payload: Buffer }
  | { type: 'close'; close: ClosePayload }
  | { type: 'end' };

/** Records every callback; buffers are copied, as the protocol hands out views. */
export class Recorder implements ProtocolHandler {
  readonly events: RecordedEvent[] = [];
  readonly writes: Buffer[] = [];
  /** Each {@link onText} call as it came (the text is also recorded as a message, as its UTF-8 bytes). */
  readonly texts: Array<{ text: string; size: number }> = [];

  onWrite(data: Buffer): void {
    this.writes.push(Buffer.from(data));
  }
  onMessage(data: Buffer, binary: boolean, compressed: boolean): void {
    this.events.push({ type: 'message', data: Buffer.from(data), binary, compressed });
  }
  onText(text: string, size: number): void {
    this.texts.push({ text, size });
    this.onMessage(Buffer.from(text, 'utf8'), false, false);
  }
  onPing(payload: Buffer): void {
    this.events.push({ type: 'ping', payload: Buffer.from(payload) });
  }
  onPong(payload: Buffer): void {
    this.events.push({ type: 'pong', payload: Buffer.from(payload) });
  }
  onCloseFrame(close: ClosePayload): void {
    this.events.push({ type: 'close', close });
  }
  onEnd(): void {
    this.events.push({ type: 'end' });
  }

  /** Everything written so far, as one buffer. */
  written(): Buffer {
    return Buffer.concat(this.writes);
  }

  /** The messages received, in order. */
  messages(): Array<{ data: Buffer; binary: boolean; compressed: boolean }> {
    const out = [];
    for (const e of this.events) if (e.type === 'message') out.push({ data: e.data, binary: e.binary, compressed: e.compressed });
    return out;
  }

  /** The event types, in order (handy for asserting sequences). */
  types(): string[] {
    return this.events.map((e) => e.type);
  }
}

/** A protocol of `side` with a fresh recorder. */
export function open(side: Side, options: ProtocolOptions = {}): { protocol: Protocol; recorder: Recorder } {
  const recorder = new Recorder();
  return { protocol: new Protocol(side, recorder, options), recorder };
}

/** The mask key used for frames a test sends to a server. */
export const MASK = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

/**
 * The bytes of one frame as `from` would send it: masked when `from` is the
 * client. `payload` may be any length; use {@link header} for lying headers.
 */
export function frame(
  from: Side,
  opcode: number,
  payload: Uint8Array | string = '',
  { fin = true, rsv1 = false }: { fin?: boolean; rsv1?: boolean } = {},
): Buffer {
  return encodeFrame(opcode, payload, fin, rsv1, from === 'client' ? MASK : null);
}

/**
 * A raw frame header: first byte `b0`, then the 7-bit length field `len7`,
 * the extended length bytes `ext` verbatim, and a mask key if `masked`.
 */
export function header(b0: number, len7: number, ext: number[] = [], masked = false): Buffer {
  const bytes = [b0, (masked ? 0x80 : 0) | len7, ...ext];
  if (masked) bytes.push(...MASK);
  return Buffer.from(bytes);
}

/** `masked` for frames sent to `to`: servers receive masked frames. */
export function maskedFor(to: Side): boolean {
  return to === 'server';
}

/** Feeds `data` (copied: the protocol unmasks in place) in chunks cut at `cuts`. */
export function feed(protocol: Protocol, data: Uint8Array, cuts: number[] = []): void {
  const copy = Buffer.from(data);
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut <= at || cut >= copy.length) continue;
    protocol.receiveData(copy.subarray(at, cut));
    at = cut;
  }
  if (at < copy.length) protocol.receiveData(copy.subarray(at));
}

/** Feeds `data` one byte at a time. */
export function feedBytewise(protocol: Protocol, data: Uint8Array): void {
  const copy = Buffer.from(data);
  for (let i = 0; i < copy.length; i++) protocol.receiveData(copy.subarray(i, i + 1));
}

/**
 * Decodes what a protocol of side `writer` wrote, by feeding it to a protocol
 * of the other side, and returns that peer's events.
 */
export function decodeWrites(writer: Side, bytes: Uint8Array): RecordedEvent[] {
  const peer = open(writer === 'server' ? 'client' : 'server', { maxMessageSize: 1 << 30, maxFragments: 1 << 30 });
  feed(peer.protocol, bytes);
  assertNoFailure(peer.protocol, `decoding what the ${writer} wrote`);
  return peer.recorder.events;
}

/** The close frames (code and reason) a protocol of side `writer` wrote. */
export function closesWritten(writer: Side, recorder: Recorder): ClosePayload[] {
  const out: ClosePayload[] = [];
  for (const e of decodeWrites(writer, recorder.written())) if (e.type === 'close') out.push(e.close);
  return out;
}

/** The code of the single close frame `writer` wrote, or null when it wrote none. */
export function closeCodeWritten(writer: Side, recorder: Recorder): number | null {
  const closes = closesWritten(writer, recorder);
  if (closes.length > 1) throw new Error(`the ${writer} wrote ${closes.length} close frames`);
  return closes[0]?.code ?? null;
}

function assertNoFailure(protocol: Protocol, what: string): void {
  if (protocol.failure !== null) throw new Error(`${what}: ${protocol.failure.message}`);
}

/** Whether `code` is acceptable as the code of a failure close. */
export function isFailureCode(code: number): boolean {
  return isValidWireCloseCode(code) && code !== 1000 && code !== 1001;
}

/** The other side. */
export function peerOf(side: Side): Side {
  return side === 'server' ? 'client' : 'server';
}

/** The close code `protocol` failed with, or null (a function, so TypeScript does not narrow `failure` across calls). */
export function failureCode(protocol: Protocol): number | null {
  return protocol.failure?.closeCode ?? null;
}
