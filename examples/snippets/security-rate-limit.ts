import { connect, serve } from 'wskit';

const server = await serve(async (ws) => {
  const rate = 20; // messages per second, bursts of up to 20
  let tokens = rate;
  let last = Date.now();
  for await (const message of ws) {
    const now = Date.now();
    tokens = Math.min(rate, tokens + ((now - last) / 1000) * rate);
    last = now;
    if (tokens < 1) {
      await ws.close(1008, 'rate limit exceeded');
      return;
    }
    tokens -= 1;
    await ws.send(message);
  }
}, { port: 8765 });

// A client that floods: its burst is echoed, then it is closed.
const ws = await connect('ws://127.0.0.1:8765');
for (let i = 0; i < 100; i++) void ws.send(`message ${i}`).catch(() => undefined); // sends after the close are refused
let echoes = 0;
try {
  for await (const _ of ws) echoes++;
} catch (error) {
  console.log(echoes >= 20, String(error)); // true ConnectionClosedError: connection closed: 1008 (rate limit exceeded)
}
await server.close();
