/**
 * The client's side of the opening handshake, over HTTP/1.1 (RFC 6455 §4.1:
 * a GET with Upgrade, answered 101 with Sec-WebSocket-Accept) or HTTP/2
 * (RFC 8441 §4-5: an extended CONNECT, answered 2xx, no key). The offer and
 * the checks of what the server agreed are the same. Pure: no I/O.
 */
import { InvalidStatus } from '../errors.js';
import { formatExtensions } from './extension-header.js';
import {
  agreedByServer,
  buildUpgradeRequest,
  generateKey,
  validateUpgradeResponse,
  type UpgradeRequestOptions,
  type UpgradeResponse,
} from './handshake.js';
import { isToken, isValidFieldValue, type HttpHeaders, type HttpResponseHead } from './http11.js';

/** What the client offers: everything of an upgrade request but the key, which the handshake makes. */
export type ClientOffer = Omit<UpgradeRequestOptions, 'key'>;

// RFC 9113 §8.2.2: connection-specific fields are malformed in HTTP/2; Host is :authority there (§8.3.1).
const NOT_IN_HTTP2 = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'host', 'te']);

/** One opening handshake of a client: builds its request and checks the answer, over HTTP/1.1 or HTTP/2. */
export class ClientHandshake {
  /** `Sec-WebSocket-Key` of the HTTP/1.1 request (unused over HTTP/2, RFC 8441 §5). */
  readonly key: string = generateKey();
  private readonly offer: ClientOffer;

  constructor(offer: ClientOffer) {
    this.offer = offer;
  }

  /** The HTTP/1.1 upgrade request (§4.1). */
  http11Request(): Buffer {
    return buildUpgradeRequest({ ...this.offer, key: this.key });
  }

  /**
   * The fields of the extended CONNECT (RFC 8441 §4-5): `:method` CONNECT, `:protocol` websocket, `:scheme`,
   * `:path` and `:authority`, then Sec-WebSocket-Version, -Protocol, -Extensions, Origin and the caller's headers
   * (lower case; connection-specific ones refused).
   */
  http2Request(secure: boolean): Record<string, string> {
    const offer = this.offer;
    const fields: Record<string, string> = {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': secure ? 'https' : 'http',
      ':path': offer.target,
      ':authority': offer.host,
      'sec-websocket-version': '13',
    };
    const protocols = offer.protocols ?? [];
    for (const protocol of protocols) {
      if (typeof protocol !== 'string' || !isToken(protocol)) throw new TypeError(`invalid subprotocol ${JSON.stringify(protocol)}: not an HTTP token`);
    }
    if (protocols.length > 0) fields['sec-websocket-protocol'] = protocols.join(', ');
    if (offer.extensions !== undefined && offer.extensions.length > 0) fields['sec-websocket-extensions'] = formatExtensions(offer.extensions);
    if (offer.origin !== undefined) fields.origin = checked('Origin', offer.origin);
    for (const [name, value] of offer.headers ?? []) {
      if (typeof name !== 'string' || !isToken(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
      const lower = name.toLowerCase();
      if (NOT_IN_HTTP2.has(lower)) throw new TypeError(`header ${name} cannot be sent over HTTP/2`);
      // A repeated field is one comma-separated list (RFC 9110 §5.3).
      fields[lower] = fields[lower] === undefined ? checked(name, value) : `${fields[lower]}, ${checked(name, value)}`;
    }
    return fields;
  }

  /** Checks the HTTP/1.1 answer (§4.1): 101, Upgrade, Connection, Sec-WebSocket-Accept, then what was agreed. */
  checkHttp11(head: HttpResponseHead, body?: Buffer): UpgradeResponse {
    return validateUpgradeResponse(head, this.key, this.offer.protocols ?? [], body);
  }

  /** Checks the HTTP/2 answer (RFC 8441 §5: any 2xx accepts), then what was agreed. */
  checkHttp2(status: number, headers: HttpHeaders): UpgradeResponse {
    if (status < 200 || status > 299) {
      throw new InvalidStatus({ status, statusText: '', headers: new Map(Object.entries(headers.toJSON())), body: Buffer.alloc(0) });
    }
    return agreedByServer(headers, this.offer.protocols ?? []);
  }
}

function checked(name: string, value: string): string {
  if (typeof value !== 'string' || !isValidFieldValue(value)) throw new TypeError(`invalid value for header ${name}: control characters`);
  return value;
}
