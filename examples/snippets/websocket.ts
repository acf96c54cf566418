import { serve, WebSocket } from 'wskit';

const server = await serve(async (ws) => {
  for await (const message of ws) await ws.send(message);
}, { port: 8765 });

// The browser's API; the third argument takes connect()'s options (headers, proxy, compression, TLS, limits).
const ws = new WebSocket('ws://127.0.0.1:8765', [], { headers: { Authorization: 'Bearer s3cret' } });
ws.binaryType = 'arraybuffer'; // or 'blob' (the default, as in browsers) or 'nodebuffer'
ws.onopen = () => {
  ws.send('hello');
  ws.send(new Uint8Array([1, 2, 3]));
};
ws.onmessage = (event) => {
  console.log(typeof event.data === 'string' ? event.data : new Uint8Array(event.data)); // hello, then Uint8Array(3) [ 1, 2, 3 ]
  if (event.data instanceof ArrayBuffer) ws.close(1000, 'done');
};
ws.onclose = (event) => {
  console.log(`closed ${event.code}, clean: ${event.wasClean}`);
  void server.close();
};
