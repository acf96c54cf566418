/** Starts a throw-away tinyproxy (an HTTP CONNECT proxy from Debian) on a loopback port for the tests that need one. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delay, freePort } from './helpers.js';

const TINYPROXY = '/usr/bin/tinyproxy';

/** Skip reason when tinyproxy is missing, else false (use as `{ skip: ... }`). */
export const skipWithoutTinyproxy: string | false = existsSync(TINYPROXY) ? false : 'tinyproxy is not installed (apt-get install tinyproxy)';

/** A running tinyproxy. */
export interface Tinyproxy {
  port: number;
  /** Everything it logged so far (LogLevel Connect: one line per request). */
  log(): string;
  /** Kills it and removes its configuration. */
  stop(): void;
}

/**
 * Starts tinyproxy on 127.0.0.1 allowing CONNECT to `connectPorts` only, requiring `basicAuth` (`[user, password]`)
 * if given, and waits until it accepts connections (20 s at most).
 */
export async function startTinyproxy(connectPorts: number[], basicAuth?: [string, string]): Promise<Tinyproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'wskit-tinyproxy-'));
  const port = await freePort();
  writeFileSync(join(dir, 'tinyproxy.conf'), [
    `Port ${port}`, 'Listen 127.0.0.1', 'Timeout 30', 'MaxClients 20', 'Allow 127.0.0.1',
    ...connectPorts.map((p) => `ConnectPort ${p}`), ...(basicAuth ? [`BasicAuth ${basicAuth.join(' ')}`] : []),
    'DisableViaHeader Yes', 'LogLevel Connect', '',
  ].join('\n'));
  const child: ChildProcess = spawn(TINYPROXY, ['-d', '-c', join(dir, 'tinyproxy.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const stop = (): void => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      stop();
      throw new Error(`tinyproxy did not start:\n${log}`);
    }
    await delay(50);
  }
  return { port, log: () => log, stop };
}
