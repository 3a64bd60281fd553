import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seed } from '../../../bench/tsdb-data.js';
import { bulkSeed } from '../../../bench/tsdb-seed.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import { tempDir } from '../../helpers/procs.js';

/**
 * The time-series bench seeds its ledger in bulk (bench/tsdb-seed.ts) instead of committing
 * through the store: what it writes must be what commits through `SqliteStore.commit` write, or
 * the bench exports a ledger the product cannot produce.
 */
describe('bench bulk seed = commits through the store', () => {
  const dir = tempDir('sg-tsdb-seed-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the same ledger rows, balances, unknown items, exceptions and edge seqs; its hash chain verifies', async () => {
    const o = { site: 'bench', edge: 'e1', baseMs: Date.parse('2026-12-06T08:00:00.000Z'), skus: 40 };
    const n = 6000;
    const bulk = join(dir, 'bulk.db');
    const viaStore = join(dir, 'store.db');
    await bulkSeed(bulk, n, o);
    const store = new SqliteStore(viaStore);
    await seed(store, 0, n, { ...o, batch: 700 });
    await store.close();

    // Everything but the commit time (one per commit) and what hashes it.
    const read = (path: string) => {
      const db = new Database(path, { readonly: true });
      const out = {
        ledger: db.prepare('SELECT * FROM ledger ORDER BY pos').all().map((r) => ({ ...(r as object), applied_at: undefined, hash: undefined })),
        balances: db.prepare('SELECT * FROM balances ORDER BY site, location, sku, batch, project').all().map((r) => ({ ...(r as object), updated_at: undefined })),
        unknown: db.prepare('SELECT sku, uom, site, movement_id FROM unknown_items ORDER BY sku').all(),
        exceptions: db.prepare('SELECT type, site, movement_id, sku, location, batch, project, identity, on_hand, message, state FROM exceptions ORDER BY id').all(),
        seqs: db.prepare('SELECT site, edge, hwm, max_seq FROM edge_seqs').all(),
        heads: db.prepare('SELECT site, n, pos, id FROM chain_heads').all(),
      };
      db.close();
      return out;
    };
    const a = read(bulk);
    const b = read(viaStore);
    expect(a.ledger.length).toBe(n);
    // The data exercises what the exporter handles: every kind, projects, two units, exceptions.
    expect(new Set(a.ledger.map((r) => (r as unknown as { kind: string }).kind)).size).toBe(6);
    expect(a.exceptions.length).toBeGreaterThan(0);
    expect(a).toEqual(b);

    const check = new SqliteStore(bulk);
    expect((await check.verifyChain('bench')).ok).toBe(true);
    await check.close();
  }, 60_000);
});
