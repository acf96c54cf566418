import { connect, serve } from 'wskit';

const server = await serve(async (ws) => {
  for await (const message of ws) await ws.send(message);
}, {
  port: 8765,
  metrics: true, // to count what went through zlib, below
  compression: {
    threshold: 1024,               // only messages of 1 KiB and more
    level: 1,                      // faster, a little larger
    serverNoContextTakeover: false, // a compressor per connection: better ratio, ~100 KiB more each
  },
});

const ws = await connect('ws://127.0.0.1:8765');
console.log(ws.extensions); // permessage-deflate; server_no_context_takeover; ...
await ws.send('small');                           // echoed uncompressed: under the threshold
await ws.recv();
await ws.send(JSON.stringify(Array(200).fill({ temperature: 21.5 }))); // 4,201 bytes: echoed compressed
await ws.recv();
const metrics = await (await fetch('http://127.0.0.1:8765/metrics')).text();
console.log(metrics.match(/^wskit_compression_\w+_bytes_total\{direction="sent"\}.*$/gm)!.join('\n'));
// wskit_compression_input_bytes_total{direction="sent"} 4201   (the small message did not go through zlib)
// wskit_compression_output_bytes_total{direction="sent"} 71
await ws.close();
await server.close();
