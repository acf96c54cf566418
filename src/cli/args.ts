import { parseArgs, type ParseArgsConfig } from 'node:util';
import { checkNumber, describeRule, type NumberRule } from '../node/options.js';

/** A bad command-line argument: reported in one line with exit code 2. */
export class UsageError extends Error {}

/** `util.parseArgs` that reports mistakes as {@link UsageError}. */
export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: T,
  allowPositionals = false,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean; strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    // Node's message spans lines; keep one, with its hint for a value starting with '-' (--max-size=-1).
    const [first, ...rest] = (error as Error).message.split('\n');
    const hint = rest.find((line) => line.startsWith('To specify an option argument'));
    throw new UsageError(hint ? `${first!.replace(/\.$/, '')}: ${hint[0]!.toLowerCase()}${hint.slice(1)}` : first!);
  }
}

/**
 * A numeric flag checked by the library's own rule ({@link checkNumber}):
 * units such as `64k` or `500ms` where `rule.unit` allows them, anything else
 * a {@link UsageError}. Undefined when the flag was not given.
 */
export function numberFlag(flag: string, value: string | undefined, rule: NumberRule = {}): number | undefined {
  if (value === undefined) return undefined;
  try {
    return checkNumber(flag, value, { ...rule, text: true });
  } catch {
    throw new UsageError(`invalid ${flag} '${value}' (expected ${describeRule({ ...rule, text: true })})`);
  }
}

/** A duration flag in seconds (`10`, `0.5`, `500ms`, `2m`). */
export const SECONDS: NumberRule = { unit: 'seconds' };
/** A message or connection count (`100`, `10k`), at least 1. */
export const COUNT: NumberRule = { integer: true, min: 1, unit: 'count' };
/** A size in bytes (`65536`, `64k`, `1M`). */
export const BYTES: NumberRule = { integer: true, unit: 'bytes' };
/** `--max-size`: the largest message, at least 1 byte. */
export const MAX_SIZE: NumberRule = { ...BYTES, min: 1 };

/** The message limits of `wskit echo` and `wskit serve`, for {@link parseOptions}. */
export const LIMIT_FLAGS = {
  'max-size': { type: 'string' },
  'max-fragments': { type: 'string' },
} as const;

/** `--max-size` and `--max-fragments` as server options (undefined when not given: the defaults apply). */
export function limitOptions(values: { 'max-size'?: string; 'max-fragments'?: string }): { maxMessageSize?: number; maxFragments?: number } {
  return {
    maxMessageSize: numberFlag('--max-size', values['max-size'], MAX_SIZE),
    maxFragments: numberFlag('--max-fragments', values['max-fragments'], COUNT),
  };
}

/** Parses a TCP port flag (`--port` unless `flag` says otherwise). */
export function parsePort(value: string | undefined, fallback: number, flag = '--port'): number {
  return numberFlag(flag, value, { integer: true, max: 65535 }) ?? fallback;
}

/** Resolves when SIGINT or SIGTERM arrives (for servers that shut down cleanly). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** A `--redis` URL, checked: redis://host:port or rediss://; a UsageError otherwise. */
export function redisUrlFlag(value: string): string {
  let protocol = '';
  try {
    protocol = new URL(value).protocol;
  } catch {
    // reported below
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') throw new UsageError(`invalid --redis '${value}' (expected redis://host:port)`);
  return value;
}
