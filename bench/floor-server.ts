/**
 * The `node-floor` column of `npm run bench`: the least a server on Node's `net.Socket` can do and still
 * pass the driver's byte-for-byte checks, to show what no library built on Node sockets can go below.
 *
 * It is not a WebSocket implementation and must never be used as one: it reads the request without
 * validating it (only the key is looked for), echoes data frames without checking opcodes, lengths
 * against a limit, fragmentation or UTF-8, has no close handshake, no keepalive, no backpressure and no
 * API. What is left is Node's own cost: a `net.Socket` per connection, the system calls, the frames'
 * unmasking (the same JavaScript as wskit's, the fastest this project found) and the garbage collection
 * of what a socket keeps. Echo only (no `/broadcast`, no compression).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { frameHeaderLength, writeFrameHeader } from '../src/protocol/frame.js';
import { acceptResponseText } from '../src/protocol/handshake.js';
import { applyMask } from '../src/protocol/mask.js';

const HEAD_END = Buffer.from('\r\n\r\n');
const KEY_FIELD = 'sec-websocket-key:';
/** Frames up to this size are copied into one buffer per read; larger ones are written as header + payload. */
const COPY_LIMIT = 16 * 1024;
const kEcho = Symbol('floor.echo');
/** Listeners are shared functions (`this` is the socket) and the echo state is made on the first frame: an idle connection keeps nothing but its socket. */
type FloorSocket = Socket & { [kEcho]?: FrameEcho };

/** Starts the floor server on `host:port`; resolves once it listens. */
export function startFloor(host: string, port: number): Promise<Server> {
  const server = createServer({ noDelay: true }, (socket) => {
    socket.on('error', onError);
    socket.on('data', onHead);
  });
  return new Promise((resolve) => server.listen(port, host, 1024, () => resolve(server)));
}

function onError(this: Socket): void {
  this.destroy();
}

function onData(this: FloorSocket, data: Buffer): void {
  (this[kEcho] ??= new FrameEcho(this)).receive(data);
}

/** The request is expected in one read, as the driver sends it. */
function onHead(this: FloorSocket, chunk: Buffer): void {
  const socket = this;
  socket.off('data', onHead);
  const end = chunk.indexOf(HEAD_END);
  const head = chunk.toString('latin1', 0, end < 0 ? chunk.length : end);
  const at = head.toLowerCase().indexOf(KEY_FIELD);
  if (end < 0 || at < 0) {
    socket.destroy();
    return;
  }
  const lineEnd = head.indexOf('\r\n', at);
  const key = head.slice(at + KEY_FIELD.length, lineEnd < 0 ? head.length : lineEnd).trim();
  socket.write(acceptResponseText(key, null, ''), 'latin1');
  socket.on('data', onData);
  if (end + 4 < chunk.length) onData.call(socket, chunk.subarray(end + 4));
}

/** Unmasks each complete client frame and writes it back unmasked; incomplete ones wait for more bytes. */
class FrameEcho {
  private parts: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before the next frame can be parsed further. */
  private needed = 2;

  constructor(private readonly socket: Socket) {}

  receive(data: Buffer): void {
    this.parts.push(data);
    this.buffered += data.length;
    if (this.buffered < this.needed) return;
    let bytes = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.buffered);
    const small: Buffer[] = [];
    let smallBytes = 0;
    this.socket.cork();
    let pos = 0;
    for (;;) {
      const frame = parseFrame(bytes, pos);
      if (typeof frame === 'number') {
        this.needed = frame;
        break;
      }
      if (frame.opcode >= 8) {
        this.socket.destroy();
        return;
      }
      const payload = bytes.subarray(frame.payloadAt, frame.end);
      applyMask(payload, bytes.subarray(frame.payloadAt - 4, frame.payloadAt));
      const header = serverHeader(frame.opcode, payload.length);
      if (payload.length <= COPY_LIMIT) {
        small.push(header, payload);
        smallBytes += header.length + payload.length;
      } else {
        if (small.length > 0) this.socket.write(Buffer.concat(small.splice(0), smallBytes));
        smallBytes = 0;
        this.socket.write(header);
        this.socket.write(payload);
      }
      pos = frame.end;
    }
    if (small.length > 0) this.socket.write(Buffer.concat(small, smallBytes));
    this.socket.uncork();
    bytes = bytes.subarray(pos);
    this.parts = bytes.length > 0 ? [bytes] : [];
    this.buffered = bytes.length;
  }
}

/** A masked client frame in `bytes` at `pos`, or the number of bytes from `pos` needed before it is complete. */
function parseFrame(bytes: Buffer, pos: number): { opcode: number; payloadAt: number; end: number } | number {
  const have = bytes.length - pos;
  if (have < 2) return 2;
  const short = bytes[pos + 1]! & 0x7f;
  const lengthBytes = short === 126 ? 2 : short === 127 ? 8 : 0;
  const payloadAt = pos + 2 + lengthBytes + 4;
  if (bytes.length < payloadAt) return payloadAt - pos;
  const length = short === 126 ? bytes.readUInt16BE(pos + 2) : short === 127 ? Number(bytes.readBigUInt64BE(pos + 2)) : short;
  const end = payloadAt + length;
  if (bytes.length < end) return end - pos;
  return { opcode: bytes[pos]! & 0x0f, payloadAt, end };
}

function serverHeader(opcode: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(frameHeaderLength(length, false));
  writeFrameHeader(header, opcode, true, false, length, null);
  return header;
}
