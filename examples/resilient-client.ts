/**
 * A client that stays connected. It reconnects with backoff when the server
 * restarts or the network drops, and it pings the server, so a server that
 * still holds the TCP connection but no longer answers (a frozen process, a
 * dead NAT entry, an unplugged cable) is noticed and replaced by a fresh
 * connection instead of waiting forever.
 *
 *   npx tsx examples/resilient-client.ts ws://127.0.0.1:8765
 *
 * Try it against examples/echo-server.ts: stop the server, start it again,
 * and watch the client come back. PING_MS (default 5000) is both the ping
 * interval and the pong timeout, so a frozen server is noticed within
 * 2 × PING_MS; RETRY_MS (default 1000) bounds the first reconnection delay.
 * Ctrl-C stops it.
 */
import { connect, type Connection } from 'wskit';

const url = process.argv[2] ?? 'ws://127.0.0.1:8765';
const pingMs = Number(process.env.PING_MS ?? 5000);
const retryMs = Number(process.env.RETRY_MS ?? 1000);
// The cause says why a connection was dropped without a close frame (1006), e.g. a keepalive ping timeout.
const reason = (error: unknown): string =>
  error instanceof Error ? error.message + (error.cause instanceof Error ? ` (${error.cause.message})` : '') : String(error);

const stop = new AbortController();
let current: Connection | null = null;
process.once('SIGINT', () => {
  stop.abort();
  void current?.close(1001, 'client stopping');
});

const connections = connect(url, {
  signal: stop.signal,
  pingInterval: pingMs,
  pingTimeout: pingMs,
  closeTimeout: pingMs, // a frozen server will not answer our close frame either
  reconnect: {
    initialDelay: retryMs,
    maxDelay: 30_000,
    onRetry: (attempt, delay, why) => console.log(`retry #${attempt} in ${delay} ms (${reason(why)})`),
  },
});

let count = 0;
for await (const ws of connections) {
  current = ws;
  count++;
  console.log(`connected to ${url} (connection #${count})`);
  try {
    await ws.send(`hello from connection #${count}`);
    for await (const message of ws) console.log(`< ${message}`);
    console.log(`closed: ${ws.closeCode} ${ws.closeReason ?? ''}`.trimEnd());
  } catch (error) {
    console.log(`dropped: ${reason(error)}`);
  }
  current = null;
}
console.log('stopped');
