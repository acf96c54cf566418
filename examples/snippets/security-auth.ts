import { timingSafeEqual } from 'node:crypto';
import { connect, serve } from 'wskit';

const secret = process.env.API_TOKEN;
if (!secret) throw new Error('set API_TOKEN'); // an empty secret would accept an empty token
const expected = Buffer.from(secret);
const valid = (token: string | null | undefined): boolean => {
  const given = Buffer.from(token ?? ''); // compare bytes: timingSafeEqual throws on different lengths
  return token != null && given.length === expected.length && timingSafeEqual(given, expected);
};
const cookie = (header: string | undefined, name: string): string | undefined => {
  for (const pair of header?.split(';') ?? []) {
    const at = pair.indexOf('=');
    if (at !== -1 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
};

const server = await serve(async (ws) => {
  await ws.send('authenticated');
}, {
  port: 8765,
  processRequest(request) {
    const header = request.headers.get('authorization');
    const bearer = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    const query = request.query.get('token'); // browsers cannot set headers on a WebSocket: a query parameter or a cookie
    if (![bearer, cookie(request.headers.get('cookie'), 'session'), query].some(valid)) {
      return { status: 401, headers: { 'WWW-Authenticate': 'Bearer' }, body: 'unauthorized\n' };
    }
  },
});

const asked = [
  connect('ws://127.0.0.1:8765', { headers: { Authorization: `Bearer ${secret}` } }),
  connect('ws://127.0.0.1:8765', { headers: { Cookie: `theme=dark; session=${secret}` } }),
  connect(`ws://127.0.0.1:8765/?token=${encodeURIComponent(secret)}`),
  connect('ws://127.0.0.1:8765/?token='),
];
for (const result of await Promise.allSettled(asked)) {
  console.log(result.status === 'fulfilled' ? await result.value.recv() : String(result.reason)); // authenticated ×3, then the 401
}
await server.close();
