/**
 * The seam between a connection and a per-message extension such as
 * permessage-deflate (RFC 7692): compressed messages pass through a codec,
 * everything else bypasses it. Implementations serialise their own work.
 */
export interface MessageCodec {
  /** Decodes a received message whose first frame had RSV1 set; rejects with PayloadTooBig past `maxSize`. */
  decode(data: Buffer, maxSize: number): Promise<Buffer>;
  /** Whether an outgoing message of `size` bytes should be encoded (e.g. above a threshold). */
  shouldEncode(size: number): boolean;
  /** Encodes an outgoing message; the result is sent with RSV1 set, or as is (RSV1 clear) if null. */
  encode(data: Buffer): Promise<Buffer | null>;
  /** Releases resources (zlib contexts) when the connection closes. */
  close(): void;
  /**
   * An encoder shared with other connections when this one's encoding depends on the message alone (no context
   * kept between messages): connections with the same one can be sent one encoding (a broadcast compresses once).
   * Null or absent when each connection's encoding differs.
   */
  readonly shared?: MessageEncoder | null;
}

/** An encoder whose output depends on the message alone (see {@link MessageCodec.shared}). */
export interface MessageEncoder {
  /** The message encoded (deflated, tail removed: RFC 7692 §7.2.1); null when that would not be smaller. */
  encode(data: Buffer): Promise<Buffer | null>;
}

import type { ExtensionOffer } from '../protocol/extension-header.js';

/** Server side of an extension's negotiation (RFC 6455 §9). */
export interface ServerExtension {
  /** The extension token, e.g. `permessage-deflate`. */
  readonly name: string;
  /**
   * Chooses among the client's offers for this extension (in its order of
   * preference); returns the answer to send and the codec, or null to decline.
   * Throws to reject the handshake (400) on a malformed offer.
   */
  accept(offers: ExtensionOffer[]): { answer: ExtensionOffer; codec: MessageCodec } | null;
}

/** Client side of an extension's negotiation. */
export interface ClientExtension {
  /** The extension token. */
  readonly name: string;
  /** The offers to send, in order of preference. */
  offers(): ExtensionOffer[];
  /** Checks the server's answer; throws NegotiationError if it is not one we could have offered. */
  accept(answer: ExtensionOffer): MessageCodec;
}
