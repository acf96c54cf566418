/**
 * The `wskit` command: dispatches `wskit <command> [args]` to `src/cli/<command>.ts`.
 * Each command module exports `run(args): Promise<number>` (the exit code) and `help`.
 * Exit codes: 0 success, 1 runtime failure (connection refused, closed with an error),
 * 2 usage error (bad argument).
 */
import { UsageError } from './args.js';
import { escapeControl } from './format.js';
import { guardOutput } from './output.js';

/** A `wskit` subcommand. */
export interface Command {
  /** One line for the command list. */
  summary: string;
  /** Full `--help` text with examples. */
  help: string;
  /** Runs the command; resolves with the exit code. */
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  console: () => import('./console.js'),
  echo: () => import('./echo.js'),
  sensors: () => import('./sensors.js'),
  connect: () => import('./connect.js'),
  serve: () => import('./serve.js'),
  proxy: () => import('./proxy.js'),
  replay: () => import('./replay.js'),
  bench: () => import('./bench.js'),
  top: () => import('./top.js'),
};

/** The names of all commands, sorted. */
export function commandNames(): string[] {
  return Object.keys(COMMANDS).sort();
}

async function usage(): Promise<string> {
  const names = commandNames();
  const commands = await Promise.all(names.map((name) => COMMANDS[name]!()));
  const width = Math.max(...names.map((name) => name.length));
  const rows = names.map((name, i) => `  ${name.padEnd(width)}  ${commands[i]!.summary}`);
  return [
    'Usage: wskit <command> [options]',
    '       wskit -c URL | -l PORT [options]   (wscat style: wskit connect)',
    '',
    'Commands:',
    ...rows,
    '',
    "Run 'wskit help <command>' or 'wskit <command> --help' for a command's options and examples.",
    'Exit codes: 0 success, 1 runtime failure, 2 usage error.',
  ].join('\n');
}

/** Runs the CLI with `argv` (without node and script); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  guardOutput();
  // wscat's muscle memory: `wskit -c URL` and `wskit -l PORT` are `wskit connect ...`.
  if (argv[0] !== undefined && /^(-c|-l|--connect|--listen)(=|$)/.test(argv[0])) argv = ['connect', ...argv];
  let [name, ...args] = argv;
  if (name === 'help' && args[0] !== undefined) {
    // `wskit help echo` is `wskit echo --help`.
    [name, args] = [args[0], ['--help']];
  } else if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write((await usage()) + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    const { createRequire } = await import('node:module');
    process.stdout.write(createRequire(import.meta.url)('../../package.json').version + '\n');
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (load === undefined) {
    process.stderr.write(`wskit: unknown command '${name}'\n\n${await usage()}\n`);
    return 2;
  }
  const command = await load();
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(command.help.trimEnd() + '\n');
    return 0;
  }
  try {
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`wskit ${name}: ${escapeControl(error.message)}\nRun 'wskit ${name} --help' for usage.\n`);
      return 2;
    }
    process.stderr.write(`wskit ${name}: ${escapeControl(String((error as Error)?.message ?? error))}\n`);
    return 1;
  }
}
