import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Every `const LOCK_NS_X = 0x...` in cloud/, with the file it is in. */
function namespaces(dir: string, out: Array<{ file: string; name: string; value: number }> = []) {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) namespaces(p, out);
    else if (p.endsWith('.ts')) {
      for (const m of readFileSync(p, 'utf8').matchAll(/const (LOCK_NS_\w+) = (0x[0-9a-fA-F_]+);/g)) {
        out.push({ file: p, name: m[1]!, value: Number(m[2]!.replaceAll('_', '')) });
      }
    }
  }
  return out;
}

describe('PostgreSQL advisory lock namespaces', () => {
  it('each user of advisory locks has its own namespace (a shared one makes unrelated transactions wait on each other)', () => {
    const all = namespaces(join(import.meta.dirname, '../../../cloud'));
    // The store's edge, items and site locks, migrations and auth at least.
    expect(all.length).toBeGreaterThanOrEqual(5);
    const seen = new Map<number, string>();
    for (const n of all) {
      const other = seen.get(n.value);
      expect(other, `${n.name} in ${n.file} has the value of ${other}`).toBeUndefined();
      seen.set(n.value, `${n.name} in ${n.file}`);
    }
  });
});
