import { connect, router, serve } from 'wskit';

const routes = router({
  '/items/{id:int}': (ws) => ws.send(`item ${Number(ws.params.id)}, format ${ws.query.get('format') ?? 'json'}`),
  '/files/{rest:path}': (ws) => ws.send(`file '${ws.params.rest}'`), // /files/a/b.txt → 'a/b.txt'; /files/ → ''
});
const server = await serve(routes.handler, { route: routes, port: 8765 });

for (const path of ['/items/42?format=xml', '/items/7', '/files/a/b.txt', '/files/']) {
  const ws = await connect(`ws://127.0.0.1:8765${path}`);
  console.log(path, '→', await ws.recv());
}
// item 42, format xml; item 7, format json; file 'a/b.txt'; file ''
await server.close();
