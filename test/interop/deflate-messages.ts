/** The messages the permessage-deflate interop tests send both ways: small and large, text and binary. */
import { randomBytes } from 'node:crypto';

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
