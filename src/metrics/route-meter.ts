/**
 * The counters of one route of one server (or of the whole server without a router): what a connection
 * touches while it runs. A connection holds its route's meter in a field, so counting a message is a field
 * increment on this object: no map lookup, no allocation, nothing per connection.
 */
import { closeCodeLabel } from './close-codes.js';
import { Histogram } from './histogram.js';

/** Counters and histograms of one route. */
export class RouteMeter {
  /** The route pattern (`/rooms/{room}`), or `''` on a server without a router. */
  readonly route: string;
  /** Handshakes accepted: connections opened. */
  opened = 0;
  /** Connections closed, by close code label (see `closeCodeLabel`). */
  readonly closed = new Map<string, number>();
  /** Connections closed, all codes. */
  closedTotal = 0;
  /** Text messages received. */
  textReceived = 0;
  /** Binary messages received. */
  binaryReceived = 0;
  /** Payload bytes of the text messages received (after decompression). */
  textBytesReceived = 0;
  /** Payload bytes of the binary messages received (after decompression). */
  binaryBytesReceived = 0;
  /** Text messages sent. */
  textSent = 0;
  /** Binary messages sent. */
  binarySent = 0;
  /** Payload bytes of the text messages sent (before compression). */
  textBytesSent = 0;
  /** Payload bytes of the binary messages sent (before compression). */
  binaryBytesSent = 0;
  /** Broadcast/publish deliveries skipped because the client's buffer was over the bound. */
  slowSkipped = 0;
  /** Slow clients closed by a broadcast/publish (`onSlow: 'close'`). */
  slowClosed = 0;
  /** Bytes given to the compressor (messages sent with permessage-deflate, above its threshold). */
  deflateIn = 0;
  /** Bytes the compressor produced for them (a message not worth compressing counts as sent uncompressed). */
  deflateOut = 0;
  /** Compressed bytes received. */
  inflateIn = 0;
  /** What they decompressed to. */
  inflateOut = 0;
  /** Resumes (a client reconnecting with a topic position) whose missed messages were all delivered. */
  resumesRecovered = 0;
  /** Resumes whose missed messages were no longer kept. */
  resumesMissed = 0;
  /** Keepalive round-trip times, in seconds. */
  readonly rtt = new Histogram();

  constructor(route: string) {
    this.route = route;
  }

  /** A message was received (its payload size, uncompressed). */
  received(binary: boolean, bytes: number): void {
    if (binary) {
      this.binaryReceived++;
      this.binaryBytesReceived += bytes;
    } else {
      this.textReceived++;
      this.textBytesReceived += bytes;
    }
  }

  /** A message was sent (its payload size, uncompressed). */
  sent(binary: boolean, bytes: number): void {
    if (binary) {
      this.binarySent++;
      this.binaryBytesSent += bytes;
    } else {
      this.textSent++;
      this.textBytesSent += bytes;
    }
  }

  /** A connection of this route closed with `code` (1006 when no close frame came). */
  close(code: number): void {
    const label = closeCodeLabel(code);
    this.closed.set(label, (this.closed.get(label) ?? 0) + 1);
    this.closedTotal++;
  }

  /** Open connections now. */
  get open(): number {
    return this.opened - this.closedTotal;
  }

  /** A resume on this route was served: `recovered` if every missed message could be replayed. */
  resumed(recovered: boolean): void {
    if (recovered) this.resumesRecovered++;
    else this.resumesMissed++;
  }
}

/**
 * The hook for resumes (a client reconnecting with the position of the last topic message it saw): whoever
 * serves the resume (wskit's topic history, or an application's own) calls this once per resume, with whether
 * every missed message could be replayed. It counts into `wskit_resumes_total{result="recovered"|"missed"}` of
 * the connection's route; with metrics off it does nothing.
 */
export function recordResume(ws: { readonly meter: RouteMeter | null }, recovered: boolean): void {
  ws.meter?.resumed(recovered);
}
