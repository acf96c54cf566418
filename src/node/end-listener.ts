/**
 * The peer's end of a socket watched with one 'end' listener instead of two (memory per idle connection).
 *
 * Every `net.Socket` (and `tls.TLSSocket`) is born with one 'end' listener of Node's own, the same function for all
 * sockets. A second listener turns the socket's slot for 'end' into an array of two, 64 bytes per connection for as
 * long as it lives. Where Node's listener is the only one, it is swapped for a shared function that calls it and then
 * ours, in that order, as two listeners would have run; any other transport (an HTTP/2 stream, a socket of
 * `node:http` with its own listeners) gets ours added as usual.
 */
import * as net from 'node:net';
import type { Transport } from './transport.js';

type EndListener = (this: Transport) => void;

/** Node's own 'end' listener of sockets, read off a socket made once for that (no handle, nothing opened). */
const nodeEnd = nodeSocketEndListener();

function nodeSocketEndListener(): EndListener | null {
  const listeners = new net.Socket().listeners('end');
  return listeners.length === 1 ? (listeners[0] as EndListener) : null;
}

/** Our listeners merged with Node's, one per listener of ours: made once and kept. */
const merged = new Map<EndListener, EndListener>();

/**
 * Calls `listener` (with the transport as `this`) when the peer ends its side, after Node's own listener. `listener`
 * must be a shared function, not a closure per connection: its merged form is kept for the life of the process.
 */
export function onTransportEnd<T extends Transport>(transport: T, listener: (this: T) => void): void {
  const socket = transport as Transport & Partial<Pick<net.Socket, 'listenerCount' | 'listeners' | 'removeListener'>>;
  if (nodeEnd === null || socket.listenerCount?.('end') !== 1 || socket.listeners!('end')[0] !== nodeEnd) {
    transport.on('end', listener);
    return;
  }
  let both = merged.get(listener as EndListener);
  if (both === undefined) {
    both = function (this: Transport): void {
      nodeEnd.call(this);
      (listener as EndListener).call(this);
    };
    merged.set(listener as EndListener, both);
  }
  socket.removeListener!('end', nodeEnd);
  transport.on('end', both);
}
