// Secure WebSocket: a wss:// server with a certificate, and a client that trusts its CA.
//   node --import tsx examples/wss.ts [cert.pem key.pem]
// Without arguments it makes a throwaway self-signed certificate for localhost with openssl.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, serve } from 'wskit';

let [certFile, keyFile] = process.argv.slice(2);
if (certFile === undefined || keyFile === undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'wskit-wss-'));
  [certFile, keyFile] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
}
const cert = readFileSync(certFile);
const key = readFileSync(keyFile);

const server = await serve(
  async (ws) => {
    for await (const message of ws) await ws.send(`secure echo: ${message}`);
  },
  { host: '127.0.0.1', port: Number(process.env.PORT ?? 0), tls: { cert, key } },
);
const url = `wss://localhost:${server.address()!.port}`;
console.log(`Listening on ${url}`);

// A self-signed certificate is its own CA: trust exactly it, nothing else.
const ws = await connect(url, { ca: cert });
await ws.send('hello over TLS');
console.log(`< ${await ws.recv()}`);
await ws.close();
await server.close();
