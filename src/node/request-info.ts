import type { HttpHeaders } from '../protocol/http11.js';
import type { RequestInfo } from './types.js';

/** Where the peer's address is read from: the socket, on first use. */
export interface PeerSource {
  /** The socket's `remoteAddress` (a `getpeername` system call in Node). */
  readonly remoteAddress?: string;
}

/**
 * The request that opened a server-side connection, kept for its whole life:
 * the query is parsed from the target on first use (most handlers never read it),
 * and the peer's address is asked of the socket on first use (a system call per
 * handshake otherwise, when no per-IP admission limit needs it at accept).
 */
export class IncomingRequest implements RequestInfo {
  path: string;
  target: string;
  headers: HttpHeaders;
  private peer: PeerSource | null;
  private address: string | undefined = undefined;
  private parsedQuery: URLSearchParams | null = null;

  constructor(path: string, target: string, headers: HttpHeaders, peer: PeerSource | string | undefined) {
    this.path = path;
    this.target = target;
    this.headers = headers;
    if (typeof peer === 'object') {
      this.peer = peer;
    } else {
      this.peer = null;
      this.address = peer;
    }
  }

  /** The peer's IP address; read while the connection is open (a closed socket no longer has one). */
  get remoteAddress(): string | undefined {
    if (this.address === undefined && this.peer !== null) {
      this.address = this.peer.remoteAddress;
      if (this.address !== undefined) this.peer = null;
    }
    return this.address;
  }

  set remoteAddress(address: string | undefined) {
    this.address = address;
    this.peer = null;
  }

  /** The query parameters. */
  get query(): URLSearchParams {
    if (this.parsedQuery === null) {
      const q = this.target.indexOf('?');
      this.parsedQuery = new URLSearchParams(q === -1 ? '' : this.target.slice(q + 1));
    }
    return this.parsedQuery;
  }

  set query(query: URLSearchParams) {
    this.parsedQuery = query;
  }
}
