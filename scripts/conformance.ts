/**
 * `npm run conformance`: the Autobahn|Testsuite against wskit's server (`wskit echo`) and wskit's client, with the
 * conformance configuration of docs/conformance.md; prints the per-category table of each mode and every case that
 * is not OK, and exits 0 only if no case FAILED, was NON-STRICT or UNIMPLEMENTED.
 *
 *     npm run conformance                         # all 517 cases, both modes (about 50 min each)
 *     npm run conformance -- --cases ci           # what CI runs (under a minute)
 *     npm run conformance -- --mode server --cases '1.*,9.3.1'
 *
 * The suite is looked for in `shared/conformance` beside the project (or above it), or in `WSKIT_CONFORMANCE_DIR`.
 */
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import {
  BEHAVIORS,
  CI_CASES,
  CONFORMANCE_ECHO_ARGS,
  conformant,
  locateSuite,
  PROJECT_ROOT,
  runClientMode,
  runServerMode,
  suiteSkipReason,
  type Mode,
  type ModeResult,
} from '../test/interop/autobahn.js';
import { AUTOBAHN_CLIENT_OPTIONS } from '../test/interop/autobahn-client.js';

const USAGE = `Usage: npm run conformance -- [--mode both|server|client] [--cases SELECTION] [--out DIR] [--time-limit S] [--progress]

  --cases   all (default) | ci (what CI runs) | fast (no 9.*, 12.*, 13.*) | nocompress (no 12.*, 13.*)
            | comma-separated patterns, e.g. '1.*,9.3.1'
  --out     report directory (default: $TMPDIR/wskit-conformance; one subdirectory per mode)
  --time-limit  seconds per mode (default 5400)
  --progress    print the runners' and the client's lines as they come
`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        mode: { type: 'string', default: 'both' },
        cases: { type: 'string', default: 'all' },
        out: { type: 'string', default: path.join(os.tmpdir(), 'wskit-conformance') },
        'time-limit': { type: 'string', default: '5400' },
        progress: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    process.stderr.write(`conformance: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const modes: Mode[] = values.mode === 'both' ? ['server', 'client'] : values.mode === 'server' || values.mode === 'client' ? [values.mode] : [];
  const timeLimit = Number(values['time-limit']);
  if (modes.length === 0 || !(Number.isInteger(timeLimit) && timeLimit > 0)) {
    process.stderr.write(USAGE);
    return 2;
  }
  const skip = suiteSkipReason();
  if (skip !== false) {
    process.stderr.write(`conformance: ${skip}\n`);
    return 2;
  }
  const cases = values.cases === 'ci' ? CI_CASES : values.cases;
  process.stdout.write(
    `Autobahn|Testsuite at ${locateSuite()}\n` +
      `wskit ${commit()}, Node ${process.version}\n` +
      `server: wskit echo ${CONFORMANCE_ECHO_ARGS.join(' ')}; client: connect(url, ${JSON.stringify(AUTOBAHN_CLIENT_OPTIONS)})\n` +
      `cases: ${values.cases}\n\n`,
  );
  const results: ModeResult[] = [];
  for (const mode of modes) {
    const options = {
      cases,
      outDir: path.resolve(values.out, mode),
      timeLimit,
      onLine: values.progress ? (line: string) => process.stdout.write(`  ${line}\n`) : undefined,
    };
    const started = Date.now();
    const result = mode === 'server' ? await runServerMode(options) : await runClientMode(options);
    results.push(result);
    report(result, (Date.now() - started) / 1000);
  }
  process.stdout.write('| mode | cases | ' + BEHAVIORS.join(' | ') + ' |\n|---|---:|' + '---:|'.repeat(BEHAVIORS.length) + '\n');
  for (const r of results) process.stdout.write(`| wskit ${r.mode} | ${r.total} | ${BEHAVIORS.map((b) => r.counts[b]).join(' | ')} |\n`);
  const ok = results.every(conformant);
  process.stdout.write(ok ? '\nconformant: no case FAILED, NON-STRICT or UNIMPLEMENTED\n' : '\nNOT conformant\n');
  return ok ? 0 : 1;
}

function report(result: ModeResult, seconds: number): void {
  process.stdout.write(`## wskit ${result.mode} (${seconds.toFixed(0)} s; reports in ${result.outDir})\n\n${result.summary}\n\n${result.table}\n\n`);
  if (result.status === 2) process.stdout.write('The run did not finish (setup error or time limit): see the runner log in the report directory.\n\n');
  for (const c of result.notOk) process.stdout.write(`- ${c.id} ${c.behavior}: ${c.result}\n`);
  if (result.notOk.length > 0) process.stdout.write('\n');
}

function commit(): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return '(not a git checkout)';
  }
}

main().then(
  (status) => process.exit(status),
  (error: unknown) => {
    process.stderr.write(`conformance: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  },
);
