/**
 * Keeps code in the docs identical to the tested files: a block
 *
 *   <!-- include: examples/chat.ts -->
 *   ```ts
 *   ...
 *   ```
 *   <!-- /include -->
 *
 * is rewritten with the file's current content. `--check` rewrites nothing and
 * exits 1 if any block is out of date (the docs test runs it).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';

const BLOCK = /<!-- include: (\S+) -->\n[\s\S]*?<!-- \/include -->/g;
const LANGUAGES: Record<string, string> = { '.ts': 'ts', '.js': 'js', '.html': 'html', '.py': 'python', '.sh': 'sh' };

/** Markdown files under docs/ plus README.md and SECURITY.md. */
export function docFiles(root = '.'): string[] {
  const docs = readdirSync(join(root, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(root, 'docs', f));
  return [join(root, 'README.md'), join(root, 'SECURITY.md'), ...docs];
}

/** Returns the file's text with every include block refreshed. */
export function refresh(text: string, root = '.'): string {
  return text.replace(BLOCK, (_block, path: string) => {
    const code = readFileSync(join(root, path), 'utf8').trimEnd();
    const language = LANGUAGES[extname(path)] ?? '';
    return `<!-- include: ${path} -->\n\`\`\`${language}\n${code}\n\`\`\`\n<!-- /include -->`;
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const check = process.argv.includes('--check');
  const stale: string[] = [];
  for (const file of docFiles()) {
    const text = readFileSync(file, 'utf8');
    const updated = refresh(text);
    if (updated === text) continue;
    if (check) stale.push(file);
    else writeFileSync(file, updated);
  }
  if (stale.length > 0) {
    console.error(`out of date (run npm run docs:include): ${stale.join(', ')}`);
    process.exitCode = 1;
  }
}
