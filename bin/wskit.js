#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  // A source checkout that was not built yet (an installed package always has dist/).
  const root = fileURLToPath(new URL('..', import.meta.url));
  process.stderr.write(`wskit: not built yet: run 'npm ci && npm run build' in ${root}\n`);
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
