/**
 * Floods, slow peers and faults: nothing buffers without bound, a failing
 * handler or a vanishing peer costs only its own connection, and nothing
 * escapes as an uncaught exception or unhandled rejection.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { connect, ConnectionClosed, type Connection } from '../../src/index.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { clientFrame, rawClient } from './raw-peer.js';
import { escaped } from './tripwire.js';
import { delay, echo, startServer, until, within } from '../helpers.js';

after(() => {
  assert.deepEqual(escaped, [], 'no uncaught exception or unhandled rejection');
});

describe('floods and slow peers', () => {
  it('a ping flood from a peer that never reads does not queue pongs without bound', async () => {
    const server = await startServer(echo, { writeLimit: 64 * 1024 });
    try {
      const client = await rawClient(server.address()!.port);
      client.socket.pause();
      const ping = clientFrame(Opcode.PING, 'flood');
      const burst = Buffer.concat(Array.from({ length: 10_000 }, () => ping));
      let peak = 0;
      const watch = setInterval(() => {
        for (const ws of server.connections) peak = Math.max(peak, ws.bufferedAmount);
      }, 5);
      // 400,000 pings would be 2.8 MB of pongs; the server stops reading instead of buffering them.
      for (let i = 0; i < 40; i++) {
        if (!client.socket.write(burst)) await Promise.race([new Promise((r) => client.socket.once('drain', r)), delay(100)]);
      }
      await delay(300);
      clearInterval(watch);
      assert.ok(peak < 1024 * 1024, `server buffered at most ${peak} bytes of pongs`);
      client.socket.destroy();
    } finally {
      await server.close();
    }
  });

  it('a client that never reads cannot make the server buffer more than writeLimit plus one message', async () => {
    let sent = 0;
    const server = await startServer(
      async (ws) => {
        const chunk = Buffer.alloc(256 * 1024);
        for (;;) {
          await ws.send(chunk);
          sent++;
        }
      },
      { writeLimit: 512 * 1024 },
    );
    try {
      const client = await rawClient(server.address()!.port);
      client.socket.pause();
      let peak = 0;
      for (let i = 0; i < 20; i++) {
        await delay(25);
        for (const ws of server.connections) peak = Math.max(peak, ws.bufferedAmount);
      }
      assert.ok(peak <= 512 * 1024 + 256 * 1024 + 16, `peak ${peak}`);
      assert.ok(sent < 64, `the producer was paced (${sent} sends)`);
      const before = sent;
      client.socket.resume();
      await until(() => sent > before, 10_000, 'sending resumes once the peer reads');
      client.socket.destroy();
    } finally {
      await server.close();
    }
  });
});

describe('closing while the reader is behind', () => {
  it('server.close() reads past maxQueue unread messages to the client\'s close frame instead of waiting closeTimeout', async () => {
    let firstRead!: () => void;
    const reading = new Promise<void>((resolve) => (firstRead = resolve));
    const server = await startServer(async (ws) => {
      await ws.recv(); // the burst below has been received: the rest of it is unread
      firstRead();
      await ws.closed; // and never read
    });
    try {
      const client = await connect(server.url.replace('localhost', '127.0.0.1'));
      const burst = Array.from({ length: 200 }, (_, i) => client.send(`message ${i}`)); // one write
      await Promise.all(burst);
      await within(reading, 5000, 'the first message read');
      await within(server.close(), 5000, 'server.close() (closeTimeout is 10 s)');
      const info = await client.closed;
      assert.equal(info.code, 1001);
      assert.ok(info.wasClean, 'a clean closing handshake');
    } finally {
      await server.close();
    }
  });
});

describe('faults', () => {
  it('a client that disappears mid-frame (RST) ends its handler with ConnectionClosedError, others unaffected', async () => {
    let handlerError: unknown;
    const server = await startServer(async (ws) => {
      try {
        for await (const message of ws) await ws.send(message);
      } catch (error) {
        handlerError = error;
      }
    });
    try {
      const port = server.address()!.port;
      const bystander = await connect(`ws://127.0.0.1:${port}`);
      const victim = await rawClient(port);
      victim.socket.write(clientFrame(Opcode.BINARY, Buffer.alloc(1000)).subarray(0, 500));
      await delay(50);
      victim.socket.resetAndDestroy();
      await delay(100);
      assert.ok(handlerError instanceof ConnectionClosed);
      assert.equal((handlerError as ConnectionClosed).closeCode, 1006);
      await bystander.send('fine');
      assert.equal(await within(bystander.recv(), 1000, 'echo'), 'fine');
      await bystander.close();
    } finally {
      await server.close();
    }
  });

  it('ECONNRESET while the server is writing rejects send() and nothing escapes', async () => {
    let failure: unknown;
    const server = await startServer(async (ws) => {
      try {
        for (;;) await ws.send(Buffer.alloc(64 * 1024));
      } catch (error) {
        failure = error;
      }
    });
    try {
      const client = await rawClient(server.address()!.port);
      await delay(50);
      client.socket.resetAndDestroy();
      await within(
        (async () => {
          while (failure === undefined) await delay(10);
        })(),
        2000,
        'send to reject',
      );
      assert.ok(failure instanceof ConnectionClosed);
    } finally {
      await server.close();
    }
  });

  it('a handler that throws is logged, its connection closed with 1011, and the server keeps serving', async () => {
    const logged: unknown[] = [];
    const server = await startServer(
      async (ws) => {
        const message = await ws.recv();
        if (message === 'throw') throw new Error('handler bug');
        if (message === 'reject') await Promise.reject(new Error('async handler bug'));
        await ws.send(message);
      },
      { logger: { error: (...args: unknown[]) => logged.push(args) } },
    );
    try {
      const url = `ws://127.0.0.1:${server.address()!.port}`;
      for (const trigger of ['throw', 'reject']) {
        const ws = await connect(url);
        await ws.send(trigger);
        const info = await within(ws.closed, 2000, 'close');
        assert.equal(info.code, 1011);
      }
      assert.equal(logged.length, 2);
      const ok = await connect(url);
      await ok.send('still serving');
      assert.equal(await ok.recv(), 'still serving');
    } finally {
      await server.close();
    }
  });
});

describe('graceful shutdown', () => {
  it('server.close() sends 1001 to every client after delivering what was already sent', async () => {
    let sent = 0;
    const server = await startServer(async (ws) => {
      // Not awaited: the message is still being written when the server closes.
      void ws.send(Buffer.alloc(512 * 1024, 7));
      sent++;
      await ws.closed;
    });
    const clients: Connection[] = await Promise.all(
      Array.from({ length: 50 }, () => connect(`ws://127.0.0.1:${server.address()!.port}`)),
    );
    await within(
      (async () => {
        while (sent < clients.length) await delay(5);
      })(),
      5000,
      'every handler to send',
    );
    await within(server.close(), 5000, 'server.close()');
    for (const ws of clients) {
      const message = (await ws.recv()) as Buffer;
      assert.equal(message.length, 512 * 1024);
      const info = await ws.closed;
      assert.equal(info.code, 1001);
      assert.equal(info.wasClean, true);
    }
  });

  it('a client that never answers the close is dropped after closeTimeout', async () => {
    const server = await startServer(echo, { closeTimeout: 300 });
    const client = await rawClient(server.address()!.port);
    client.socket.pause();
    const started = performance.now();
    await within(server.close(), 2000, 'server.close()');
    assert.ok(performance.now() - started < 1500);
    client.socket.destroy();
  });
});
