/** `npm run fuzz -- --iterations N [--seed S]`: runs the fuzz harness and prints its report. */
import { parseArgs } from 'node:util';
import { fuzz } from './harness.js';

const { values } = parseArgs({
  options: { iterations: { type: 'string', default: '1000' }, seed: { type: 'string' }, json: { type: 'boolean', default: false } },
});
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
console.log(`fuzz seed ${seed} (replay with --seed ${seed})`);
const report = await fuzz({ iterations: Number(values.iterations), seed, verbose: !values.json });
console.log(values.json ? JSON.stringify(report) : report);
process.exitCode = report.failures.length === 0 ? 0 : 1;
