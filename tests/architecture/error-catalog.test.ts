import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { CATALOGS, renderErrorsDoc } from '../../cli/errors-doc.js';
import { ROOT } from '../helpers/procs.js';

/**
 * Issue 8, deliverable 11: one error catalog per top-level folder, rendered into docs/errors.md.
 * Fails when docs/errors.md is stale (run `npm run docs:errors`), or when a folder's source uses
 * an `SG_ERR_*` code that neither its own catalog nor one of a folder it may import lists.
 */
interface Source {
  path: string;
  text: string;
}

function sources(folder: string): Source[] {
  const out: Source[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|js)$/.test(name) && !name.endsWith('.d.ts')) out.push({ path: relative(ROOT, p).split(sep).join('/'), text: readFileSync(p, 'utf8') });
    }
  };
  walk(join(ROOT, folder));
  return out;
}

/** Codes in a source text: `SG_ERR_X`, and `SG_ERR_X_` when a template goes on (`SG_ERR_X_${reason}`). */
export function codesIn(text: string): string[] {
  return [...text.matchAll(/SG_ERR_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_])|SG_ERR_[A-Z0-9_]+_(?=\$\{)/g)].map((m) => m[0]);
}

/** `file: code` for every code used in `files` of `folder` that no catalog it may use lists. */
function uncatalogued(folder: string, files: Source[]): string[] {
  const entry = CATALOGS.find((c) => c.folder === folder)!;
  const known = new Set(CATALOGS.filter((c) => entry.uses.includes(c.folder)).flatMap((c) => Object.keys(c.catalog)));
  const out: string[] = [];
  for (const f of files) for (const code of new Set(codesIn(f.text))) if (!known.has(code)) out.push(`${f.path}: ${code}`);
  return out;
}

describe('error catalogs (issue 8, deliverable 11)', () => {
  it('docs/errors.md is the rendering of the catalogs (npm run docs:errors)', () => {
    expect(readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8')).toBe(renderErrorsDoc());
  });

  it.each(CATALOGS.map((c) => c.folder))('every code used in %s/ is in a catalog it may use', (folder) => {
    expect(uncatalogued(folder, sources(folder))).toEqual([]);
  });

  it('the check finds a code that is in no catalog, and one that belongs to a folder it may not use', () => {
    expect(uncatalogued('edge', [{ path: 'edge/x.ts', text: "throw Object.assign(new Error('x'), { code: 'SG_ERR_NOT_IN_ANY_CATALOG' })" }])).toEqual(['edge/x.ts: SG_ERR_NOT_IN_ANY_CATALOG']);
    expect(uncatalogued('cloud', [{ path: 'cloud/x.ts', text: "log.warn({ code: 'SG_ERR_OUTBOX_FULL' })" }])).toEqual(['cloud/x.ts: SG_ERR_OUTBOX_FULL']);
    expect(codesIn('code: `SG_ERR_CLOUD_REJECT_${r}` and SG_ERR_* and SG_ERR_USAGE.')).toEqual(['SG_ERR_CLOUD_REJECT_', 'SG_ERR_USAGE']);
  });

  it('every catalog entry has a message, and codes are SG_ERR_ upper case', () => {
    for (const { catalog } of CATALOGS) {
      for (const [code, message] of Object.entries(catalog)) {
        expect(code).toMatch(/^SG_ERR_[A-Z0-9_]+$/);
        expect(message.length).toBeGreaterThan(5);
      }
    }
  });
});
