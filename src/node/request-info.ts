import { splitTarget } from '../protocol/handshake.js';
import type { HttpHeaders } from '../protocol/http11.js';
import type { RequestInfo } from './types.js';

/**
 * The request that opened a server-side connection, kept for its whole life:
 * the query is parsed from the target on first use (most handlers never read it).
 */
export class IncomingRequest implements RequestInfo {
  path: string;
  target: string;
  headers: HttpHeaders;
  /**
   * Read from the socket when the head has been parsed, not on first use: a closed socket no longer has an
   * address, and logging it when the connection ends is what people do.
   */
  remoteAddress: string | undefined;
  /** `'1.1'` for an HTTP/1.1 Upgrade, `'2'` for an HTTP/2 extended CONNECT (RFC 8441). */
  httpVersion: '1.1' | '2';
  /** The HTTP/2 stream that carries the WebSocket; undefined over HTTP/1.1. */
  streamId: number | undefined;
  private parsedQuery: URLSearchParams | null = null;

  constructor(path: string, target: string, headers: HttpHeaders, remoteAddress: string | undefined, httpVersion: '1.1' | '2' = '1.1', streamId?: number) {
    this.httpVersion = httpVersion;
    this.streamId = streamId;
    this.path = path;
    this.target = target;
    this.headers = headers;
    this.remoteAddress = remoteAddress;
  }

  /** The query parameters. */
  get query(): URLSearchParams {
    return (this.parsedQuery ??= splitTarget(this.target).query);
  }

  set query(query: URLSearchParams) {
    this.parsedQuery = query;
  }
}
