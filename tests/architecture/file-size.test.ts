import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const SOURCE = /^(protocols|devices|edge|cloud|cli|bench|dashboards)\/.*\.ts$/;
export const MAX_LINES = 400;

/** A file over the limit must say why it is one file, in a paragraph at its top (issue 15). */
export function oversized(path: string, text: string): string | undefined {
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines <= MAX_LINES) return undefined;
  if (/Why one file/.test(text.split('\n').slice(0, 40).join('\n'))) return undefined;
  return `${path} has ${lines} lines: split it by job, or start it with a paragraph 'Why one file (over 400 lines): ...' (CONVENTIONS.md)`;
}

describe('source file size (issue 15)', () => {
  it('no source file over 400 lines without a paragraph at its top saying why it is one file', () => {
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' })
      .split('\0')
      .filter((f) => SOURCE.test(f) && existsSync(join(ROOT, f)));
    expect(files).toContain('cloud/store/store.ts');
    const found = files.map((f) => oversized(f, readFileSync(join(ROOT, f), 'utf8'))).filter((x) => x !== undefined);
    expect(found, `\n${found.join('\n')}\n`).toEqual([]);
  });

  it('the rule can fail', () => {
    const long = 'x\n'.repeat(401);
    expect(oversized('a.ts', long)).toBe("a.ts has 401 lines: split it by job, or start it with a paragraph 'Why one file (over 400 lines): ...' (CONVENTIONS.md)");
    expect(oversized('a.ts', `/* Why one file (over 400 lines): one loop. */\n${long}`)).toBeUndefined();
    expect(oversized('a.ts', 'x\n'.repeat(400))).toBeUndefined();
  });
});
