/**
 * The one interface between a {@link Connection} and the byte stream it runs over. A TCP socket, a TLS socket, an
 * HTTP CONNECT proxy tunnel and an HTTP/2 stream carrying a WebSocket (RFC 8441) all are one as they are: Node's
 * streams have these members. The connection needs nothing else, so every feature (limits, keepalive,
 * backpressure, permessage-deflate, routing, topics, broadcast) works the same on each.
 */
import type * as http2 from 'node:http2';

/** The events a connection listens to: bytes, the peer's end, the transport's close and error, write buffer drained. */
export type TransportEvent = 'data' | 'end' | 'close' | 'error' | 'drain';

/** A byte stream a {@link Connection} runs over (a `net.Socket`, `tls.TLSSocket`, `Http2Stream` or any `Duplex`). */
export interface Transport {
  /** Queues bytes to send; what is queued is counted in {@link writableLength} until handed to the kernel. */
  write(data: Buffer | string, encoding?: BufferEncoding): boolean;
  /** Queues bytes; `callback` runs once they (and everything queued before) are handed on. */
  write(data: Buffer, callback: (error?: Error | null) => void): boolean;
  /** Whether a write found the buffer at its high-water mark, so that 'drain' follows (it does only then). */
  readonly writableNeedDrain: boolean;
  /** Holds writes until {@link uncork}, so a turn's frames go out in one system call. */
  cork(): void;
  /** Releases writes held by {@link cork}. */
  uncork(): void;
  /** Bytes queued and not yet handed to the kernel (or, on HTTP/2, to the session under its flow-control window). */
  readonly writableLength: number;
  /** Stops 'data' events: the backpressure a slow reader puts on the peer (TCP window, HTTP/2 stream window). */
  pause(): unknown;
  /** Starts 'data' events again. */
  resume(): unknown;
  /** Ends our side once what is queued is sent (TCP FIN, HTTP/2 END_STREAM). */
  end(): unknown;
  /** Drops the transport at once (TCP RST or close, HTTP/2 RST_STREAM). */
  destroy(): unknown;
  /** Whether it was destroyed or has closed. */
  readonly destroyed: boolean;
  /** Listens to one of the {@link TransportEvent}s (typed as the catch-all overload every Node emitter has). */
  on(event: TransportEvent, listener: (...args: any[]) => void): unknown;
  /** The peer's address, where the transport knows it (a socket; not an HTTP/2 stream). */
  readonly remoteAddress?: string | undefined;
  /** Turns Nagle's algorithm off, where there is one (a TCP socket): frames are written whole, at once. */
  setNoDelay?(noDelay?: boolean): unknown;
}

/**
 * An HTTP/2 stream as a {@link Transport}, on either side. A stream the peer resets (RST_STREAM) while our writes
 * wait for window emits 'aborted' and 'end' but 'close' only once those writes flush, which they never will: the
 * reset ends the stream, and the WebSocket closes 1006 as when a TCP connection is reset.
 */
export function http2StreamTransport<S extends http2.Http2Stream>(stream: S): S {
  stream.once('aborted', destroyStream);
  return stream;
}

function destroyStream(this: http2.Http2Stream): void {
  this.destroy();
}
