/** Helpers for the tests that run npm: a clean environment, and whether the registry answers. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * The environment for a nested npm: none of the `npm_*` settings of an `npm test` that started this test, and not
 * the test runner's NODE_TEST_CONTEXT (with it, a nested `node --test` skips its files as a recursive run).
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== 'NODE_TEST_CONTEXT'));
  return { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', ...extra };
}

/** Skip reason when the npm registry does not answer `npm ping` within 15 s, else false. */
export async function skipWithoutRegistry(): Promise<string | false> {
  try {
    await promisify(execFile)('npm', ['ping'], { env: cleanEnv(), timeout: 15_000 });
    return false;
  } catch {
    return 'the npm registry is not reachable (npm ping failed)';
  }
}
