/** permessage-deflate against Python websockets 10.4, both as server and as client, for each no_context_takeover combination. */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { echo, skipWithoutPythonWebsockets, startServer, SYSTEM_PYTHON } from '../helpers.js';
import { echoCompressed, NO_CONTEXT_TAKEOVER_COMBOS } from './deflate-messages.js';

const PEER = fileURLToPath(new URL('./py_deflate_peer.py', import.meta.url));
const flag = (b: boolean) => (b ? '1' : '0');

describe('permessage-deflate with Python websockets', { skip: skipWithoutPythonWebsockets }, () => {
  for (const combo of NO_CONTEXT_TAKEOVER_COMBOS) {
    const label = `server_no_context_takeover=${combo.serverNoContextTakeover}, client_no_context_takeover=${combo.clientNoContextTakeover}`;

    it(`wskit client ↔ Python server, ${label}`, async () => {
      const child = spawn(SYSTEM_PYTHON, [PEER, 'server', flag(combo.serverNoContextTakeover), flag(combo.clientNoContextTakeover)]);
      try {
        const lines = createInterface({ input: child.stdout });
        const [line] = (await once(lines, 'line')) as [string];
        const { port } = JSON.parse(line) as { port: number };
        await echoCompressed(`ws://127.0.0.1:${port}`, combo, 4 * 1024 * 1024);
      } finally {
        child.stdin.end();
        child.kill();
      }
    });

    it(`Python client ↔ wskit server, ${label}`, async () => {
      const server = await startServer(echo, { compression: { ...combo, threshold: 0 }, maxMessageSize: 4 * 1024 * 1024 });
      try {
        const { stdout } = await promisify(execFile)(
          SYSTEM_PYTHON,
          [PEER, 'client', flag(combo.serverNoContextTakeover), flag(combo.clientNoContextTakeover), server.url],
          { timeout: 30_000 },
        );
        const result = JSON.parse(stdout.trim()) as { ok: boolean; extensions: string };
        assert.equal(result.ok, true);
        assert.match(result.extensions, /^permessage-deflate; /);
        if (combo.serverNoContextTakeover) assert.match(result.extensions, /server_no_context_takeover/);
        if (combo.clientNoContextTakeover) assert.match(result.extensions, /client_no_context_takeover/);
      } finally {
        await server.close();
      }
    });
  }
});
