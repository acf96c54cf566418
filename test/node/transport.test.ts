/**
 * A Connection runs over any byte stream with the members of `Transport`: here the two ends of an in-process
 * `stream.duplexPair()`, no socket at all (TCP, TLS and HTTP/2 streams are covered by the other node tests).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { duplexPair } from 'node:stream';
import { Connection } from '../../src/node/connection.js';
import { within } from '../helpers.js';

function pair(options: { writeLimit?: number; maxMessageSize?: number } = {}): { server: Connection; client: Connection } {
  const [a, b] = duplexPair();
  const settings = { pingInterval: null, ...options };
  return { server: new Connection(a, 'server', settings), client: new Connection(b, 'client', settings) };
}

describe('Connection over a Transport that is no socket', () => {
  it('exchanges text, binary and fragmented messages both ways, then closes cleanly with the code sent', async () => {
    const { server, client } = pair();
    await client.send('hello');
    await client.send(Buffer.from([1, 2, 3]));
    await client.send(['frag', 'mented']);
    assert.equal(await within(server.recv(), 5000, 'text'), 'hello');
    assert.deepEqual(await within(server.recv(), 5000, 'binary'), Buffer.from([1, 2, 3]));
    assert.equal(await within(server.recv(), 5000, 'fragmented'), 'fragmented');
    await server.send('back');
    assert.equal(await within(client.recv(), 5000, 'reply'), 'back');
    const [clientInfo, serverInfo] = await within(Promise.all([client.close(4001, 'done'), server.closed]), 5000, 'close');
    assert.deepEqual(clientInfo, { code: 4001, reason: 'done', wasClean: true });
    assert.deepEqual(serverInfo, { code: 4001, reason: 'done', wasClean: true });
  });

  it('paces a sender by the reader: 4 MiB through a 64 KiB write limit arrives whole, in order', async () => {
    const { server, client } = pair({ writeLimit: 64 * 1024, maxMessageSize: 1 << 20 });
    const messages = Array.from({ length: 4 }, (_, i) => Buffer.alloc(1 << 20, i + 1));
    const sending = (async () => {
      for (const message of messages) await server.send(message);
    })();
    for (const message of messages) assert.ok(message.equals((await within(client.recv(), 10_000, 'message')) as Buffer));
    await within(sending, 10_000, 'sends');
    await within(server.close(), 5000, 'close');
  });
});
