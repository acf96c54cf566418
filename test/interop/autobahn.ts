/**
 * Runs the Autobahn|Testsuite against wskit in both of its modes: the suite as a client testing `wskit echo` (server
 * mode), and the suite as a server testing wskit's client ({@link ./autobahn-client.ts}, client mode). The suite is
 * not part of the project: it lies beside it, in `shared/conformance` next to the project or one of its parent
 * directories, or where `WSKIT_CONFORMANCE_DIR` says, with its runners and a driver that binds to 127.0.0.1 only
 * (see that directory's README). Used by `npm run conformance` (scripts/conformance.ts) and by the CI test.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers.js';

/** The project's root directory. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The server's conformance configuration: `wskit echo` with its defaults (permessage-deflate on, every limit on)
 * except a 64 MiB message limit, as the 9.* cases send messages of up to 16 MiB (see docs/conformance.md).
 */
export const CONFORMANCE_ECHO_ARGS = ['--max-size', '64M'];

/** The verdicts the suite gives a case, in the order its reports list them. */
export const BEHAVIORS = ['OK', 'NON-STRICT', 'INFORMATIONAL', 'UNIMPLEMENTED', 'FAILED'] as const;
/** One verdict. */
export type Behavior = (typeof BEHAVIORS)[number];

/** Which end of wskit the suite tests. */
export type Mode = 'server' | 'client';

/**
 * Case selections the runners know: `all`, `fast` (no 9.*, 12.*, 13.*), `nocompress` (no 12.*, 13.*), or patterns
 * such as `1.*,9.3.1`. {@link CI_CASES} is the selection CI runs.
 */
export type Cases = string;

/**
 * What CI runs in under a minute for both modes: every case but the slow 9.* (limits and performance) and the
 * 12.* and 13.* compression cases (1,000 round trips each), plus a sample of those: the large messages and the
 * fragment budget of 9.*, and the first case of each compression group.
 */
export const CI_CASES =
  '1.*,2.*,3.*,4.*,5.*,6.*,7.*,10.*,9.1.1,9.2.1,9.3.1,9.4.1,9.5.1,9.6.1,9.7.1,9.8.1,' +
  '12.1.1,12.2.1,12.3.1,12.4.1,12.5.1,13.1.1,13.2.1,13.3.1,13.4.1,13.5.1,13.6.1,13.7.1';

/** The suite's directory: `WSKIT_CONFORMANCE_DIR`, else the nearest `shared/conformance` beside the project or above it. */
export function locateSuite(): string | null {
  const fromEnv = process.env.WSKIT_CONFORMANCE_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return existsSync(path.join(fromEnv, 'atb.py')) ? path.resolve(fromEnv) : null;
  for (let dir = path.dirname(path.resolve(PROJECT_ROOT)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'shared', 'conformance');
    if (existsSync(path.join(candidate, 'atb.py'))) return candidate;
    if (path.dirname(dir) === dir) return null;
  }
}

/** The Python the runners use: `ATB_PYTHON`, else Debian's (the suite's packages are Debian's). */
export function suitePython(): string {
  return process.env.ATB_PYTHON ?? '/usr/bin/python3';
}

/** Why the suite cannot run here (it is absent, or Python lacks its packages), or false when it can. */
export function suiteSkipReason(): string | false {
  const dir = locateSuite();
  if (dir === null) {
    return 'the Autobahn|Testsuite was not found (a shared/conformance directory beside the project or above it, or WSKIT_CONFORMANCE_DIR)';
  }
  try {
    execFileSync(suitePython(), ['-c', 'import autobahn, twisted, txaio, jinja2'], { stdio: 'ignore', timeout: 20_000 });
  } catch {
    return `${suitePython()} lacks the suite's packages (apt-get install python3-autobahn python3-twisted python3-txaio python3-jinja2 python3-openssl python3-service-identity)`;
  }
  return false;
}

/** A case that was not OK. */
export interface CaseOutcome {
  id: string;
  behavior: Behavior;
  /** The suite's explanation. */
  result: string;
}

/** The outcome of one mode. */
export interface ModeResult {
  mode: Mode;
  /** Cases per verdict. */
  counts: Record<Behavior, number>;
  total: number;
  /** Every case whose verdict is not OK, in case order. */
  notOk: CaseOutcome[];
  /** The per-category Markdown table (`atb.py categories`). */
  table: string;
  /** The runner's summary line. */
  summary: string;
  /** The runner's exit status: 0 no case FAILED, 1 some did, 2 setup error or time limit. */
  status: number;
  /** Where the reports are (index.html, one JSON file per case). */
  outDir: string;
}

/** Options of one mode's run. */
export interface RunOptions {
  /** The case selection. */
  cases: Cases;
  /** Report directory (made or emptied by the runner). */
  outDir: string;
  /** Time limit of the whole run, in seconds. */
  timeLimit: number;
  /** Told each line the runner and wskit print (progress). */
  onLine?: (line: string) => void;
}

const AGENT = 'wskit';
const TSX = ['--import', 'tsx'];

/** Runs the suite in client mode against `wskit echo` with the conformance configuration (server mode). */
export async function runServerMode(options: RunOptions): Promise<ModeResult> {
  const suite = requireSuite();
  const echo = spawn(process.execPath, [...TSX, 'scripts/wskit.ts', 'echo', '--port', '0', ...CONFORMANCE_ECHO_ARGS], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const url = await listeningUrl(echo, 30_000);
    const { status, output } = await runner(
      path.join(suite, 'run-server-suite.sh'),
      ['-o', options.outDir, '-a', AGENT, '-t', String(options.timeLimit), url, options.cases],
      options,
    );
    return results('server', options.outDir, status, output);
  } finally {
    echo.kill();
  }
}

/** Runs the suite in server mode against wskit's client with the conformance configuration (client mode). */
export async function runClientMode(options: RunOptions): Promise<ModeResult> {
  const suite = requireSuite();
  const port = await freePort();
  const client = [process.execPath, ...TSX, path.join(PROJECT_ROOT, 'test/interop/autobahn-client.ts')];
  const { status, output } = await runner(
    path.join(suite, 'run-client-suite.sh'),
    ['-o', options.outDir, '-p', String(port), '-a', AGENT, '-c', options.cases, '-t', String(options.timeLimit), '--', ...client],
    options,
  );
  return results('client', options.outDir, status, output);
}

function requireSuite(): string {
  const reason = suiteSkipReason();
  if (reason !== false) throw new Error(reason);
  return locateSuite()!;
}

/** Resolves with the URL `wskit echo` prints once it listens; rejects if it exits first or `ms` pass. */
function listeningUrl(child: ReturnType<typeof spawn>, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => done(new Error(`wskit echo did not listen within ${ms} ms: ${text}`)), ms);
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      const match = /Listening on (ws:\/\/\S+)/.exec(text);
      if (match !== null) done(null, match[1]!);
    };
    const onExit = (): void => done(new Error(`wskit echo exited: ${text}`));
    const done = (error: Error | null, url?: string): void => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      if (error !== null) reject(error);
      else resolve(url!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('exit', onExit);
  });
}

/** Runs a runner script to its end (it enforces the time limit; this kills it a minute after, should it hang). */
function runner(script: string, args: string[], options: RunOptions): Promise<{ status: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ATB_PYTHON: suitePython(), ATB_AGENT: AGENT },
    });
    let output = '';
    let partial = '';
    const onChunk = (chunk: Buffer): void => {
      output += chunk.toString();
      partial += chunk.toString();
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) options.onLine?.(line);
    };
    child.stdout.on('data', onChunk);
    child.stderr.on('data', onChunk);
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.timeLimit + 60) * 1000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? 2, output });
    });
  });
}

/** Reads the reports of a finished run. */
export function results(mode: Mode, outDir: string, status: number, output: string): ModeResult {
  const summary = /^(SERVER|CLIENT)-SUITE .*$/m.exec(output)?.[0] ?? output.trim().split('\n').at(-1) ?? '';
  const counts = Object.fromEntries(BEHAVIORS.map((b) => [b, 0])) as Record<Behavior, number>;
  const notOk: CaseOutcome[] = [];
  const indexFile = path.join(outDir, 'index.json');
  if (!existsSync(indexFile)) return { mode, counts, total: 0, notOk, table: '', summary, status: status === 0 ? 2 : status, outDir };
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as Record<string, Record<string, { behavior: Behavior; reportfile: string }>>;
  const cases = index[AGENT] ?? {};
  const ids = Object.keys(cases).sort(byCaseId);
  for (const id of ids) {
    const { behavior, reportfile } = cases[id]!;
    counts[behavior] = (counts[behavior] ?? 0) + 1;
    if (behavior === 'OK') continue;
    let result = '';
    try {
      result = (JSON.parse(readFileSync(path.join(outDir, reportfile), 'utf8')) as { result?: string }).result ?? '';
    } catch {
      // a report the runner did not write: the verdict alone
    }
    notOk.push({ id, behavior, result });
  }
  let table = '';
  try {
    table = execFileSync(suitePython(), [path.join(locateSuite()!, 'atb.py'), 'categories', outDir, '--agent', AGENT], { encoding: 'utf8' }).trim();
  } catch {
    // the counts above still tell
  }
  return { mode, counts, total: ids.length, notOk, table, summary, status, outDir };
}

/** Orders case ids numerically: 1.1.2 before 1.1.10, 9.* before 10.*. */
export function byCaseId(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** Whether a run is conformant: it finished, and no case FAILED or was only NON-STRICT or UNIMPLEMENTED. */
export function conformant(result: ModeResult): boolean {
  return result.status !== 2 && result.total > 0 && result.counts.FAILED === 0 && result.counts['NON-STRICT'] === 0 && result.counts.UNIMPLEMENTED === 0;
}
