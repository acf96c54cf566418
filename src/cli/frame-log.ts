/**
 * Frame-level observation for `wskit proxy`: a scanner that surfaces frames
 * (not messages) from a byte stream without holding whole payloads, and the
 * JSON Lines record format that `wskit replay` reads back.
 */
import { checkNumber, type NumberRule } from '../node/options.js';
import { frameHeaderSize, readPayloadLength } from '../protocol/frame.js';
import { applyMask } from '../protocol/mask.js';
import { opcodeName } from './format.js';

/** A frame seen by {@link FrameScanner}. */
export interface ScannedFrame {
  /** Opcode (0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong, others reserved). */
  opcode: number;
  /** For a continuation frame, the opcode of its message's first frame; else the frame's opcode. */
  messageOpcode: number;
  /** FIN bit. */
  fin: boolean;
  /** RSV1..RSV3 bits as a number (RSV1 = 4, RSV2 = 2, RSV3 = 1). */
  rsv: number;
  /** Whether the payload was masked. */
  masked: boolean;
  /** Payload length from the header. */
  length: number;
  /** The first bytes of the unmasked payload: all of it when `length <= capture`, else `preview` bytes. */
  payload: Buffer;
  /** When the frame's first byte arrived (ms since the epoch). */
  startedAt: number;
}

/** A stream that cannot be framed any further (e.g. a 64-bit length with the top bit set). */
export class FrameScanError extends Error {}

/**
 * Parses WebSocket frames out of a byte stream as it passes by. The bytes are
 * not modified (a proxy forwards them as they are); each frame is reported
 * once complete, with at most `max(preview, capture)` payload bytes kept, so a
 * 1 GB frame costs no more memory than a small one.
 */
export class FrameScanner {
  private readonly header = Buffer.alloc(14);
  private headerLength = 0;
  private needed = 2;
  private inPayload = false;
  private remaining = 0;
  private frame: ScannedFrame | null = null;
  private kept = 0;
  private offset = 0;
  private readonly maskKey = Buffer.alloc(4);
  private messageOpcode = 0;
  private failed = false;

  /**
   * @param onFrame called for each complete frame
   * @param preview payload bytes kept for every frame (display)
   * @param capture frames up to this size are kept whole (recording)
   */
  constructor(
    private readonly onFrame: (frame: ScannedFrame) => void,
    private readonly preview = 256,
    private readonly capture = 0,
  ) {}

  /** Feeds bytes; throws {@link FrameScanError} once the stream cannot be framed (later calls are ignored). */
  push(chunk: Buffer): void {
    if (this.failed) return;
    let at = 0;
    while (at < chunk.length) {
      if (!this.inPayload) {
        const take = Math.min(this.needed - this.headerLength, chunk.length - at);
        chunk.copy(this.header, this.headerLength, at, at + take);
        this.headerLength += take;
        at += take;
        if (this.headerLength < this.needed) return;
        if (!this.parseHeader()) continue;
      }
      const take = Math.min(this.remaining, chunk.length - at);
      const frame = this.frame!;
      const keep = Math.min(take, frame.payload.length - this.kept);
      if (keep > 0) {
        chunk.copy(frame.payload, this.kept, at, at + keep);
        if (frame.masked) applyMask(frame.payload.subarray(this.kept, this.kept + keep), this.maskKey, this.offset & 3);
        this.kept += keep;
      }
      this.offset += take;
      this.remaining -= take;
      at += take;
      if (this.remaining === 0) this.finish();
    }
  }

  /** Reads the header once `needed` bytes are in; returns true when the payload starts. */
  private parseHeader(): boolean {
    const h = this.header;
    const masked = (h[1]! & 0x80) !== 0;
    const full = frameHeaderSize(h[1]!);
    if (this.headerLength < full) {
      this.needed = full;
      return false;
    }
    // The protocol's own reading of the header; the frames are relayed as they are, so only what cannot be framed
    // (a length past 2^53, or with its top bit set) stops the scanner.
    const length = readPayloadLength(h, 0);
    if (length < 0 || length > Number.MAX_SAFE_INTEGER) {
      this.failed = true;
      throw new FrameScanError('frame length does not fit in 53 bits');
    }
    if (masked) h.copy(this.maskKey, 0, full - 4, full);
    const opcode = h[0]! & 0x0f;
    if (opcode === 1 || opcode === 2) this.messageOpcode = opcode;
    const keep = length <= this.capture ? length : Math.min(length, this.preview);
    this.frame = {
      opcode,
      messageOpcode: opcode === 0 ? this.messageOpcode : opcode,
      fin: (h[0]! & 0x80) !== 0,
      rsv: (h[0]! >> 4) & 0x7,
      masked,
      length,
      payload: Buffer.allocUnsafe(keep),
      startedAt: Date.now(),
    };
    this.kept = 0;
    this.offset = 0;
    this.remaining = length;
    this.inPayload = true;
    if (length === 0) this.finish();
    return this.inPayload;
  }

  private finish(): void {
    const frame = this.frame!;
    this.frame = null;
    this.inPayload = false;
    this.headerLength = 0;
    this.needed = 2;
    this.onFrame(frame);
  }
}

/** Who sent a frame or a head. */
export type Side = 'client' | 'server';

/** One line of a `--record` file. */
export type RecordEntry =
  | { type: 'open'; conn: number; time: number; peer: string; target: string }
  | { type: 'request'; conn: number; time: number; method: string; target: string; headers: Array<[string, string]>; stripped?: string[] }
  | { type: 'response'; conn: number; time: number; status: number; statusText: string; headers: Array<[string, string]> }
  | RecordedFrame
  | { type: 'end'; conn: number; time: number; from: Side }
  | { type: 'closed'; conn: number; time: number };

/** A frame in a `--record` file: text payloads as `text`, others as `base64`. */
export interface RecordedFrame {
  /** Always `frame`. */
  type: 'frame';
  /** Connection number (1, 2, ... in order of arrival at the proxy). */
  conn: number;
  /** When the frame started, in ms since the epoch. */
  time: number;
  /** Who sent it. */
  from: Side;
  /** Opcode number. */
  opcode: number;
  /** Opcode name (TEXT, BINARY, CONT, CLOSE, PING, PONG). */
  op: string;
  /** FIN bit. */
  fin: boolean;
  /** RSV bits (RSV1 = 4). */
  rsv: number;
  /** Whether it was masked. */
  masked: boolean;
  /** Payload length. */
  length: number;
  /** The payload as text (text frames and continuations of text messages, when valid UTF-8). */
  text?: string;
  /** The payload as base64 (all other frames). */
  base64?: string;
  /** True when the payload was larger than the record limit and only its start is kept. */
  truncated?: boolean;
  /** Close frames: the code (1005 when none). */
  code?: number;
  /** Close frames: the reason. */
  reason?: string;
}

/** Builds the record line of a scanned frame. */
export function recordFrame(conn: number, from: Side, frame: ScannedFrame): RecordedFrame {
  const entry: RecordedFrame = {
    type: 'frame',
    conn,
    time: frame.startedAt,
    from,
    opcode: frame.opcode,
    op: opcodeName(frame.opcode),
    fin: frame.fin,
    rsv: frame.rsv,
    masked: frame.masked,
    length: frame.length,
  };
  const payload = frame.payload;
  const truncated = payload.length < frame.length;
  if (frame.messageOpcode === 1 && (frame.rsv & 4) === 0 && !truncated && isWholeUtf8(payload)) {
    entry.text = payload.toString('utf8');
  } else {
    entry.base64 = payload.toString('base64');
  }
  if (truncated) entry.truncated = true;
  if (frame.opcode === 8) {
    entry.code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    entry.reason = payload.length > 2 ? payload.subarray(2).toString('utf8') : '';
  }
  return entry;
}

function isWholeUtf8(data: Buffer): boolean {
  return Buffer.from(data.toString('utf8'), 'utf8').equals(data);
}

/** The payload bytes of a recorded frame. */
export function recordedPayload(frame: RecordedFrame): Buffer {
  return frame.text !== undefined ? Buffer.from(frame.text, 'utf8') : Buffer.from(frame.base64 ?? '', 'base64');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const SIDES: ReadonlySet<unknown> = new Set(['client', 'server']);

/** Checks that `entry[key]` has the type a log entry needs (absent allowed when `optional`); throws naming the field. */
function field(entry: Record<string, unknown>, key: string, kind: 'string' | 'boolean' | NumberRule, optional = false): void {
  const value = entry[key];
  if (value === undefined) {
    if (optional) return;
    throw new Error(`missing "${key}"`);
  }
  if (typeof kind === 'string') {
    if (typeof value !== kind) throw new Error(`"${key}" must be a ${kind}, not ${value === null ? 'null' : typeof value}`);
  } else {
    checkNumber(`"${key}"`, value, kind);
  }
}

function headerList(entry: Record<string, unknown>, key: string): void {
  const value = entry[key];
  if (!Array.isArray(value) || !value.every((h) => Array.isArray(h) && h.length === 2 && typeof h[0] === 'string' && typeof h[1] === 'string')) {
    throw new Error(`"${key}" must be a list of [name, value] strings`);
  }
}

/**
 * Parses one line of a `--record` log and checks every field's type and
 * range, so that nothing read from a log file (maybe edited, maybe recorded
 * from a hostile peer) reaches an allocation or the API unchecked: a `base64`
 * that is an object, a payload longer than its frame, an opcode of 99. Throws
 * an Error that says which field is wrong.
 */
export function parseRecordEntry(line: string): RecordEntry {
  const entry = JSON.parse(line) as unknown;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new Error('not a log entry (an object)');
  const e = entry as Record<string, unknown>;
  field(e, 'type', 'string');
  field(e, 'conn', { integer: true, min: 1 });
  field(e, 'time', {});
  switch (e.type) {
    case 'open':
      field(e, 'peer', 'string');
      field(e, 'target', 'string');
      break;
    case 'request':
      field(e, 'method', 'string');
      field(e, 'target', 'string');
      headerList(e, 'headers');
      if (e.stripped !== undefined && !(Array.isArray(e.stripped) && e.stripped.every((v) => typeof v === 'string'))) throw new Error('"stripped" must be a list of strings');
      break;
    case 'response':
      field(e, 'status', { integer: true, min: 100, max: 999 });
      field(e, 'statusText', 'string');
      headerList(e, 'headers');
      break;
    case 'end':
      if (!SIDES.has(e.from)) throw new Error('"from" must be "client" or "server"');
      break;
    case 'closed':
      break;
    case 'frame':
      checkFrame(e);
      break;
    default:
      throw new Error(`unknown entry type ${JSON.stringify(e.type)}`);
  }
  return entry as RecordEntry;
}

function checkFrame(e: Record<string, unknown>): void {
  if (!SIDES.has(e.from)) throw new Error('"from" must be "client" or "server"');
  field(e, 'opcode', { integer: true, max: 15 });
  field(e, 'op', 'string', true);
  field(e, 'fin', 'boolean');
  field(e, 'rsv', { integer: true, max: 7 });
  field(e, 'masked', 'boolean', true);
  field(e, 'length', { integer: true });
  field(e, 'text', 'string', true);
  field(e, 'base64', 'string', true);
  field(e, 'truncated', 'boolean', true);
  field(e, 'code', { integer: true, max: 65535 }, true);
  field(e, 'reason', 'string', true);
  if (e.text !== undefined && e.base64 !== undefined) throw new Error('a frame has "text" or "base64", not both');
  if (typeof e.base64 === 'string' && (e.base64.length % 4 !== 0 || !BASE64.test(e.base64))) throw new Error('"base64" is not valid base64');
  // Sizes from the string lengths, before decoding anything.
  const size = typeof e.text === 'string' ? Buffer.byteLength(e.text) : typeof e.base64 === 'string' ? (e.base64.length / 4) * 3 - (e.base64.match(/=*$/)![0].length) : 0;
  const length = e.length as number;
  if (e.truncated === true ? size > length : size !== length) {
    throw new Error(`the payload holds ${size} bytes but "length" says ${length}${e.truncated === true ? '' : ' (and it is not marked truncated)'}`);
  }
}
