/**
 * A message encoded once and sent to many server-side connections (`ws.sendPrepared()`, what `broadcast()` uses).
 *
 * A server's frames are unmasked (RFC 6455 §5.1), so every connection that sends the message uncompressed writes the
 * same bytes. With permessage-deflate, a connection whose compressor resets after each message
 * (server_no_context_takeover, RFC 7692 §7.1.1.1) compresses a message into bytes that depend on the message and the
 * compressor's settings alone, so every connection sharing that compressor (`MessageCodec.shared`) writes the same
 * compressed frame too: zlib runs once per message and compressor, not once per connection.
 */
import { encodeFrame, framePayloadLength } from '../protocol/frame.js';
import { Opcode } from '../protocol/opcodes.js';
import type { MessageEncoder } from './message-codec.js';

/** What {@link PreparedMessage} takes: a string is sent as text, bytes as binary. */
export type PreparedData = string | Uint8Array | ArrayBuffer;

/**
 * One message, its frame built once for every server-side connection it is sent to. The bytes are copied into the
 * frame when it is made, so the caller may reuse its buffer at once (even while compression is still running).
 */
export class PreparedMessage {
  /** Whether the message is binary (bytes) rather than text (a string). */
  readonly binary: boolean;
  /** The message as one unmasked, uncompressed frame (header and payload). */
  readonly frame: Buffer;
  /** The payload: the text's UTF-8 bytes or the binary bytes (a view into {@link frame}). */
  readonly payload: Buffer;
  /** Compressed frames by shared compressor, made on the first connection that asks (usually one entry). */
  private compressed: Map<MessageEncoder, Promise<Buffer>> | null = null;

  constructor(data: PreparedData) {
    this.binary = typeof data !== 'string';
    const payload = typeof data === 'string' ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    this.frame = encodeFrame(this.binary ? Opcode.BINARY : Opcode.TEXT, payload);
    this.payload = this.frame.subarray(this.frame.length - framePayloadLength(this.frame.length, false));
  }

  /** Payload bytes (before compression). */
  get size(): number {
    return this.payload.length;
  }

  /**
   * The message as one frame compressed by `encoder` (RSV1 set, RFC 7692 §6), or the uncompressed {@link frame} when
   * deflate would not make it smaller. The first call per encoder starts zlib; later calls share its result.
   */
  compressedFrame(encoder: MessageEncoder): Promise<Buffer> {
    const frames = (this.compressed ??= new Map());
    let frame = frames.get(encoder);
    if (frame === undefined) {
      const opcode = this.binary ? Opcode.BINARY : Opcode.TEXT;
      frame = encoder.encode(this.payload).then((encoded) => (encoded === null ? this.frame : encodeFrame(opcode, encoded, true, true)));
      frames.set(encoder, frame);
    }
    return frame;
  }
}
