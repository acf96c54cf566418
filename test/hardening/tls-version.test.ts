/** TLS below 1.2 is refused by default (and accepted only when a server opts in). */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '../../src/index.js';
import { echo, skipWithoutOpenssl, startServer } from '../helpers.js';

describe('TLS minimum version', { skip: skipWithoutOpenssl }, () => {
  let dir: string;
  let cert: Buffer;
  let key: Buffer;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wskit-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'));
    key = readFileSync(join(dir, 'key.pem'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // An old client: TLS 1.0–1.1 only, at the OpenSSL security level that still allows them.
  const oldClient = { ca: cert!, tls: { minVersion: 'TLSv1' as const, maxVersion: 'TLSv1.1' as const, ciphers: 'DEFAULT@SECLEVEL=0' } };

  it('a server that opts into TLS 1.0 accepts the old client (control: the client can speak TLS 1.1)', async () => {
    const server = await startServer(echo, { tls: { cert, key, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' } });
    try {
      const ws = await connect(`wss://localhost:${server.address()!.port}`, { ...oldClient, ca: cert });
      await ws.close();
    } finally {
      await server.close();
    }
  });

  it('a default server refuses TLS 1.1 and accepts TLS 1.2+', async () => {
    const server = await startServer(echo, { tls: { cert, key } });
    try {
      await assert.rejects(connect(`wss://localhost:${server.address()!.port}`, { ...oldClient, ca: cert }));
      const modern = await connect(`wss://localhost:${server.address()!.port}`, { ca: cert });
      await modern.close();
    } finally {
      await server.close();
    }
  });
});
