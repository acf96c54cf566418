/**
 * close() on a connection whose unread messages filled the queue (`maxQueue`, reading paused): the peer's Close
 * comes behind data we have not read, so reading must go on after our Close (RFC 6455 §7.1.2) or the closing
 * handshake only ends at closeTimeout, uncleanly. Seen with the token-bucket recipe of docs/security.md, which closes
 * a flooding client with 1008.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { connect, type CloseInfo } from '../../src/index.js';
import { delay, startServer, within } from '../helpers.js';

it('close() with a full queue of unread messages completes the closing handshake cleanly', async () => {
  let go!: () => void;
  const released = new Promise<void>((resolve) => (go = resolve));
  let serverSide!: Promise<CloseInfo>;
  const server = await startServer(
    async (ws) => {
      await released;
      serverSide = ws.close(4000, 'bye');
      await serverSide;
    },
    { maxQueue: 2, closeTimeout: 5_000, metrics: true },
  );
  try {
    const client = await connect(server.url, { closeTimeout: 5_000 });
    for (let i = 0; i < 3; i++) await client.send(`unread ${i}`);
    // Once the server has taken in maxQueue messages it stops reading; the client's Close reply will wait behind that.
    const received = () => server.metrics().wskit_messages_received_total.samples.reduce((sum, s) => sum + ('value' in s ? s.value : 0), 0);
    const deadline = Date.now() + 10_000;
    while (received() < 2) {
      assert.ok(Date.now() < deadline, 'the server did not receive the messages');
      await delay(5);
    }
    go();
    const [server_, client_] = await within(Promise.all([released.then(() => serverSide), client.closed]), 20_000, 'the closing handshake');
    assert.deepEqual(server_, { code: 4000, reason: 'bye', wasClean: true });
    assert.deepEqual(client_, { code: 4000, reason: 'bye', wasClean: true });
  } finally {
    await server.close();
  }
});
