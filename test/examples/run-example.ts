/** Runs an example as a child process and reads its output lines. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A running example. */
export interface RunningExample {
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the first output line matching `pattern`. */
  line(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** Everything printed so far. */
  output: string[];
  stop(): Promise<number | null>;
}

/** Starts `node --import tsx examples/<file> ...args` with `env` added. */
export function runExample(file: string, args: string[] = [], env: Record<string, string> = {}): RunningExample {
  const child = spawn(process.execPath, ['--import', 'tsx', `examples/${file}`, ...args], {
    env: { ...process.env, PORT: '0', ...env },
  });
  const output: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (m: RegExpExecArray) => void }> = [];
  const onLine = (text: string) => {
    output.push(text);
    for (const waiter of [...waiters]) {
      const match = waiter.pattern.exec(text);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', (text) => output.push(`stderr: ${text}`));
  return {
    child,
    output,
    line(pattern, ms = 15_000) {
      const seen = output.map((text) => pattern.exec(text)).find((m) => m !== null);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${ms} ms:\n${output.join('\n')}`)), ms);
        waiters.push({ pattern, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
    stop() {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode);
      return new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      });
    },
  };
}
