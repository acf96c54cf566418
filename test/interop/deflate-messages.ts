/** The messages the permessage-deflate interop tests send both ways: small and large, text and binary. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from '../../src/index.js';

/** Small and large text and binary, compressible and not, including empty messages. */
export function deflateMessages(): Array<string | Buffer> {
  const json = JSON.stringify(Array.from({ length: 3000 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'] })));
  return ['', 'short', 'é'.repeat(100), json, Buffer.alloc(0), randomBytes(100), randomBytes(300_000), Buffer.alloc(900_000, 0x41), json];
}

/** Every combination of the two no_context_takeover parameters. */
export const NO_CONTEXT_TAKEOVER_COMBOS = [false, true].flatMap((serverNoContextTakeover) =>
  [false, true].map((clientNoContextTakeover) => ({ serverNoContextTakeover, clientNoContextTakeover })),
);

/** Asserts-free equality of a received message with the one sent (type and bytes). */
export function sameMessage(got: unknown, sent: string | Buffer): boolean {
  if (typeof sent === 'string') return got === sent;
  return Buffer.isBuffer(got) && got.equals(sent);
}

/**
 * Connects a compressing wskit client to an echo server at `url`, checks the
 * negotiated parameters match `combo`, and sends and verifies every message of
 * deflateMessages() in order.
 */
export async function echoCompressed(
  url: string,
  combo: (typeof NO_CONTEXT_TAKEOVER_COMBOS)[number],
  maxMessageSize: number,
): Promise<void> {
  const ws = await connect(url, { compression: { ...combo, threshold: 0 }, maxMessageSize });
  assert.match(ws.extensions, /^permessage-deflate/);
  if (combo.serverNoContextTakeover) assert.match(ws.extensions, /server_no_context_takeover/);
  if (combo.clientNoContextTakeover) assert.match(ws.extensions, /client_no_context_takeover/);
  const messages = deflateMessages();
  for (const message of messages) await ws.send(message);
  for (const message of messages) assert.ok(sameMessage(await ws.recv(), message));
  await ws.close();
}
