/**
 * Frame abuse over real sockets (RFC 6455 §5, §7.4): each malformed input is
 * answered with the right close code, quickly, without buffering the declared length.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect, ConnectionClosedError, type Server } from '../../src/index.js';
import { computeAccept } from '../../src/protocol/handshake.js';
import { clientFrame, rawClient, unmaskedFrame } from './raw-peer.js';
import { echo, startServer, within } from '../helpers.js';

const TEXT = 1;
const BINARY = 2;
const CONT = 0;
const CLOSE = 8;
const PING = 9;

let server: Server;
let port: number;

before(async () => {
  server = await startServer(echo, { maxMessageSize: 1024 * 1024 });
  port = server.address()!.port;
});
after(() => server.close());

async function expectClose(bytes: Buffer | Buffer[], code: number, ms = 2000): Promise<void> {
  const client = await rawClient(port);
  for (const b of Array.isArray(bytes) ? bytes : [bytes]) client.socket.write(b);
  const result = await within(client.closed, ms, 'server close');
  assert.equal(result.code, code);
}

describe('frame abuse is answered with the right close code', () => {
  it('a 2^63-1 length header closes with 1009 at once, without allocating', async () => {
    const header = Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
    const rss = process.memoryUsage().rss;
    await expectClose(header, 1009, 1000);
    assert.ok(process.memoryUsage().rss - rss < 64 * 1024 * 1024);
  });

  it('a 64-bit length with the most significant bit set closes with 1002', async () => {
    await expectClose(Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]), 1002);
  });

  it('a length just over maxMessageSize closes with 1009 before the payload arrives', async () => {
    const header = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 1, 1, 2, 3, 4]);
    await expectClose(header, 1009, 1000);
  });

  it('an unmasked client frame closes with 1002', async () => {
    await expectClose(unmaskedFrame(TEXT, 'hello'), 1002);
  });

  it('reserved bits RSV1/RSV2/RSV3 close with 1002 when no extension claims them', async () => {
    for (const bit of [0x40, 0x20, 0x10]) {
      const frame = clientFrame(TEXT, 'x');
      frame[0] |= bit;
      await expectClose(frame, 1002);
    }
  });

  it('unknown opcodes close with 1002', async () => {
    for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) await expectClose(clientFrame(opcode, 'x'), 1002);
  });

  it('a 126-byte ping closes with 1002', async () => {
    const frame = Buffer.concat([Buffer.from([0x89, 0xfe, 0, 126, 0, 0, 0, 0]), Buffer.alloc(126)]);
    await expectClose(frame, 1002);
  });

  it('a fragmented ping closes with 1002', async () => {
    await expectClose(clientFrame(PING, 'x', false), 1002);
  });

  it('a continuation with nothing to continue closes with 1002', async () => {
    await expectClose(clientFrame(CONT, 'x'), 1002);
  });

  it('a new message inside a fragmented one closes with 1002', async () => {
    await expectClose([clientFrame(TEXT, 'a', false), clientFrame(BINARY, 'b')], 1002);
  });

  /** Floods one message of `fragment`s and expects 1008 (the fragment budget) with memory bounded. */
  async function floodFragments(fragment: Buffer): Promise<void> {
    const client = await rawClient(port);
    const burst = Buffer.concat(Array.from({ length: 20_000 }, () => fragment));
    const rss = process.memoryUsage().rss;
    client.socket.write(clientFrame(BINARY, 'x', false));
    // 50 bursts of 20,000 = a million fragments; the server closes long before the end.
    for (let i = 0; i < 50 && !client.socket.destroyed; i++) {
      if (!client.socket.write(burst)) await new Promise((r) => client.socket.once('drain', r).once('close', r));
    }
    const result = await within(client.closed, 5000, 'server close');
    assert.equal(result.code, 1008);
    assert.match(result.reason, /frames for \d+ bytes/);
    assert.ok(process.memoryUsage().rss - rss < 64 * 1024 * 1024, 'memory stayed bounded');
  }

  it('a million one-byte fragments stop at the fragment budget with 1008, with memory bounded', async () => {
    await floodFragments(clientFrame(CONT, 'x', false));
  });

  it('a million empty fragments stop at the fragment budget with 1008, with memory bounded', async () => {
    await floodFragments(clientFrame(CONT, '', false));
  });

  it('invalid UTF-8 split across fragments closes with 1007 on the fragment where it appears', async () => {
    // U+1F600 is F0 9F 98 80; F0 followed by 0x28 is invalid, known as soon as the second fragment arrives.
    const client = await rawClient(port);
    client.socket.write(clientFrame(TEXT, Buffer.from([0x61, 0xf0]), false));
    client.socket.write(clientFrame(CONT, Buffer.from([0x28]), false));
    const result = await within(client.closed, 2000, 'server close');
    assert.equal(result.code, 1007);
  });

  it('a close with an invalid code closes with 1002', async () => {
    for (const code of [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) {
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(code);
      await expectClose(clientFrame(CLOSE, payload), 1002);
    }
  });

  it('a close with a 1-byte payload closes with 1002', async () => {
    await expectClose(clientFrame(CLOSE, Buffer.from([3])), 1002);
  });

  it('a masked frame from a server closes the client with 1002', async () => {
    const raw = net.createServer((socket) => {
      socket.once('data', (head) => {
        const key = /Sec-WebSocket-Key: (.+)\r\n/i.exec(head.toString())![1]!;
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`,
        );
        socket.write(clientFrame(TEXT, 'masked by a server'));
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    try {
      const ws = await connect(`ws://127.0.0.1:${(raw.address() as net.AddressInfo).port}`);
      await assert.rejects(ws.recv(), (error: ConnectionClosedError) => {
        assert.ok(error instanceof ConnectionClosedError);
        assert.equal((error.cause as { closeCode: number }).closeCode, 1002);
        return true;
      });
    } finally {
      raw.close();
    }
  });

  it('the server keeps serving other clients while being abused', async () => {
    const abusers = await Promise.all(Array.from({ length: 20 }, () => rawClient(port)));
    for (const a of abusers) a.socket.write(clientFrame(CONT, 'x'));
    const ws = await connect(`ws://127.0.0.1:${port}`);
    await ws.send('still here');
    assert.equal(await within(ws.recv(), 2000, 'echo'), 'still here');
    await ws.close();
    for (const a of abusers) assert.equal((await a.closed).code, 1002);
  });
});
