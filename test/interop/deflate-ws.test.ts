/** permessage-deflate against the `ws` npm package (perMessageDeflate on), as server and as client, for each no_context_takeover combination. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { echo, startServer } from '../helpers.js';
import { deflateMessages, echoCompressed, NO_CONTEXT_TAKEOVER_COMBOS, sameMessage } from './deflate-messages.js';

const MAX = 4 * 1024 * 1024;

describe('permessage-deflate with ws', () => {
  for (const combo of NO_CONTEXT_TAKEOVER_COMBOS) {
    const label = `server_no_context_takeover=${combo.serverNoContextTakeover}, client_no_context_takeover=${combo.clientNoContextTakeover}`;

    it(`wskit client ↔ ws server, ${label}`, async () => {
      const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: MAX, perMessageDeflate: { ...combo, threshold: 0 } });
      await once(wss, 'listening');
      let bytesRead = 0;
      wss.on('connection', (socket, request) => {
        socket.on('message', (data: Buffer, isBinary) => socket.send(data, { binary: isBinary }));
        socket.on('close', () => (bytesRead = request.socket.bytesRead));
      });
      try {
        await echoCompressed(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, combo, MAX);
        while (bytesRead === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        // 1.5 MB sent, 300 kB of it random: the compressible part must have shrunk on the wire.
        const total = deflateMessages().reduce((sum, m) => sum + Buffer.byteLength(m), 0);
        assert.ok(bytesRead < total - 800_000, `ws read ${bytesRead} bytes for ${total} bytes of messages`);
      } finally {
        for (const client of wss.clients) client.terminate();
        await new Promise((resolve) => wss.close(resolve));
      }
    });

    it(`ws client ↔ wskit server, ${label}`, async () => {
      let serverExtensions = '';
      const server = await startServer(
        async (ws) => {
          serverExtensions = ws.extensions;
          await echo(ws);
        },
        { compression: { ...combo, threshold: 0 }, maxMessageSize: MAX },
      );
      try {
        const client = new WebSocket(server.url, { perMessageDeflate: { ...combo, threshold: 0 }, maxPayload: MAX });
        const received: Array<string | Buffer> = [];
        client.on('message', (data: Buffer, isBinary) => received.push(isBinary ? data : data.toString('utf8')));
        await once(client, 'open');
        assert.match(client.extensions, /^permessage-deflate/);
        const messages = deflateMessages();
        for (const message of messages) client.send(message);
        while (received.length < messages.length) await new Promise((resolve) => setTimeout(resolve, 5));
        messages.forEach((message, i) => assert.ok(sameMessage(received[i], message), `message ${i}`));
        assert.match(serverExtensions, /^permessage-deflate; /);
        if (combo.serverNoContextTakeover) assert.match(serverExtensions, /server_no_context_takeover/);
        if (combo.clientNoContextTakeover) assert.match(serverExtensions, /client_no_context_takeover/);
        client.close();
        await once(client, 'close');
      } finally {
        await server.close();
      }
    });
  }
});
