/** Starts a throw-away `redis-server` on a loopback port for the tests that need a real Redis. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { delay } from './helpers.js';

/** Sends PING over a raw socket until Redis answers +PONG. */
export async function waitForRedis(port: number, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('error', () => resolve(false));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      socket.write('PING\r\n');
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
    await delay(50);
  }
}

/**
 * Starts redis-server on 127.0.0.1:`port` and waits until it answers. The caller stops it. Without persistence, or
 * with `aof` (a directory): an append-only file there, fsynced at every write, so a SIGKILL loses nothing.
 */
export async function startRedis(
  port: number,
  track: (child: ChildProcess) => ChildProcess = (child) => child,
  aof?: string,
): Promise<ChildProcess> {
  const persistence = aof === undefined ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', aof];
  const redis = track(
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  // Its log says why it did not start (port taken...), should it not.
  let log = '';
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-2000);
  };
  redis.stdout!.on('data', keep);
  redis.stderr!.on('data', keep);
  try {
    await waitForRedis(port);
  } catch (error) {
    redis.kill('SIGKILL');
    throw new Error(`${(error as Error).message} (exit ${redis.exitCode ?? redis.signalCode}); its log:\n${log}`);
  }
  return redis;
}
