/**
 * The server's side of the opening handshake as one policy applied to two
 * transports: an HTTP/1.1 Upgrade (RFC 6455 §4.2) and an HTTP/2 extended
 * CONNECT (RFC 8441 §4-5). Both choose the subprotocol, check the Origin and
 * negotiate extensions the same way; only the request's checks and the
 * response's form differ. Pure: no I/O; the caller reads heads and writes answers.
 */
import { formatExtensions, type ExtensionOffer } from './extension-header.js';
import { acceptResponseText, UPGRADE_REQUIRED_HEADERS, type UpgradeRequest } from './handshake.js';
import { HttpHeadError, type HttpHeaders } from './http11.js';

/** One extension the server can negotiate (RFC 6455 §9): chooses among the client's offers for it. */
export interface NegotiableExtension<C> {
  /** The extension token, e.g. `permessage-deflate`. */
  readonly name: string;
  /** The answer and the codec, or null to decline; throws to refuse the handshake (400) on a malformed offer. */
  accept(offers: ExtensionOffer[]): { answer: ExtensionOffer; codec: C } | null;
}

/** What the server agrees to, whatever carries the handshake. `R` is the request the subprotocol chooser sees. */
export interface HandshakePolicy<C, R> {
  /** Subprotocols supported, in order of preference, or a function choosing among those offered. */
  subprotocols?: string[] | ((offered: string[], request: R) => string | null);
  /** Allowed Origin values (exact strings or regexps; `null` admits requests without Origin). */
  origins?: Array<string | RegExp | null>;
  /** Extensions the server can negotiate, in order of preference; at most one is agreed. */
  extensions?: ReadonlyArray<NegotiableExtension<C>>;
}

/** What the handshake agreed: the subprotocol, the codec of the extension and its header value. */
export interface Agreement<C> {
  /** The chosen subprotocol, or null. */
  protocol: string | null;
  /** The codec of the agreed extension, or null. */
  codec: C | null;
  /** The `Sec-WebSocket-Extensions` answer ('' for none). */
  extensions: string;
}

/** The extra fields an HTTP/2 refusal of an unsupported version carries (RFC 6455 §4.4, kept by RFC 8441 §5). */
export const VERSION_REQUIRED_HEADERS: Array<[string, string]> = [['Sec-WebSocket-Version', '13']];

/**
 * Applies a {@link HandshakePolicy}: one object per server, used for every
 * handshake (HTTP/1.1 and HTTP/2 alike).
 */
export class ServerHandshake<C, R> {
  private readonly policy: HandshakePolicy<C, R>;

  constructor(policy: HandshakePolicy<C, R>) {
    this.policy = policy;
  }

  /** Whether the request's Origin is allowed (RFC 6455 §4.2.2 item 4; §10.2); true without an `origins` policy. */
  originAllowed(headers: HttpHeaders): boolean {
    const allowed = this.policy.origins;
    if (allowed === undefined) return true;
    const origins = headers.getAll('origin');
    if (origins.length > 1) return false;
    const origin = origins[0];
    if (origin === undefined) return allowed.includes(null);
    return allowed.some((rule) => (rule === null ? false : typeof rule === 'string' ? rule === origin : fullMatch(rule, origin)));
  }

  /**
   * Chooses the subprotocol (§4.2.2 item 5: one the client offered, or none) and
   * the extension (§9.1); throws {@link HttpHeadError} 400 on a malformed offer.
   */
  agree(offer: Pick<UpgradeRequest, 'protocols' | 'extensions'>, request: R): Agreement<C> {
    const { subprotocols, extensions } = this.policy;
    const offered = offer.protocols;
    let protocol: string | null = null;
    if (typeof subprotocols === 'function') protocol = subprotocols(offered, request);
    else if (subprotocols !== undefined) protocol = subprotocols.find((p) => offered.includes(p)) ?? null;
    if (protocol !== null && !offered.includes(protocol)) protocol = null;
    let codec: C | null = null;
    let answer: ExtensionOffer | null = null;
    try {
      for (const extension of extensions ?? []) {
        const offers = offer.extensions.filter((item) => item.name === extension.name);
        if (offers.length === 0) continue;
        const accepted = extension.accept(offers);
        if (accepted) {
          answer = accepted.answer;
          codec = accepted.codec;
          break;
        }
      }
    } catch (error) {
      throw new HttpHeadError(400, (error as Error).message);
    }
    return { protocol, codec, extensions: answer === null ? '' : formatExtensions([answer]) };
  }

  /** The 101 response of an HTTP/1.1 upgrade (§4.2.2 item 5), as one latin1 string. */
  http11Response(key: string, agreement: Agreement<C>): string {
    return acceptResponseText(key, agreement.protocol, agreement.extensions);
  }

  /** The 2xx response fields of an extended CONNECT (RFC 8441 §5: `:status 200`, no Sec-WebSocket-Accept). */
  http2Response(agreement: Agreement<C>): Record<string, string | number> {
    const fields: Record<string, string | number> = { ':status': 200 };
    if (agreement.protocol !== null) fields['sec-websocket-protocol'] = agreement.protocol;
    if (agreement.extensions !== '') fields['sec-websocket-extensions'] = agreement.extensions;
    return fields;
  }
}

/** The extra headers of a refusal with `status` over HTTP/1.1 (426 names the upgrade and version, §4.4). */
export function refusalHeaders(status: number): Array<[string, string]> {
  return status === 426 ? UPGRADE_REQUIRED_HEADERS : [];
}

function fullMatch(pattern: RegExp, value: string): boolean {
  const match = new RegExp(pattern.source, pattern.flags.replace('g', '')).exec(value);
  return match !== null && match.index === 0 && match[0].length === value.length;
}
