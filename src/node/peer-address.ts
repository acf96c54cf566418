/**
 * The peer's address of an upgraded socket, kept once (memory per idle connection).
 *
 * Node answers `socket.remoteAddress` with getpeername(2) and keeps the answer on the socket as `_peername`, an object
 * `{ address, family, port }` (56 bytes) for the socket's whole life. The request keeps the address itself, read at
 * the handshake because a socket destroyed by a reset has none left to read; the socket's copy is then let go (a later
 * read of `socket.remoteAddress` asks the kernel again while the socket is open, as for any socket never asked).
 */

type Peer = { readonly remoteAddress?: string | undefined; _peername?: unknown };

/** The address of the last connection: consecutive connections from one address share its string. */
let last: string | undefined;

/** Reads the peer's address of `socket` (a socket of its own: not an HTTP/2 session's) and lets the socket forget it. */
export function takePeerAddress(socket: { readonly remoteAddress?: string | undefined }): string | undefined {
  const peer = socket as Peer;
  const address = peer.remoteAddress;
  if (peer._peername !== undefined) peer._peername = undefined;
  // Connections from one address (behind a proxy, a NAT, a load balancer) keep one string, not one each.
  if (address === last) return last;
  last = address;
  return address;
}
