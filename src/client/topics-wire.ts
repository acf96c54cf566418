/**
 * The frames of the `wskit.topics.v1` subprotocol (docs/topics-protocol.md), for both ends and for the browser:
 * no Node APIs. A message is a JSON object in a text frame; a message whose payload is bytes travels in a binary
 * frame: a 4-byte big-endian length N, N bytes of the UTF-8 JSON object (the header), then the payload.
 */

/** The subprotocol name a client offers and a topics server selects. */
export const TOPICS_PROTOCOL = 'wskit.topics.v1';

/** Longest epoch accepted in a position, in characters. */
export const MAX_EPOCH_LENGTH = 64;

/** Longest publish key accepted, in characters. */
export const MAX_KEY_LENGTH = 256;

/** Error codes of an `error` message. */
export type TopicErrorCode = 'bad-request' | 'forbidden' | 'too-many-topics' | 'not-subscribed' | 'already-subscribed';

/** A decoded frame: its JSON header, and the bytes payload when it came in a binary frame. */
export interface TopicFrame {
  /** The JSON object (text frame) or header (binary frame). */
  header: Record<string, unknown>;
  /** The bytes payload of a binary frame; null for a text frame. */
  bytes: Uint8Array | null;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Encodes a message: with `json` (the JSON text of the payload), a text frame with the payload as `"data"`; with
 * `bytes`, a binary frame; with neither, a text frame of `header` alone.
 */
export function encodeTopicFrame(header: Record<string, unknown>, payload: { json: string } | { bytes: Uint8Array } | null = null): string | Uint8Array {
  const text = JSON.stringify(header);
  if (payload === null) return text;
  if ('json' in payload) return `${text.slice(0, -1)}${text.length > 2 ? ',' : ''}"data":${payload.json}}`;
  const head = encoder.encode(text);
  const frame = new Uint8Array(4 + head.length + payload.bytes.length);
  new DataView(frame.buffer).setUint32(0, head.length);
  frame.set(head, 4);
  frame.set(payload.bytes, 4 + head.length);
  return frame;
}

/** Decodes a frame; throws a TypeError saying what is wrong with it. */
export function decodeTopicFrame(frame: string | Uint8Array): TopicFrame {
  if (typeof frame === 'string') return { header: parseObject(frame), bytes: null };
  if (frame.length < 4) throw new TypeError('a binary frame starts with a 4-byte header length');
  const length = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);
  if (length > frame.length - 4) throw new TypeError('the header length runs past the end of the frame');
  let text: string;
  try {
    text = decoder.decode(frame.subarray(4, 4 + length));
  } catch {
    throw new TypeError('the header is not UTF-8');
  }
  return { header: parseObject(text), bytes: frame.subarray(4 + length) };
}

function parseObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TypeError('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError('not a JSON object');
  return value as Record<string, unknown>;
}

/** A request id: a string or a number, echoed in the reply. */
export type RequestId = string | number;

/** The request id of a header, undefined when absent; throws when it is neither a string nor a number. */
export function requestId(header: Record<string, unknown>): RequestId | undefined {
  const id = header.id;
  if (id === undefined) return undefined;
  if ((typeof id === 'string' && id.length <= MAX_KEY_LENGTH) || (typeof id === 'number' && Number.isFinite(id))) return id;
  throw new TypeError('"id" must be a string or a number');
}

/** A position `{ offset, epoch }` read from untrusted JSON; throws when malformed. */
export function positionOf(value: unknown): { offset: number; epoch: string } {
  const position = value as { offset?: unknown; epoch?: unknown } | null;
  if (typeof position !== 'object' || position === null) throw new TypeError('"since" must be an object');
  const { offset, epoch } = position;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new TypeError('"since.offset" must be an integer ≥ 0');
  if (typeof epoch !== 'string' || epoch.length > MAX_EPOCH_LENGTH) throw new TypeError(`"since.epoch" must be a string of at most ${MAX_EPOCH_LENGTH} characters`);
  return { offset, epoch };
}
