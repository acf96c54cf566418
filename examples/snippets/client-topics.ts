import { ReconnectingClient, serve, topicServer, TOPICS_PROTOCOL } from 'wskit';

// A topics server: history in memory (1,000 publications or 5 minutes per topic), clients may publish.
const topics = topicServer({ publish: true });
const listen = () => serve(topics.handler, { port: 8765, subprotocols: [TOPICS_PROTOCOL] });
let server = await listen();

let wake = (): void => undefined;
const next = () => new Promise<void>((resolve) => (wake = resolve));
const subscribed = next();
const client = new ReconnectingClient('ws://127.0.0.1:8765', { topics: true, reconnect: { initialDelay: 100 } });
const subscription = client.subscribe(
  'room',
  (data, { offset }) => {
    console.log(`#${offset} ${JSON.stringify(data)}`);
    if (offset % 2 === 0) wake(); // the test publishes in pairs
  },
  {
    onSubscribed: ({ resumed, recovered }) => {
      console.log(resumed ? `resumed, recovered: ${recovered}` : 'subscribed');
      if (!resumed) wake();
    },
  },
);
await subscribed; // it starts at the present

let arrived = next();
await topics.publish('room', 'one');
await topics.publish('room', 'two');
await arrived;

await server.close(); // the client is dropped; what is published meanwhile stays in the history
await topics.publish('room', 'three');
await topics.publish('room', 'four');
arrived = next();
server = await listen(); // the client reconnects, sends its position, gets #3 and #4, then live ones
await arrived;

arrived = next();
const ack = await client.publish('room', { from: 'client' }); // resent after a reconnection until acknowledged
console.log(`ack: offset ${ack.offset}`);
await topics.publish('room', 'six');
await arrived;
console.log(`position: ${subscription.position!.offset}`);
await client.close();
await server.close();
await topics.close();
