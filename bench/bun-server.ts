/**
 * The `bun` column of `npm run bench`: Bun's built-in WebSocket server (uWebSockets underneath), the fastest
 * server this benchmark knows of and so the floor the other columns are read against. Same contract as
 * bench/server.ts: echo on any path; on `/broadcast` every message goes to every `/broadcast` client, the sender
 * included, through Bun's own pub/sub (`server.publish`), as Bun users write it.
 *
 *   node_modules/bun/bin/bun.exe bench/bun-server.ts [--deflate]
 *
 * Listens on $HOST:$PORT (default 127.0.0.1:8765) and prints `listening <port>`. Bun runs the TypeScript itself.
 */

/** The little of Bun's API used here (the project does not depend on Bun's type package). */
interface BunSocket {
  data: { room: boolean };
  send(message: string | Uint8Array): number;
  subscribe(topic: string): void;
}
interface BunServer {
  port: number;
  upgrade(request: Request, options: { data: { room: boolean } }): boolean;
  publish(topic: string, message: string | Uint8Array): number;
}
declare const Bun: {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: BunServer): Response | undefined;
    websocket: {
      perMessageDeflate: boolean;
      maxPayloadLength: number;
      idleTimeout: number;
      open(ws: BunSocket): void;
      message(ws: BunSocket, message: string | Uint8Array): void;
    };
  }): BunServer;
};

const ROOM = 'broadcast';
const server = Bun.serve({
  hostname: process.env.HOST ?? '127.0.0.1',
  port: Number(process.env.PORT ?? 8765),
  fetch(request, bun) {
    const room = new URL(request.url).pathname === '/broadcast';
    if (bun.upgrade(request, { data: { room } })) return undefined;
    return new Response('WebSocket only\n', { status: 426 });
  },
  websocket: {
    perMessageDeflate: process.argv.includes('--deflate'),
    maxPayloadLength: 64 * 1024 * 1024,
    // Like wskit's and ws's bench servers: held connections are not timed out while the driver keeps them idle.
    idleTimeout: 0,
    open(ws) {
      if (ws.data.room) ws.subscribe(ROOM);
    },
    message(ws, message) {
      if (ws.data.room) server.publish(ROOM, message);
      else ws.send(message);
    },
  },
});
process.stdout.write(`listening ${server.port}\n`);
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

export {};
