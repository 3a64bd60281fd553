import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type Db, openDatabase, type PostgresDb, type SqliteDb } from '../../../cloud/db/index.js';
import { ENTRY_COLUMNS, entryOf, siteRows } from '../../../cloud/ledger-follower/repo.js';
import { cloudModules } from '../../../cloud/modules.js';
import { PostgresStore } from '../../../cloud/store/postgres.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import type { Store } from '../../../cloud/store/store.js';
import { mv } from '../../contracts/store.contract.js';
import { tempDir } from '../../helpers/procs.js';

/**
 * On SQLite the follower reads each ledger row as one JSON array SQLite builds (repo.ts
 * `siteRows`); on PostgreSQL the columns. Held here to the plain read of the same columns
 * (`entryOf` of each row object) and to the values committed, on both dialects, over rows with
 * every optional field, text JSON must escape, and the quantities' extremes.
 */
const URL = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Pool({ connectionString: URL, max: 2 });
afterAll(() => admin.end());

async function open(dialect: 'sqlite' | 'postgres'): Promise<{ db: Db; store: Store; destroy: () => Promise<void> }> {
  if (dialect === 'sqlite') {
    const db = await openDatabase({ dataDir: tempDir('sg-follow-repo-'), modules: cloudModules });
    const store = new SqliteStore(db as SqliteDb);
    return { db, store, destroy: async () => (await store.close(), await db.close()) };
  }
  const schema = `sg_follow_repo_${process.pid}_${Date.now().toString(36)}`;
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const db = await openDatabase({ dataDir: tempDir('sg-follow-repo-'), store: URL, schema, modules: cloudModules });
  const store = await PostgresStore.on(db as PostgresDb);
  return {
    db,
    store,
    destroy: async () => {
      await store.close();
      await db.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}

/** Text a JSON writer must escape, and characters outside the BMP. */
const NASTY = 'q"uo\\te\n\t\u0001 é 中文 🏗️ \u2028';

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`the follower's ledger read on ${dialect}`, () => {
    it('gives the entries the column read gives, field for field', async () => {
      const { db, store, destroy } = await open(dialect);
      try {
        await store.commit([
          {
            movements: [
              mv({ site: 'S', sku: 'SKU-1', qty: 1 }),
              mv({ site: 'S', sku: 'SKU-1', qty: 999_999_999.999, batch: 'B1', expiry: '2027-01-31', serial: 'SN-1', gtin: '09506000134352', epc: '3034257BF7194E4000001A85' }),
              mv({ site: 'S', kind: 'issue', sku: 'SKU-1', qty: 0.001, project: 'P-1', stage: 'S1', operator: NASTY, crew: 'crew "A"' }),
              mv({ site: 'S', kind: 'transfer', sku: 'SKU-1', qty: 2, toLocation: 'BIN-2' }),
              mv({ site: 'S', kind: 'adjust', sku: 'SKU-1', qty: -3.5 }),
              mv({ site: 'S', kind: 'count', sku: 'SKU-1', qty: 7 }),
              mv({ site: 'S', sku: 'SKU-2', qty: 4, po: 'PO-1', req: 'REQ-1', order: 'SO-1' }),
              mv({ site: 'OTHER', sku: 'SKU-1', qty: 5 }),
            ],
            deadLetters: [],
          },
          { movements: [mv({ site: 'S', sku: 'SKU-3', qty: 6, location: NASTY })], deadLetters: [], postedBy: { tokenId: 'tok-1', user: NASTY } },
        ]);
        // Values the wire would not carry today, straight into the table: the read must still
        // give back exactly what is stored.
        await db.kysely.updateTable('ledger').set({ variance: -123_456_789_012, base_qty: 9_007_199_254_740 }).where('sku', '=', 'SKU-2').execute();
        await db.kysely.updateTable('ledger').set({ posted_token: 'tok-2', posted_user: null, status: 'exception' }).where('kind', '=', 'transfer').execute();

        const viaColumns = async (site: string, after: number, upTo: number, limit: number) =>
          (await db.kysely.selectFrom('ledger').select(ENTRY_COLUMNS).where('site', '=', site).where('pos', '>', after).where('pos', '<=', upTo).orderBy('pos').limit(limit).execute()).map(entryOf);
        const read = (site: string, after: number, upTo: number, limit: number) => db.tx((tx) => siteRows(tx, db.dialect, site, after, upTo, limit));

        const all = await read('S', 0, 1_000, 100);
        expect(all).toHaveLength(8);
        expect(all).toEqual(await viaColumns('S', 0, 1_000, 100));
        // The fields the wire carried come back as they were sent (thousandths for quantities).
        expect(all[1]).toMatchObject({ qty: 999_999_999_999, batch: 'B1', expiry: '2027-01-31', serial: 'SN-1', gtin: '09506000134352', epc: '3034257BF7194E4000001A85' });
        expect(all[2]).toMatchObject({ kind: 'issue', qty: 1, project: 'P-1', stage: 'S1', operator: NASTY, crew: 'crew "A"' });
        expect(all[0]!.batch).toBeUndefined(); // '' in the table
        expect(all.find((e) => e.sku === 'SKU-2')).toMatchObject({ po: 'PO-1', req: 'REQ-1', order: 'SO-1', variance: -123_456_789_012, baseQty: 9_007_199_254_740 });
        expect(all.find((e) => e.kind === 'transfer')).toMatchObject({ toLocation: 'BIN-2', status: 'exception', postedBy: { tokenId: 'tok-2', user: '' } });
        expect(all.at(-1)).toMatchObject({ location: NASTY, postedBy: { tokenId: 'tok-1', user: NASTY } });
        // Bounds and limit: a window of positions, and a limit within it.
        const [a, , c, d] = all.map((e) => e.pos);
        expect((await read('S', a!, d!, 2)).map((e) => e.pos)).toEqual((await viaColumns('S', a!, d!, 2)).map((e) => e.pos));
        expect((await read('S', a!, c!, 10)).map((e) => e.id)).toEqual(all.slice(1, 3).map((e) => e.id));
        expect(await read('OTHER', 0, 1_000, 100)).toEqual(await viaColumns('OTHER', 0, 1_000, 100));
        expect(await read('NONE', 0, 1_000, 100)).toEqual([]);
      } finally {
        await destroy();
      }
    });
  });
}
