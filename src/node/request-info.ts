import { splitTarget } from '../protocol/handshake.js';
import { HttpHeaders } from '../protocol/http11.js';
import type { RequestInfo } from './types.js';

/**
 * The request that opened a server-side connection, kept for its whole life:
 * the query is parsed from the target on first use (most handlers never read it).
 */
export class IncomingRequest implements RequestInfo {
  path: string;
  target: string;
  // The headers, or the text of the head they are read from until first read (see keepHeadersAsText).
  private headersValue: HttpHeaders | string;
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
    this.headersValue = headers;
    this.remoteAddress = remoteAddress;
  }

  /** The request headers. */
  get headers(): HttpHeaders {
    const value = this.headersValue;
    if (typeof value !== 'string') return value;
    // The field lines start after the request line (see keepHeadersAsText).
    return (this.headersValue = HttpHeaders.fromHead(value, value.indexOf('\n') + 1));
  }

  set headers(headers: HttpHeaders) {
    this.headersValue = headers;
  }

  /**
   * @internal Keeps the headers as the text of the head until they are read (memory per idle connection: an object
   * of 48 bytes less; most connections never read them after the handshake). Only for a request no application code
   * has seen, which could hold on to the headers object; nothing is changed if the headers were already split or are
   * not a head's text from its request line on.
   */
  keepHeadersAsText(): void {
    const headers = this.headersValue;
    if (typeof headers === 'string') return;
    const text = headers.headText;
    if (text !== null && headers.headTextStart === text.indexOf('\n') + 1) this.headersValue = text;
  }

  /** The query parameters. */
  get query(): URLSearchParams {
    return (this.parsedQuery ??= splitTarget(this.target).query);
  }

  set query(query: URLSearchParams) {
    this.parsedQuery = query;
  }
}
