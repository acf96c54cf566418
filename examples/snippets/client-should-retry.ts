import { connect, isRetryable, InvalidStatus, serve } from 'wskit';

// A server that answers the first two handshakes with 401 (say, until a token is provisioned).
let handshakes = 0;
const server = await serve(async (ws) => {
  await ws.send(`in after ${handshakes} handshakes`);
}, { port: 8765, processRequest: () => (++handshakes < 3 ? { status: 401 } : undefined) });

const connections = connect('ws://127.0.0.1:8765/feed', {
  reconnect: {
    maxAttempts: 20,
    initialDelay: 200, // ms: the first retry comes after a random 0-200 ms (5 s by default)
    shouldRetry: (error, attempt) => isRetryable(error) || (error instanceof InvalidStatus && error.response.status === 401 && attempt < 3),
  },
});
const ws = await connections; // retries the first open: a 401 is not retried without shouldRetry
console.log(await ws.recv()); // in after 3 handshakes
await server.close();
