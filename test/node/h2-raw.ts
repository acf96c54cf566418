/**
 * A hostile HTTP/2 peer for tests: frames written by hand (RFC 9113 §4.1) on a raw TCP socket, so a test can do
 * what Node's http2 client refuses to (ignore SETTINGS_MAX_CONCURRENT_STREAMS, flood SETTINGS or PING without
 * reading the ACKs), and the frames the server sends back, parsed just enough to see RST_STREAM and GOAWAY codes.
 */
import net from 'node:net';
import { HTTP2_PREFACE } from '../../src/node/http2-server.js';

/** Frame types used here (RFC 9113 §6). */
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7 } as const;
/** Frame flags used here. */
export const FLAG = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 } as const;

/** One frame: 9-byte header, then the payload. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

/** An HPACK header block of literal fields without indexing, new names, no Huffman (RFC 7541 §6.2.2). */
export function headerBlock(fields: Array<[string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    // 7-bit lengths only: the tests' fields are short.
    if (name.length > 126 || value.length > 126) throw new Error('field too long for this encoder');
    parts.push(Buffer.from([0x00, name.length]), Buffer.from(name, 'latin1'), Buffer.from([value.length]), Buffer.from(value, 'latin1'));
  }
  return Buffer.concat(parts);
}

/** The fields of an extended CONNECT (RFC 8441 §4) for a WebSocket at `path`. */
export function extendedConnect(port: number, path = '/'): Array<[string, string]> {
  return [
    [':method', 'CONNECT'],
    [':protocol', 'websocket'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', `127.0.0.1:${port}`],
    ['sec-websocket-version', '13'],
  ];
}

/** A HEADERS frame opening `streamId` with `fields` (END_HEADERS, not END_STREAM: a CONNECT stream stays open). */
export function headersFrame(streamId: number, fields: Array<[string, string]>, endStream = false): Buffer {
  return frame(FRAME.HEADERS, FLAG.END_HEADERS | (endStream ? FLAG.END_STREAM : 0), streamId, headerBlock(fields));
}

/** An RST_STREAM frame with `code`. */
export function rstFrame(streamId: number, code: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, streamId, payload);
}

/** A frame received: its type, flags, stream and payload. */
export interface ReceivedFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** A raw HTTP/2 client connection: the preface and an empty SETTINGS sent, the server's frames parsed as they come. */
export class RawH2 {
  readonly socket: net.Socket;
  readonly frames: ReceivedFrame[] = [];
  /** Resolves when the server closed the connection (or it failed). */
  readonly closed: Promise<void>;
  private buffered: Buffer = Buffer.alloc(0);

  constructor(port: number, options: { read?: boolean } = {}) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.write(Buffer.concat([HTTP2_PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
    // A peer that never reads leaves the server's replies in its send buffer: what a flood of ACK-eliciting frames does.
    if (options.read === false) this.socket.pause();
    else this.socket.on('data', (chunk: Buffer) => this.parse(chunk));
  }

  private parse(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 9) {
      const length = this.buffered.readUIntBE(0, 3);
      if (this.buffered.length < 9 + length) break;
      const received: ReceivedFrame = {
        type: this.buffered[3]!,
        flags: this.buffered[4]!,
        streamId: this.buffered.readUInt32BE(5) & 0x7fffffff,
        payload: this.buffered.subarray(9, 9 + length),
      };
      this.frames.push(received);
      this.buffered = this.buffered.subarray(9 + length);
      // Acknowledge the server's SETTINGS as a conforming peer would, so its limits are in force (RFC 9113 §6.5.3).
      if (received.type === FRAME.SETTINGS && (received.flags & FLAG.ACK) === 0) this.socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
    }
  }

  /** Writes bytes; resolves once they are handed to the kernel (or the socket is gone). */
  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) resolve();
      else this.socket.write(bytes, () => resolve());
    });
  }

  /** The RST_STREAM codes received, by stream. */
  resets(): Map<number, number> {
    const codes = new Map<number, number>();
    for (const f of this.frames) if (f.type === FRAME.RST_STREAM) codes.set(f.streamId, f.payload.readUInt32BE(0));
    return codes;
  }

  /** Streams answered with HEADERS. */
  answered(): Set<number> {
    return new Set(this.frames.filter((f) => f.type === FRAME.HEADERS).map((f) => f.streamId));
  }

  /** The GOAWAY error code received, if any. */
  goawayCode(): number | undefined {
    const goaway = this.frames.find((f) => f.type === FRAME.GOAWAY);
    return goaway?.payload.readUInt32BE(4);
  }

  /** Whether the server's SETTINGS arrived (and were acknowledged). */
  get settled(): boolean {
    return this.frames.some((f) => f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
