// Echo client, two ways:
//   node --import tsx examples/echo-client.ts ws://127.0.0.1:8765 hello world        one long connection, many messages
//   node --import tsx examples/echo-client.ts --once ws://127.0.0.1:8765 hello world one connection per message
import { connect } from 'wskit';

const args = process.argv.slice(2);
const once = args[0] === '--once';
const [url, ...messages] = once ? args.slice(1) : args;
if (url === undefined) throw new Error('usage: echo-client.ts [--once] URL MESSAGE...');

if (once) {
  for (const message of messages) {
    const ws = await connect(url);
    await ws.send(message);
    console.log(`< ${await ws.recv()}`);
    await ws.close();
  }
} else {
  const ws = await connect(url);
  for (const message of messages) {
    await ws.send(message);
    console.log(`< ${await ws.recv()}`);
  }
  await ws.close();
}
