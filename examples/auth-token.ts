// Authentication during the handshake: a bearer token in the Authorization header,
// or ?token=... for browsers (which cannot set headers on a WebSocket).
//   TOKEN=secret node --import tsx examples/auth-token.ts
import { timingSafeEqual } from 'node:crypto';
import { serve } from 'wskit';

const expected = Buffer.from(process.env.TOKEN ?? 'secret');
const isValid = (token: string | undefined | null): boolean =>
  token != null && token.length === expected.length && timingSafeEqual(Buffer.from(token), expected);

const server = await serve(
  async (ws) => {
    await ws.send(`welcome, ${ws.request?.query.get('user') ?? 'user'}`);
    for await (const message of ws) await ws.send(message);
  },
  {
    host: '127.0.0.1',
    port: Number(process.env.PORT ?? 8765),
    processRequest(request) {
      const header = request.headers.get('authorization');
      const token = header?.startsWith('Bearer ') ? header.slice(7) : request.query.get('token');
      if (!isValid(token)) return { status: 401, headers: { 'WWW-Authenticate': 'Bearer' }, body: 'invalid or missing token\n' };
    },
  },
);
console.log(`Listening on ${server.url}`);
