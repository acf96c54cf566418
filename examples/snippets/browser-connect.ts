import { connect } from 'wskit/browser';

// The page's own server (ws: for an http: page, wss: for https:); here it sends "tick 1" and closes with 1012
// (Service Restart), then "tick 2", the bytes 1 2 3 and closes with 4000.
const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/live`;
for await (const ws of connect(url, { reconnect: { maxAttempts: 10 } })) {
  try {
    for await (const message of ws) console.log(typeof message === 'string' ? message : `bytes ${message.join(' ')}`); // string, or Uint8Array
  } catch (error) {
    console.log(`dropped: ${error}`); // reconnecting (at once after a 1012)
  }
  if (ws.closeCode === 4000) break; // the server's "that's all"
}
