import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { costingModule } from '../../../cloud/costing/index.js';
import * as repo from '../../../cloud/costing/repo.js';
import { PostgresDatabase, SqliteDatabase } from '../../../cloud/db/index.js';
import { tempDir } from '../../helpers/procs.js';

/**
 * A return is costed at what its project was issued of the item (`issuedTo`). The query must find
 * those entries by (project, site, sku), not read every entry of the item at the site (all
 * projects' issues and every receipt): that grew with the site's history (issue 14, costing
 * migration 2). Plans are read on SQLite, where the planner's choice does not depend on
 * statistics; on PostgreSQL the migration is checked to give the same index.
 */
const URL = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Pool({ connectionString: URL, max: 1 });
afterAll(() => admin.end());

describe('costing: cost entries by project and item', () => {
  it("SQLite: a return's issues are searched by (project, site, sku) in ledger order, the reports by project", async () => {
    const db = new SqliteDatabase(join(tempDir('sg-costidx-'), 'stockgate.db'));
    try {
      await db.migrate(costingModule);
      expect(await db.versions('costing')).toEqual([1, 2]);
      // The SQL Kysely runs for issuedTo, taken as it is prepared, then explained with its parameters.
      const prepare = db.handle.prepare.bind(db.handle);
      const seen: string[] = [];
      db.handle.prepare = ((text: string) => (seen.push(text), prepare(text))) as typeof db.handle.prepare;
      await repo.issuedTo(db.kysely, 'P1', 'site-A', 'CEMENT');
      db.handle.prepare = prepare;
      const text = seen.find((t) => t.includes('"cost_entries"'))!;
      const plan = (db.handle.prepare(`EXPLAIN QUERY PLAN ${text}`).all('P1', 'site-A', 'CEMENT', 'issue', 'return') as Array<{ detail: string }>).map((r) => r.detail);
      expect(plan).toEqual(['SEARCH cost_entries USING INDEX cost_entries_project (project=? AND site=? AND sku=?)']);
      // No sort step: the index gives ledger order. A project's totals still use its first column.
      const sums = (db.handle.prepare('EXPLAIN QUERY PLAN SELECT category, stage, SUM(amount_fen) FROM cost_entries WHERE project = ? GROUP BY category, stage').all('P1') as Array<{ detail: string }>).map((r) => r.detail);
      expect(sums[0]).toBe('SEARCH cost_entries USING INDEX cost_entries_project (project=?)');
    } finally {
      await db.close();
    }
  });

  it('PostgreSQL: migration 2 gives the same index', async () => {
    const schema = `sg_costidx_${process.pid}_${Date.now().toString(36)}`;
    const db = await PostgresDatabase.open({ url: URL, schema, maxConnections: 2 });
    try {
      await db.migrate(costingModule);
      expect(await db.versions('costing')).toEqual([1, 2]);
      const r = await admin.query<{ indexdef: string }>('SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = $2', [schema, 'cost_entries_project']);
      expect(r.rows.map((x) => x.indexdef.replace(/^.* USING btree /, ''))).toEqual(['(project, site, sku, pos)']);
    } finally {
      await db.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  });
});
