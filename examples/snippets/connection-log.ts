import { connect, router, serve } from 'wskit';

const routes = router({ '/rooms/{room}': async (ws) => { for await (const _ of ws); } });
const server = await serve(routes.handler, {
  host: '127.0.0.1',
  port: 8765,
  route: routes,
  logger: {
    error: console.error,
    // The client's path and reason go through JSON.stringify, which escapes control characters.
    connectionOpened: (e) => console.log(JSON.stringify({ event: 'ws_open', route: e.route, path: e.path, peer: e.remoteAddress })),
    connectionClosed: (e) => console.log(JSON.stringify({ event: 'ws_close', route: e.route, code: e.code, code_label: e.codeLabel, reason: e.reason })),
  },
});
const ws = await connect('ws://127.0.0.1:8765/rooms/kitchen');
await ws.close(4001, 'bye');
await new Promise((resolve) => setTimeout(resolve, 100)); // the server sees the close a moment later
await server.close();
