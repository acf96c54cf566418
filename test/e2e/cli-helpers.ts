/** Helpers for the CLI end-to-end tests: run `node bin/wskit.js` (built by `npm run build`) and wait for lines. */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The bin script. */
export const WSKIT = fileURLToPath(new URL('../../bin/wskit.js', import.meta.url));

const children = new Set<ChildProcessWithoutNullStreams>();

/** A finished command. */
export interface Finished {
  /** Exit status. */
  code: number | null;
  /** Everything written to stdout. */
  stdout: string;
  /** Everything written to stderr. */
  stderr: string;
}

/** Runs `wskit ...args` to completion (killed after `timeoutMs`), feeding `input` to stdin. */
export function wskit(args: string[], options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Finished> {
  const child = start(args, options.env);
  if (options.input !== undefined) child.stdin.end(options.input);
  return finish(child, options.timeoutMs ?? 20_000);
}

/** Starts `wskit ...args` in the background (killed by {@link killAll}). */
export function start(args: string[], env?: NodeJS.ProcessEnv): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [WSKIT, ...args], { env: { ...process.env, NO_COLOR: '1', ...env } });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Waits for a started command to exit. */
export function finish(child: ChildProcessWithoutNullStreams, timeoutMs = 20_000): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`wskit ${child.spawnargs.slice(2).join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Resolves with the first stdout line matching `pattern` (its first capture group, or the line). */
export function waitForLine(child: ChildProcessWithoutNullStreams, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; got: ${buffered}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const match = pattern.exec(buffered);
      if (match) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(match[1] ?? match[0]);
      }
    };
    child.stdout.on('data', onData);
  });
}

/** Starts `wskit echo` on a free port and resolves with the process and its URL. */
export async function startEcho(): Promise<{ child: ChildProcessWithoutNullStreams; url: string }> {
  const child = start(['echo', '--port', '0']);
  const url = await waitForLine(child, /Listening on (ws:\/\/\S+)/);
  return { child, url };
}

/** Stops a started command with SIGTERM and waits for it. */
export async function stop(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Kills every command still running. */
export async function killAll(): Promise<void> {
  await Promise.all([...children].map(stop));
}

/** True when `text` looks like a Node stack trace. */
export function hasStackTrace(text: string): boolean {
  return /\n\s+at .+:\d+:\d+\)?/.test(text);
}

/** Skip reason when tmux (for tests on a real terminal) is missing, else false. */
export const skipWithoutTmux: string | false = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'tmux is not installed (apt-get install tmux)';
  }
})();
