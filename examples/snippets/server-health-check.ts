import { connect, InvalidStatus, serve } from 'wskit';

const server = await serve(async (ws) => {
  await ws.send('welcome');
}, {
  port: 8765,
  processRequest(request) {
    if (request.path === '/healthz') return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: 'ok\n' };
    if (request.headers.get('authorization') !== 'Bearer let-me-in') return { status: 401, body: 'unauthorized\n' };
  },
});

const health = await fetch('http://localhost:8765/healthz'); // a plain HTTP request
console.log(health.status, JSON.stringify(await health.text())); // 200 "ok\n"
try {
  await connect('ws://localhost:8765');
} catch (error) {
  if (error instanceof InvalidStatus) console.log(error.response.status, JSON.stringify(error.response.body.toString())); // 401 "unauthorized\n"
}
const ws = await connect('ws://localhost:8765', { headers: { Authorization: 'Bearer let-me-in' } });
console.log(await ws.recv()); // welcome
await server.close();
