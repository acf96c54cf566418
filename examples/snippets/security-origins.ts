import { connect, InvalidStatus, serve } from 'wskit';

const server = await serve(async (ws) => {
  await ws.send(`welcome, ${ws.request?.headers.get('origin') ?? 'no Origin'}`);
}, {
  port: 8765,
  // Exact strings, or RegExps that must match the whole value; null admits clients that send no Origin (non-browsers).
  origins: ['https://app.example.com', /^https:\/\/[a-z0-9-]+\.example\.com$/, null],
});

for (const origin of ['https://app.example.com', 'https://eu.example.com', undefined, 'https://evil.example.net']) {
  try {
    const ws = await connect('ws://127.0.0.1:8765', origin === undefined ? {} : { origin });
    console.log(await ws.recv());
  } catch (error) {
    if (error instanceof InvalidStatus) console.log(`${origin}: HTTP ${error.response.status}`); // https://evil.example.net: HTTP 403
  }
}
await server.close();
