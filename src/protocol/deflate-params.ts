/**
 * permessage-deflate negotiation (RFC 7692 §7.1), both sides, without zlib:
 * parameters in, an agreement (or a reason to refuse) out.
 *
 * The server side follows Python websockets' tables
 * (extensions/permessage_deflate.py, `process_request_params`): it answers
 * with the client's parameters, narrowed by its own configuration. The client
 * side accepts only answers that one of its offers allows.
 */
import { NegotiationError } from '../errors.js';
import type { ExtensionOffer } from './extension-header.js';

/** The extension token (RFC 7692 §7). */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** Parameters of one permessage-deflate offer or answer, as parsed. */
export interface DeflateParams {
  /** `server_no_context_takeover` present. */
  serverNoContextTakeover: boolean;
  /** `client_no_context_takeover` present. */
  clientNoContextTakeover: boolean;
  /** `server_max_window_bits` value (8..15), or undefined when absent. */
  serverMaxWindowBits: number | undefined;
  /** `client_max_window_bits` value (8..15), `true` for the value-less form (offers only), undefined when absent. */
  clientMaxWindowBits: number | true | undefined;
}

/** What both ends agreed on; window sizes are resolved (15 when unspecified). */
export interface DeflateAgreement {
  /** The server resets its compressor after each message. */
  serverNoContextTakeover: boolean;
  /** The client resets its compressor after each message. */
  clientNoContextTakeover: boolean;
  /** The server's LZ77 window, base-2 logarithm (8..15). */
  serverMaxWindowBits: number;
  /** The client's LZ77 window, base-2 logarithm (8..15). */
  clientMaxWindowBits: number;
}

/** One side's preferences, used to build offers or answers. Window bits are 8..15; undefined means no limit. */
export interface DeflateConfig {
  /** Ask (client) or require (server) that the server not keep its context between messages. */
  serverNoContextTakeover?: boolean;
  /** Ask (client) or require (server) that the client not keep its context between messages. */
  clientNoContextTakeover?: boolean;
  /** Largest window the server may compress with. */
  serverMaxWindowBits?: number;
  /** Largest window the client may compress with. */
  clientMaxWindowBits?: number;
}

/** How the codec on one side is set up from an agreement. */
export interface DeflateCodecParams {
  /** Reset the compressor after each message (ours). */
  deflateNoContextTakeover: boolean;
  /** Window bits for zlib's deflater (8 is raised to 9, see {@link deflaterWindowBits}). */
  deflateWindowBits: number;
  /** Reset the decompressor after each message (the peer's compressor does so). */
  inflateNoContextTakeover: boolean;
  /** Window bits for zlib's inflater. */
  inflateWindowBits: number;
}

const NAMES = new Set(['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits']);

/**
 * Parses permessage-deflate parameters; throws NegotiationError on an unknown,
 * duplicate or malformed one. `offer` allows the value-less `client_max_window_bits`.
 */
export function parseDeflateParams(params: ReadonlyArray<readonly [string, string | null]>, offer: boolean): DeflateParams {
  const result: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [rawName, value] of params) {
    // Extension parameter names are case-insensitive tokens (RFC 6455 §9.1 inherits RFC 2616's tokens); values are not.
    const name = rawName.toLowerCase();
    if (!NAMES.has(name)) throw new NegotiationError(`unknown permessage-deflate parameter ${rawName}`);
    if (seen.has(name)) throw new NegotiationError(`duplicate permessage-deflate parameter ${name}`);
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        // §7.1.1: these parameters have no value.
        if (value !== null) throw new NegotiationError(`permessage-deflate parameter ${name} takes no value`);
        if (name === 'server_no_context_takeover') result.serverNoContextTakeover = true;
        else result.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        result.serverMaxWindowBits = parseWindowBits(name, value);
        break;
      default:
        // §7.1.2.2: only a client's offer may leave client_max_window_bits without a value.
        if (value === null && offer) result.clientMaxWindowBits = true;
        else result.clientMaxWindowBits = parseWindowBits(name, value);
    }
  }
  return result;
}

function parseWindowBits(name: string, value: string | null): number {
  // §7.1.2: "a decimal integer value without leading zeroes between 8 to 15, inclusive".
  if (value === null || !/^(?:[89]|1[0-5])$/.test(value)) {
    throw new NegotiationError(`invalid value for permessage-deflate parameter ${name}: ${value ?? '(none)'}`);
  }
  return Number(value);
}

/** Checks a configuration's window bits; throws RangeError so a misconfiguration fails at startup. */
export function validateDeflateConfig(config: DeflateConfig): void {
  for (const key of ['serverMaxWindowBits', 'clientMaxWindowBits'] as const) {
    const bits = config[key];
    if (bits !== undefined && !(Number.isInteger(bits) && bits >= 8 && bits <= 15)) {
      throw new RangeError(`${key} must be an integer from 8 to 15, got ${String(bits)}`);
    }
  }
}

/** Serializes parameters in the RFC's order. */
export function formatDeflateParams(params: DeflateParams): Array<[string, string | null]> {
  const out: Array<[string, string | null]> = [];
  if (params.serverNoContextTakeover) out.push(['server_no_context_takeover', null]);
  if (params.clientNoContextTakeover) out.push(['client_no_context_takeover', null]);
  if (params.serverMaxWindowBits !== undefined) out.push(['server_max_window_bits', String(params.serverMaxWindowBits)]);
  if (params.clientMaxWindowBits === true) out.push(['client_max_window_bits', null]);
  else if (params.clientMaxWindowBits !== undefined) out.push(['client_max_window_bits', String(params.clientMaxWindowBits)]);
  return out;
}

/** The client's offer for a configuration: value-less `client_max_window_bits` unless a limit is set, so the server may pick. */
export function clientOffer(config: DeflateConfig): ExtensionOffer {
  return {
    name: PERMESSAGE_DEFLATE,
    params: formatDeflateParams({
      serverNoContextTakeover: config.serverNoContextTakeover ?? false,
      clientNoContextTakeover: config.clientNoContextTakeover ?? false,
      serverMaxWindowBits: config.serverMaxWindowBits,
      clientMaxWindowBits: config.clientMaxWindowBits ?? true,
    }),
  };
}

/**
 * Server side: answers one offer, or throws NegotiationError if this offer
 * must be declined (§5: malformed, duplicate or unknown parameters).
 */
export function answerOffer(offer: ExtensionOffer, config: DeflateConfig): { answer: ExtensionOffer; agreement: DeflateAgreement } {
  const offered = parseDeflateParams(offer.params, true);
  // §7.1.1.1: an offered server_no_context_takeover must be honoured; the server may also add it.
  const serverNoContextTakeover = offered.serverNoContextTakeover || (config.serverNoContextTakeover ?? false);
  // §7.1.1.2: the server may add client_no_context_takeover; echoing the client's hint lets us drop the inflater between messages.
  const clientNoContextTakeover = offered.clientNoContextTakeover || (config.clientNoContextTakeover ?? false);
  // §7.1.2.1: the answer may narrow an offered server_max_window_bits, or add one when none was offered.
  let serverMaxWindowBits = offered.serverMaxWindowBits;
  if (config.serverMaxWindowBits !== undefined) {
    serverMaxWindowBits = Math.min(serverMaxWindowBits ?? 15, config.serverMaxWindowBits);
  }
  // §7.1.2.2: client_max_window_bits may appear in the answer only if offered. A client that did not
  // offer it keeps a 15-bit window (Python's default, require_client_max_window_bits=False).
  let clientMaxWindowBits: number | undefined;
  if (offered.clientMaxWindowBits === true) clientMaxWindowBits = config.clientMaxWindowBits;
  else if (offered.clientMaxWindowBits !== undefined) {
    clientMaxWindowBits = Math.min(offered.clientMaxWindowBits, config.clientMaxWindowBits ?? 15);
  }
  const answer: ExtensionOffer = {
    name: PERMESSAGE_DEFLATE,
    params: formatDeflateParams({ serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits }),
  };
  return {
    answer,
    agreement: {
      serverNoContextTakeover,
      clientNoContextTakeover,
      serverMaxWindowBits: serverMaxWindowBits ?? 15,
      clientMaxWindowBits: clientMaxWindowBits ?? 15,
    },
  };
}

/**
 * Server side: the first of the client's offers (in its order of preference)
 * that can be accepted, or null to decline the extension. Offers that can't
 * be accepted are skipped, as RFC 7692 §5 requires ("MUST decline").
 */
export function negotiateServer(
  offers: readonly ExtensionOffer[],
  config: DeflateConfig,
): { answer: ExtensionOffer; agreement: DeflateAgreement } | null {
  for (const offer of offers) {
    if (offer.name.toLowerCase() !== PERMESSAGE_DEFLATE) continue;
    try {
      return answerOffer(offer, config);
    } catch (error) {
      if (!(error instanceof NegotiationError)) throw error;
    }
  }
  return null;
}

/**
 * Client side: checks the server's answer against what `config` offered;
 * throws NegotiationError (the handshake fails) if the answer is malformed or
 * asks for something not offered.
 */
export function acceptAnswer(answer: ExtensionOffer, config: DeflateConfig): DeflateAgreement {
  if (answer.name.toLowerCase() !== PERMESSAGE_DEFLATE) {
    throw new NegotiationError(`unexpected extension ${answer.name} in answer`);
  }
  const got = parseDeflateParams(answer.params, false);
  if (config.serverNoContextTakeover && !got.serverNoContextTakeover) {
    throw new NegotiationError('server did not accept server_no_context_takeover');
  }
  // client_no_context_takeover may be added by the server (§7.1.1.2): we just reset our compressor.
  if (config.serverMaxWindowBits !== undefined) {
    if (got.serverMaxWindowBits === undefined) throw new NegotiationError('server did not accept server_max_window_bits');
    if (got.serverMaxWindowBits > config.serverMaxWindowBits) {
      throw new NegotiationError(`server_max_window_bits=${got.serverMaxWindowBits} exceeds the ${config.serverMaxWindowBits} offered`);
    }
  }
  // We always offer client_max_window_bits (value-less by default), so the server may set it up to our limit.
  const clientLimit = config.clientMaxWindowBits ?? 15;
  const clientBits = got.clientMaxWindowBits as number | undefined;
  if (clientBits !== undefined && clientBits > clientLimit) {
    throw new NegotiationError(`client_max_window_bits=${clientBits} exceeds the ${clientLimit} offered`);
  }
  return {
    serverNoContextTakeover: got.serverNoContextTakeover,
    clientNoContextTakeover: got.clientNoContextTakeover || (config.clientNoContextTakeover ?? false),
    serverMaxWindowBits: got.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: clientBits ?? config.clientMaxWindowBits ?? 15,
  };
}

/**
 * zlib's raw deflate has no 8-bit window (zlib ≥ 1.2.9 rejects it; Node quietly
 * uses 9). That is still safe to announce as 8: zlib never emits a distance
 * beyond `window − 262` bytes, 250 for a 9-bit window, so a peer inflating with
 * 256 bytes decodes it (checked in test/protocol/deflate-params.test.ts).
 * Inflating is unaffected: an inflater accepts 8 and any smaller window than its own.
 */
export function deflaterWindowBits(bits: number): number {
  return bits === 8 ? 9 : bits;
}

/** How one side's codec uses an agreement: it deflates with its own parameters and inflates with the peer's. */
export function codecParams(agreement: DeflateAgreement, side: 'client' | 'server'): DeflateCodecParams {
  const server = side === 'server';
  return {
    deflateNoContextTakeover: server ? agreement.serverNoContextTakeover : agreement.clientNoContextTakeover,
    deflateWindowBits: deflaterWindowBits(server ? agreement.serverMaxWindowBits : agreement.clientMaxWindowBits),
    inflateNoContextTakeover: server ? agreement.clientNoContextTakeover : agreement.serverNoContextTakeover,
    inflateWindowBits: server ? agreement.clientMaxWindowBits : agreement.serverMaxWindowBits,
  };
}
