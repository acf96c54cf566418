/** A wskit server in a child process (fixtures/reconnect-server.ts) that tests can kill, freeze and restart. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/reconnect-server.ts', import.meta.url));
const live = new Set<ChildServer>();

/** One run of the fixture server; `lines` collects its stdout. */
export class ChildServer {
  readonly lines: string[] = [];
  private waiters: Array<() => void> = [];
  private constructor(
    readonly child: ChildProcess,
    readonly exited: Promise<void>,
  ) {}

  /** Starts the fixture on `port` (0: a free one it can be restarted on) and resolves with its port once it listens. */
  static async start(port: number, mode = 'echo'): Promise<{ server: ChildServer; port: number }> {
    const chosen = port === 0 ? await freePort() : port;
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, String(chosen), mode], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const server = new ChildServer(child, exited);
    live.add(server);
    void exited.then(() => live.delete(server));
    let buffer = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffer += chunk;
      let index;
      while ((index = buffer.indexOf('\n')) !== -1) {
        server.lines.push(buffer.slice(0, index));
        buffer = buffer.slice(index + 1);
        for (const wake of server.waiters.splice(0)) wake();
      }
    });
    const line = await server.waitFor((lines) => lines.find((l) => l.startsWith('listening ')), 20_000, 'listening');
    return { server, port: Number(line.split(' ')[1]) };
  }

  /** Text messages the server received, in order. */
  get received(): string[] {
    return this.lines.filter((l) => l.startsWith('recv ')).map((l) => l.slice(5));
  }

  /** Waits until `check(lines)` returns something other than undefined/false. */
  waitFor<T>(check: (lines: string[]) => T | undefined | false, ms: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server: ${what} not seen within ${ms} ms; got ${JSON.stringify(this.lines.slice(-5))}`)), ms);
      const poll = () => {
        const value = check(this.lines);
        if (value !== undefined && value !== false) {
          clearTimeout(timer);
          resolve(value);
        } else {
          this.waiters.push(poll);
        }
      };
      poll();
    });
  }

  /** Sends a signal. */
  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Kills the process (continuing it first if stopped) and waits for it to exit. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGCONT');
      this.child.kill('SIGKILL');
    }
    await this.exited;
  }

  /** Kills every fixture still running (for `after` hooks). */
  static async killAll(): Promise<void> {
    await Promise.all([...live].map((s) => s.kill()));
  }
}
