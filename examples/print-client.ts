// Prints every message it receives until the server closes the connection.
//   node --import tsx examples/print-client.ts ws://127.0.0.1:8765
import { connect } from 'wskit';

const ws = await connect(process.argv[2] ?? 'ws://127.0.0.1:8765');
for await (const message of ws) console.log(message);
console.log(`closed: ${ws.closeCode} ${ws.closeReason}`);
