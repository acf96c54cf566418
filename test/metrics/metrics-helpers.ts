/** Reading figures out of a metrics snapshot in tests, and waiting for them. */
import type { MetricsSnapshot } from '../../src/index.js';

/** The sum of the samples of `name` whose labels include `labels` (0 if none). */
export function value(snapshot: MetricsSnapshot, name: string, labels: Record<string, string> = {}): number {
  const family = snapshot[name];
  if (family === undefined) throw new Error(`no metric ${name}`);
  let total = 0;
  for (const sample of family.samples) {
    if (!Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) continue;
    total += 'value' in sample ? sample.value : sample.histogram.count;
  }
  return total;
}

/** Polls `read` until `done(result)` (every 20 ms, at most `ms`); returns the last result, throws with it on the deadline. */
export async function waitUntil<T>(read: () => T, done: (result: T) => boolean, ms = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const result = read();
    if (done(result)) return result;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms; last: ${JSON.stringify(result)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
