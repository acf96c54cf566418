/**
 * What the benchmark scripts share (bench/run.ts, bench/connections.ts): building the C driver and the servers,
 * pinning, starting and stopping a server process, running the driver and reading its RESULT line, medians.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The bench/ directory. */
export const here = dirname(fileURLToPath(import.meta.url));
/** The repository's root. */
export const root = dirname(here);

/**
 * Builds bench/driver.c into bench/build/driver when the source is newer; returns the binary's path. Compiled to a
 * file of this process, then renamed over the binary: two benchmarks starting together (two test files) never run
 * a half-written one.
 */
export function buildDriver(): string {
  const out = join(here, 'build', 'driver');
  const source = join(here, 'driver.c');
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(source).mtimeMs) {
    mkdirSync(join(here, 'build'), { recursive: true });
    const mine = `${out}.${process.pid}`;
    execFileSync('gcc', ['-O2', '-o', mine, source, '-lz'], { stdio: 'inherit' });
    renameSync(mine, out);
  }
  return out;
}

/**
 * The servers run as plain JavaScript, as users run the built package: the
 * sources are transpiled file by file with esbuild (tsx's own dependency) into
 * bench/build/js-<pid>, this process's own (two benchmarks building at once would otherwise run each other's
 * half-written files), removed when it exits. tsx at run time would add its helpers to every closure
 * (`__name`), a cost the built package does not have. Falls back to tsx (and says so in `notes`).
 * Returns node's arguments that run bench/server.ts.
 */
export function buildServer(notes: string[]): string[] {
  const esbuild = join(root, 'node_modules', '.bin', 'esbuild');
  const out = join(here, 'build', `js-${process.pid}`);
  process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  if (existsSync(esbuild)) {
    const built = spawnSync(
      esbuild,
      ['src/**/*.ts', 'bench/server.ts', 'bench/floor-server.ts', `--outdir=${out}`, '--outbase=.', '--format=esm', '--platform=node', '--target=node20', '--log-level=error'],
      { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (built.status === 0) return [join(out, 'bench', 'server.js')];
  }
  notes.push('esbuild unavailable: servers run from TypeScript through tsx');
  return ['--import', 'tsx', join(here, 'server.ts')];
}

/** Whether server and driver can be pinned to CPUs 0 and 1 (taskset and two CPUs). */
export const canPin = availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/** `command` run on `cpu` where pinning is possible. */
export const pin = (cpu: number, command: string[]): string[] => (canPin ? ['taskset', '-c', String(cpu), ...command] : command);

/** Starts a server process (`command`, pinned already if wanted) and resolves once it prints `listening <port>`. */
export function startServer(command: string[], label: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(command[0]!, command.slice(1), {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${label} server did not start in 20 s: ${stderr}`));
    }, 20_000);
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} server exited (${code}): ${stderr}`));
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process exited. */
export async function stopServer(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Runs the driver (pinned to CPU 1) against `port`, measuring process `pid`; resolves with its RESULT line's
 * key=value pairs, plus `exit`, `stderr` (first lines) and `errors` made non-zero when it failed.
 * `started`, when given, gets the driver's process with a writable stdin (the `hold` mode's `-W` waits for "go").
 * `cpu` null: not pinned.
 */
export function runDriver(
  driver: string,
  args: string[],
  port: number,
  pid: number,
  timeoutMs = 120_000,
  started?: (child: ChildProcess) => void,
  cpu: number | null = 1,
): Promise<Record<string, string>> {
  const run = [driver, ...args, '-p', String(port), '-x', String(pid)];
  const command = cpu === null ? run : pin(cpu, run);
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: [started ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    started?.(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT')) ?? 'RESULT mode=failed errors=1';
      const result: Record<string, string> = {};
      for (const pair of line.split(' ').slice(1)) {
        const at = pair.indexOf('=');
        result[pair.slice(0, at)] = pair.slice(at + 1);
      }
      if (code !== 0 && code !== 3) result.errors = result.errors && result.errors !== '0' ? result.errors : '1';
      if (err.trim() !== '') result.stderr = err.trim().split('\n').slice(0, 3).join(' | ');
      result.exit = String(code);
      resolve(result);
    });
  });
}

/** The median of `values` (NaN when empty). */
export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length === 0 ? NaN : sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
