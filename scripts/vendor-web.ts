/**
 * Copies the browser files the pages in web/ load from npm packages into
 * web/vendor/ (part of `npm run build`). The sensors dashboard draws with uPlot,
 * a devDependency: shipping its two files in the package keeps it out of a
 * library user's dependencies.
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** package → the files taken from it (paths inside the package). */
const VENDORED: Record<string, string[]> = {
  uplot: ['dist/uPlot.esm.js', 'dist/uPlot.min.css', 'LICENSE'],
};

const root = fileURLToPath(new URL('../', import.meta.url));
const require = createRequire(join(root, 'package.json'));
rmSync(join(root, 'web', 'vendor'), { recursive: true, force: true });
for (const [name, files] of Object.entries(VENDORED)) {
  const from = dirname(require.resolve(`${name}/package.json`));
  const to = join(root, 'web', 'vendor', name);
  mkdirSync(to, { recursive: true });
  for (const file of files) copyFileSync(join(from, file), join(to, file.split('/').pop()!));
}
