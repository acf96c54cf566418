/**
 * `Sec-WebSocket-Extensions` grammar (RFC 6455 §9.1), parsed by a hand-written
 * scanner in linear time (no backtracking regex: ws's CVE-2021-32640), into
 * Maps and arrays, never plain objects keyed by peer input (ws's `__proto__` crash).
 */
import { isToken } from './http11.js';
import { InvalidHeader } from '../errors.js';

/** One extension in an offer or an answer, e.g. `permessage-deflate; client_max_window_bits`. */
export interface ExtensionOffer {
  /** The extension token, e.g. `permessage-deflate`. */
  name: string;
  /** Parameters in order; a value-less parameter has value `null`. */
  params: Array<[string, string | null]>;
}

/** Parses a `Sec-WebSocket-Extensions` value into a list of offers; throws InvalidHeader if malformed. */
export function parseExtensions(value: string): ExtensionOffer[] {
  const offers: ExtensionOffer[] = [];
  let i = 0;
  const n = value.length;
  const fail = (why: string): never => {
    throw new InvalidHeader('Sec-WebSocket-Extensions', `invalid Sec-WebSocket-Extensions: ${why}`);
  };
  const skipOws = () => {
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && value[i] !== ';' && value[i] !== ',' && value[i] !== '=' && value[i] !== ' ' && value[i] !== '\t') i++;
    const token = value.slice(start, i);
    if (!isToken(token)) fail(`expected a token at offset ${start}`);
    return token;
  };
  while (i < n) {
    skipOws();
    if (value[i] === ',') {
      i++;
      continue;
    }
    if (i >= n) break;
    const name = readToken();
    const params: Array<[string, string | null]> = [];
    skipOws();
    while (i < n && value[i] === ';') {
      i++;
      skipOws();
      const param = readToken();
      skipOws();
      let paramValue: string | null = null;
      if (value[i] === '=') {
        i++;
        skipOws();
        if (value[i] === '"') {
          i++;
          let quoted = '';
          while (i < n && value[i] !== '"') {
            if (value[i] === '\\') i++;
            if (i < n) quoted += value[i++];
          }
          if (i >= n) fail('unterminated quoted string');
          i++;
          // §9.1: a quoted value must itself be a token.
          if (!isToken(quoted)) fail('quoted parameter value is not a token');
          paramValue = quoted;
        } else {
          paramValue = readToken();
        }
        skipOws();
      }
      params.push([param, paramValue]);
    }
    if (i < n && value[i] !== ',') fail(`unexpected character at offset ${i}`);
    offers.push({ name, params });
  }
  return offers;
}

/** Serializes extensions for a `Sec-WebSocket-Extensions` header. */
export function formatExtensions(extensions: ExtensionOffer[]): string {
  return extensions
    .map((e) => [e.name, ...e.params.map(([k, v]) => (v === null ? k : `${k}=${v}`))].join('; '))
    .join(', ');
}
