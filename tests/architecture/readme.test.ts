import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatFinding, missingFromReadmes, names } from './readme-rules.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The files of the checkout: tracked, plus new ones git does not ignore (a file just added counts). */
function repoFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return [...new Set(out.split('\0').filter((f) => f && existsSync(join(ROOT, f))))];
}

describe('README completeness (issue 15)', () => {
  it('every file is listed in its folder README (or, in a source folder without one, the nearest one above)', () => {
    const files = repoFiles();
    expect(files).toContain('protocols/mqtt/index.ts');
    const readmes = new Map(files.filter((f) => f === 'README.md' || f.endsWith('/README.md')).map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]));
    const missing = missingFromReadmes(files, readmes).map(formatFinding);
    expect(missing, `\n${missing.join('\n')}\n`).toEqual([]);
  });

  it('the rule can fail: a missing file, a glob and a longer name do not count as listed', () => {
    const readmes = new Map([
      ['cloud/README.md', '| `store.ts` | x |\n| `my-index.ts` | y |'],
      ['cloud/api/README.md', '| `routes/*.ts` | all routes |\n| `routes/stock.ts` | stock |'],
    ]);
    const files = ['cloud/store.ts', 'cloud/index.ts', 'cloud/my-index.ts', 'cloud/api/routes/stock.ts', 'cloud/api/routes/ledger.ts', 'cloud/deep/x.ts', 'tests/cloud/a.test.ts'];
    expect(missingFromReadmes(files, readmes).map(formatFinding)).toEqual([
      'cloud/README.md does not list cloud/index.ts: add a line naming `index.ts` and what it is for',
      'cloud/api/README.md does not list cloud/api/routes/ledger.ts: add a line naming `routes/ledger.ts` and what it is for',
      'cloud/README.md does not list cloud/deep/x.ts: add a line naming `deep/x.ts` and what it is for',
    ]);
    expect(names('see `line.ts`.', 'line.ts')).toBe(true);
    expect(names('see `scan-line.ts`', 'line.ts')).toBe(false);
    expect(names('see `line.tsx`', 'line.ts')).toBe(false);
  });
});
