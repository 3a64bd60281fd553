/**
 * README completeness (issue 15): every file is listed, one line each, in the README of its
 * folder. A folder of the source tree without a README of its own is covered by the nearest
 * ancestor's README, which then names the file by its path from there (`routes/stock.ts`).
 * Listed means named as a whole word: `index.ts` counts, `my-index.ts` does not count for
 * `index.ts`. No globs: `routes/*.ts` would hide the next file added there.
 *
 * Pure (file lists and README texts in, findings out), so the rule itself is tested.
 */

/** Top folders whose sub-folders without a README fall back to an ancestor's README. */
export const SOURCE_ROOTS = ['protocols', 'devices', 'edge', 'cloud', 'cli', 'bench', 'dashboards', 'deploy', 'docs', 'chaos'] as const;

export interface ReadmeFinding {
  readme: string;
  file: string;
  /** How the README should name it. */
  as: string;
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** True when `text` names `name` as a whole word (not inside a longer name). */
export function names(text: string, name: string): boolean {
  return new RegExp(`(?<![\\w.-])${escapeRe(name)}(?![\\w-]|\\.\\w)`).test(text);
}

/**
 * Every file (repository-relative paths, `/`-separated) not named by its README. `readmes` maps a
 * README's path to its text.
 */
export function missingFromReadmes(files: readonly string[], readmes: ReadonlyMap<string, string>): ReadmeFinding[] {
  const out: ReadmeFinding[] = [];
  for (const file of files) {
    if (file.endsWith('/README.md') || file === 'README.md') continue;
    let dir = dirOf(file);
    const top = file.split('/')[0]!;
    let readme = dir ? `${dir}/README.md` : 'README.md';
    // Outside the source roots (tests/, the repository root) only a folder's own README counts.
    while (!readmes.has(readme) && dir && (SOURCE_ROOTS as readonly string[]).includes(top)) {
      dir = dirOf(dir);
      readme = dir ? `${dir}/README.md` : 'README.md';
      if (!dir) break;
    }
    const text = readmes.get(readme);
    if (text === undefined) continue;
    const base = dir ? `${dir}/` : '';
    const rel = file.slice(base.length);
    const name = rel.slice(rel.lastIndexOf('/') + 1);
    const ok = rel === name ? names(text, name) : names(text, rel);
    if (!ok) out.push({ readme, file, as: rel });
  }
  return out;
}

export function formatFinding(f: ReadmeFinding): string {
  return `${f.readme} does not list ${f.file}: add a line naming \`${f.as}\` and what it is for`;
}
