import { connect, serve } from 'wskit';

const server = await serve(async (ws) => {
  for await (const message of ws) await ws.send(message);
}, { port: 8765, metrics: true });
const ws = await connect('ws://localhost:8765');
await ws.send('hello');
await ws.recv();

// GET http://host:8765/metrics answers with the Prometheus text format (0.0.4), on the WebSocket port itself.
const text = await (await fetch('http://localhost:8765/metrics')).text();
console.log(text.split('\n').filter((line) => line.startsWith('wskit_messages_received_total')).join('\n'));
// wskit_messages_received_total{opcode="text"} 1
// wskit_messages_received_total{opcode="binary"} 0

// The same figures as an object.
console.log(server.metrics().wskit_connections.samples); // [ { labels: {}, value: 1 } ]
await ws.close();
await server.close();
