import { connect, serve } from 'wskit';

// A server that sends its first client away with 1012 (Service Restart), and the next one with 4000.
let visits = 0;
const server = await serve(async (ws) => {
  visits++;
  await ws.send(`visit ${visits}`);
  await ws.close(visits === 1 ? 1012 : 4000, visits === 1 ? 'restarting' : 'go away');
}, { port: 8765 });

for await (const ws of connect('ws://127.0.0.1:8765', { reconnect: true })) {
  try {
    for await (const message of ws) console.log(message);
  } catch (error) {
    console.log('dropped:', String(error)); // the loop reconnects with backoff (at once after a 1012)
  }
  if (ws.closeCode === 4000) break; // an application close code to stop on
}
// visit 1, dropped: ConnectionClosedError: connection closed: 1012 (restarting), visit 2, dropped: ... 4000 (go away)
await server.close();
