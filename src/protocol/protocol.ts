import { ByteAccumulator } from './byte-accumulator.js';
import { parseClosePayload, serializeClosePayload, type ClosePayload } from './close.js';
import { appendFrame, batchedBytes, beginBatch, endBatch, takeBatch } from './frame-batch.js';
import { encodeFrame, frameHeaderLength, frameHeaderSize, MaskKeySource, readPayloadLength, writeFrameHeader } from './frame.js';
import { applyMask, unmaskRangeOr } from './mask.js';
import { Opcode } from './opcodes.js';
import { decodeAscii, decodeUtf8, isValidUtf8, Utf8Validator } from './utf8.js';
import { InvalidState, PayloadTooBig, ProtocolError } from '../errors.js';
import { withBit } from './bits.js';

/** Which end of the connection this is. Clients mask their frames; servers must not. */
export type Side = 'server' | 'client';

/** Connection states, numbered like the browser's `readyState`. */
export const State = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
/** One of {@link State}'s values. */
export type State = (typeof State)[keyof typeof State];

/** What the protocol reports to, and asks of, the layer that does I/O. */
export interface ProtocolHandler {
  /** Bytes to write to the transport, in order. */
  onWrite(data: Buffer): void;
  /**
   * A complete binary message, or a compressed one (text or binary): a compressed message is inflated by the I/O
   * layer and handed back to {@link Protocol.acceptInflated}, which checks its text.
   */
  onMessage(data: Buffer, binary: boolean, compressed: boolean): void;
  /** A complete uncompressed text message, validated as UTF-8 and decoded; `size` is its length in bytes. */
  onText(text: string, size: number): void;
  /** A ping arrived (the pong is already written). */
  onPing(payload: Buffer): void;
  /** A pong arrived. */
  onPong(payload: Buffer): void;
  /** The peer's close frame arrived (the echo, if due, is already written). */
  onCloseFrame(close: ClosePayload): void;
  /** The transport should be closed now: the handshake is complete or the connection failed. */
  onEnd(): void;
  /**
   * With {@link ProtocolOptions.deferFailure}: received data broke the protocol. Reading has stopped; every message
   * complete before the error was delivered; {@link Protocol.pendingFailure} says why. Call
   * {@link Protocol.failPending} once those messages are handled.
   */
  onFailurePending?(): void;
}

/** Limits and negotiated features of one connection. */
export interface ProtocolOptions {
  /** Largest message accepted, in bytes (after decompression, checked by the layer that inflates). */
  maxMessageSize?: number;
  /**
   * The fragment budget of a message: it may be split into this many frames, plus one per
   * {@link FRAGMENT_BYTES} bytes of payload received before each frame. A large message may arrive in many
   * reasonable fragments (4 MiB in 65,536 frames of 64 bytes); a flood of empty or tiny ones, which costs a frame
   * header each and grows the message by little or nothing, is refused after about this many frames with 1008.
   * Default {@link DEFAULT_MAX_FRAGMENTS}.
   */
  maxFragments?: number;
  /** Whether RSV1 may be set on the first frame of a message (permessage-deflate negotiated). */
  rsv1Allowed?: boolean;
  /**
   * An error in received data stops reading at once but fails the connection only when the I/O layer calls
   * {@link Protocol.failPending} (it is told by {@link ProtocolHandler.onFailurePending}): the application can
   * handle the messages that were complete before the error, which a peer may expect answers to. Default false:
   * the connection fails at once.
   */
  deferFailure?: boolean;
}

/** Default limit on a message's size: 1 MiB, as Python websockets. */
export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;
/** Default base of the fragment budget of one message (see {@link ProtocolOptions.maxFragments}). */
export const DEFAULT_MAX_FRAGMENTS = 16384;
/** A message earns one more frame in its fragment budget for every this many bytes of payload. */
export const FRAGMENT_BYTES = 16;

/**
 * Single-frame text shorter than this is unmasked and checked for ASCII in one pass over the received chunk; longer
 * text goes through the word-wise (or SIMD) unmask and the native UTF-8 check, which are faster per byte.
 */
const SHORT_TEXT = 256;
const EMPTY = Buffer.alloc(0);
// Bits of Protocol.flags.
const F_CLOSE_RECEIVED_FIRST = 1;
const F_INPUT_DONE = 2;
const F_INPUT_PAUSED = 4;
const F_EOF_PENDING = 8;
const F_END_REQUESTED = 16;
const F_FIN = 32;
const F_RSV1 = 64;
const F_MASKED = 128;
const F_MESSAGE_COMPRESSED = 256;
const F_VALIDATING_TEXT = 512;
/** Two bits of Protocol.flags each: the opcode (TEXT 1, BINARY 2; 0 for none) of a message received and one sent in fragments. */
const MESSAGE_OPCODE_SHIFT = 10;
const SENDING_OPCODE_SHIFT = 12;
const OPCODE_BITS = 3;
/** Set while the payload of a frame is being parsed (clear: its header). */
const F_IN_PAYLOAD = 1 << 14;
/** Four bits of Protocol.flags: the opcode of the frame being parsed. */
const FRAME_OPCODE_SHIFT = 15;
/** Below this size a server frame is sent as one buffer (copy) rather than header + payload. */
const COPY_THRESHOLD = 1024;

/**
 * The Sans-I/O WebSocket protocol after the opening handshake: bytes in via
 * {@link receiveData}, messages and bytes out through a {@link ProtocolHandler}.
 * It answers pings, echoes close frames and fails the connection on any
 * violation of RFC 6455 by itself, so the I/O layer cannot get those wrong.
 * It never throws on remote input.
 */
export class Protocol {
  /** OPEN, CLOSING once a close frame was sent or received, CLOSED after EOF or failure. */
  state: State = State.OPEN;
  /** The protocol error this connection was failed with, if any. */
  failure: ProtocolError | null = null;
  /** With `deferFailure`: the error found in received data, not yet acted on (see {@link failPending}). */
  pendingFailure: ClosePayload | null = null;

  private readonly handler: ProtocolHandler;
  /** Limits and negotiated features, shared by the connections made with the same options. */
  private readonly settings: ProtocolSettings;
  private readonly maskKeys: MaskKeySource | null;
  /**
   * The boolean state below as bits of one small integer, not a field each (memory per idle connection: the
   * protocol object of every connection, copied by each young-generation GC while connections are set up).
   */
  private flags = 0;
  /**
   * What few connections need (see {@link ProtocolExtras}: the closing handshake, a failure, input held, a header
   * split across chunks, a frame or a message in pieces), made on first use (memory per idle connection).
   */
  private extras: ProtocolExtras | null = null;

  /**
   * The frame's masking key, big-endian, as a signed 32-bit integer (copied into a shared scratch array to unmask):
   * unsigned, keys of 2^31 and up would not be small integers, and V8 would box the field in a heap number.
   */
  private maskWord = 0;
  private payloadLength = 0;
  private payloadReceived = 0;

  constructor(side: Side, handler: ProtocolHandler, options: ProtocolOptions = {}) {
    this.handler = handler;
    this.settings = settingsFor(options);
    // RFC 6455 §5.1: clients MUST mask every frame, servers MUST NOT (a server has no mask keys: see parseHeader).
    this.maskKeys = side === 'client' ? new MaskKeySource() : null;
  }

  /** Which end this is: the client, the side with mask keys (RFC 6455 §5.1). */
  get side(): Side {
    return this.maskKeys === null ? 'server' : 'client';
  }

  /** Whether the peer's close frame arrived before ours was sent. */
  get closeReceivedFirst(): boolean {
    return (this.flags & F_CLOSE_RECEIVED_FIRST) !== 0;
  }

  set closeReceivedFirst(value: boolean) {
    this.flags = withBit(this.flags, F_CLOSE_RECEIVED_FIRST, value);
  }

  /** Nothing more is parsed: a close frame arrived, the transport ended, or the connection failed. */
  private get inputDone(): boolean {
    return (this.flags & F_INPUT_DONE) !== 0;
  }

  private set inputDone(value: boolean) {
    this.flags = withBit(this.flags, F_INPUT_DONE, value);
  }

  /** Parsing is paused (see {@link pauseInput}); `held` is what was received and not parsed yet. */
  private get inputPaused(): boolean {
    return (this.flags & F_INPUT_PAUSED) !== 0;
  }

  private set inputPaused(value: boolean) {
    this.flags = withBit(this.flags, F_INPUT_PAUSED, value);
  }

  /** The transport's EOF came while input was held: it takes effect once that input is parsed. */
  private get eofPending(): boolean {
    return (this.flags & F_EOF_PENDING) !== 0;
  }

  private set eofPending(value: boolean) {
    this.flags = withBit(this.flags, F_EOF_PENDING, value);
  }

  /** `onEnd` was called: the transport is being closed. */
  private get endRequested(): boolean {
    return (this.flags & F_END_REQUESTED) !== 0;
  }

  private set endRequested(value: boolean) {
    this.flags = withBit(this.flags, F_END_REQUESTED, value);
  }

  /** The FIN bit of the frame being parsed. */
  private get fin(): boolean {
    return (this.flags & F_FIN) !== 0;
  }

  private set fin(value: boolean) {
    this.flags = withBit(this.flags, F_FIN, value);
  }

  /** The RSV1 bit of the frame being parsed. */
  private get rsv1(): boolean {
    return (this.flags & F_RSV1) !== 0;
  }

  private set rsv1(value: boolean) {
    this.flags = withBit(this.flags, F_RSV1, value);
  }

  /** Whether the frame being parsed is masked. */
  private get masked(): boolean {
    return (this.flags & F_MASKED) !== 0;
  }

  private set masked(value: boolean) {
    this.flags = withBit(this.flags, F_MASKED, value);
  }

  /** The message being received in fragments is compressed. */
  private get messageCompressed(): boolean {
    return (this.flags & F_MESSAGE_COMPRESSED) !== 0;
  }

  private set messageCompressed(value: boolean) {
    this.flags = withBit(this.flags, F_MESSAGE_COMPRESSED, value);
  }

  /** The frame being parsed is text checked as UTF-8 as it arrives. */
  private get validatingText(): boolean {
    return (this.flags & F_VALIDATING_TEXT) !== 0;
  }

  private set validatingText(value: boolean) {
    this.flags = withBit(this.flags, F_VALIDATING_TEXT, value);
  }

  private get utf8(): Utf8Validator {
    const extras = this.more;
    return (extras.utf8Validator ??= new Utf8Validator());
  }

  /** {@link extras}, made now if it was not. */
  private get more(): ProtocolExtras {
    return (this.extras ??= new ProtocolExtras());
  }

  /** Keeps `chunk` unparsed while input is paused, after what was held before. */
  private hold(chunk: Buffer): void {
    const extras = this.more;
    (extras.held ??= []).push(chunk);
  }

  /** The close frame received, if any. */
  get closeReceived(): ClosePayload | null {
    return this.extras === null ? null : this.extras.closeReceived;
  }

  set closeReceived(close: ClosePayload | null) {
    if (close !== null || this.extras !== null) this.more.closeReceived = close;
  }

  /** The close frame sent, if any. */
  get closeSent(): ClosePayload | null {
    return this.extras === null ? null : this.extras.closeSent;
  }

  set closeSent(close: ClosePayload | null) {
    if (close !== null || this.extras !== null) this.more.closeSent = close;
  }

  /** Whether received bytes are held unparsed (input paused); the transport's EOF waits for them. */
  get holdsInput(): boolean {
    return this.extras !== null && this.extras.held !== null;
  }

  /** TEXT or BINARY while a fragmented message is being received, 0 between messages. */
  private get messageOpcode(): number {
    return (this.flags >> MESSAGE_OPCODE_SHIFT) & OPCODE_BITS;
  }

  private set messageOpcode(opcode: number) {
    this.flags = (this.flags & ~(OPCODE_BITS << MESSAGE_OPCODE_SHIFT)) | (opcode << MESSAGE_OPCODE_SHIFT);
  }

  /** TEXT or BINARY while the frames of a fragmented message are being sent, 0 between messages. */
  private get sendingOpcode(): number {
    return (this.flags >> SENDING_OPCODE_SHIFT) & OPCODE_BITS;
  }

  private set sendingOpcode(opcode: number) {
    this.flags = (this.flags & ~(OPCODE_BITS << SENDING_OPCODE_SHIFT)) | (opcode << SENDING_OPCODE_SHIFT);
  }

  /** Largest message accepted, in bytes. */
  get messageSizeLimit(): number {
    return this.settings.maxMessageSize;
  }

  // ---- input ---------------------------------------------------------------

  /**
   * Stops parsing after the frame being delivered: the rest of the current
   * chunk, and whatever {@link receiveData} is given until
   * {@link resumeInput}, is held unparsed. The I/O layer pauses when its
   * reader falls behind and stops reading from the transport at the same
   * time, so a chunk full of tiny messages does not turn into thousands of
   * queued messages (or decompression jobs) at once: what is held is bounded
   * by what was read before the transport was paused.
   */
  pauseInput(): void {
    if (!this.inputDone) this.inputPaused = true;
  }

  /** Parses what was held, until paused again; then applies an EOF that came meanwhile. */
  resumeInput(): void {
    if (!this.inputPaused) return;
    this.inputPaused = false;
    const extras = this.extras;
    const held = extras === null ? null : extras.held;
    if (held !== null) extras!.held = null;
    // A chunk given while paused again is held after the rest of the one that paused: order is kept.
    if (held !== null) for (const chunk of held) this.receiveData(chunk);
    if (this.eofPending && !this.holdsInput && !this.inputPaused) {
      this.eofPending = false;
      this.receiveEof();
    }
  }

  /** Drops input held unparsed (the connection is being dropped), so that a pending EOF takes effect. */
  discardInput(): void {
    if (this.extras !== null) this.extras.held = null;
    this.inputPaused = false;
    if (this.eofPending) {
      this.eofPending = false;
      this.receiveEof();
    }
  }

  /** Feeds bytes received from the transport. Buffers passed in may be unmasked in place. */
  receiveData(chunk: Buffer): void {
    if (this.inputPaused) {
      if (!this.inputDone) this.hold(chunk);
      return;
    }
    const length = chunk.length;
    let pos = 0;
    while (pos < length && !this.inputDone) {
      if (this.inputPaused) {
        this.hold(chunk.subarray(pos));
        return;
      }
      if ((this.flags & F_IN_PAYLOAD) === 0) {
        let header: Uint8Array;
        let at: number;
        const extras = this.extras;
        if ((extras === null || extras.headerHave === 0) && length - pos >= 2 && length - pos >= frameHeaderSize(chunk[pos + 1]!)) {
          header = chunk;
          at = pos;
          pos += frameHeaderSize(chunk[pos + 1]!);
        } else {
          const split = this.more;
          const buffer = (split.headerBuffer ??= Buffer.allocUnsafe(14));
          while (split.headerHave < 2 && pos < length) buffer[split.headerHave++] = chunk[pos++]!;
          if (split.headerHave < 2) return;
          const needed = frameHeaderSize(buffer[1]!);
          while (split.headerHave < needed && pos < length) buffer[split.headerHave++] = chunk[pos++]!;
          if (split.headerHave < needed) return;
          split.headerHave = 0;
          header = buffer;
          at = 0;
        }
        if (!this.parseHeader(header, at)) return;
        if (this.payloadLength === 0) {
          this.frameComplete(EMPTY, true);
          continue;
        }
        this.flags |= F_IN_PAYLOAD;
        this.payloadReceived = 0;
        continue;
      }
      const remaining = this.payloadLength - this.payloadReceived;
      const available = length - pos;
      if (this.payloadReceived === 0 && available >= remaining) {
        const start = pos;
        pos += remaining;
        this.flags &= ~F_IN_PAYLOAD;
        if (remaining < SHORT_TEXT && ((this.flags >> FRAME_OPCODE_SHIFT) & 0xf) === Opcode.TEXT && this.fin && !this.rsv1) {
          // The chat-sized message: ASCII text needs no UTF-8 check (§8.1) and decodes a byte per character, from
          // where it lies in the chunk.
          if (unmaskRangeOr(chunk, start, pos, this.masked ? this.maskWord : 0) < 0x80) {
            this.handler.onText(decodeAscii(chunk, start, pos), remaining);
            continue;
          }
          this.frameComplete(chunk.subarray(start, pos), true);
          continue;
        }
        const payload = chunk.subarray(start, pos);
        if (this.masked) applyMask(payload, maskKeyOf(this.maskWord), 0);
        this.frameComplete(payload, true);
      } else {
        const take = available < remaining ? available : remaining;
        const part = chunk.subarray(pos, pos + take);
        pos += take;
        // Each part is unmasked as it arrives, while the socket's read has left it in the CPU cache, before it is
        // copied into the frame: one pass over the frame less at its end.
        if (this.masked) applyMask(part, maskKeyOf(this.maskWord), this.payloadReceived);
        // RFC 6455 §8.1 (text is UTF-8, else 1007), failing fast: an invalid byte is reported when it arrives, not at
        // the end of the frame.
        if (this.validatingText && !this.utf8.push(part)) {
          this.failInput(1007, 'invalid UTF-8 in text message');
          return;
        }
        const frameParts = (this.more.frameParts ??= new ByteAccumulator());
        frameParts.append(part, this.payloadLength, true);
        this.payloadReceived += take;
        if (this.payloadReceived === this.payloadLength) {
          this.flags &= ~F_IN_PAYLOAD;
          this.frameComplete(frameParts.take(), false);
        }
      }
    }
  }

  /**
   * Reports that the peer closed its side of the transport (TCP FIN or reset).
   * Nothing can follow, a close frame included: the WebSocket connection is
   * closed (RFC 6455 §7.1.5: "_The WebSocket Connection Close Code_ is
   * considered to be 1006" when no close frame arrived), and the I/O layer is
   * asked to close its side too (`onEnd`), whether or not its transport would
   * do so by itself: an `http.Server` keeps half-open sockets.
   */
  receiveEof(): void {
    // Bytes that came before the EOF (messages, a close frame) are parsed first, when input resumes.
    if (this.holdsInput) {
      this.eofPending = true;
      return;
    }
    this.inputDone = true;
    this.state = State.CLOSED;
    // The transport is gone before the pending failure was acted on: it is still why the connection ended.
    const pending = this.pendingFailure;
    if (pending !== null && this.failure === null) this.failure = failureError(pending.code, pending.reason);
    this.pendingFailure = null;
    this.end();
  }

  /** Asks the I/O layer to close the transport, once. */
  private end(): void {
    if (this.endRequested) return;
    this.endRequested = true;
    // Frames batched so far (our close frame, say) go before the end of the transport.
    this.flushOutputBatch();
    this.handler.onEnd();
  }

  /**
   * Received data broke the protocol (RFC 6455 §7.1.7 "Fail the WebSocket Connection"): fails the connection now,
   * or, with `deferFailure`, stops reading and leaves the failure to {@link failPending}.
   */
  private failInput(code: number, reason: string): false {
    if (!this.settings.deferFailure) return this.fail(code, reason);
    if (this.inputDone) return false;
    this.inputDone = true;
    this.pendingFailure = { code, reason };
    this.handler.onFailurePending?.();
    return false;
  }

  /** Fails the connection with the {@link pendingFailure}, if there is one. */
  failPending(): void {
    const pending = this.pendingFailure;
    if (pending === null) return;
    this.pendingFailure = null;
    this.fail(pending.code, pending.reason);
  }

  /** Returns false (after failing the connection) if the header is not acceptable. */
  private parseHeader(header: Uint8Array, at: number): boolean {
    const b0 = header[at]!;
    const b1 = header[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const lengthCode = b1 & 0x7f;
    // The common 7-bit length is read here; the 16- and 64-bit ones by the shared reader.
    const length = lengthCode < 126 ? lengthCode : readPayloadLength(header, at);

    // RFC 6455 §5.2: "MUST be 0 unless an extension is negotiated that defines meanings for non-zero values".
    if ((b0 & 0x30) !== 0) return this.failInput(1002, 'reserved bits RSV2/RSV3 set');
    if (opcode >= 8) {
      if (opcode > Opcode.PONG) return this.failInput(1002, `reserved opcode ${opcode}`);
      // §5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST NOT be fragmented."
      if (!fin) return this.failInput(1002, 'fragmented control frame');
      if (length > 125) return this.failInput(1002, 'control frame payload over 125 bytes');
      if (rsv1) return this.failInput(1002, 'RSV1 set on a control frame');
    } else if (opcode > Opcode.BINARY) {
      return this.failInput(1002, `reserved opcode ${opcode}`);
    } else if (opcode === Opcode.CONTINUATION) {
      // §5.4: a message is "a single frame with the FIN bit clear and an opcode other than 0, followed by zero or more
      // frames with the FIN bit clear and the opcode set to 0, and terminated by a single frame with the FIN bit set
      // and an opcode of 0".
      if (this.messageOpcode === 0) return this.failInput(1002, 'continuation frame with no message to continue');
      // RFC 7692 §6: "An endpoint MUST NOT set the 'Per-Message Compressed' bit of ... non-first fragments of a data
      // message. An endpoint receiving such a frame MUST _Fail the WebSocket Connection_."
      if (rsv1) return this.failInput(1002, 'RSV1 set on a continuation frame');
    } else {
      // §5.4: "the fragments of one message MUST NOT be interleaved between the fragments of another message".
      if (this.messageOpcode !== 0) return this.failInput(1002, 'new message started inside a fragmented message');
      if (rsv1 && !this.settings.rsv1Allowed) return this.failInput(1002, 'RSV1 set without a negotiated extension');
    }
    // Received frames are masked exactly when this side is the server, the side with no mask keys of its own.
    if (masked !== (this.maskKeys === null)) {
      return this.failInput(1002, masked ? 'server frames must not be masked' : 'client frames must be masked');
    }
    if (lengthCode === 126) {
      // §5.2: "the minimal number of bytes MUST be used to encode the length".
      if (length < 126) return this.failInput(1002, 'non-minimal 16-bit payload length');
    } else if (lengthCode === 127) {
      if (length < 0) return this.failInput(1002, 'payload length with the most significant bit set');
      if (length < 65536) return this.failInput(1002, 'non-minimal 64-bit payload length');
    }
    if (masked) {
      const next = at + (lengthCode < 126 ? 2 : lengthCode === 126 ? 4 : 10);
      this.maskWord = (header[next]! << 24) | (header[next + 1]! << 16) | (header[next + 2]! << 8) | header[next + 3]!;
    }

    if (opcode < 8) {
      // Limits are enforced from the header, before a byte of the payload is buffered.
      // A compressed message's size limit applies once inflated (the codec checks it); its wire size may exceed
      // it by what deflate adds to incompressible data (peers compress everything), and no more.
      const parts = opcode === Opcode.CONTINUATION ? this.more.messageParts : null;
      const soFar = parts !== null ? parts.length : 0;
      const compressed = opcode === Opcode.CONTINUATION ? this.messageCompressed : rsv1;
      const settings = this.settings;
      if (soFar + length > (compressed ? settings.maxCompressedSize : settings.maxMessageSize)) {
        return this.failInput(1009, `message of over ${soFar + length} bytes exceeds the limit of ${settings.maxMessageSize}`);
      }
      if (opcode === Opcode.CONTINUATION) {
        // The budget grows with the payload received: frames that carry data pay their way, empty or tiny ones
        // do not. §7.4.1: 1008 "a message that violates its policy" (1009 is about size, and the size is fine).
        const fragments = ++this.more.messageFragments;
        if (fragments > settings.maxFragments + Math.floor(soFar / FRAGMENT_BYTES)) {
          return this.failInput(1008, `message split into ${fragments} frames for ${soFar} bytes (limit ${settings.maxFragments} + 1 per ${FRAGMENT_BYTES} bytes)`);
        }
        this.validatingText = this.messageOpcode === Opcode.TEXT && !this.messageCompressed;
      } else {
        this.validatingText = opcode === Opcode.TEXT && !rsv1;
      }
    } else {
      // A control frame's payload is not message text, even between the fragments of a text message.
      this.validatingText = false;
    }
    this.fin = fin;
    this.flags = (this.flags & ~(0xf << FRAME_OPCODE_SHIFT)) | (opcode << FRAME_OPCODE_SHIFT);
    this.rsv1 = rsv1;
    this.masked = masked;
    this.payloadLength = length;
    return true;
  }

  /** `whole` is true when the payload arrived in one piece (and was not yet UTF-8 checked). */
  private frameComplete(payload: Buffer, whole: boolean): void {
    const opcode = (this.flags >> FRAME_OPCODE_SHIFT) & 0xf;
    if (opcode >= 8) {
      this.controlFrame(opcode, payload);
      return;
    }
    if (opcode !== Opcode.CONTINUATION && this.fin) {
      // A single-frame message: the common case, binary delivered as a view with no copy. §8.1: its text is UTF-8.
      if (this.validatingText) {
        if (whole ? !isValidUtf8(payload) : !this.utf8.end()) {
          this.failInput(1007, 'invalid UTF-8 in text message');
          return;
        }
        this.handler.onText(decodeUtf8(payload, 0, payload.length), payload.length);
        return;
      }
      this.handler.onMessage(payload, opcode === Opcode.BINARY, this.rsv1);
      return;
    }
    if (this.validatingText && whole && !this.utf8.push(payload)) {
      this.failInput(1007, 'invalid UTF-8 in text message');
      return;
    }
    // A message in fragments (§5.4).
    const extras = this.more;
    if (opcode !== Opcode.CONTINUATION) {
      this.messageOpcode = opcode;
      this.messageCompressed = this.rsv1;
      extras.messageFragments = 1;
    }
    if (payload.length > 0) (extras.messageParts ??= new ByteAccumulator()).append(payload, this.settings.maxMessageSize);
    if (!this.fin) return;
    if (this.validatingText && !this.utf8.end()) {
      this.failInput(1007, 'invalid UTF-8 in text message');
      return;
    }
    const binary = this.messageOpcode === Opcode.BINARY;
    const compressed = this.messageCompressed;
    this.messageOpcode = 0;
    this.messageCompressed = false;
    extras.messageFragments = 0;
    const message = extras.messageParts?.take() ?? EMPTY;
    if (binary || compressed) this.handler.onMessage(message, binary, compressed);
    else this.handler.onText(decodeUtf8(message, 0, message.length), message.length);
  }

  private controlFrame(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.PING) {
      // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response".
      if (this.state === State.OPEN) this.writeFrame(Opcode.PONG, payload, true, false);
      this.handler.onPing(payload);
    } else if (opcode === Opcode.PONG) {
      this.handler.onPong(payload);
    } else {
      let close: ClosePayload;
      try {
        close = parseClosePayload(payload);
      } catch (error) {
        const failure = error as ProtocolError;
        this.failInput(failure.closeCode, failure.message);
        return;
      }
      this.inputDone = true;
      this.closeReceived = close;
      if (this.closeSent === null) {
        this.closeReceivedFirst = true;
        // §5.5.1: the endpoint "MUST send a Close frame in response. (When sending a Close frame in response, the
        // endpoint typically echos the status code it received.)" The reason is echoed too, as ws, Python websockets
        // and libwebsockets do: it fits (it arrived in a control frame) and tells the peer what was agreed to.
        this.sendClose(close.code, close.reason);
      } else {
        this.state = State.CLOSING;
        // §7.1.1: the server closes the TCP connection first.
        if (this.side === 'server') this.end();
      }
      this.handler.onCloseFrame(close);
    }
  }

  /**
   * A compressed message ({@link ProtocolHandler.onMessage} with `compressed`) as the I/O layer inflated it: text is
   * checked as UTF-8 here, as uncompressed text is while it is parsed. Returns false after failing the connection
   * with 1007 if it is not valid.
   */
  acceptInflated(data: Uint8Array, binary: boolean): boolean {
    // RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that the byte stream is not,
    // in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_." (1007, §7.4.1).
    if (binary || isValidUtf8(data)) return true;
    return this.fail(1007, 'invalid UTF-8 in text message');
  }

  /**
   * The I/O layer could not inflate a compressed message: fails the connection with the error's close code (1009
   * from a size limit), else 1007, the data not being consistent with the message (RFC 6455 §7.4.1).
   */
  inflateFailed(error: { closeCode?: number; message: string }): void {
    this.fail(error.closeCode ?? 1007, error.message);
  }

  // ---- output --------------------------------------------------------------

  /** Sends a text message. */
  sendText(data: string | Uint8Array): void {
    this.checkOpen();
    if (this.sendingOpcode !== 0) this.checkDataFrame(Opcode.TEXT, true, false); // throws: see there
    this.writeFrame(Opcode.TEXT, data, true, false);
  }

  /** Sends a binary message. */
  sendBinary(data: Uint8Array): void {
    this.checkOpen();
    if (this.sendingOpcode !== 0) this.checkDataFrame(Opcode.BINARY, true, false); // throws: see there
    this.writeFrame(Opcode.BINARY, data, true, false);
  }

  /**
   * Sends one data frame: TEXT or BINARY starts a message, CONTINUATION continues the one `fin` has not ended,
   * `rsv1` marks a compressed message (permessage-deflate negotiated, first frame only). Frames out of that order
   * throw {@link InvalidState} and are not sent.
   */
  sendFrame(opcode: number, data: string | Uint8Array, fin: boolean, rsv1 = false): void {
    this.checkOpen();
    this.checkDataFrame(opcode, fin, rsv1);
    this.writeFrame(opcode, data, fin, rsv1);
  }

  /**
   * Sends the next frame of a message given in parts: the first as TEXT or BINARY, the others as CONTINUATION; `fin`
   * ends the message. A part of the other type than the message's first throws {@link InvalidState}.
   */
  sendFragment(binary: boolean, data: string | Uint8Array, fin: boolean): void {
    const opcode = binary ? Opcode.BINARY : Opcode.TEXT;
    if (this.sendingOpcode === 0) {
      this.sendFrame(opcode, data, fin);
      return;
    }
    // RFC 6455 §5.4: a fragmented message's type is its first frame's; the others are continuation frames.
    if (opcode !== this.sendingOpcode) throw new InvalidState("a fragmented message's parts must all be text or all be binary");
    this.sendFrame(Opcode.CONTINUATION, data, fin);
  }

  /** Whether a fragmented message is being sent: its first frame went out, its last (FIN) not yet. */
  get sendingFragments(): boolean {
    return this.sendingOpcode !== 0;
  }

  /** Writes bytes that are already a complete unmasked frame (a broadcast); server side only. */
  sendEncoded(frame: Buffer): void {
    this.checkOpen();
    if (this.side !== 'server') throw new InvalidState('pre-encoded frames are unmasked: server side only');
    // RFC 6455 §5.4: "the fragments of one message MUST NOT be interleaved between the fragments of another message".
    if (this.sendingOpcode !== 0) throw new InvalidState('a fragmented message is being sent');
    this.output(frame);
  }

  /**
   * Until {@link endOutputBatch}, small frames sent are written back to back into one shared buffer and handed to
   * `onWrite` together (server side; one batch at a time process-wide, a nested one does nothing). Returns whether
   * a batch was opened now.
   */
  beginOutputBatch(): boolean {
    return this.maskKeys === null && beginBatch(this);
  }

  /** Hands what the batch holds to `onWrite` and closes it. */
  endOutputBatch(): void {
    const region = endBatch(this);
    if (region !== null) this.handler.onWrite(region);
  }

  /** Hands what the open batch holds so far to `onWrite` (the batch stays open). */
  flushOutputBatch(): void {
    const region = takeBatch(this);
    if (region !== null) this.handler.onWrite(region);
  }

  /** Bytes sent into the open batch and not yet handed to `onWrite`. */
  get batchedBytes(): number {
    return batchedBytes(this);
  }

  /** Writes a buffer after whatever the open batch holds. */
  private output(data: Buffer): void {
    this.flushOutputBatch();
    this.handler.onWrite(data);
  }

  /** Sends a ping. */
  sendPing(data: Uint8Array = EMPTY): void {
    if (data.length > 125) throw new RangeError('ping payload must be at most 125 bytes');
    this.checkOpen();
    this.writeFrame(Opcode.PING, data, true, false);
  }

  /**
   * Writes a ping that is already a complete unmasked frame (keepalive's, one frame shared by many connections);
   * server side only. RFC 6455 §5.4: "Control frames (see Section 5.5) MAY be injected in the middle of a fragmented
   * message", so unlike {@link sendEncoded} it may go out while a message is being sent in parts.
   */
  sendEncodedPing(frame: Buffer): void {
    this.checkOpen();
    if (this.side !== 'server') throw new InvalidState('pre-encoded frames are unmasked: server side only');
    this.output(frame);
  }

  /** Sends a pong (unsolicited pongs serve as one-way heartbeats, §5.5.3). */
  sendPong(data: Uint8Array = EMPTY): void {
    if (data.length > 125) throw new RangeError('pong payload must be at most 125 bytes');
    this.checkOpen();
    this.writeFrame(Opcode.PONG, data, true, false);
  }

  /** Starts (or answers) the closing handshake. Does nothing if a close frame was already sent. */
  sendClose(code = 1000, reason = ''): void {
    if (this.closeSent !== null || this.state === State.CLOSED) return;
    const payload = serializeClosePayload(code, reason);
    this.writeFrame(Opcode.CLOSE, payload, true, false);
    this.closeSent = { code, reason };
    this.state = State.CLOSING;
    if (this.closeReceived !== null && this.side === 'server') this.end();
  }

  /**
   * Fails the connection (RFC 6455 §7.1.7): sends a close frame with `code`
   * unless one was sent, stops reading, and asks for the transport to close.
   * Returns false so parse steps can `return this.fail(...)`.
   */
  fail(code: number, reason: string): false {
    if (this.inputDone && this.failure !== null) return false;
    this.failure = failureError(code, reason);
    this.pendingFailure = null;
    this.inputDone = true;
    if (this.extras !== null) this.extras.held = null;
    this.inputPaused = false;
    this.eofPending = false;
    if (this.closeSent === null && this.state !== State.CLOSED) {
      const payload = serializeClosePayload(code, truncateReason(reason));
      this.writeFrame(Opcode.CLOSE, payload, true, false);
      this.closeSent = { code, reason };
    }
    this.state = State.CLOSED;
    this.end();
    return false;
  }

  /**
   * The order of data frames on the way out, checked before one is written; the frame is recorded as sent.
   */
  private checkDataFrame(opcode: number, fin: boolean, rsv1: boolean): void {
    const sending = this.sendingOpcode;
    if (opcode === Opcode.CONTINUATION) {
      // RFC 6455 §5.4: a continuation frame follows a first frame whose FIN bit was clear.
      if (sending === 0) throw new InvalidState('a continuation frame needs a fragmented message being sent');
      // RFC 7692 §6.1: the "Per-Message Compressed" bit is set on the first frame of a message; §6: an endpoint
      // "MUST NOT set [it on] non-first fragments of a data message".
      if (rsv1) throw new InvalidState('RSV1 is set on the first frame of a message only');
    } else {
      if (opcode !== Opcode.TEXT && opcode !== Opcode.BINARY) throw new RangeError(`opcode ${opcode} is not a data frame's`);
      // RFC 6455 §5.4: "the fragments of one message MUST NOT be interleaved between the fragments of another
      // message unless an extension has been negotiated that can interpret the interleaving" (none is).
      if (sending !== 0) throw new InvalidState('a fragmented message is being sent: a new one waits for its last frame');
      // RFC 7692 §6: RSV1 means "compressed" only where permessage-deflate was negotiated (RFC 6455 §5.2).
      if (rsv1 && !this.settings.rsv1Allowed) throw new InvalidState('RSV1 set without a negotiated extension');
    }
    if (fin) this.sendingOpcode = 0;
    else if (sending === 0) this.sendingOpcode = opcode;
  }

  private checkOpen(): void {
    if (this.state !== State.OPEN) throw new InvalidState('cannot send: the connection is closing or closed');
  }

  private writeFrame(opcode: number, data: string | Uint8Array, fin: boolean, rsv1: boolean): void {
    if (this.maskKeys !== null) {
      this.handler.onWrite(encodeFrame(opcode, data, fin, rsv1, this.maskKeys.next()));
    } else if (appendFrame(this, opcode, data, fin, rsv1)) {
      // In the open output batch.
    } else if (typeof data === 'string' || data.length < COPY_THRESHOLD) {
      this.output(encodeFrame(opcode, data, fin, rsv1, null));
    } else {
      // Large server payloads go out as header + payload: no copy (written under cork).
      const header = Buffer.allocUnsafe(frameHeaderLength(data.length, false));
      writeFrameHeader(header, opcode, fin, rsv1, data.length, null);
      this.output(header);
      this.handler.onWrite(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length));
    }
  }
}

/**
 * The state of a protocol that only some connections need, apart from it and made on its first use: every field an
 * idle connection carries is memory per connection, copied by the young-generation GC while connections are set up.
 */
class ProtocolExtras {
  closeReceived: ClosePayload | null = null;
  closeSent: ClosePayload | null = null;
  /** What was received while parsing was paused (see pauseInput), not parsed yet. */
  held: Buffer[] | null = null;
  /** A frame header split across chunks, gathered (14 bytes, the longest header). */
  headerBuffer: Buffer | null = null;
  headerHave = 0;
  frameParts: ByteAccumulator | null = null;
  messageFragments = 0;
  messageParts: ByteAccumulator | null = null;
  utf8Validator: Utf8Validator | null = null;
}

/** A connection's limits and negotiated features: one object for every connection made with the same options. */
interface ProtocolSettings {
  readonly maxMessageSize: number;
  /** The most a compressed message may take on the wire (see settingsFor). */
  readonly maxCompressedSize: number;
  readonly maxFragments: number;
  readonly rsv1Allowed: boolean;
  readonly deferFailure: boolean;
}

// The settings made last, a few: a server makes its connections with the same options (a set with and one without
// the extension, when compression is offered), so a short search finds them without a lookup key built per connection.
const recentSettings: ProtocolSettings[] = [];
const RECENT_SETTINGS = 8;

/** The settings for `options`, shared with the connections made before with the same (memory per idle connection). */
function settingsFor(options: ProtocolOptions): ProtocolSettings {
  const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  const maxFragments = options.maxFragments ?? DEFAULT_MAX_FRAGMENTS;
  const rsv1Allowed = options.rsv1Allowed ?? false;
  const deferFailure = options.deferFailure ?? false;
  for (const known of recentSettings) {
    if (
      known.maxMessageSize === maxMessageSize &&
      known.maxFragments === maxFragments &&
      known.rsv1Allowed === rsv1Allowed &&
      known.deferFailure === deferFailure
    ) {
      return known;
    }
  }
  // zlib's deflateBound() for non-default settings: the most deflate output for maxMessageSize bytes of input.
  const maxCompressedSize = maxMessageSize + Math.ceil(maxMessageSize / 8) + Math.ceil(maxMessageSize / 64) + 11;
  const settings = Object.freeze({ maxMessageSize, maxCompressedSize, maxFragments, rsv1Allowed, deferFailure });
  if (recentSettings.unshift(settings) > RECENT_SETTINGS) recentSettings.pop();
  return settings;
}

/** Shared scratch for the current frame's masking key: unmasking is synchronous, so one array serves every connection. */
const MASK_KEY = new Uint8Array(4);

function maskKeyOf(word: number): Uint8Array {
  MASK_KEY[0] = word >>> 24;
  MASK_KEY[1] = (word >>> 16) & 0xff;
  MASK_KEY[2] = (word >>> 8) & 0xff;
  MASK_KEY[3] = word & 0xff;
  return MASK_KEY;
}

function failureError(code: number, reason: string): ProtocolError {
  return code === 1009 ? new PayloadTooBig(reason) : new ProtocolError(reason, code);
}

/** Close reasons are limited to 123 bytes; cut at a character boundary. */
function truncateReason(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}
