import { connect, serve } from 'wskit';

const server = await serve(async (ws) => {
  for await (const message of ws) await ws.send(message);
}, { port: 8765 });
const stop = async (): Promise<void> => {
  // 1012 (Service Restart) tells wskit clients to reconnect at once instead of backing off.
  await server.close(1012, 'restarting');
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());

// What a client sees when the process gets SIGTERM (from systemd, Kubernetes, or here from itself):
const ws = await connect('ws://localhost:8765');
process.kill(process.pid, 'SIGTERM');
await ws.recv().catch((error) => console.log(error.closeCode, error.reason)); // 1012 restarting
