import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Db, PostgresDatabase, reusable, reusableStats, SqliteDatabase } from '../../../cloud/db/index.js';
import { tempDir } from '../../helpers/procs.js';

/**
 * cloud/db/reusable-query.ts: a Kysely query built and compiled once per shape, then run with new
 * values. What it must hold, on both dialects: the rows the builder's own query gives, for every
 * value; the builder run once per shape; a shape for every difference the builder may branch on
 * (undefined, null, booleans, '' and 0, array lengths, object keys); and a builder that uses a
 * value outside a parameter refused on its first run.
 */
const URL = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Pool({ connectionString: URL, max: 2 });
afterAll(() => admin.end());

let n = 0;
async function open(dialect: 'sqlite' | 'postgres'): Promise<{ db: Db; destroy: () => Promise<void> }> {
  if (dialect === 'sqlite') {
    const db = new SqliteDatabase(join(tempDir('sg-reusable-'), 'stockgate.db'));
    return { db, destroy: () => db.close() };
  }
  const schema = `sg_reusable_${process.pid}_${Date.now().toString(36)}_${n++}`;
  const db = await PostgresDatabase.open({ url: URL, schema, maxConnections: 2 });
  return {
    db,
    destroy: async () => {
      await db.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}

const ROWS = [
  { site: 'S1', sku: 'A', qty: 5, note: null },
  { site: 'S1', sku: 'B', qty: 0, note: 'b' },
  { site: 'S1', sku: 'C', qty: 7, note: '' },
  { site: 'S2', sku: 'A', qty: 9, note: null },
];

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`reusable queries on ${dialect}`, () => {
    let d: { db: Db; destroy: () => Promise<void> } | undefined;
    afterEach(async () => {
      await d?.destroy();
      d = undefined;
    });

    async function setup(): Promise<Db> {
      d = await open(dialect);
      await d.db.kysely.schema.createTable('stock').addColumn('site', 'text', (c) => c.notNull()).addColumn('sku', 'text', (c) => c.notNull()).addColumn('qty', 'integer', (c) => c.notNull()).addColumn('note', 'text').addPrimaryKeyConstraint('stock_pk', ['site', 'sku']).execute();
      return d.db;
    }
    const norm = (rows: unknown[]): Array<Record<string, unknown>> => (rows as Array<Record<string, unknown>>).map((r) => ({ ...r, qty: Number(r.qty) }));

    it('gives the rows of the builder run as written, for every value, building once per shape', async () => {
      const db = await setup();
      let builds = 0;
      const insert = reusable(
        'test.insert',
        (q, rows: Array<Record<string, unknown>>) => {
          builds++;
          return q.insertInto('stock').values(rows).onConflict((oc) => oc.columns(['site', 'sku']).doUpdateSet((eb) => ({ qty: eb.ref('excluded.qty'), note: eb.ref('excluded.note') })));
        },
        { nullIsValue: true },
      );
      await db.tx(async (tx) => {
        await insert(tx, [ROWS[0]!]);
        await insert(tx, [ROWS[3]!]); // the same shape with other values (a null bound as a value)
      });
      expect(builds).toBe(1);
      await insert(db.kysely, [ROWS[1]!, ROWS[2]!]); // 2 rows, and 0 and '' are shapes of their own
      expect(builds).toBe(2);
      // The same values in another key order: another column list, so another shape.
      await insert(db.kysely, [{ sku: 'D', site: 'S2', note: 'd', qty: 3 }]);
      expect(builds).toBe(3);
      const all = await db.kysely.selectFrom('stock').selectAll().orderBy('site').orderBy('sku').execute();
      expect(norm(all)).toEqual([...ROWS, { site: 'S2', sku: 'D', qty: 3, note: 'd' }]);

      // A constant of the builder (the IN list's 'S9'), one value used twice (the subquery), a `sql` template.
      const build = (q: Kysely<any>, site: string, skus: string[], min: number) =>
        q
          .selectFrom('stock')
          .select(['site', 'sku', 'qty', 'note'])
          .where('site', 'in', [site, 'S9'])
          .where('sku', 'in', skus)
          .where('qty', '>=', min)
          .where('qty', '<=', sql<number>`(SELECT max(qty) FROM stock WHERE site = ${site})`)
          .orderBy('sku');
      let reads = 0;
      const bySkus = reusable('test.by-skus', (q, site: string, skus: string[], min: number) => {
        reads++;
        return build(q, site, skus, min);
      });
      // The same builder run as written, by Kysely, each time.
      const direct = (site: string, skus: string[], min: number) => build(db.kysely, site, skus, min).execute();
      const cases: Array<[string, string[], number]> = [
        ['S1', ['A', 'B'], 1],
        ['S1', ['B', 'C'], 1],
        ['S2', ['A', 'B'], 1],
        ['S1', ['A', 'B', 'C'], 1],
        ['S1', ['A', 'B', 'C'], 0], // 0 is part of the shape
        ['S1', ['C', 'A', 'B'], 6],
      ];
      for (const [site, skus, min] of cases) {
        const { rows } = await bySkus(db.kysely, site, skus, min);
        expect(norm(rows), `${site} ${skus} ${min}`).toEqual(norm(await direct(site, skus, min)));
      }
      // Shapes: 2 SKUs, 3 SKUs, 3 SKUs with min 0.
      expect(reads).toBe(3);
      expect(norm((await bySkus(db.kysely, 'S1', ['A', 'B', 'C'], 1)).rows).map((r) => r.sku)).toEqual(['A', 'C']);
    });

    it('keeps apart the shapes a builder may branch on: undefined, null, booleans, empty strings', async () => {
      const db = await setup();
      await db.kysely.insertInto('stock').values(ROWS).execute();
      const q = reusable('test.branches', (k, note: string | null | undefined, desc: boolean) => {
        let s = k.selectFrom('stock').select('sku').where('site', '=', 'S1');
        if (note === undefined) s = s.where('note', 'is not', null);
        else if (note === null) s = s.where('note', 'is', null);
        else if (note) s = s.where('note', '=', note);
        else s = s.where('note', '=', '');
        return s.orderBy('sku', desc ? 'desc' : 'asc');
      });
      const skus = async (note: string | null | undefined, desc: boolean) => ((await q(db.kysely, note, desc)).rows as Array<{ sku: string }>).map((r) => r.sku);
      expect(await skus(undefined, false)).toEqual(['B', 'C']);
      expect(await skus(null, false)).toEqual(['A']);
      expect(await skus('b', false)).toEqual(['B']);
      expect(await skus('', false)).toEqual(['C']);
      expect(await skus(undefined, true)).toEqual(['C', 'B']);
      expect(await skus('zz', true)).toEqual([]);
    });

    it('refuses a builder that uses a value outside a parameter, on its first run, naming the query', async () => {
      const db = await setup();
      const before = reusableStats.compiles;
      const ignores = reusable('test.ignores', (k, _site: string) => k.selectFrom('stock').selectAll());
      await expect(ignores(db.kysely, 'S1')).rejects.toMatchObject({ code: 'SG_ERR_DB_REUSABLE', message: expect.stringMatching(/test\.ignores: argument value\(s\) 0 did not become/) });
      const computes = reusable('test.computes', (k, qty: number) => k.selectFrom('stock').selectAll().where('qty', '=', qty + 1));
      await expect(computes(db.kysely, 4)).rejects.toMatchObject({ code: 'SG_ERR_DB_REUSABLE', message: expect.stringMatching(/test\.computes: argument value 0 was converted/) });
      const inText = reusable('test.in-text', (k, site: string) => k.selectFrom('stock').selectAll().where('site', '=', `${site}`));
      await expect(inText(db.kysely, 'S1')).rejects.toMatchObject({ code: 'SG_ERR_DB_REUSABLE' });
      const fn = reusable('test.fn', (k, _f: () => void) => k.selectFrom('stock').selectAll());
      await expect(fn(db.kysely, () => undefined)).rejects.toMatchObject({ code: 'SG_ERR_DB_REUSABLE', message: expect.stringMatching(/holds a function/) });
      expect(reusableStats.compiles).toBe(before);
    });
  });
}
