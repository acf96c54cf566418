// Echo server with the callback handler (Bun/uWS style): the fastest way through wskit.
//   node --import tsx examples/callback-server.ts        (PORT=8765 by default)
import { SendStatus, serve } from 'wskit';

const server = await serve(
  {
    open(ws) {
      ws.sendNow('welcome');
    },
    message(ws, data, isBinary) {
      // sendNow(): bytes queued (> 0), SendStatus.BACKPRESSURE (-1: wait for drain) or SendStatus.DROPPED (0).
      if (ws.sendNow(data) === SendStatus.BACKPRESSURE) console.log(`backpressure (${isBinary ? 'binary' : 'text'})`);
    },
    drain(ws) {
      console.log(`drained: ${ws.bufferedAmount} bytes waiting`);
    },
    close(ws, code, reason) {
      console.log(`closed ${code} ${reason}`);
    },
  },
  { host: '127.0.0.1', port: Number(process.env.PORT ?? 8765) },
);
console.log(`Listening on ${server.url}`);
process.on('SIGINT', () => void server.close().then(() => process.exit(0)));
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
