/**
 * A backplane carries topic publishes between server nodes, so that a publish
 * on one node reaches subscribers on every node. Each node delivers its own
 * publishes locally at once (exactly once) and the backplane hands it only
 * the messages of *other* nodes.
 *
 * The interface is the server's (node/backplane.ts); two implementations:
 * {@link inProcessBackplane} (servers in one process, zero configuration) and
 * `redisBackplane({ url })` (processes and hosts).
 */
import { randomUUID } from 'node:crypto';
import type { Backplane, BackplaneMessage } from '../node/backplane.js';

export type { Backplane, BackplaneMessage, PublishTimes } from '../node/backplane.js';

type Deliver = (message: BackplaneMessage) => void;

const channels = new Map<string, Set<{ nodeId: string; deliver: Deliver }>>();

/** Options of {@link inProcessBackplane}. */
export interface InProcessBackplaneOptions {
  /** Nodes on the same channel share topics. Default `'default'`. */
  channel?: string;
  /** This node's identity. Default a random UUID. */
  nodeId?: string;
}

/**
 * A backplane between servers of one process (tests, or several ports served
 * by one process): nodes on the same `channel` see each other's publishes.
 * Delivery is on a microtask, like a network hop, in publish order.
 */
export function inProcessBackplane(options: InProcessBackplaneOptions = {}): Backplane {
  const channel = options.channel ?? 'default';
  const nodeId = options.nodeId ?? randomUUID();
  let member: { nodeId: string; deliver: Deliver } | null = null;
  return {
    nodeId,
    async start(deliver) {
      if (member !== null) return;
      member = { nodeId, deliver };
      let nodes = channels.get(channel);
      if (nodes === undefined) channels.set(channel, (nodes = new Set()));
      nodes.add(member);
    },
    publish(message) {
      const nodes = channels.get(channel);
      if (nodes === undefined) return;
      const copy: BackplaneMessage = {
        topic: message.topic,
        data: typeof message.data === 'string' ? message.data : Buffer.from(message.data),
      };
      queueMicrotask(() => {
        for (const node of nodes) if (node.nodeId !== nodeId) node.deliver(copy);
      });
    },
    async close() {
      if (member === null) return;
      const nodes = channels.get(channel);
      nodes?.delete(member);
      if (nodes?.size === 0) channels.delete(channel);
      member = null;
    },
  };
}

/**
 * Envelope of a message between nodes, binary-safe:
 * `[0x01 version][flags: bit0 binary][u8 nodeId length][nodeId][u16 topic length][topic][payload]`.
 */
export function encodeEnvelope(nodeId: string, message: BackplaneMessage): Buffer {
  const id = Buffer.from(nodeId);
  const topic = Buffer.from(message.topic);
  if (id.length > 255) throw new RangeError('node id longer than 255 bytes');
  if (topic.length > 65535) throw new RangeError('topic longer than 65,535 bytes');
  const binary = typeof message.data !== 'string';
  const data = typeof message.data === 'string' ? Buffer.from(message.data) : message.data;
  const out = Buffer.allocUnsafe(3 + id.length + 2 + topic.length + data.length);
  let at = 0;
  out[at++] = 1;
  out[at++] = binary ? 1 : 0;
  out[at++] = id.length;
  at += id.copy(out, at);
  out.writeUInt16BE(topic.length, at);
  at += 2;
  at += topic.copy(out, at);
  data.copy(out, at);
  return out;
}

/** Decodes {@link encodeEnvelope}'s output; null if it is not one. */
export function decodeEnvelope(bytes: Buffer): { nodeId: string; message: BackplaneMessage } | null {
  if (bytes.length < 5 || bytes[0] !== 1) return null;
  const binary = (bytes[1]! & 1) === 1;
  const idLength = bytes[2]!;
  let at = 3;
  if (bytes.length < at + idLength + 2) return null;
  const nodeId = bytes.toString('utf8', at, at + idLength);
  at += idLength;
  const topicLength = bytes.readUInt16BE(at);
  at += 2;
  if (bytes.length < at + topicLength) return null;
  const topic = bytes.toString('utf8', at, at + topicLength);
  at += topicLength;
  const payload = bytes.subarray(at);
  return { nodeId, message: { topic, data: binary ? payload : payload.toString('utf8') } };
}
