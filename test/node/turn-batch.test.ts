/**
 * Messages sent outside a received chunk's handling (a `for await` handler's replies, a timer's sends) go into the
 * protocol's output batch opened by the first send of the turn, until the turn's flush; one batch at a time holds the
 * process's shared buffer, so connections sending in the same turn without it write their frames on their own.
 * Whatever the mix (several connections in one turn, callback and `for await` handlers, text of any width, binary
 * too large to batch, a close), every peer gets exactly its messages, in order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, type Connection, type Message } from '../../src/index.js';
import { startServer, within } from '../helpers.js';

/** A small deterministic generator, so a failing mix can be replayed from the printed seed. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function randomMessage(random: () => number, index: number): Message {
  const kind = Math.floor(random() * 5);
  if (kind === 0) return `m${index}`;
  if (kind === 1) return `${index}:${'é✓😀a'.repeat(Math.floor(random() * 60))}`;
  if (kind === 2) return `${index}:${'x'.repeat(Math.floor(random() * 1500))}`;
  const bytes = Buffer.alloc(Math.floor(random() * (kind === 3 ? 200 : 4000)) + 4);
  bytes.writeUInt32BE(index);
  for (let i = 4; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

/** Reads `count` messages from a client. */
async function receive(client: Connection, count: number): Promise<Message[]> {
  const got: Message[] = [];
  for await (const message of client) {
    got.push(message);
    if (got.length === count) break;
  }
  return got;
}

describe('the output batch of a turn', { timeout: 30_000 }, () => {
  for (const compression of [false, true]) it(`for await handlers sending to their own and another connection in the same turns, compression ${compression ? 'on' : 'off'}: each peer gets its messages in order`, async () => {
    const seed = Number(process.env.TEST_SEED ?? Date.now() % 1_000_000);
    console.log(`turn-batch seed ${seed} (TEST_SEED=${seed} replays it)`);
    const random = prng(seed);
    const CLIENTS = 5;
    const PER_CLIENT = 60;
    const connections: Connection[] = [];
    const server = await startServer(async (ws) => {
      connections.push(ws);
      for await (const message of ws) {
        await ws.send(message);
        // A message for another connection, sent in the same turn as this reply.
        const other = connections[(connections.indexOf(ws) + 1) % connections.length]!;
        if (typeof message === 'string' && message.startsWith('m')) void other.send(`from-${message}`).catch(() => undefined);
      }
    }, { compression });
    try {
      const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(server.url)));
      // Each plan ends with short texts, which only the turn's flush writes (a large frame takes the batch with it).
      const plans = clients.map(() => [...Array.from({ length: PER_CLIENT }, (_, i) => randomMessage(random, i)), 'last-1', 'last-2']);
      // What each client expects: its own echoes, and the forwarded short texts of the client before it, in order
      // of their kind (the interleaving of the two streams depends on the turns, so they are compared apart).
      const counts = plans.map((plan, i) => plan.length + plans[(i + CLIENTS - 1) % CLIENTS]!.filter((m) => typeof m === 'string' && m.startsWith('m')).length);
      const readers = clients.map((client, i) => receive(client, counts[i]!));
      // Every client's messages go out in one burst, so the server reads several per chunk and replies in one turn.
      await Promise.all(clients.map((client, i) => Promise.all(plans[i]!.map((m) => client.send(m)))));
      const received = await within(Promise.all(readers), 8_000, 'every message back');
      for (let i = 0; i < CLIENTS; i++) {
        const got = received[i]!;
        const echoes = got.filter((m) => !(typeof m === 'string' && m.startsWith('from-')));
        const forwarded = got.filter((m) => typeof m === 'string' && m.startsWith('from-'));
        assert.deepEqual(echoes, plans[i], `client ${i}: echoes in order (seed ${seed})`);
        const previous = plans[(i + CLIENTS - 1) % CLIENTS]!.filter((m) => typeof m === 'string' && m.startsWith('m'));
        assert.deepEqual(forwarded, previous.map((m) => `from-${m}`), `client ${i}: forwarded in order (seed ${seed})`);
      }
      await Promise.all(clients.map((client) => client.close()));
    } finally {
      await server.close();
    }
  });

  it('a callback handler reading while a for await connection holds the turn batch; a close sent in the batch goes after its messages', async () => {
    const server = await startServer({
      message(ws, data) {
        ws.sendNow(data);
      },
    });
    const sender = await startServer(async (ws) => {
      for await (const message of ws) {
        if (message === 'burst') {
          for (let i = 0; i < 20; i++) void ws.send(`b${i}`);
          void ws.close(4000, 'after the burst');
        }
      }
    });
    try {
      const echoClient = await connect(server.url);
      const burstClient = await connect(sender.url);
      const echoes = receive(echoClient, 30);
      const burst = (async () => {
        const got: Message[] = [];
        // A close code other than 1000/1001 ends the iteration with ConnectionClosedError, as in Python websockets.
        await assert.rejects(async () => {
          for await (const message of burstClient) got.push(message);
        }, /4000 \(after the burst\)/);
        return got;
      })();
      await burstClient.send('burst');
      await Promise.all(Array.from({ length: 30 }, (_, i) => echoClient.send(`e${i}`)));
      assert.deepEqual(await within(echoes, 10_000, 'echoes'), Array.from({ length: 30 }, (_, i) => `e${i}`));
      assert.deepEqual(await within(burst, 10_000, 'burst'), Array.from({ length: 20 }, (_, i) => `b${i}`));
      assert.equal(burstClient.closeCode, 4000);
      assert.equal(burstClient.closeReason, 'after the burst');
      await echoClient.close();
    } finally {
      await Promise.all([server.close(), sender.close()]);
    }
  });
});
