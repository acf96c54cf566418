/**
 * Copies the browser files the pages in web/ load into web/vendor/ (part of `npm run build`): uPlot, a
 * devDependency the sensors dashboard draws with (shipping its two files keeps it out of a library user's
 * dependencies), and wskit/browser as built by tsconfig.browser.json (dist/browser/index.js and the modules it
 * imports, same relative paths), so the pages use the very client the package exports.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** package → the files taken from it (paths inside the package). */
const VENDORED: Record<string, string[]> = {
  uplot: ['dist/uPlot.esm.js', 'dist/uPlot.min.css', 'LICENSE'],
};

const root = fileURLToPath(new URL('../', import.meta.url));
const require = createRequire(join(root, 'package.json'));
const vendor = join(root, 'web', 'vendor');
rmSync(vendor, { recursive: true, force: true });
for (const [name, files] of Object.entries(VENDORED)) {
  const from = dirname(require.resolve(`${name}/package.json`));
  const to = join(vendor, name);
  mkdirSync(to, { recursive: true });
  for (const file of files) copyFileSync(join(from, file), join(to, file.split('/').pop()!));
}

// wskit/browser: the browser entry and every module it imports, found by following the relative specifiers of
// the compiled ES modules (`import ... from './x.js'`, `export ... from '../y.js'`).
const dist = join(root, 'dist');
const pending = [join(dist, 'browser', 'index.js')];
const copied = new Set<string>();
while (pending.length > 0) {
  const file = pending.pop()!;
  if (copied.has(file)) continue;
  copied.add(file);
  const to = join(vendor, 'wskit', relative(dist, file));
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(file, to);
  for (const match of readFileSync(file, 'utf8').matchAll(/^(?:import|export)\b[^;]*?from\s+'(\.{1,2}\/[^']+)'/gms)) {
    pending.push(join(dirname(file), match[1]!));
  }
}
